use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::model::AuditEvent;
use crate::money::Cents;

fn chain_of(n: i64) -> Vec<AuditEntry> {
    let mut prev = GENESIS_HASH.to_owned();
    let mut out = Vec::new();
    for seq in 1..=n {
        let mut entry = AuditEntry {
            seq,
            id: format!("aud_{seq}"),
            event: AuditEvent::new("org_1", "service_request.executed", "agent:agt_1")
                .with_cost(Cents::new(seq))
                .with_details(json!({"n": seq, "nested": {"b": 1, "a": 2}})),
            created_at: datetime!(2026-11-28 12:00 UTC),
            prev_hash: prev.clone(),
            hash: String::new(),
        };
        entry.hash = entry_hash(&entry);
        prev = entry.hash.clone();
        out.push(entry);
    }
    out
}

#[test]
fn an_untouched_chain_verifies() {
    let entries = chain_of(5);
    let (last, seq) = verify_chain(GENESIS_HASH, 0, &entries).unwrap();
    assert_eq!(seq, 5);
    assert_eq!(last, entries[4].hash);
}

#[test]
fn editing_a_field_breaks_that_link() {
    let mut entries = chain_of(5);
    entries[2].event.cost = Some(Cents::new(999));
    let err = verify_chain(GENESIS_HASH, 0, &entries).unwrap_err();
    assert_eq!(err.seq, 3);
    assert!(err.reason.contains("content"), "{err:?}");
}

#[test]
fn deleting_a_row_is_a_gap() {
    let mut entries = chain_of(5);
    entries.remove(1);
    let err = verify_chain(GENESIS_HASH, 0, &entries).unwrap_err();
    assert_eq!(err.seq, 3);
    assert!(err.reason.contains("gap"), "{err:?}");
}

#[test]
fn rehashing_an_edited_row_still_breaks_the_next_link() {
    let mut entries = chain_of(5);
    entries[1].event.details = json!({"forged": true});
    entries[1].hash = entry_hash(&entries[1]);
    let err = verify_chain(GENESIS_HASH, 0, &entries).unwrap_err();
    assert_eq!(err.seq, 3);
    assert!(err.reason.contains("prev_hash"), "{err:?}");
}

#[test]
fn hash_does_not_depend_on_key_order_of_details() {
    let mut a = chain_of(1).remove(0);
    let mut b = a.clone();
    a.event.details = serde_json::from_str(r#"{"x":1,"y":{"q":2,"p":3}}"#).unwrap();
    b.event.details = serde_json::from_str(r#"{"y":{"p":3,"q":2},"x":1}"#).unwrap();
    assert_eq!(entry_hash(&a), entry_hash(&b));
}
