//! Agents, spawn and the agent-requests inbox: request bodies and filters
//! (API.md §2.5, §2.6, §2.11).

use serde::{Deserialize, Serialize};

use super::{Cents, flags};

/// Filters of `GET /api/v1/agents/{agent_id}/activity`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAgentActivity {
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Cursor from the previous page's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Entry type filter (server's vocabulary).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Asks for an integrity check; sent as `verify=1`.
    #[serde(
        default,
        skip_serializing_if = "std::ops::Not::not",
        serialize_with = "flags::one",
        deserialize_with = "flags::lenient"
    )]
    pub verify: bool,
}

impl ListAgentActivity {
    /// Sets `limit`.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    /// Sets `cursor`.
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }
    /// Sets the `type` filter.
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }
    /// Asks for `verify=1`.
    pub fn with_verify(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }
}

/// Body of `POST /api/v1/agents/spawn`. Unset optional fields go out as
/// `null`, like the reference SDK.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnAgent {
    /// The child's name.
    pub name: String,
    /// Description, or `null`.
    #[serde(default)]
    pub description: Option<String>,
    /// Operation names the child may use (a subset of the parent's), e.g.
    /// `web_search.search`.
    pub services: Vec<String>,
    /// Budget taken from the parent, or `null`.
    #[serde(default)]
    pub budget_cents: Option<Cents>,
    /// Category, or `null`.
    #[serde(default)]
    pub category: Option<String>,
    /// Icon, or `null`.
    #[serde(default)]
    pub icon: Option<String>,
}

impl SpawnAgent {
    /// A child named `name` allowed `services`.
    pub fn new<I, S>(name: impl Into<String>, services: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SpawnAgent {
            name: name.into(),
            description: None,
            services: services.into_iter().map(Into::into).collect(),
            budget_cents: None,
            category: None,
            icon: None,
        }
    }
    /// Sets `description`.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
    /// Sets `budget_cents`.
    pub fn with_budget_cents(mut self, budget: Cents) -> Self {
        self.budget_cents = Some(budget);
        self
    }
    /// Sets the budget from dollars, converted on the client as
    /// `round(dollars * 100)` (ties to even); a non-finite amount leaves the
    /// budget unset. Only cents are ever sent.
    pub fn with_budget_dollars(mut self, dollars: f64) -> Self {
        self.budget_cents = Cents::from_dollars_rounded(dollars);
        self
    }
    /// Sets `category`.
    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }
    /// Sets `icon`.
    pub fn with_icon(mut self, icon: impl Into<String>) -> Self {
        self.icon = Some(icon.into());
        self
    }
}

/// Body of `POST /api/v1/agent-requests`: a request for human attention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAgentRequest {
    /// `clarification`, `budget_increase`, `plan_change`, `secret_needed`,
    /// `approval` or `blocked`.
    pub request_type: String,
    /// The text of the request.
    pub body: String,
    /// The agent asking, or `null`.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Title, or `null`.
    #[serde(default)]
    pub title: Option<String>,
    /// Link, or `null`.
    #[serde(default)]
    pub link: Option<String>,
}

impl CreateAgentRequest {
    /// A request of `request_type` with text `body`.
    pub fn new(request_type: impl Into<String>, body: impl Into<String>) -> Self {
        CreateAgentRequest {
            request_type: request_type.into(),
            body: body.into(),
            agent_id: None,
            title: None,
            link: None,
        }
    }
    /// Sets `agent_id`.
    pub fn with_agent_id(mut self, agent_id: impl Into<String>) -> Self {
        self.agent_id = Some(agent_id.into());
        self
    }
    /// Sets `title`.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
    /// Sets `link`.
    pub fn with_link(mut self, link: impl Into<String>) -> Self {
        self.link = Some(link.into());
        self
    }
}

/// Filters of `GET /api/v1/agent-requests`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAgentRequests {
    /// `pending` (server default), `resolved` or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Request type filter.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ListAgentRequests {
    /// Sets `status`.
    pub fn with_status(mut self, status: impl Into<String>) -> Self {
        self.status = Some(status.into());
        self
    }
    /// Sets the `type` filter.
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }
}
