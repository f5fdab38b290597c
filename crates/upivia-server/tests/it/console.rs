//! The web console's files as the server serves them: the page and its
//! headers, every file of `console/` with its content type and exact
//! bytes (so the embedded list cannot miss a file), unknown assets, and
//! the rules the files themselves keep: nothing from another host, no
//! inline script, no markup built from strings.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::TestServer;

fn console_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// `(file name, contents)` of every console file, sorted.
fn console_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(console_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn content_type_for(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        other => panic!("console file {name} has an extension ({other:?}) this test does not know"),
    }
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn root_serves_the_console_page_with_a_strict_csp() {
    let s = TestServer::start().await;
    for path in ["/", "/console", "/console/", "/console/index.html"] {
        let res = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
        let csp = header(&res, "content-security-policy").to_owned();
        for rule in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(rule), "{path}: CSP {csp:?} lacks {rule:?}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(header(&res, "x-frame-options"), "DENY");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff");
        assert_eq!(header(&res, "cache-control"), "no-store");
        let body = res.text().await.unwrap();
        assert!(body.contains(r#"<script type="module" src="/console/app.js"></script>"#));
    }
}

#[tokio::test]
async fn every_console_file_is_served_with_its_content_type() {
    let s = TestServer::start().await;
    let files = console_files();
    assert!(files.len() >= 5, "{files:?}");
    for (name, contents) in files {
        let res = s
            .http
            .get(format!("{}/console/{name}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{name} is in console/ but not served");
        assert_eq!(
            header(&res, "content-type"),
            content_type_for(&name),
            "{name}"
        );
        assert!(header(&res, "content-security-policy").contains("default-src 'self'"));
        assert_eq!(res.text().await.unwrap(), contents, "{name}: stale embed");
    }
}

#[tokio::test]
async fn unknown_console_paths_are_404_and_api_paths_keep_the_json_envelope() {
    let s = TestServer::start().await;
    for path in [
        "/console/nope.js",
        "/console/../Cargo.toml",
        "/console/%2e%2e/Cargo.toml",
        "/console/app.js/x",
        "/index.html",
        "/api/v1/nope",
        "/api/nope",
        "/v1/nope",
    ] {
        let res = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(header(&res, "content-type").starts_with("application/json"));
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    // The page is for GET only; other methods get the JSON 405.
    let res = s.http.post(format!("{}/", s.base)).send().await.unwrap();
    assert_eq!(res.status(), 405);
}

/// An XML namespace is a name, not an address: nothing fetches it.
const NAMESPACES: &[&str] = &["http://www.w3.org/2000/svg"];

fn in_comment(line_before: &str) -> bool {
    let t = line_before.trim_start();
    t.starts_with("//") || t.starts_with('*') || t.starts_with("/*") || t.starts_with("<!--")
}

#[test]
fn no_console_file_reaches_another_host() {
    let mut offenders = Vec::new();
    for (name, contents) in console_files() {
        for (n, line) in contents.lines().enumerate() {
            for scheme in ["http://", "https://", "//cdn", "ws://", "wss://"] {
                for (at, _) in line.match_indices(scheme) {
                    let rest = &line[at..];
                    if NAMESPACES.iter().any(|ns| rest.starts_with(ns)) || in_comment(&line[..at]) {
                        continue;
                    }
                    offenders.push(format!("{name}:{}: {line}", n + 1));
                }
            }
            // `url(` in CSS and `import` in JS may only name this origin.
            if line.contains("url(") && !line.contains("url(data:") {
                offenders.push(format!("{name}:{}: {line}", n + 1));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

#[test]
fn console_files_keep_to_the_csp_and_build_no_markup_from_strings() {
    for (name, contents) in console_files() {
        if name.ends_with(".html") {
            // Every script is a file; no inline handlers or styles (the CSP
            // would refuse them and the console would half-work).
            for (at, _) in contents.match_indices("<script") {
                let tag = &contents[at..at + contents[at..].find('>').unwrap()];
                assert!(tag.contains("src="), "{name}: inline script {tag}");
            }
            assert!(!contents.contains(" style="), "{name}: inline style");
            assert!(!contents.contains(" onclick="), "{name}: inline handler");
        }
        if name.ends_with(".js") {
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
            ] {
                assert!(!contents.contains(banned), "{name} uses {banned}");
            }
        }
    }
}
