//! One charged (or free) execution, as shown by `GET /usage`.

use time::OffsetDateTime;

use crate::money::Cents;

#[derive(Clone, Debug)]
pub struct UsageRecord {
    pub id: String,
    pub agent_id: String,
    pub request_id: String,
    pub service: String,
    pub operation: String,
    pub cost: Cents,
    pub created_at: OffsetDateTime,
}
