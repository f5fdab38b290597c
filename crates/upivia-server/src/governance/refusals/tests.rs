use time::macros::datetime;

use super::*;

#[test]
fn a_refusal_id_reads_back_for_its_agent_only() {
    let at = datetime!(2026-03-01 12:00:00.123 UTC);
    let id = encode_id("agt_a", ReasonCode::AgentDisabled, "email", "send", at);
    assert!(id.starts_with(ID_PREFIX));
    assert!(
        id[ID_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
    let back = decode_id(&id, "agt_a").expect("decodes");
    assert_eq!(back.reason, ReasonCode::AgentDisabled);
    assert_eq!(
        (back.service.as_str(), back.operation.as_str()),
        ("email", "send")
    );
    assert_eq!(back.at, at);
    assert_eq!(decode_id(&id, "agt_b"), None);
}

#[test]
fn ids_are_unique_and_garbage_is_not_a_refusal() {
    let at = datetime!(2026-03-01 12:00:00 UTC);
    let a = encode_id("agt_a", ReasonCode::KillSwitch, "sms", "send", at);
    let b = encode_id("agt_a", ReasonCode::KillSwitch, "sms", "send", at);
    assert_ne!(a, b);
    for junk in [
        "rfs_",
        "rfs_!!!",
        "req_01h",
        "rfs_AAAA",
        &"rfs_A".repeat(100),
    ] {
        assert_eq!(decode_id(junk, "agt_a"), None, "{junk}");
    }
    // A non-standing reason byte is refused even with a matching digest.
    let mut raw = URL_SAFE_NO_PAD.decode(&a[ID_PREFIX.len()..]).unwrap();
    raw[17] = 9;
    let forged = format!("{ID_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
    assert_eq!(decode_id(&forged, "agt_a"), None);
}

#[test]
fn windows_are_taken_once_they_are_a_window_old() {
    let log = RefusalLog::default();
    let t0 = datetime!(2026-03-01 12:00:00 UTC);
    for i in 0..5 {
        log.count(
            "org",
            "agt_a",
            ReasonCode::AgentDisabled,
            t0 + Duration::seconds(i),
        );
    }
    log.count(
        "org",
        "agt_a",
        ReasonCode::KillSwitch,
        t0 + Duration::seconds(9),
    );
    log.count(
        "org",
        "agt_b",
        ReasonCode::AgentPaused,
        t0 + Duration::seconds(30),
    );
    assert!(log.take_due(t0 + Duration::seconds(59), false).is_empty());
    let due = log.take_due(t0 + WINDOW, false);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].agent_id, "agt_a");
    assert_eq!(due[0].total(), 6);
    assert_eq!(due[0].counts["agent_disabled"], 5);
    assert_eq!(due[0].last_at, t0 + Duration::seconds(9));
    // Taken once; the other agent's window is still young.
    assert!(log.take_due(t0 + WINDOW, false).is_empty());
    assert_eq!(log.take_due(t0 + WINDOW, true).len(), 1);
}

#[test]
fn a_restored_window_merges_with_newer_refusals() {
    let log = RefusalLog::default();
    let t0 = datetime!(2026-03-01 12:00:00 UTC);
    log.count("org", "agt_a", ReasonCode::AgentDisabled, t0);
    let taken = log.take_due(t0, true).pop().unwrap();
    log.count(
        "org",
        "agt_a",
        ReasonCode::AgentDisabled,
        t0 + Duration::seconds(5),
    );
    log.restore(taken);
    let back = log.take_due(t0 + WINDOW, false).pop().unwrap();
    assert_eq!(back.opened_at, t0);
    assert_eq!(back.total(), 2);
}
