use serde_json::json;
use time::macros::datetime;

use super::*;
use crate::audit::{AuditSigningKey, GLOBAL_CHAIN};
use crate::model::AuditEvent;
use crate::money::Cents;

/// `n` entries, the first `legacy` of them from before keyed chains.
fn chain_of(n: i64, legacy: i64, key: &AuditKey) -> Vec<AuditEntry> {
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
            mac: None,
        };
        entry.hash = entry_hash(&entry);
        if seq > legacy {
            entry.mac = Some(entry_mac(key, &entry.hash));
        }
        prev = entry.hash.clone();
        out.push(entry);
    }
    out
}

fn checkpoint_at(entries: &[AuditEntry], seq: i64, keyed_from: i64) -> Checkpoint {
    Checkpoint {
        v: 1,
        chain: GLOBAL_CHAIN.into(),
        seq,
        head_hash: entries[(seq - 1) as usize].hash.clone(),
        keyed_from,
        time: format!("2026-11-28T12:00:{seq:02}.000000Z"),
        key_id: AuditSigningKey::generate().public().id(),
    }
}

fn rules(key: Option<&AuditKey>, keyed_from: i64, checkpoints: Vec<Checkpoint>) -> ChainRules {
    ChainRules {
        key: key.cloned(),
        keyed_from,
        checkpoints,
    }
}

fn verify(rules: &ChainRules, entries: &[AuditEntry]) -> Result<Reach, ChainBreak> {
    let mut v = ChainVerifier::new(rules);
    for e in entries {
        v.feed(e)?;
    }
    v.finish()
}

/// Rewrites entry `index` and recomputes the plain chain from there on, as
/// someone with the database but not the key would.
fn forge_from(entries: &mut [AuditEntry], index: usize) {
    entries[index].event.cost = Some(Cents::new(0));
    for i in index..entries.len() {
        if i > 0 {
            entries[i].prev_hash = entries[i - 1].hash.clone();
        }
        entries[i].hash = entry_hash(&entries[i]);
    }
}

#[test]
fn an_untouched_chain_verifies() {
    let key = AuditKey::generate();
    let entries = chain_of(5, 0, &key);
    let r = rules(Some(&key), 1, vec![checkpoint_at(&entries, 5, 1)]);
    assert_eq!(verify(&r, &entries).unwrap().last_seq, 5);
}

#[test]
fn editing_a_field_breaks_that_link() {
    let key = AuditKey::generate();
    let mut entries = chain_of(5, 0, &key);
    entries[2].event.cost = Some(Cents::new(999));
    let err = verify(&rules(Some(&key), 1, vec![]), &entries).unwrap_err();
    assert_eq!(err.seq, 3);
    assert!(err.reason.contains("content"), "{err:?}");
}

#[test]
fn deleting_a_row_is_a_gap() {
    let key = AuditKey::generate();
    let mut entries = chain_of(5, 0, &key);
    entries.remove(1);
    let err = verify(&rules(Some(&key), 1, vec![]), &entries).unwrap_err();
    assert_eq!(err.seq, 3);
    assert!(err.reason.contains("gap"), "{err:?}");
}

#[test]
fn rehashing_an_edited_row_fails_its_mac() {
    let key = AuditKey::generate();
    let mut entries = chain_of(5, 0, &key);
    entries[1].event.details = json!({"forged": true});
    entries[1].hash = entry_hash(&entries[1]);
    let err = verify(&rules(Some(&key), 1, vec![]), &entries).unwrap_err();
    assert_eq!((err.seq, err.id.as_str()), (2, "aud_2"));
    assert!(err.reason.contains("MAC"), "{err:?}");
    // Without the key, the next link still gives it away.
    let err = verify(&rules(None, 1, vec![]), &entries).unwrap_err();
    assert_eq!(err.seq, 3);
    assert!(err.reason.contains("prev_hash"), "{err:?}");
}

#[test]
fn recomputing_the_plain_chain_without_the_key_fails_the_mac() {
    let key = AuditKey::generate();
    let mut entries = chain_of(6, 0, &key);
    forge_from(&mut entries, 3);
    let err = verify(&rules(Some(&key), 1, vec![]), &entries).unwrap_err();
    assert_eq!(err.seq, 4);
    assert!(err.reason.contains("without the audit key"), "{err:?}");
    // Another key is no better than none.
    let other = AuditKey::generate();
    let honest = chain_of(6, 0, &key);
    assert_eq!(
        verify(&rules(Some(&other), 1, vec![]), &honest)
            .unwrap_err()
            .seq,
        1
    );
}

#[test]
fn without_the_key_a_signed_head_still_catches_a_recomputed_chain() {
    let key = AuditKey::generate();
    let honest = chain_of(6, 0, &key);
    let signed = vec![checkpoint_at(&honest, 5, 1)];
    let mut entries = honest.clone();
    forge_from(&mut entries, 2);
    let err = verify(&rules(None, 1, signed.clone()), &entries).unwrap_err();
    assert_eq!(err.seq, 5);
    assert!(err.reason.contains("signed"), "{err:?}");
    // After the last checkpoint the public check cannot tell: the limit
    // of verifying without the audit key.
    let mut entries = honest.clone();
    forge_from(&mut entries, 5);
    assert!(verify(&rules(None, 1, signed.clone()), &entries).is_ok());
    assert_eq!(
        verify(&rules(Some(&key), 1, signed), &entries)
            .unwrap_err()
            .seq,
        6
    );
}

#[test]
fn cutting_entries_below_a_checkpoint_is_caught_and_after_it_is_not() {
    let key = AuditKey::generate();
    let entries = chain_of(10, 0, &key);
    let signed = vec![checkpoint_at(&entries, 3, 1), checkpoint_at(&entries, 8, 1)];
    let r = rules(Some(&key), 1, signed);
    let err = verify(&r, &entries[..7]).unwrap_err();
    assert_eq!(err.seq, 8);
    assert!(
        err.reason.contains("entries 8 to 8 were deleted"),
        "{err:?}"
    );
    let err = verify(&r, &entries[..3]).unwrap_err();
    assert!(err.reason.contains("entries 4 to 8"), "{err:?}");
    assert!(
        verify(&r, &entries[..9]).is_ok(),
        "unsigned tail entries can go unseen"
    );
    assert!(verify(&r, &[]).is_err(), "an emptied chain");
}

#[test]
fn legacy_entries_verify_as_before_and_the_first_keyed_links_to_them() {
    let key = AuditKey::generate();
    let entries = chain_of(6, 3, &key);
    assert_eq!(entries[3].prev_hash, entries[2].hash);
    assert!(verify(&rules(Some(&key), 4, vec![]), &entries).is_ok());
    assert!(verify(&rules(None, 4, vec![]), &entries).is_ok());
}

#[test]
fn stripping_macs_to_pass_as_legacy_is_caught() {
    let key = AuditKey::generate();
    let mut entries = chain_of(6, 3, &key);
    for e in &mut entries[3..] {
        e.mac = None;
    }
    let err = verify(&rules(None, 4, vec![]), &entries).unwrap_err();
    assert_eq!(err.seq, 4);
    assert!(err.reason.contains("no MAC"), "{err:?}");
    // A legacy entry never carries a MAC either.
    let mut entries = chain_of(6, 3, &key);
    entries[0].mac = entries[4].mac.clone();
    assert_eq!(
        verify(&rules(None, 4, vec![]), &entries).unwrap_err().seq,
        1
    );
}

#[test]
fn hash_does_not_depend_on_key_order_of_details() {
    let key = AuditKey::generate();
    let mut a = chain_of(1, 0, &key).remove(0);
    let mut b = a.clone();
    a.event.details = serde_json::from_str(r#"{"x":1,"y":{"q":2,"p":3}}"#).unwrap();
    b.event.details = serde_json::from_str(r#"{"y":{"p":3,"q":2},"x":1}"#).unwrap();
    assert_eq!(entry_hash(&a), entry_hash(&b));
}

#[test]
fn the_mac_depends_on_the_key_and_the_hash() {
    let (k1, k2) = (AuditKey::generate(), AuditKey::generate());
    assert_ne!(entry_mac(&k1, "ab"), entry_mac(&k2, "ab"));
    assert_ne!(entry_mac(&k1, "ab"), entry_mac(&k1, "ac"));
    assert_eq!(entry_mac(&k1, "ab"), entry_mac(&k1.clone(), "ab"));
    assert_ne!(k1.id(), k2.id());
    assert!(!format!("{k1:?}").contains(&hex::encode(k1.bytes_for_test())));
}
