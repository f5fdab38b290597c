//! Human-input requests: the platform asking a person for the text that
//! paused work needs (a workflow's `human_input` step, a room's agent).
//! A request is answered or cancelled once, by a conditional update of its
//! pending row; one asked under a key (`dedupe_key`) is made once, however
//! many times it is asked.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::StoreResult;
use crate::ids::OrgId;
use crate::model::AuditEvent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HumanInputStatus {
    Pending,
    Answered,
    Cancelled,
}

impl HumanInputStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HumanInputStatus::Pending => "pending",
            HumanInputStatus::Answered => "answered",
            HumanInputStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<HumanInputStatus> {
        match raw {
            "pending" => Some(HumanInputStatus::Pending),
            "answered" => Some(HumanInputStatus::Answered),
            "cancelled" => Some(HumanInputStatus::Cancelled),
            _ => None,
        }
    }
}

/// What paused and waits for the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HumanInputSource {
    /// A workflow run's `human_input` step.
    Workflow,
    /// An agent in a room.
    Room,
}

impl HumanInputSource {
    pub fn as_str(self) -> &'static str {
        match self {
            HumanInputSource::Workflow => "workflow",
            HumanInputSource::Room => "room",
        }
    }

    pub fn parse(raw: &str) -> Option<HumanInputSource> {
        match raw {
            "workflow" => Some(HumanInputSource::Workflow),
            "room" => Some(HumanInputSource::Room),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct HumanInput {
    pub id: String,
    pub org_id: String,
    pub source: HumanInputSource,
    pub title: String,
    pub prompt_text: String,
    /// `None`: anyone of the organisation may answer.
    pub assignee_email: Option<String>,
    pub workflow_id: Option<String>,
    pub workflow_name: Option<String>,
    pub workflow_run_id: Option<String>,
    pub step_id: Option<String>,
    pub room_id: Option<String>,
    pub agent_id: Option<String>,
    pub dedupe_key: Option<String>,
    pub status: HumanInputStatus,
    pub answer_text: Option<String>,
    pub answered_by_user_id: Option<String>,
    pub answered_by_email: Option<String>,
    pub created_at: OffsetDateTime,
    pub answered_at: Option<OffsetDateTime>,
    pub cancelled_at: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct NewHumanInput {
    pub id: String,
    pub org_id: OrgId,
    pub source: HumanInputSource,
    pub title: String,
    pub prompt_text: String,
    pub assignee_email: Option<String>,
    pub workflow_id: Option<String>,
    pub workflow_name: Option<String>,
    pub workflow_run_id: Option<String>,
    pub step_id: Option<String>,
    pub room_id: Option<String>,
    pub agent_id: Option<String>,
    /// Asked again under the same key, the first request is returned and
    /// nothing is written.
    pub dedupe_key: Option<String>,
    pub now: OffsetDateTime,
    /// Written only when the row is made.
    pub audit: AuditEvent,
}

/// What asking came to.
#[derive(Clone, Debug)]
pub enum HumanInputAsked {
    Created(HumanInput),
    /// The key had been asked already (by an earlier or concurrent call).
    Existing(HumanInput),
}

impl HumanInputAsked {
    pub fn into_row(self) -> HumanInput {
        match self {
            HumanInputAsked::Created(r) | HumanInputAsked::Existing(r) => r,
        }
    }
}

/// Whose requests a list shows.
#[derive(Clone, Debug)]
pub enum HumanInputViewer {
    /// Every request of the organisation (admins and the owner).
    Everyone,
    /// Those assigned to this email (compared without case) and the
    /// unassigned ones.
    Assignee(String),
}

#[derive(Clone, Debug)]
pub struct HumanInputQuery {
    pub org_id: OrgId,
    pub viewer: HumanInputViewer,
    /// `None`: every status.
    pub status: Option<HumanInputStatus>,
    pub limit: u32,
}

/// Answering a pending request.
#[derive(Clone, Debug)]
pub struct AnswerHumanInput {
    pub org_id: OrgId,
    pub id: String,
    pub text: String,
    pub user_id: String,
    pub email: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// Cancelling a pending request.
#[derive(Clone, Debug)]
pub struct CancelHumanInput {
    pub org_id: OrgId,
    pub id: String,
    pub now: OffsetDateTime,
    pub audit: AuditEvent,
}

/// What answering or cancelling came to.
#[derive(Clone, Debug)]
pub enum HumanInputClosed {
    Closed(HumanInput),
    /// It was no longer pending (answered or cancelled before).
    AlreadyClosed(HumanInput),
}

#[async_trait]
pub trait HumanInputStore: Send + Sync + 'static {
    /// Makes the request with its audit event, or returns the one asked
    /// under the same `dedupe_key` before.
    async fn ask_human(&self, new: NewHumanInput) -> StoreResult<HumanInputAsked>;
    async fn human_input(&self, org_id: &OrgId, id: &str) -> StoreResult<Option<HumanInput>>;
    async fn human_input_by_key(&self, dedupe_key: &str) -> StoreResult<Option<HumanInput>>;
    /// Newest first, at most `query.limit`.
    async fn human_inputs(&self, query: HumanInputQuery) -> StoreResult<Vec<HumanInput>>;
    /// The requests of a workflow run, oldest first.
    async fn human_inputs_of_run(
        &self,
        org_id: &OrgId,
        run_id: &str,
    ) -> StoreResult<Vec<HumanInput>>;
    /// How many of the organisation's requests are pending.
    async fn pending_human_inputs(&self, org_id: &OrgId) -> StoreResult<u64>;
    /// Answers a pending request once (audited); `NotFound` when the
    /// organisation has no such request.
    async fn answer_human_input(&self, answer: AnswerHumanInput) -> StoreResult<HumanInputClosed>;
    /// Cancels a pending request once (audited); `NotFound` as above.
    async fn cancel_human_input(&self, cancel: CancelHumanInput) -> StoreResult<HumanInputClosed>;
}
