use std::collections::HashSet;

use super::*;

#[test]
fn render_fills_placeholders_in_order() {
    assert_eq!(
        WORKFLOWS_RUNS_RETRY_STEP.render(&["wf", "run", "st"]),
        "/api/v1/workflows/wf/runs/run/steps/st/retry"
    );
    assert_eq!(
        SERVICE_REQUESTS_CREATE.render(&[]),
        "/api/v1/service-requests"
    );
    // A missing argument leaves the placeholder visible rather than panicking.
    assert_eq!(
        SERVICE_REQUESTS_GET.render(&[]),
        "/api/v1/service-requests/{request_id}"
    );
}

#[test]
fn table_has_the_119_sdk_rows_each_once() {
    assert_eq!(ALL.len(), 119);
    let names: HashSet<String> = ALL.iter().map(Endpoint::qualified_name).collect();
    assert_eq!(names.len(), ALL.len());
}

#[test]
fn every_path_is_under_api_v1_without_trailing_slash() {
    for ep in ALL {
        assert!(ep.path.starts_with("/api/v1/"), "{}", ep.path);
        assert!(!ep.path.ends_with('/'), "{}", ep.path);
        assert_eq!(ep.placeholder_count(), ep.path.matches('}').count());
    }
}

#[test]
fn service_request_route_is_shared_by_create_and_budget_check() {
    let posts_to_create: Vec<_> = ALL
        .iter()
        .filter(|e| e.path == "/api/v1/service-requests")
        .collect();
    assert_eq!(posts_to_create.len(), 2);
    assert!(posts_to_create.iter().all(|e| e.auth == AuthMode::Agent));
}
