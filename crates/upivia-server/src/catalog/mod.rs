//! The service catalog: every service and operation an agent can request,
//! with its price, its input schema and whether it runs asynchronously.
//! The catalog is data; how an operation is carried out lives in `providers/`.

pub mod builtin;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::money::Cents;

/// How an operation's price is computed, for display in the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricingType {
    /// Always `base_price_cents`.
    Flat,
    /// Estimated up front from the payload, settled at the actual figure
    /// (never above the estimate).
    Metered,
    /// Never charged (meta-operations such as `platform.check_budget`).
    Free,
}

impl PricingType {
    pub fn as_str(self) -> &'static str {
        match self {
            PricingType::Flat => "flat",
            PricingType::Metered => "metered",
            PricingType::Free => "free",
        }
    }
}

#[derive(Clone, Debug)]
pub struct OperationSpec {
    /// Built-ins borrow their names; an organisation's private services
    /// (`domains/services`) own theirs.
    pub service: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub description: Cow<'static, str>,
    pub base_price_cents: Cents,
    pub pricing: PricingType,
    /// JSON Schema of the payload (draft 2020-12 subset).
    pub input_schema: Value,
    pub output_schema: Value,
    /// True when execution answers `running` and settles later.
    pub asynchronous: bool,
}

impl OperationSpec {
    pub fn full_name(&self) -> String {
        format!("{}.{}", self.service, self.name)
    }
}

#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub operations: Vec<OperationSpec>,
}

/// The catalog, indexed for lookups on the request path.
#[derive(Clone, Debug)]
pub struct Catalog {
    services: Arc<Vec<ServiceSpec>>,
    index: Arc<HashMap<(String, String), (usize, usize)>>,
}

impl Catalog {
    pub fn new(services: Vec<ServiceSpec>) -> Self {
        let mut index = HashMap::new();
        for (si, service) in services.iter().enumerate() {
            for (oi, op) in service.operations.iter().enumerate() {
                index.insert((service.id.to_owned(), op.name.to_string()), (si, oi));
            }
        }
        Catalog {
            services: Arc::new(services),
            index: Arc::new(index),
        }
    }

    pub fn services(&self) -> &[ServiceSpec] {
        &self.services
    }

    pub fn service(&self, id: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.id == id)
    }

    pub fn operation(&self, service: &str, operation: &str) -> Option<&OperationSpec> {
        let (si, oi) = self
            .index
            .get(&(service.to_owned(), operation.to_owned()))?;
        Some(&self.services[*si].operations[*oi])
    }
}
