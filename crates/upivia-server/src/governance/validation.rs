//! Catalog lookup and payload validation: the operation must exist and the
//! payload must match its `input_schema`. Built-in schemas are compiled
//! once, at start; a failing payload is answered with the path of the first field
//! that is wrong.

use std::collections::HashMap;

use jsonschema::Validator;
use serde_json::Value;

use super::GovernanceError;
use crate::catalog::{Catalog, OperationSpec};

pub struct Validators {
    by_operation: HashMap<String, Validator>,
}

impl Validators {
    pub fn for_catalog(catalog: &Catalog) -> Validators {
        let mut by_operation = HashMap::new();
        for service in catalog.services() {
            for op in &service.operations {
                match jsonschema::validator_for(&op.input_schema) {
                    Ok(v) => {
                        by_operation.insert(op.full_name(), v);
                    }
                    // A catalog bug: refuse the operation's payloads rather
                    // than let them through unchecked.
                    Err(e) => tracing::error!(operation = %op.full_name(), error = %e,
                        "input_schema does not compile; the operation will reject every payload"),
                }
            }
        }
        Validators { by_operation }
    }
}

/// Finds the operation, or says which part of the name is unknown.
pub fn resolve<'c>(
    catalog: &'c Catalog,
    service: &str,
    operation: &str,
) -> Result<&'c OperationSpec, GovernanceError> {
    if catalog.service(service).is_none() {
        return Err(GovernanceError::UnknownService(service.to_owned()));
    }
    catalog
        .operation(service, operation)
        .ok_or_else(|| GovernanceError::UnknownOperation {
            service: service.to_owned(),
            operation: operation.to_owned(),
        })
}

pub fn validate(
    validators: &Validators,
    op: &OperationSpec,
    payload: &Value,
) -> Result<(), GovernanceError> {
    let Some(validator) = validators.by_operation.get(&op.full_name()) else {
        return Err(GovernanceError::InvalidPayload {
            field: "payload".into(),
            message: format!("{} has no usable input schema", op.full_name()),
        });
    };
    check(validator, &op.input_schema, payload)
}

/// Against a schema known only now (a private service's, which was checked
/// to compile when it was registered).
pub fn validate_against(
    full_name: &str,
    schema: &Value,
    payload: &Value,
) -> Result<(), GovernanceError> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| GovernanceError::InvalidPayload {
            field: "payload".into(),
            message: format!("{full_name} has no usable request schema: {e}"),
        })?;
    check(&validator, schema, payload)
}

fn check(validator: &Validator, schema: &Value, payload: &Value) -> Result<(), GovernanceError> {
    if let Some(error) = validator.iter_errors(payload).next() {
        let pointer = error.instance_path.to_string();
        let field = if pointer.is_empty() {
            "payload".to_owned()
        } else {
            format!("payload{}", pointer.replace('/', "."))
        };
        return Err(GovernanceError::InvalidPayload {
            field,
            message: in_words(&error, schema),
        });
    }
    Ok(())
}

/// What is wrong, said for a person: the catalog's patterns by what they
/// mean, never as the regular expression (which reads as noise, and whose
/// `\s` prints as invisible characters).
fn in_words(error: &jsonschema::ValidationError<'_>, schema: &Value) -> String {
    use crate::catalog::builtin::{E164, EMAIL};
    use jsonschema::error::ValidationErrorKind;
    // The error carries the compiled pattern, rewritten for the regex
    // engine; the schema has it as written.
    let written = || {
        schema
            .pointer(&error.schema_path.to_string())
            .and_then(Value::as_str)
    };
    match &error.kind {
        ValidationErrorKind::Pattern { .. } => match written() {
            Some(p) if p == EMAIL => format!("{} is not an email address", error.instance),
            Some(p) if p == E164 => format!(
                "{} is not a phone number in E.164 form, such as +15551234567",
                error.instance
            ),
            _ => format!("{} is not in the form this field takes", error.instance),
        },
        ValidationErrorKind::Format { format } if format == "email" => {
            format!("{} is not an email address", error.instance)
        }
        _ => error.to_string(),
    }
}
