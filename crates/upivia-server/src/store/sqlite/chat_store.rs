//! `ChatStore` on SQLite.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{SqliteStore, chat};
use crate::ids::OrgId;
use crate::store::*;

#[async_trait]
impl ChatStore for SqliteStore {
    async fn open_chat_session(&self, new: NewChatSession) -> StoreResult<ChatSession> {
        self.writer.write(move |ctx| chat::open(ctx, new)).await
    }

    async fn chat_session(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<ChatSession>> {
        self.lookup(|c| chat::get(c, org_id.as_str(), id))
    }

    async fn chat_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        filter: ChatSessionFilter,
    ) -> StoreResult<Vec<ChatSession>> {
        let (org, user) = (org_id.as_str().to_owned(), user_id.to_owned());
        self.read(move |c| chat::list(c, &org, &user, &filter))
            .await
    }

    async fn close_chat_sessions(
        &self,
        org_id: &OrgId,
        user_id: &str,
        id: Option<&str>,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let (org, user, id) = (
            org_id.as_str().to_owned(),
            user_id.to_owned(),
            id.map(str::to_owned),
        );
        self.writer
            .write(move |ctx| chat::close(ctx, &org, &user, id.as_deref(), now))
            .await
    }

    async fn chat_messages(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Vec<ChatMessage>> {
        let (org, session) = (org_id.as_str().to_owned(), session_id.to_owned());
        self.read(move |c| chat::messages(c, &org, &session)).await
    }

    async fn append_chat(&self, append: AppendChat) -> StoreResult<()> {
        self.writer
            .write(move |ctx| chat::append(ctx, append))
            .await
    }

    async fn take_chat_pause(
        &self,
        org_id: &OrgId,
        session_id: &str,
    ) -> StoreResult<Option<ChatPause>> {
        let (org, session) = (org_id.as_str().to_owned(), session_id.to_owned());
        self.writer
            .write(move |ctx| chat::take_pause(ctx, &org, &session))
            .await
    }

    async fn chat_pause(&self, org_id: &OrgId, session_id: &str) -> StoreResult<Option<ChatPause>> {
        self.lookup(|c| chat::get_pause(c, org_id.as_str(), session_id))
    }
}
