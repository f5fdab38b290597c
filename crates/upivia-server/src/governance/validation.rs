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
    check(validator, payload)
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
    check(&validator, payload)
}

fn check(validator: &Validator, payload: &Value) -> Result<(), GovernanceError> {
    if let Some(error) = validator.iter_errors(payload).next() {
        let pointer = error.instance_path.to_string();
        let field = if pointer.is_empty() {
            "payload".to_owned()
        } else {
            format!("payload{}", pointer.replace('/', "."))
        };
        return Err(GovernanceError::InvalidPayload {
            field,
            message: error.to_string(),
        });
    }
    Ok(())
}
