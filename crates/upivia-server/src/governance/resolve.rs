//! Which operation a request names, for the organisation that makes it: a
//! built-in from the catalog (carried out by its registered providers), or
//! one of the organisation's private services (carried out by a call to its
//! endpoint). Built-in service names are reserved, so a private service
//! never shadows one; another organisation's private services do not exist
//! for this one.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{GovernanceError, validation};
use crate::catalog::{OperationSpec, PricingType};
use crate::ids::OrgId;
use crate::model::KeyMode;
use crate::platform::Platform;
use crate::providers::Provider;
use crate::providers::custom::CustomService;
use crate::store::CustomOperation;

/// An operation found for an organisation.
pub struct Resolved<'p> {
    pub spec: Cow<'p, OperationSpec>,
    custom: Option<CustomOperation>,
}

impl Resolved<'_> {
    /// Who carries it out for a key of `mode` (see `Providers::for_operation`).
    pub fn provider(&self, platform: &Platform, mode: KeyMode) -> Option<Arc<dyn Provider>> {
        match &self.custom {
            Some(custom) => Some(Arc::new(CustomService::new(
                custom.clone(),
                platform.outbound.clone(),
            ))),
            None => platform.providers.for_operation(&self.spec, mode).cloned(),
        }
    }

    /// The payload against the operation's input schema (422 naming the
    /// first wrong field).
    pub fn validate(&self, platform: &Platform, payload: &Value) -> Result<(), GovernanceError> {
        match &self.custom {
            Some(custom) => validation::validate_against(
                &self.spec.full_name(),
                &custom.request_schema,
                payload,
            ),
            None => validation::validate(&platform.validators, &self.spec, payload),
        }
    }

    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }
}

/// A private operation as the catalog shows it.
pub fn custom_spec(custom: &CustomOperation) -> OperationSpec {
    OperationSpec {
        service: Cow::Owned(custom.service.clone()),
        name: Cow::Owned(custom.operation.clone()),
        description: Cow::Owned(custom.description.clone()),
        base_price_cents: custom.cost_estimate,
        pricing: PricingType::Flat,
        input_schema: custom.request_schema.clone(),
        output_schema: json!({"type": "object"}),
        asynchronous: false,
    }
}

/// Finds `service.operation` for `org`, or says which part is unknown.
pub async fn resolve<'p>(
    platform: &'p Platform,
    org: &OrgId,
    service: &str,
    operation: &str,
) -> Result<Resolved<'p>, GovernanceError> {
    if platform.catalog.service(service).is_some() {
        let spec = validation::resolve(&platform.catalog, service, operation)?;
        return Ok(Resolved {
            spec: Cow::Borrowed(spec),
            custom: None,
        });
    }
    if let Some(custom) = platform
        .stores
        .custom_services
        .custom_operation(org, service, operation)
        .await?
    {
        return Ok(Resolved {
            spec: Cow::Owned(custom_spec(&custom)),
            custom: Some(custom),
        });
    }
    let known = platform
        .stores
        .custom_services
        .custom_operations(org)
        .await?
        .iter()
        .any(|c| c.service == service);
    Err(if known {
        GovernanceError::UnknownOperation {
            service: service.to_owned(),
            operation: operation.to_owned(),
        }
    } else {
        GovernanceError::UnknownService(service.to_owned())
    })
}

/// The operation names of `service` for `org` (a built-in's, or the
/// organisation's private service's); `None` when it has no such service.
pub async fn operations_of(
    platform: &Platform,
    org: &OrgId,
    service: &str,
) -> Result<Option<Vec<String>>, GovernanceError> {
    if let Some(builtin) = platform.catalog.service(service) {
        return Ok(Some(
            builtin
                .operations
                .iter()
                .map(|o| o.name.to_string())
                .collect(),
        ));
    }
    let names: Vec<String> = platform
        .stores
        .custom_services
        .custom_operations(org)
        .await?
        .into_iter()
        .filter(|c| c.service == service)
        .map(|c| c.operation)
        .collect();
    Ok((!names.is_empty()).then_some(names))
}
