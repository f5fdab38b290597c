//! The templates catalogue: ready-made workflows a person instantiates for
//! one of their agents (`POST /workflows/from-template`). Each is an
//! ordinary definition, checked like any other when it is saved.

use serde_json::{Value, json};

pub struct Template {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub definition: fn() -> Value,
}

pub const TEMPLATES: &[Template] = &[
    Template {
        id: "alert-to-oncall",
        name: "Alert webhook → notify on-call",
        description: "An alert arrives as the run's input; a critical one emails the on-call \
                      engineer, anything else is only logged to the team channel webhook.",
        category: "operations",
        definition: alert_to_oncall,
    },
    Template {
        id: "daily-spend-digest",
        name: "Daily spend digest email",
        description: "Checks the agent's remaining budget and emails a digest to the finance \
                      contact. Pair it with a scheduled task or a cron trigger.",
        category: "finance",
        definition: daily_spend_digest,
    },
    Template {
        id: "approved-announcement",
        name: "Approved announcement",
        description: "Drafts an announcement with the text model, waits for a person to \
                      approve it, then posts it to a Discord channel.",
        category: "communications",
        definition: approved_announcement,
    },
    Template {
        id: "incident-issue",
        name: "Incident → GitHub issue and email",
        description: "Opens a GitHub issue for an incident and, in parallel, emails the \
                      incident channel; both need only the run's input.",
        category: "engineering",
        definition: incident_issue,
    },
    Template {
        id: "customer-follow-up",
        name: "Customer follow-up with a human check",
        description: "Writes a follow-up with the text model, a person approves it, and it is \
                      emailed to the customer.",
        category: "sales",
        definition: customer_follow_up,
    },
];

pub fn find(id: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.id == id)
}

fn alert_to_oncall() -> Value {
    json!({
        "steps": [
            {"id": "is_critical", "label": "Is it critical?", "type": "condition",
             "if": {"path": "input.severity", "equals": "critical"}},
            {"id": "page", "label": "Email on-call", "type": "service_request",
             "service": "email", "operation": "send",
             "payload": {"to": "{{input.oncall_email}}", "subject": "[{{input.severity}}] {{input.title}}",
                         "body": "{{input.description}}"}},
            {"id": "log", "label": "Log to the team webhook", "type": "service_request",
             "service": "notification", "operation": "webhook",
             "payload": {"url": "{{input.webhook_url}}", "method": "POST",
                         "body": {"alert": "{{input.title}}", "severity": "{{input.severity}}"}}}
        ],
        "edges": [{"from": "is_critical", "to": "page"}]
    })
}

fn daily_spend_digest() -> Value {
    json!({
        "steps": [
            {"id": "budget", "label": "Check the budget", "type": "service_request",
             "service": "platform", "operation": "check_budget", "payload": {}},
            {"id": "digest", "label": "Email the digest", "type": "service_request",
             "service": "email", "operation": "send",
             "payload": {"to": "{{input.finance_email}}", "subject": "Daily agent spend digest",
                         "body": "Remaining budget: {{steps.budget.result.remaining_budget}}"}}
        ],
        "edges": [{"from": "budget", "to": "digest"}]
    })
}

fn approved_announcement() -> Value {
    json!({
        "steps": [
            {"id": "draft", "label": "Draft the announcement", "type": "service_request",
             "service": "text_generation", "operation": "generate",
             "payload": {"messages": [{"role": "user", "content": "Write a short announcement: {{input.topic}}"}]}},
            {"id": "review", "label": "A person approves the text", "type": "approval",
             "message": "Post this announcement?"},
            {"id": "post", "label": "Post to the team channel", "type": "service_request",
             "service": "discord", "operation": "send_message",
             "payload": {"channel_id": "{{input.channel_id}}", "content": "{{steps.draft.result.text}}"}}
        ],
        "edges": [{"from": "draft", "to": "review"}, {"from": "review", "to": "post"}]
    })
}

fn incident_issue() -> Value {
    json!({
        "steps": [
            {"id": "issue", "label": "Open the issue", "type": "service_request",
             "service": "github", "operation": "create_issue",
             "payload": {"repo": "{{input.repo}}", "title": "Incident: {{input.title}}", "body": "{{input.description}}"}},
            {"id": "notify", "label": "Email the incident channel", "type": "service_request",
             "service": "email", "operation": "send",
             "payload": {"to": "{{input.incident_email}}", "subject": "Incident: {{input.title}}", "body": "{{input.description}}"}}
        ],
        "edges": []
    })
}

fn customer_follow_up() -> Value {
    json!({
        "steps": [
            {"id": "write", "label": "Write the follow-up", "type": "service_request",
             "service": "text_generation", "operation": "generate",
             "payload": {"messages": [{"role": "user", "content": "Write a friendly follow-up to {{input.customer_name}} about {{input.topic}}"}]}},
            {"id": "check", "label": "A person checks it", "type": "approval",
             "message": "Send this follow-up to the customer?"},
            {"id": "send", "label": "Email the customer", "type": "service_request",
             "service": "email", "operation": "send",
             "payload": {"to": "{{input.customer_email}}", "subject": "Following up", "body": "{{steps.write.result.text}}"}}
        ],
        "edges": [{"from": "write", "to": "check"}, {"from": "check", "to": "send"}]
    })
}

#[cfg(test)]
mod tests {
    use super::super::definition::Definition;
    use super::*;

    #[test]
    fn every_template_is_a_valid_definition() {
        assert!(TEMPLATES.len() >= 5);
        for t in TEMPLATES {
            Definition::parse(&(t.definition)()).unwrap_or_else(|e| panic!("{}: {e}", t.id));
        }
    }
}
