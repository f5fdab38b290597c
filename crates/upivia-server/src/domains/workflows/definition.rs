//! A workflow version's definition: steps and the edges between them, a
//! DAG. Parsed and checked once, when the version is saved; a saved
//! version is immutable, so the runner trusts it.
//!
//! Steps (`id` unique, letters, digits, `_` and `-`; `label` optional):
//! - `service_request`: `service`, `operation`, `payload`, whose strings
//!   may use `{{input.<path>}}` (the run's input) and
//!   `{{steps.<id>.result.<path>}}` (the result of a step upstream;
//!   `output` is the same as `result`);
//! - `approval`: `message`; a person approves or rejects it in the
//!   approvals inbox;
//! - `human_input`: `prompt` (required), `title` (the label by default)
//!   and `assignee_email` (anyone of the organisation when left out); the
//!   run waits until a person answers in `/human-input`, and the answer
//!   is the step's result `{text, answered_by}`; `prompt` and `title` may
//!   use the templates of a service request;
//! - `condition`: `if`, an object `{path, <test>}` where `path` is rooted
//!   at `input` or `steps.<id>.result` and `<test>` is exactly one of
//!   `equals`, `not_equals` (any JSON value), `gt`, `gte`, `lt`, `lte`
//!   (numbers), `exists` or `truthy` (booleans). When it is false the
//!   steps below it are skipped.
//!
//! Edges `{from, to}` say `to` runs after `from`; steps with no path
//! between them run in parallel.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::super::automation::template;

#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    ServiceRequest {
        service: String,
        operation: String,
        payload: Value,
    },
    Approval {
        message: String,
    },
    Condition(Condition),
    HumanInput {
        prompt: String,
        title: String,
        assignee_email: Option<String>,
    },
}

impl StepKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            StepKind::ServiceRequest { .. } => "service_request",
            StepKind::Approval { .. } => "approval",
            StepKind::Condition(_) => "condition",
            StepKind::HumanInput { .. } => "human_input",
        }
    }

    /// The strings whose `{{…}}` placeholders are filled when it runs.
    fn templates(&self) -> Vec<String> {
        match self {
            StepKind::ServiceRequest { payload, .. } => template::placeholders(payload),
            StepKind::Condition(c) => vec![c.path.clone()],
            StepKind::Approval { .. } => Vec::new(),
            StepKind::HumanInput { prompt, title, .. } => {
                template::placeholders(&serde_json::json!([prompt, title]))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Test {
    Equals(Value),
    NotEquals(Value),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists(bool),
    Truthy(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub path: String,
    pub test: Test,
}

impl Condition {
    /// The test against `values` (`{input, steps: {<id>: {result}}}`).
    pub fn holds(&self, values: &Value) -> bool {
        let found = template::lookup(values, &self.path);
        match &self.test {
            Test::Equals(v) => found == Some(v),
            Test::NotEquals(v) => found != Some(v),
            Test::Gt(n) => found.and_then(Value::as_f64).is_some_and(|x| x > *n),
            Test::Gte(n) => found.and_then(Value::as_f64).is_some_and(|x| x >= *n),
            Test::Lt(n) => found.and_then(Value::as_f64).is_some_and(|x| x < *n),
            Test::Lte(n) => found.and_then(Value::as_f64).is_some_and(|x| x <= *n),
            Test::Exists(want) => found.is_some_and(|v| !v.is_null()) == *want,
            Test::Truthy(want) => truthy(found) == *want,
        }
    }
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub id: String,
    pub label: String,
    pub kind: StepKind,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// In the order given.
    pub steps: Vec<Step>,
    pub edges: Vec<(String, String)>,
}

/// Why a definition is refused: the message names the step.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct Invalid(pub String);

const MAX_STEPS: usize = 100;

fn bad<T>(msg: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(msg.into()))
}

fn text(step: &Map<String, Value>, id: &str, key: &str) -> Result<Option<String>, Invalid> {
    match step.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.contains('\0') && s.len() <= 4096 => Ok(Some(s.clone())),
        Some(_) => bad(format!(
            "step {id:?}: {key} must be a string of at most 4096 bytes"
        )),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn condition(id: &str, raw: Option<&Value>) -> Result<Condition, Invalid> {
    let Some(Value::Object(c)) = raw else {
        return bad(format!(
            "step {id:?}: a condition needs `if`, an object like {{\"path\": \"input.severity\", \"equals\": \"critical\"}}"
        ));
    };
    let Some(Value::String(path)) = c.get("path") else {
        return bad(format!("step {id:?}: if.path must be a string"));
    };
    let tests: Vec<&String> = c.keys().filter(|k| k.as_str() != "path").collect();
    let [name] = tests.as_slice() else {
        return bad(format!(
            "step {id:?}: if needs exactly one test: equals, not_equals, gt, gte, lt, lte, exists or truthy"
        ));
    };
    let value = &c[name.as_str()];
    let number = || {
        value
            .as_f64()
            .ok_or_else(|| Invalid(format!("step {id:?}: if.{name} must be a number")))
    };
    let boolean = || {
        value
            .as_bool()
            .ok_or_else(|| Invalid(format!("step {id:?}: if.{name} must be a boolean")))
    };
    let test = match name.as_str() {
        "equals" => Test::Equals(value.clone()),
        "not_equals" => Test::NotEquals(value.clone()),
        "gt" => Test::Gt(number()?),
        "gte" => Test::Gte(number()?),
        "lt" => Test::Lt(number()?),
        "lte" => Test::Lte(number()?),
        "exists" => Test::Exists(boolean()?),
        "truthy" => Test::Truthy(boolean()?),
        other => {
            return bad(format!(
                "step {id:?}: unknown test if.{other} (use equals, not_equals, gt, gte, lt, lte, exists or truthy)"
            ));
        }
    };
    Ok(Condition {
        path: path.clone(),
        test,
    })
}

fn step(raw: &Value, index: usize) -> Result<Step, Invalid> {
    let Value::Object(s) = raw else {
        return bad(format!("steps[{index}] must be an object"));
    };
    let id = match s.get("id") {
        Some(Value::String(id)) if valid_id(id) => id.clone(),
        _ => {
            return bad(format!(
                "steps[{index}]: id must be 1 to 64 letters, digits, _ or -"
            ));
        }
    };
    let label = text(s, &id, "label")?.unwrap_or_else(|| id.clone());
    let kind = match s.get("type").and_then(Value::as_str) {
        Some("service_request") => {
            let service = text(s, &id, "service")?;
            let operation = text(s, &id, "operation")?;
            // `operation` may carry the service: "email.send".
            let (service, operation) = match (service, operation) {
                (Some(svc), Some(op)) => (svc, op),
                (None, Some(op)) => match op.split_once('.') {
                    Some((svc, o)) if !svc.is_empty() && !o.is_empty() => {
                        (svc.to_owned(), o.to_owned())
                    }
                    _ => {
                        return bad(format!(
                            "step {id:?}: needs service and operation (or operation \"service.operation\")"
                        ));
                    }
                },
                _ => {
                    return bad(format!("step {id:?}: needs service and operation"));
                }
            };
            let payload = match s.get("payload") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(p @ Value::Object(_)) => p.clone(),
                Some(_) => return bad(format!("step {id:?}: payload must be an object")),
            };
            StepKind::ServiceRequest {
                service,
                operation,
                payload,
            }
        }
        Some("approval") => StepKind::Approval {
            message: text(s, &id, "message")?.unwrap_or_else(|| format!("Approve step {label}")),
        },
        Some("condition") => StepKind::Condition(condition(&id, s.get("if"))?),
        Some("human_input") => {
            let prompt = text(s, &id, "prompt")?
                .filter(|p| !p.trim().is_empty())
                .ok_or_else(|| Invalid(format!("step {id:?}: a human_input step needs prompt")))?;
            let assignee_email = text(s, &id, "assignee_email")?
                .map(|e| e.trim().to_lowercase())
                .filter(|e| !e.is_empty());
            if let Some(e) = &assignee_email
                && (e.len() > 254 || !e.contains('@') || e.chars().any(char::is_whitespace))
            {
                return bad(format!(
                    "step {id:?}: assignee_email must be an email address"
                ));
            }
            StepKind::HumanInput {
                prompt,
                title: text(s, &id, "title")?
                    .filter(|t| !t.trim().is_empty())
                    .unwrap_or_else(|| label.clone()),
                assignee_email,
            }
        }
        Some(other) => {
            return bad(format!(
                "step {id:?}: unknown type {other:?} (service_request, approval, condition or human_input)"
            ));
        }
        None => return bad(format!("step {id:?}: type is required")),
    };
    Ok(Step { id, label, kind })
}

/// Which step a template or condition path names (`steps.<id>.…`), if any;
/// `Err` for a root other than `input` and `steps`.
fn named_step(path: &str) -> Result<Option<&str>, ()> {
    let mut parts = path.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("input"), _, _) => Ok(None),
        (Some("steps"), Some(id), Some("result" | "output" | "status")) => Ok(Some(id)),
        _ => Err(()),
    }
}

impl Definition {
    /// Parses and checks `{steps, edges}`.
    pub fn parse(raw: &Value) -> Result<Definition, Invalid> {
        let Value::Object(body) = raw else {
            return bad("a version is an object {steps, edges}");
        };
        let Some(Value::Array(raw_steps)) = body.get("steps") else {
            return bad("steps must be a list");
        };
        if raw_steps.is_empty() || raw_steps.len() > MAX_STEPS {
            return bad(format!("a workflow has 1 to {MAX_STEPS} steps"));
        }
        let steps = raw_steps
            .iter()
            .enumerate()
            .map(|(i, s)| step(s, i))
            .collect::<Result<Vec<_>, _>>()?;
        let mut ids = BTreeSet::new();
        for s in &steps {
            if !ids.insert(s.id.as_str()) {
                return bad(format!("step {:?}: the id is used twice", s.id));
            }
        }
        let edges = match body.get("edges") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(raw)) => raw
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let from = e.get("from").and_then(Value::as_str);
                    let to = e.get("to").and_then(Value::as_str);
                    match (from, to) {
                        (Some(f), Some(t)) => Ok((f.to_owned(), t.to_owned())),
                        _ => bad(format!("edges[{i}] must be {{from, to}} with step ids")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return bad("edges must be a list"),
        };
        for (from, to) in &edges {
            for end in [from, to] {
                if !ids.contains(end.as_str()) {
                    return bad(format!("an edge names step {end:?}, which does not exist"));
                }
            }
            if from == to {
                return bad(format!("step {from:?}: an edge from a step to itself"));
            }
        }
        let definition = Definition { steps, edges };
        definition.check_acyclic()?;
        definition.check_references()?;
        Ok(definition)
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The steps `id` waits for.
    pub fn upstream_of(&self, id: &str) -> Vec<&str> {
        self.edges
            .iter()
            .filter(|(_, to)| to == id)
            .map(|(from, _)| from.as_str())
            .collect()
    }

    /// Every step before `id` on some path (its transitive upstream).
    pub fn ancestors(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(at) = todo.pop() {
            for up in self.upstream_of(&at) {
                if seen.insert(up.to_owned()) {
                    todo.push(up.to_owned());
                }
            }
        }
        seen
    }

    /// Every step after `id` on some path.
    pub fn descendants(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(at) = todo.pop() {
            for (from, to) in &self.edges {
                if *from == at && seen.insert(to.clone()) {
                    todo.push(to.clone());
                }
            }
        }
        seen
    }

    fn check_acyclic(&self) -> Result<(), Invalid> {
        // Kahn's algorithm: whatever cannot be ordered is on a cycle.
        let mut indegree: BTreeMap<&str, usize> =
            self.steps.iter().map(|s| (s.id.as_str(), 0)).collect();
        for (_, to) in &self.edges {
            *indegree.get_mut(to.as_str()).expect("checked above") += 1;
        }
        let mut ready: Vec<&str> = indegree
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(id, _)| *id)
            .collect();
        let mut ordered = 0;
        while let Some(id) = ready.pop() {
            ordered += 1;
            for (from, to) in &self.edges {
                if from == id {
                    let n = indegree.get_mut(to.as_str()).expect("checked above");
                    *n -= 1;
                    if *n == 0 {
                        ready.push(to);
                    }
                }
            }
        }
        if ordered == self.steps.len() {
            return Ok(());
        }
        let on_cycle = indegree
            .iter()
            .find(|(_, n)| **n > 0)
            .map(|(id, _)| *id)
            .unwrap_or("?");
        bad(format!(
            "step {on_cycle:?} is on a cycle: the edges must form a DAG"
        ))
    }

    /// Templates and conditions may name only `input` and steps upstream.
    fn check_references(&self) -> Result<(), Invalid> {
        for s in &self.steps {
            let paths = s.kind.templates();
            let upstream = self.ancestors(&s.id);
            for path in paths {
                match named_step(&path) {
                    Err(()) => {
                        return bad(format!(
                            "step {:?}: {{{{{path}}}}} must start with input. or steps.<id>.result (or .output)",
                            s.id
                        ));
                    }
                    Ok(None) => {}
                    Ok(Some(other)) if self.step(other).is_none() => {
                        return bad(format!(
                            "step {:?}: {{{{{path}}}}} names step {other:?}, which does not exist",
                            s.id
                        ));
                    }
                    Ok(Some(other)) if !upstream.contains(other) => {
                        return bad(format!(
                            "step {:?}: {{{{{path}}}}} names step {other:?}, which does not run before it (add an edge)",
                            s.id
                        ));
                    }
                    Ok(Some(_)) => {}
                }
            }
        }
        Ok(())
    }

    /// The input the templates read, as a JSON Schema (every
    /// `{{input.<name>}}` a property; nested paths become objects).
    pub fn input_schema(&self) -> Value {
        let mut props = Map::new();
        for s in &self.steps {
            let paths = s.kind.templates();
            for p in paths {
                if let Some(rest) = p.strip_prefix("input.") {
                    let top = rest.split('.').next().unwrap_or(rest);
                    let nested = rest.contains('.');
                    props.entry(top.to_owned()).or_insert_with(|| {
                        if nested {
                            serde_json::json!({"type": "object"})
                        } else {
                            serde_json::json!({})
                        }
                    });
                }
            }
        }
        let required: Vec<Value> = props.keys().map(|k| Value::String(k.clone())).collect();
        serde_json::json!({"type": "object", "properties": props, "required": required})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Definition, Invalid> {
        Definition::parse(&v)
    }

    fn err(v: Value) -> String {
        parse(v).unwrap_err().0
    }

    #[test]
    fn a_dag_with_every_step_type_parses() {
        let d = parse(json!({
            "steps": [
                {"id": "check", "type": "condition", "if": {"path": "input.severity", "equals": "critical"}},
                {"id": "gate", "type": "approval", "message": "Page on-call?"},
                {"id": "page", "label": "Page", "type": "service_request", "operation": "email.send",
                 "payload": {"to": "{{input.oncall}}", "subject": "{{input.title}}"}},
                {"id": "log", "type": "service_request", "service": "email", "operation": "send",
                 "payload": {"body": "paged: {{steps.page.result.message_id}}"}}
            ],
            "edges": [{"from": "check", "to": "gate"}, {"from": "gate", "to": "page"}, {"from": "page", "to": "log"}]
        }))
        .unwrap();
        assert_eq!(d.steps.len(), 4);
        assert_eq!(d.upstream_of("page"), ["gate"]);
        assert_eq!(d.ancestors("log").len(), 3);
        assert_eq!(d.descendants("gate").len(), 2);
        let schema = d.input_schema();
        assert_eq!(schema["required"], json!(["oncall", "severity", "title"]));
    }

    #[test]
    fn refusals_name_the_step() {
        assert!(err(json!({"steps": [{"id": "a", "type": "teleport"}]})).contains("\"a\""));
        assert!(err(json!({"steps": []})).contains("1 to"));
        let cyc = err(json!({
            "steps": [{"id": "a", "type": "approval"}, {"id": "b", "type": "approval"}],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]
        }));
        assert!(cyc.contains("cycle"), "{cyc}");
        assert!(err(json!({"steps": [{"id": "a", "type": "approval"}], "edges": [{"from": "a", "to": "z"}]})).contains("\"z\""));
        let unknown = err(
            json!({"steps": [{"id": "a", "type": "service_request", "operation": "email.send",
                                           "payload": {"x": "{{steps.ghost.result.y}}"}}]}),
        );
        assert!(
            unknown.contains("\"a\"") && unknown.contains("ghost"),
            "{unknown}"
        );
        let later = err(json!({"steps": [
            {"id": "a", "type": "service_request", "operation": "email.send", "payload": {"x": "{{steps.b.result.y}}"}},
            {"id": "b", "type": "approval"}]}));
        assert!(later.contains("does not run before"), "{later}");
        assert!(
            err(
                json!({"steps": [{"id": "a", "type": "service_request", "operation": "email.send",
                                      "payload": {"x": "{{env.HOME}}"}}]})
            )
            .contains("input.")
        );
        assert!(
            err(
                json!({"steps": [{"id": "a", "type": "approval"}, {"id": "a", "type": "approval"}]})
            )
            .contains("twice")
        );
        assert!(
            err(json!({"steps": [{"id": "c", "type": "condition", "if": {"path": "input.x"}}]}))
                .contains("exactly one")
        );
        assert!(err(json!({"steps": [{"id": "c", "type": "condition", "if": {"path": "input.x", "gt": "3"}}]})).contains("number"));
        assert!(
            err(json!({"steps": [{"id": "bad id!", "type": "approval"}]})).contains("steps[0]")
        );
        assert!(err(json!({"steps": [{"id": "q", "type": "human_input"}]})).contains("prompt"));
        assert!(
            err(
                json!({"steps": [{"id": "q", "type": "human_input", "prompt": "?",
                                  "assignee_email": "nobody"}]})
            )
            .contains("assignee_email")
        );
    }

    #[test]
    fn conditions_test_values() {
        let values = json!({"input": {"n": 5, "s": "critical", "empty": ""}});
        let c = |path: &str, test: Test| {
            Condition {
                path: path.into(),
                test,
            }
            .holds(&values)
        };
        assert!(c("input.s", Test::Equals(json!("critical"))));
        assert!(!c("input.s", Test::NotEquals(json!("critical"))));
        assert!(
            c("input.n", Test::Gt(4.0))
                && !c("input.n", Test::Lt(5.0))
                && c("input.n", Test::Lte(5.0))
        );
        assert!(c("input.missing", Test::Exists(false)) && c("input.n", Test::Exists(true)));
        assert!(c("input.empty", Test::Truthy(false)) && c("input.s", Test::Truthy(true)));
        assert!(!c("input.s", Test::Gt(1.0)), "a string is not a number");
    }
}
