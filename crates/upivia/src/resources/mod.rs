//! One handle per API resource; each borrows the [`Client`].
//!
//! Every method sends the request its [`Endpoint`](crate::endpoints::Endpoint)
//! constant describes (method, path, auth mode) through [`Client::send`].
//! Where the contract leaves a reply's shape to the server, methods return
//! a [`serde_json::Value`] (`Value::Null` for an empty body).

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;

use crate::client::Client;
use crate::error::Result;

mod agent_requests;
mod agents;
mod approvals;
mod audit_logs;
mod auth;
mod balance;
mod budget_check;
mod budget_requests;
mod chat;
mod delegate;
mod devices;
mod knowledge;
mod memory;
mod people;
mod platform;
mod scheduled_tasks;
mod service_requests;
mod services;
mod spawn;
mod storage;
mod teams;
mod triggers;
mod usage;
mod workflows;
mod workspaces;

pub use agent_requests::AgentRequests;
pub use agents::Agents;
pub use approvals::Approvals;
pub use audit_logs::AuditLogs;
pub use auth::Auth;
pub use balance::BalanceApi;
pub use budget_check::BudgetCheckApi;
pub use budget_requests::BudgetRequests;
pub use chat::{Chat, ChatSessions, ChatStream};
pub use delegate::Delegate;
pub use devices::{DeviceCommands, DeviceSessions, Devices};
pub use knowledge::{CreateDocument, Knowledge, KnowledgeCollections, KnowledgeDocuments};
pub use memory::Memory;
pub use people::{Members, Secrets, Tokens};
pub use platform::Platform;
pub use scheduled_tasks::ScheduledTasks;
pub use service_requests::ServiceRequests;
pub use services::Services;
pub use spawn::Spawn;
pub use storage::{ByteRange, ObjectDownload, Storage, StorageObjects, UploadObject};
pub use teams::{TeamMembers, Teams};
pub use triggers::{Triggers, sign_fire_body};
pub use usage::Usage;
pub use workflows::{WorkflowAgents, WorkflowRuns, WorkflowTemplates, Workflows};
pub use workspaces::Workspaces;

/// A stream of list items across pages, owning its client.
pub type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>;

/// How the polling helpers (`create_and_wait`, `run_and_wait`) wait.
///
/// The first wait is `poll_interval` (default 2 s); each next one is 1.5×
/// longer, up to 10 s; after `timeout` (default 300 s) the helper fails
/// with an [`ErrorKind::Http`](crate::ErrorKind) error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitOptions {
    /// First wait between polls.
    pub poll_interval: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            poll_interval: Duration::from_secs(2),
            timeout: Duration::from_secs(300),
        }
    }
}

impl WaitOptions {
    /// Longest wait between polls.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(10);

    /// Sets the first wait.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Sets the overall timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The wait after `interval`: ×1.5, capped at [`MAX_INTERVAL`](Self::MAX_INTERVAL).
    pub fn next_interval(interval: Duration) -> Duration {
        interval.mul_f64(1.5).min(Self::MAX_INTERVAL)
    }
}

/// Polls `poll` until it yields `Some`, sleeping per `options` between
/// attempts; `what` names the thing for the timeout error.
pub(crate) async fn poll_until<T, F, Fut>(
    options: WaitOptions,
    what: String,
    mut poll: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + options.timeout;
    let mut interval = options.poll_interval;
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(crate::Error::WaitTimeout {
                what,
                after: options.timeout,
            });
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        if let Some(done) = poll().await? {
            return Ok(done);
        }
        interval = WaitOptions::next_interval(interval);
    }
}

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// A handle is `Copy`: it is only a reference to the client, and each
        /// method takes it by value so the returned future borrows the client
        /// alone.
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a> {
            pub(crate) client: &'a crate::client::Client,
        }

        impl<'a> $name<'a> {
            pub(crate) fn new(client: &'a crate::client::Client) -> Self {
                $name { client }
            }
        }
    };
}
pub(crate) use handle;

impl Client {
    /// `service_requests`: governed service execution.
    pub fn service_requests(&self) -> ServiceRequests<'_> {
        ServiceRequests::new(self)
    }
    /// `budget_check`: an agent's remaining budget.
    pub fn budget_check(&self) -> BudgetCheckApi<'_> {
        BudgetCheckApi::new(self)
    }
    /// `balance`: the organisation's (or a team's) balance.
    pub fn balance(&self) -> BalanceApi<'_> {
        BalanceApi::new(self)
    }
    /// `usage`: usage records.
    pub fn usage(&self) -> Usage<'_> {
        Usage::new(self)
    }
    /// `approvals`: pending human approvals.
    pub fn approvals(&self) -> Approvals<'_> {
        Approvals::new(self)
    }
    /// `audit_logs`: the audit trail.
    pub fn audit_logs(&self) -> AuditLogs<'_> {
        AuditLogs::new(self)
    }
    /// `agents`: agent management, health and activity.
    pub fn agents(&self) -> Agents<'_> {
        Agents::new(self)
    }
    /// `spawn`: bounded child agents.
    pub fn spawn(&self) -> Spawn<'_> {
        Spawn::new(self)
    }
    /// `delegate`: delegated tasks.
    pub fn delegate(&self) -> Delegate<'_> {
        Delegate::new(self)
    }
    /// `memory`: governed agent memory.
    pub fn memory(&self) -> Memory<'_> {
        Memory::new(self)
    }
    /// `workflows`: workflows, versions, runs, grants and templates.
    pub fn workflows(&self) -> Workflows<'_> {
        Workflows::new(self)
    }
    /// `scheduled_tasks`: one-time and recurring tasks.
    pub fn scheduled_tasks(&self) -> ScheduledTasks<'_> {
        ScheduledTasks::new(self)
    }
    /// `agent_requests`: the inbox for human attention.
    pub fn agent_requests(&self) -> AgentRequests<'_> {
        AgentRequests::new(self)
    }
    /// `chat`: streamed turns, sessions and inline approvals.
    pub fn chat(&self) -> Chat<'_> {
        Chat::new(self)
    }
    /// `triggers`: cron and webhook triggers.
    pub fn triggers(&self) -> Triggers<'_> {
        Triggers::new(self)
    }
    /// `storage`: stored objects.
    pub fn storage(&self) -> Storage<'_> {
        Storage::new(self)
    }
    /// `knowledge`: collections and documents.
    pub fn knowledge(&self) -> Knowledge<'_> {
        Knowledge::new(self)
    }
    /// `services`: the public service catalog.
    pub fn services(&self) -> Services<'_> {
        Services::new(self)
    }
    /// `teams`: teams, team budgets and members.
    pub fn teams(&self) -> Teams<'_> {
        Teams::new(self)
    }
    /// `workspaces`: the caller's workspaces.
    pub fn workspaces(&self) -> Workspaces<'_> {
        Workspaces::new(self)
    }
    /// `members`: the organisation's people and their roles (upivia-rs).
    pub fn members(&self) -> Members<'_> {
        Members::new(self)
    }
    /// `tokens`: the caller's personal access tokens (upivia-rs).
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens::new(self)
    }
    /// `secrets`: the organisation's secrets (upivia-rs).
    pub fn secrets(&self) -> Secrets<'_> {
        Secrets::new(self)
    }
    /// `auth`: the calling user's password (a server endpoint outside the
    /// v1 contract).
    pub fn auth(&self) -> Auth<'_> {
        Auth::new(self)
    }
    /// `budget_requests`: requests for team budget.
    pub fn budget_requests(&self) -> BudgetRequests<'_> {
        BudgetRequests::new(self)
    }
    /// `devices`: terminal device sessions and commands.
    pub fn devices(&self) -> Devices<'_> {
        Devices::new(self)
    }
    /// `platform`: health probes and agent docs.
    pub fn platform(&self) -> Platform<'_> {
        Platform::new(self)
    }
}
