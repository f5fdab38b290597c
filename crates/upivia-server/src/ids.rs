//! Identifiers: a short prefix plus a ULID, so ids are URL-safe, sort by
//! creation time and never collide with literal route segments such as
//! `health` or `spawn`.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

/// A fresh id `<prefix>_<ULID>` (lowercase).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Ulid::new().to_string().to_ascii_lowercase())
}

pub const AGENT: &str = "agt";
pub const REQUEST: &str = "req";
pub const APPROVAL: &str = "appr";
pub const AUDIT: &str = "aud";
pub const ORG: &str = "org";
pub const USER: &str = "usr";
pub const TEAM: &str = "team";
pub const TEAM_MEMBER: &str = "tm";
pub const AGENT_REQUEST: &str = "areq";
pub const DELEGATED_TASK: &str = "dtk";
pub const BINDING: &str = "bnd";
pub const PAT: &str = "pat";
pub const SESSION: &str = "ses";
pub const TRANSFER: &str = "trf";
pub const BUDGET_REQUEST: &str = "breq";
pub const OUTCOME_REVIEW: &str = "orev";
pub const TRIGGER: &str = "trg";
pub const SCHEDULED_TASK: &str = "stask";
pub const TASK_RUN: &str = "srun";
pub const WORKFLOW: &str = "wf";
pub const WORKFLOW_VERSION: &str = "wfv";
pub const WORKFLOW_RUN: &str = "wfr";
pub const PUBLISH_REQUEST: &str = "wpr";
pub const MEMORY: &str = "mem";

/// A string that is not an id of the expected kind.
#[derive(Debug, thiserror::Error)]
#[error("not a {kind} id: {value:?}")]
pub struct BadId {
    pub kind: &'static str,
    pub value: String,
}

/// Typed ids for store signatures, so an organisation id cannot be passed
/// where an agent id belongs. The wire keeps plain strings: `From` wraps a
/// string already trusted (a stored row, a path looked up afterwards),
/// `FromStr` checks the prefix.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// A fresh id.
            pub fn generate() -> $name {
                $name(new_id($prefix))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = BadId;

            fn from_str(s: &str) -> Result<$name, BadId> {
                match s.strip_prefix($prefix).and_then(|r| r.strip_prefix('_')) {
                    Some(rest) if !rest.is_empty() => Ok($name(s.to_owned())),
                    _ => Err(BadId {
                        kind: $prefix,
                        value: s.to_owned(),
                    }),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> $name {
                $name(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> $name {
                $name(s.to_owned())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> $name {
                $name(s.clone())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// `org_…`
    OrgId, ORG
);
id_type!(
    /// `agt_…`
    AgentId, AGENT
);
id_type!(
    /// `req_…`
    RequestId, REQUEST
);
id_type!(
    /// `appr_…`
    ApprovalId, APPROVAL
);
id_type!(
    /// `orev_…`: an operator's review of a request with an unknown outcome
    OutcomeReviewId, OUTCOME_REVIEW
);
id_type!(
    /// `usr_…`
    UserId, USER
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_url_safe_and_unique() {
        let id = new_id(AGENT);
        assert!(id.starts_with("agt_"));
        assert_eq!(id.len(), "agt_".len() + 26);
        assert_ne!(new_id(AGENT), id);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    }

    #[test]
    fn typed_ids_check_their_prefix_and_print_as_sent() {
        let id = AgentId::generate();
        assert_eq!(id.as_str().parse::<AgentId>().unwrap(), id);
        assert_eq!(id.to_string(), id.as_str());
        assert!("org_01".parse::<AgentId>().is_err());
        assert!("agt_".parse::<AgentId>().is_err());
        assert!("agtx_01".parse::<AgentId>().is_err());
        assert!("appr_01".parse::<ApprovalId>().is_ok());
        assert_eq!(String::from(OrgId::from("org_1")), "org_1");
    }
}
