//! `HumanInputStore` on SQLite.

use async_trait::async_trait;

use super::{SqliteStore, human_input};
use crate::ids::OrgId;
use crate::store::*;

#[async_trait]
impl HumanInputStore for SqliteStore {
    async fn ask_human(&self, new: NewHumanInput) -> StoreResult<HumanInputAsked> {
        self.writer
            .write(move |ctx| human_input::ask(ctx, new))
            .await
    }

    async fn human_input(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<HumanInput>> {
        self.lookup(|c| human_input::get(c, org_id.as_str(), id))
    }

    async fn human_input_by_key(&self, dedupe_key: &str) -> StoreResult<Option<HumanInput>> {
        self.lookup(|c| human_input::by_key(c, dedupe_key))
    }

    async fn human_inputs(&self, query: HumanInputQuery) -> StoreResult<Vec<HumanInput>> {
        self.read(move |c| human_input::list(c, query)).await
    }

    async fn human_inputs_of_run(
        &self,
        org_id: &OrgId,
        run_id: &str,
    ) -> StoreResult<Vec<HumanInput>> {
        self.lookup(|c| human_input::of_run(c, org_id.as_str(), run_id))
    }

    async fn pending_human_inputs(&self, org_id: &OrgId) -> StoreResult<u64> {
        self.lookup(|c| human_input::pending(c, org_id.as_str()))
    }

    async fn answer_human_input(&self, answer: AnswerHumanInput) -> StoreResult<HumanInputClosed> {
        self.writer
            .write(move |ctx| human_input::answer(ctx, answer))
            .await
    }

    async fn cancel_human_input(&self, cancel: CancelHumanInput) -> StoreResult<HumanInputClosed> {
        self.writer
            .write(move |ctx| human_input::cancel(ctx, cancel))
            .await
    }
}
