//! Organisations and the humans who act in them.

use time::OffsetDateTime;

#[derive(Clone, Debug)]
pub struct Org {
    pub id: String,
    pub name: String,
    /// When set, every service request of the organisation is blocked.
    pub kill_switch: bool,
    /// The role that last set the kill switch.
    pub kill_switch_set_by: Role,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Option<Role> {
        match raw {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

/// A signed-in human (by PAT or cookie session), within one organisation.
#[derive(Clone, Debug)]
pub struct UserPrincipal {
    pub user_id: String,
    pub email: String,
    pub org_id: String,
    pub role: Role,
}
