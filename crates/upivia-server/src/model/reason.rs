//! The `reason_code` vocabulary of `blocked` and `failed` outcomes. The
//! strings are a public contract: clients branch on them.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReasonCode {
    AgentPaused,
    AgentDisabled,
    KillSwitch,
    ServiceNotEnabled,
    LiveProviderNotAllowed,
    DailyLimitExceeded,
    MaxCostExceeded,
    BudgetExceeded,
    InsufficientBalance,
    ApprovalRejected,
    ApprovalExpired,
    ProviderUnavailable,
    AdapterError,
    Interrupted,
    /// The process died after the provider was called and before its answer
    /// was recorded: the side effect may have happened. The estimate stays
    /// held until an operator settles or releases it.
    OutcomeUnknown,
    /// `metadata.delegated_task_id` names no task of which the agent is the child.
    DelegatedTaskNotFound,
    /// The delegated task is not accepted or in progress.
    DelegatedTaskNotOpen,
    /// The operation is not among the delegated task's permissions.
    OperationNotDelegated,
    /// `metadata.workflow_run_id` names no open run of this agent.
    WorkflowRunNotFound,
    RoomNotOpen,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::AgentPaused => "agent_paused",
            ReasonCode::AgentDisabled => "agent_disabled",
            ReasonCode::KillSwitch => "kill_switch",
            ReasonCode::ServiceNotEnabled => "service_not_enabled",
            ReasonCode::LiveProviderNotAllowed => "live_provider_not_allowed",
            ReasonCode::DailyLimitExceeded => "daily_limit_exceeded",
            ReasonCode::MaxCostExceeded => "max_cost_exceeded",
            ReasonCode::BudgetExceeded => "budget_exceeded",
            ReasonCode::InsufficientBalance => "insufficient_balance",
            ReasonCode::ApprovalRejected => "approval_rejected",
            ReasonCode::ApprovalExpired => "approval_expired",
            ReasonCode::ProviderUnavailable => "provider_unavailable",
            ReasonCode::AdapterError => "adapter_error",
            ReasonCode::Interrupted => "interrupted",
            ReasonCode::OutcomeUnknown => "outcome_unknown",
            ReasonCode::DelegatedTaskNotFound => "delegated_task_not_found",
            ReasonCode::DelegatedTaskNotOpen => "delegated_task_not_open",
            ReasonCode::OperationNotDelegated => "operation_not_delegated",
            ReasonCode::WorkflowRunNotFound => "workflow_run_not_found",
            ReasonCode::RoomNotOpen => "room_not_open",
        }
    }

    pub fn parse(raw: &str) -> Option<ReasonCode> {
        const ALL: [ReasonCode; 20] = [
            ReasonCode::AgentPaused,
            ReasonCode::AgentDisabled,
            ReasonCode::KillSwitch,
            ReasonCode::ServiceNotEnabled,
            ReasonCode::LiveProviderNotAllowed,
            ReasonCode::DailyLimitExceeded,
            ReasonCode::MaxCostExceeded,
            ReasonCode::BudgetExceeded,
            ReasonCode::InsufficientBalance,
            ReasonCode::ApprovalRejected,
            ReasonCode::ApprovalExpired,
            ReasonCode::ProviderUnavailable,
            ReasonCode::AdapterError,
            ReasonCode::Interrupted,
            ReasonCode::OutcomeUnknown,
            ReasonCode::DelegatedTaskNotFound,
            ReasonCode::DelegatedTaskNotOpen,
            ReasonCode::OperationNotDelegated,
            ReasonCode::WorkflowRunNotFound,
            ReasonCode::RoomNotOpen,
        ];
        ALL.into_iter().find(|c| c.as_str() == raw)
    }
}
