//! A synchronous client with the async client's surface (feature
//! `blocking`).
//!
//! [`Client`] wraps an async [`crate::Client`] and a private
//! current-thread Tokio runtime; every method is one `block_on` of the
//! async method of the same name, so behaviour on the wire is identical.
//! Cursor lists and chat turns are plain [`Iterator`]s.
//!
//! # Panics
//!
//! Like every `block_on`, these methods panic when called from inside an
//! async runtime; use the async client there.
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = upivia::blocking::Client::builder()
//!     .base_url("http://localhost:3000")
//!     .pat("upivia_pat_...")
//!     .build()?;
//! let client = upivia::blocking::Client::new(client)?;
//! for trigger in client.triggers().list_all(Default::default()) {
//!     println!("{}", trigger?.id);
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::client::BuildError;
use crate::error::Result;
use crate::models::*;
use crate::resources::{
    ByteRange, ChatStream, CreateDocument, ItemStream, UploadObject, WaitOptions,
};

/// The blocking Upivia client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
    rt: Arc<Runtime>,
}

impl Client {
    /// The async client's builder; pass its result to [`Client::new`].
    pub fn builder() -> crate::ClientBuilder {
        crate::Client::builder()
    }

    /// Wraps an async client, starting a private current-thread runtime.
    pub fn new(inner: crate::Client) -> std::result::Result<Client, BuildError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(BuildError::Runtime)?;
        Ok(Client {
            inner,
            rt: Arc::new(rt),
        })
    }

    /// A client configured from the environment, like
    /// [`crate::Client::from_env`].
    pub fn from_env() -> std::result::Result<Client, BuildError> {
        Client::new(crate::Client::from_env()?)
    }

    /// The wrapped async client.
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// Blocking form of [`crate::Client::send_json`]: any request, by hand.
    pub fn send_json(&self, spec: crate::RequestSpec) -> Result<Value> {
        self.rt.block_on(self.inner.send_json(spec))
    }
}

/// A blocking iterator over a cursor list, driven by the client's runtime.
pub struct Iter<T> {
    stream: ItemStream<T>,
    rt: Arc<Runtime>,
}

impl<T> std::fmt::Debug for Iter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<T> Iterator for Iter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.stream.next())
    }
}

/// The events of one chat turn, as a blocking iterator. Dropping it closes
/// the connection.
pub struct ChatEvents {
    stream: ChatStream,
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for ChatEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatEvents")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl Iterator for ChatEvents {
    type Item = Result<ChatStreamEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rt.block_on(self.stream.next())
    }
}

/// Declares a blocking handle over an async one, with one blocking method
/// per listed async method.
macro_rules! blocking_handle {
    ($name:ident { $( fn $method:ident(&self $(, $arg:ident : $ty:ty)* ) -> $ret:ty; )* }) => {
        #[doc = concat!("Blocking form of [`crate::resources::", stringify!($name), "`].")]
        #[derive(Debug)]
        pub struct $name<'a> {
            inner: crate::resources::$name<'a>,
            rt: &'a Arc<Runtime>,
        }

        impl<'a> $name<'a> {
            $(
                #[doc = concat!(
                    "Blocking form of [`", stringify!($name), "::", stringify!($method),
                    "`](crate::resources::", stringify!($name), "::", stringify!($method), ")."
                )]
                pub fn $method(&self $(, $arg: $ty)*) -> Result<$ret> {
                    self.rt.block_on(self.inner.$method($($arg),*))
                }
            )*
        }
    };
}

/// Declares accessors on a blocking parent (client or handle).
macro_rules! accessors {
    ($($(#[$doc:meta])* $method:ident -> $name:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $method(&self) -> $name<'_> {
                $name {
                    inner: self.inner.$method(),
                    rt: &self.rt,
                }
            }
        )*
    };
}

impl Client {
    accessors! {
        /// `service_requests`.
        service_requests -> ServiceRequests;
        /// `budget_check`.
        budget_check -> BudgetCheckApi;
        /// `balance`.
        balance -> BalanceApi;
        /// `usage`.
        usage -> Usage;
        /// `approvals`.
        approvals -> Approvals;
        /// `audit_logs`.
        audit_logs -> AuditLogs;
        /// `agents`.
        agents -> Agents;
        /// `spawn`.
        spawn -> Spawn;
        /// `delegate`.
        delegate -> Delegate;
        /// `memory`.
        memory -> Memory;
        /// `workflows`.
        workflows -> Workflows;
        /// `scheduled_tasks`.
        scheduled_tasks -> ScheduledTasks;
        /// `agent_requests`.
        agent_requests -> AgentRequests;
        /// `chat`.
        chat -> Chat;
        /// `triggers`.
        triggers -> Triggers;
        /// `storage`.
        storage -> Storage;
        /// `knowledge`.
        knowledge -> Knowledge;
        /// `services`.
        services -> Services;
        /// `teams`.
        teams -> Teams;
        /// `workspaces`.
        workspaces -> Workspaces;
        /// `budget_requests`.
        budget_requests -> BudgetRequests;
        /// `members` (this server's people API).
        members -> Members;
        /// `tokens` (personal access tokens).
        tokens -> Tokens;
        /// `secrets` (organisation secrets).
        secrets -> Secrets;
        /// `devices`.
        devices -> Devices;
        /// `platform`.
        platform -> Platform;
    }
}

/// Sub-resource accessors on blocking handles (they borrow the runtime of
/// their parent).
macro_rules! sub_accessors {
    ($parent:ident { $($(#[$doc:meta])* $method:ident -> $name:ident;)* }) => {
        impl<'a> $parent<'a> {
            $(
                $(#[$doc])*
                pub fn $method(&self) -> $name<'a> {
                    $name {
                        inner: self.inner.$method(),
                        rt: self.rt,
                    }
                }
            )*
        }
    };
}

blocking_handle!(ServiceRequests {
    fn create(&self, request: CreateServiceRequest) -> ServiceRequestOutcome;
    fn get(&self, request_id: &str) -> ServiceRequestOutcome;
    fn create_and_wait(&self, request: CreateServiceRequest, wait: WaitOptions) -> ServiceRequestOutcome;
});

blocking_handle!(BudgetCheckApi {
    fn check(&self, agent_id: &str) -> BudgetCheck;
});

blocking_handle!(BalanceApi {
    fn get(&self, team_id: Option<&str>) -> Balance;
});

blocking_handle!(Usage {
    fn list(&self, filter: ListUsage) -> Value;
});

blocking_handle!(Approvals {
    fn list(&self) -> Value;
    fn approve(&self, approval_id: &str) -> ServiceRequestOutcome;
    fn settle_outcome(&self, review_id: &str, amount_cents: Option<i64>) -> ServiceRequestOutcome;
    fn reject(&self, approval_id: &str) -> ServiceRequestOutcome;
});

blocking_handle!(AuditLogs {
    fn list(&self, filter: ListAuditLogs) -> Page<AuditLogEntry>;
});

impl AuditLogs<'_> {
    /// Blocking form of [`AuditLogs::list_all`](crate::resources::AuditLogs::list_all).
    pub fn list_all(&self, filter: ListAuditLogs) -> Iter<AuditLogEntry> {
        Iter {
            stream: self.inner.list_all(filter),
            rt: self.rt.clone(),
        }
    }
}

blocking_handle!(Agents {
    fn list(&self) -> Value;
    fn list_workspace(&self, team_id: Option<&str>) -> Value;
    fn create(&self, body: &Value) -> Value;
    fn get(&self, agent_id: &str) -> Value;
    fn update(&self, agent_id: &str, patch: &Value) -> Value;
    fn delete(&self, agent_id: &str) -> Value;
    fn reset_key(&self, agent_id: &str) -> Value;
    fn clone(&self, agent_id: &str, overrides: Option<&Value>) -> Value;
    fn transfer(&self, agent_id: &str, body: &Value) -> Value;
    fn set_budget(&self, agent_id: &str, body: &Value) -> Value;
    fn enable_service(&self, agent_id: &str, body: &Value) -> Value;
    fn disable_service(&self, agent_id: &str, service_id: &str) -> Value;
    fn health(&self, agent_id: &str) -> Value;
    fn fleet_health(&self) -> Value;
    fn health_over(&self, agent_id: &str, window: &str) -> Value;
    fn fleet_health_over(&self, window: &str) -> Value;
    fn activity(&self, agent_id: &str, filter: ListAgentActivity) -> Page<Value>;
    fn skills(&self, agent_id: &str) -> Value;
    fn remove_skill(&self, agent_id: &str, workflow_id: &str) -> Value;
});

impl Agents<'_> {
    /// Blocking form of [`Agents::activity_iter`](crate::resources::Agents::activity_iter).
    pub fn activity_iter(&self, agent_id: &str, filter: ListAgentActivity) -> Iter<Value> {
        Iter {
            stream: self.inner.activity_iter(agent_id, filter),
            rt: self.rt.clone(),
        }
    }
}

blocking_handle!(Spawn {
    fn create(&self, request: SpawnAgent) -> Value;
    fn estimate(&self, operations: &[&str]) -> Value;
});

blocking_handle!(Delegate {
    fn create(&self, agent_id: &str, task: CreateDelegatedTask) -> Value;
    fn list(&self, agent_id: &str, filter: ListDelegatedTasks) -> Value;
    fn get_task(&self, agent_id: &str, task_id: &str) -> Value;
    fn update_task(&self, agent_id: &str, task_id: &str, body: &Value) -> Value;
    fn reattach(&self, task_id: &str, since: Option<i64>) -> Value;
});

blocking_handle!(Memory {
    fn list(&self, agent_id: &str) -> Value;
    fn search(&self, agent_id: &str, q: &str) -> Value;
    fn create(&self, agent_id: &str, body: &Value) -> Value;
    fn update(&self, agent_id: &str, memory_id: &str, patch: &Value) -> Value;
    fn delete(&self, agent_id: &str, memory_id: &str) -> Value;
    fn graph(&self, agent_id: &str) -> Value;
});

blocking_handle!(Workflows {
    fn list(&self, category: Option<&str>) -> Value;
    fn create(&self, body: &Value) -> Value;
    fn get(&self, workflow_id: &str) -> Value;
    fn update(&self, workflow_id: &str, patch: &Value) -> Value;
    fn delete(&self, workflow_id: &str) -> ();
    fn create_version(&self, workflow_id: &str, body: &Value) -> Value;
    fn publish_version(&self, workflow_id: &str, version_id: &str, body: Option<&Value>) -> Value;
    fn unpublish_version(&self, workflow_id: &str, version_id: &str, body: Option<&Value>) -> Value;
    fn share(&self, workflow_id: &str, scope: &str) -> Value;
    fn export(&self, workflow_id: &str) -> Value;
    fn run_and_wait(&self, workflow_id: &str, run: RunWorkflow, wait: WaitOptions) -> WorkflowRun;
});

sub_accessors!(Workflows {
    /// `workflows.runs`.
    runs -> WorkflowRuns;
    /// `workflows.agents`.
    agents -> WorkflowAgents;
    /// `workflows.from_template`.
    from_template -> WorkflowTemplates;
});

blocking_handle!(WorkflowRuns {
    fn list(&self, workflow_id: &str) -> Value;
    fn create(&self, workflow_id: &str, run: &RunWorkflow) -> Value;
    fn get(&self, workflow_id: &str, run_id: &str) -> Value;
    fn cancel(&self, workflow_id: &str, run_id: &str) -> Value;
    fn rerun_failed(&self, workflow_id: &str, run_id: &str) -> Value;
    fn retry_step(&self, workflow_id: &str, run_id: &str, step_id: &str, body: Option<&Value>) -> Value;
});

blocking_handle!(WorkflowAgents {
    fn list(&self, workflow_id: &str) -> Value;
    fn grant(&self, workflow_id: &str, agent_id: &str) -> Value;
    fn revoke(&self, workflow_id: &str, agent_id: &str) -> ();
});

blocking_handle!(WorkflowTemplates {
    fn list(&self) -> Value;
    fn create(&self, body: &Value) -> Value;
});

blocking_handle!(ScheduledTasks {
    fn list(&self, filter: ListScheduledTasks) -> Value;
    fn create(&self, body: &Value) -> Value;
    fn get(&self, task_id: &str) -> Value;
    fn update(&self, task_id: &str, patch: &Value) -> Value;
    fn delete(&self, task_id: &str) -> ();
    fn runs(&self, task_id: &str, limit: Option<u32>, offset: Option<u32>) -> Value;
});

blocking_handle!(AgentRequests {
    fn list(&self, filter: ListAgentRequests) -> Value;
    fn create(&self, request: CreateAgentRequest) -> Value;
    fn resolve(&self, request_id: &str, response: Option<&str>) -> Value;
});

blocking_handle!(Chat {
    fn resolve_approval(&self, approval_id: &str, action: ApprovalAction) -> Value;
});

impl Chat<'_> {
    /// Blocking form of [`Chat::turn`](crate::resources::Chat::turn): the
    /// events as an iterator.
    pub fn turn(&self, turn: ChatTurn) -> Result<ChatEvents> {
        let stream = self.rt.block_on(self.inner.turn(turn))?;
        Ok(ChatEvents {
            stream,
            rt: self.rt.clone(),
        })
    }
}

sub_accessors!(Chat {
    /// `chat.sessions`.
    sessions -> ChatSessions;
});

blocking_handle!(ChatSessions {
    fn list(&self, filter: ListChatSessions) -> Value;
    fn create(&self, request: CreateChatSession) -> Value;
    fn get(&self, session_id: &str) -> Value;
    fn delete(&self, session_id: &str) -> Value;
    fn delete_all(&self) -> Value;
});

blocking_handle!(Triggers {
    fn list(&self, query: PageQuery) -> Page<Trigger>;
    fn create(&self, body: &Value) -> CreatedTrigger;
    fn get(&self, trigger_id: &str) -> Value;
    fn update(&self, trigger_id: &str, patch: &Value) -> Value;
    fn delete(&self, trigger_id: &str, purge: bool) -> Value;
    fn fire(&self, trigger_id: &str, payload: Option<&Value>, secret: &str) -> FireResult;
});

impl Triggers<'_> {
    /// Blocking form of [`Triggers::list_all`](crate::resources::Triggers::list_all).
    pub fn list_all(&self, query: PageQuery) -> Iter<Trigger> {
        Iter {
            stream: self.inner.list_all(query),
            rt: self.rt.clone(),
        }
    }
}

blocking_handle!(Storage {});

sub_accessors!(Storage {
    /// `storage.objects`.
    objects -> StorageObjects;
});

blocking_handle!(StorageObjects {
    fn list(&self, query: PageQuery) -> Page<StoredObject>;
    fn get(&self, object_id: &str) -> Value;
    fn delete(&self, object_id: &str) -> Value;
    fn restore(&self, object_id: &str) -> Value;
    fn upload(&self, file: UploadObject) -> Value;
    fn presign(&self, request: PresignObject) -> Value;
    fn confirm(&self, object_id: &str, sha256: Option<&str>) -> Value;
    fn download(&self, object_id: &str, expires_in: Option<u64>) -> DownloadInfo;
    fn upload_presigned(&self, file: UploadObject) -> Value;
    fn put_presigned(&self, upload_url: &str, file: &UploadObject) -> String;
});

impl StorageObjects<'_> {
    /// Blocking download into `path`: the async
    /// [`open`](crate::resources::StorageObjects::open) then
    /// [`save`](crate::resources::ObjectDownload::save) (temporary file,
    /// length and SHA-256 checked, renamed into place). Returns the bytes
    /// written.
    pub fn save(&self, object_id: &str, path: &std::path::Path) -> Result<u64> {
        self.rt.block_on(async {
            let download = self.inner.open(object_id, ByteRange::All).await?;
            download.save(path, None).await
        })
    }

    /// Blocking form of [`StorageObjects::list_all`](crate::resources::StorageObjects::list_all).
    pub fn list_all(&self, query: PageQuery) -> Iter<StoredObject> {
        Iter {
            stream: self.inner.list_all(query),
            rt: self.rt.clone(),
        }
    }
}

blocking_handle!(Knowledge {});

sub_accessors!(Knowledge {
    /// `knowledge.collections`.
    collections -> KnowledgeCollections;
    /// `knowledge.documents`.
    documents -> KnowledgeDocuments;
});

blocking_handle!(KnowledgeCollections {
    fn list(&self, query: PageQuery) -> Page<Value>;
    fn create(&self, body: &Value) -> Value;
    fn get(&self, collection_id: &str) -> Value;
    fn delete(&self, collection_id: &str) -> Value;
});

impl KnowledgeCollections<'_> {
    /// Blocking form of [`KnowledgeCollections::list_all`](crate::resources::KnowledgeCollections::list_all).
    pub fn list_all(&self, query: PageQuery) -> Iter<Value> {
        Iter {
            stream: self.inner.list_all(query),
            rt: self.rt.clone(),
        }
    }
}

blocking_handle!(KnowledgeDocuments {
    fn create(&self, collection_id: &str, document: CreateDocument) -> Value;
    fn get(&self, collection_id: &str, doc_id: &str) -> Value;
    fn delete(&self, collection_id: &str, doc_id: &str) -> Value;
});

blocking_handle!(Services {
    fn list(&self) -> Value;
});

blocking_handle!(Teams {
    fn list(&self) -> Value;
    fn switch(&self, team_id: Option<&str>) -> Value;
    fn budget(&self, team_id: &str) -> Value;
    fn allocate_budget(&self, team_id: &str, body: &Value) -> Value;
});

sub_accessors!(Teams {
    /// `teams.members`.
    members -> TeamMembers;
});

blocking_handle!(TeamMembers {
    fn list(&self, team_id: &str) -> Value;
    fn update(&self, team_id: &str, membership_id: &str, body: &Value) -> Value;
});

blocking_handle!(Workspaces {
    fn list(&self) -> Value;
    fn switch(&self, org_id: &str) -> Value;
});

blocking_handle!(BudgetRequests {
    fn create(&self, body: &Value) -> Value;
    fn list(&self) -> Value;
    fn resolve(&self, request_id: &str, body: &Value) -> Value;
});

blocking_handle!(Members {
    fn list(&self) -> Value;
    fn add(&self, email: &str, role: &str) -> Value;
    fn set_role(&self, user_id: &str, role: &str) -> Value;
    fn remove(&self, user_id: &str) -> Value;
});

blocking_handle!(Tokens {
    fn create(&self, name: &str, expires_in_days: Option<u32>) -> Value;
    fn list(&self) -> Value;
    fn revoke(&self, token_id: &str) -> Value;
});

blocking_handle!(Secrets {
    fn set(&self, name: &str, value: &str) -> Value;
    fn list(&self) -> Value;
    fn delete(&self, name: &str) -> Value;
    fn webhook_signing_secret(&self) -> Value;
    fn rotate_webhook_signing_secret(&self) -> Value;
});

blocking_handle!(Devices {
    fn heartbeat(&self, session_id: &str) -> Value;
    fn commands_update(&self, command_id: &str, status: &str) -> Value;
});

sub_accessors!(Devices {
    /// `devices.sessions`.
    sessions -> DeviceSessions;
    /// `devices.commands`.
    commands -> DeviceCommands;
});

blocking_handle!(DeviceSessions {
    fn list(&self) -> Value;
    fn update(&self, session_id: &str, body: &Value) -> Value;
    fn command(&self, session_id: &str, content: &str) -> Value;
    fn delete(&self, session_id: &str) -> Value;
    fn cwd(&self, session_id: &str, body: &Value) -> Value;
});

blocking_handle!(DeviceCommands {
    fn update(&self, command_id: &str, status: &str) -> Value;
});

blocking_handle!(Platform {
    fn health(&self) -> Value;
    fn readiness(&self) -> Value;
    fn agent_docs(&self) -> Value;
});

/// Blocking form of [`crate::tools::Toolkit`] (features `blocking` and
/// `tools`): the same tools, each call one `block_on`.
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let client = upivia::blocking::Client::from_env()?;
/// let toolkit = upivia::blocking::Toolkit::from_catalog(&client);
/// let text = toolkit.invoke("platform_check_budget", serde_json::json!({}));
/// assert!(text.starts_with("STATUS: "));
/// # Ok(()) }
/// ```
#[cfg(feature = "tools")]
#[derive(Clone, Debug)]
pub struct Toolkit {
    inner: crate::tools::Toolkit,
    rt: Arc<Runtime>,
}

#[cfg(feature = "tools")]
impl Toolkit {
    /// Blocking form of [`Toolkit::from_catalog`](crate::tools::Toolkit::from_catalog).
    pub fn from_catalog(client: &Client) -> Toolkit {
        let inner = client
            .rt
            .block_on(crate::tools::Toolkit::from_catalog(client.inner.clone()));
        Toolkit {
            inner,
            rt: client.rt.clone(),
        }
    }

    /// Blocking form of [`Toolkit::offline`](crate::tools::Toolkit::offline).
    pub fn offline(client: &Client) -> Toolkit {
        Toolkit {
            inner: crate::tools::Toolkit::offline(client.inner.clone()),
            rt: client.rt.clone(),
        }
    }

    /// The tools, in catalog order.
    pub fn tools(&self) -> &[crate::tools::Tool] {
        self.inner.tools()
    }

    /// The tool called `name`.
    pub fn get(&self, name: &str) -> Option<&crate::tools::Tool> {
        self.inner.get(name)
    }

    /// Every tool's definition.
    pub fn definitions(&self) -> Vec<Value> {
        self.inner.definitions()
    }

    /// Blocking form of [`Toolkit::call`](crate::tools::Toolkit::call). Never fails.
    pub fn call(&self, name: &str, args: Value) -> Value {
        self.rt.block_on(self.inner.call(name, args))
    }

    /// Blocking form of [`Toolkit::invoke`](crate::tools::Toolkit::invoke). Never fails.
    pub fn invoke(&self, name: &str, args: Value) -> String {
        self.rt.block_on(self.inner.invoke(name, args))
    }
}
