//! The SDK's endpoint table against the contract's `ENDPOINTS.tsv`.

use std::collections::BTreeMap;

use upivia::endpoints::{ALL, Endpoint};

const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/spec/ENDPOINTS.tsv"
);
const COPY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ENDPOINTS.tsv");

fn contract() -> String {
    std::fs::read_to_string(SHARED)
        .or_else(|_| std::fs::read_to_string(COPY))
        .expect("ENDPOINTS.tsv: neither the shared spec nor the committed copy is readable")
}

struct Row {
    resource: String,
    sdk_method: String,
    method: String,
    path: String,
    auth: String,
    success: String,
}

fn rows(text: &str) -> Vec<Row> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("ENDPOINTS.tsv is empty");
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        [
            "resource",
            "sdk_method",
            "http_method",
            "path",
            "auth",
            "success_status"
        ]
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 6, "malformed row: {line}");
            Row {
                resource: f[0].to_owned(),
                sdk_method: f[1].to_owned(),
                method: f[2].to_owned(),
                path: f[3].to_owned(),
                auth: f[4].to_owned(),
                success: f[5].to_owned(),
            }
        })
        .collect()
}

#[test]
fn every_sdk_row_of_the_contract_has_an_sdk_method_and_nothing_else_does() {
    let rows = rows(&contract());
    let sdk_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| !r.sdk_method.starts_with("tui:"))
        .collect();
    assert!(!sdk_rows.is_empty());
    let table: BTreeMap<(&str, &str), &Endpoint> = ALL
        .iter()
        .map(|e| ((e.resource, e.sdk_method), e))
        .collect();
    let mut missing = Vec::new();
    for row in &sdk_rows {
        let Some(ep) = table.get(&(row.resource.as_str(), row.sdk_method.as_str())) else {
            missing.push(format!("{}.{}", row.resource, row.sdk_method));
            continue;
        };
        let name = ep.qualified_name();
        assert_eq!(ep.method.as_str(), row.method, "{name}: method");
        assert_eq!(ep.path, row.path, "{name}: path");
        assert_eq!(ep.auth.as_str(), row.auth, "{name}: auth");
        assert_eq!(ep.success, row.success, "{name}: success status");
    }
    assert!(
        missing.is_empty(),
        "contract rows with no SDK method: {missing:?}"
    );
    // Nor does the SDK send anything the contract does not list.
    assert_eq!(
        ALL.len(),
        sdk_rows.len(),
        "the SDK table has rows the contract lacks"
    );
}

#[test]
fn committed_copy_matches_the_shared_contract_when_both_exist() {
    if let (Ok(shared), Ok(copy)) = (
        std::fs::read_to_string(SHARED),
        std::fs::read_to_string(COPY),
    ) {
        assert_eq!(
            shared, copy,
            "tests/data/ENDPOINTS.tsv is stale; copy the shared one again"
        );
    } else {
        assert!(
            std::fs::metadata(COPY).is_ok(),
            "the committed copy is missing"
        );
    }
}
