use std::io::Write;

use super::*;

fn checkpoint(seq: i64, key: &AuditSigningKey) -> Checkpoint {
    Checkpoint {
        v: 1,
        chain: GLOBAL_CHAIN.into(),
        seq,
        head_hash: format!("{seq:064x}"),
        keyed_from: 1,
        time: format!("2026-11-28T12:00:{seq:02}.000000Z"),
        key_id: key.public().id(),
    }
}

#[test]
fn a_signed_line_opens_under_its_public_key() {
    let key = AuditSigningKey::generate();
    let c = checkpoint(7, &key);
    let line = c.sign(&key);
    assert_eq!(Checkpoint::open(&line, &key.public()).unwrap(), c);
    // Re-encoded with other whitespace and key order, it still verifies.
    let value: Value = serde_json::from_str(&line).unwrap();
    let pretty = serde_json::to_string_pretty(&value)
        .unwrap()
        .replace('\n', " ");
    assert_eq!(Checkpoint::open(&pretty, &key.public()).unwrap(), c);
    // Deterministic: the same checkpoint signs to the same line.
    assert_eq!(c.sign(&key), line);
}

#[test]
fn an_altered_line_does_not_verify() {
    let key = AuditSigningKey::generate();
    let line = checkpoint(7, &key).sign(&key);
    let forged = line.replace("\"seq\":7", "\"seq\":6");
    let err = Checkpoint::open(&forged, &key.public()).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
    let extra = line.replacen('{', "{\"note\":\"x\",", 1);
    assert!(Checkpoint::open(&extra, &key.public()).is_err());
    let unsigned = line.replace("\"sig\"", "\"gis\"");
    assert!(Checkpoint::open(&unsigned, &key.public()).is_err());
}

#[test]
fn another_key_is_refused_whatever_key_id_it_claims() {
    let ours = AuditSigningKey::generate();
    let theirs = AuditSigningKey::generate();
    let own_id = checkpoint(3, &theirs).sign(&theirs);
    let err = Checkpoint::open(&own_id, &ours.public()).unwrap_err();
    assert!(err.contains("another key"), "{err}");
    let mut claims_ours = checkpoint(3, &theirs);
    claims_ours.key_id = ours.public().id();
    let err = Checkpoint::open(&claims_ours.sign(&theirs), &ours.public()).unwrap_err();
    assert!(err.contains("does not verify"), "{err}");
}

fn write_log(lines: &[String]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    file
}

#[test]
fn a_log_reads_in_order_and_names_its_first_bad_line() {
    let key = AuditSigningKey::generate();
    let good: Vec<String> = [1, 4, 4, 9]
        .iter()
        .map(|s| checkpoint(*s, &key).sign(&key))
        .collect();
    let log = read_log(write_log(&good).path(), &key.public(), GLOBAL_CHAIN)
        .unwrap()
        .unwrap();
    assert!(log.present);
    assert_eq!(
        log.checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [1, 4, 4, 9]
    );

    let mut bad = good.clone();
    bad[2] = bad[2].replace("\"seq\":4", "\"seq\":5");
    let brk = read_log(write_log(&bad).path(), &key.public(), GLOBAL_CHAIN)
        .unwrap()
        .unwrap_err();
    assert_eq!((brk.seq, brk.id.as_str()), (5, "checkpoint line 3"));

    let backwards = vec![good[3].clone(), good[0].clone()];
    let brk = read_log(write_log(&backwards).path(), &key.public(), GLOBAL_CHAIN)
        .unwrap()
        .unwrap_err();
    assert!(brk.reason.contains("goes back"), "{brk:?}");

    let mut two_heads = checkpoint(4, &key);
    two_heads.head_hash = "f".repeat(64);
    let forked = vec![good[1].clone(), two_heads.sign(&key)];
    let brk = read_log(write_log(&forked).path(), &key.public(), GLOBAL_CHAIN)
        .unwrap()
        .unwrap_err();
    assert!(brk.reason.contains("second head"), "{brk:?}");
}

#[test]
fn a_missing_log_is_empty_and_says_so() {
    let key = AuditSigningKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let log = read_log(&dir.path().join("none.jsonl"), &key.public(), GLOBAL_CHAIN)
        .unwrap()
        .unwrap();
    assert!(!log.present);
    assert!(log.checkpoints.is_empty());
}

#[test]
fn other_chains_are_checked_but_left_out() {
    let key = AuditSigningKey::generate();
    let mut other = checkpoint(50, &key);
    other.chain = "org:org_2".into();
    let lines = vec![checkpoint(1, &key).sign(&key), other.sign(&key)];
    let log = read_log(write_log(&lines).path(), &key.public(), GLOBAL_CHAIN)
        .unwrap()
        .unwrap();
    assert_eq!(log.checkpoints.len(), 1);
}

#[test]
fn keys_round_trip_through_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit-signing.key");
    let created = AuditSigningKey::load_or_create(&path).unwrap();
    let loaded = AuditSigningKey::load_or_create(&path).unwrap();
    assert_eq!(created.public(), loaded.public());
    let pem = created.public().to_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    assert_eq!(AuditPublicKey::from_pem(&pem).unwrap(), created.public());
    let hmac_path = dir.path().join("audit.key");
    let a = crate::audit::AuditKey::load_or_create(&hmac_path).unwrap();
    let b = crate::audit::AuditKey::load_or_create(&hmac_path).unwrap();
    assert_eq!(a.id(), b.id());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for p in [&path, &hmac_path] {
            let mode = std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", p.display());
        }
    }
    std::fs::write(&hmac_path, "not hex\n").unwrap();
    assert!(matches!(
        crate::audit::AuditKey::load(&hmac_path),
        Err(crate::audit::AuditError::MalformedKey { .. })
    ));
}
