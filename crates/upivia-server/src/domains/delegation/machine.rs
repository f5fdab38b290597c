//! The delegated task's state machine, as a pure function: which side may
//! set a status, and which transitions exist.
//!
//! ```text
//! pending → accepted → in_progress → completed | failed     (the child)
//! pending | accepted | in_progress → cancelled              (the parent)
//! ```

use crate::store::TaskStatus;

/// Which end of the task a caller acts for, decided by the path's agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Parent,
    Child,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Parent => "parent",
            Side::Child => "child",
        }
    }
}

/// Why a transition is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The other side sets this status (403).
    WrongSide,
    /// No such transition from the current status (409).
    Invalid,
}

/// Who may set `to`; `None` for a status no one sets (`pending`).
pub fn setter(to: TaskStatus) -> Option<Side> {
    match to {
        TaskStatus::Pending => None,
        TaskStatus::Accepted
        | TaskStatus::InProgress
        | TaskStatus::Completed
        | TaskStatus::Failed => Some(Side::Child),
        TaskStatus::Cancelled => Some(Side::Parent),
    }
}

/// Whether the edge `from → to` exists, whoever takes it.
pub fn edge(from: TaskStatus, to: TaskStatus) -> bool {
    use TaskStatus::*;
    matches!(
        (from, to),
        (Pending, Accepted)
            | (Accepted, InProgress)
            | (InProgress, Completed | Failed)
            | (Pending | Accepted | InProgress, Cancelled)
    )
}

/// Decides whether `side` may move a task from `from` to `to`. The side is
/// checked first: a status the other side sets is refused as such, even
/// where the edge does not exist either.
pub fn transition(side: Side, from: TaskStatus, to: TaskStatus) -> Result<(), Refusal> {
    match setter(to) {
        Some(s) if s != side => Err(Refusal::WrongSide),
        None => Err(Refusal::Invalid),
        Some(_) if edge(from, to) => Ok(()),
        Some(_) => Err(Refusal::Invalid),
    }
}

#[cfg(test)]
mod tests;
