use super::*;

const ORIGIN: &str = "http://127.0.0.1:3000";
const SESSION: &str = "session-token";

fn json() -> Signals<'static> {
    Signals {
        content_type: Some("application/json"),
        has_body: true,
        ..Signals::default()
    }
}

#[test]
fn origins_serialise_as_browsers_send_them() {
    assert_eq!(
        origin_of("https://Upivia.Example:443/"),
        "https://upivia.example"
    );
    assert_eq!(origin_of("http://127.0.0.1:3000/api"), ORIGIN);
    assert_eq!(origin_of("http://x.example:8080"), "http://x.example:8080");
    assert_eq!(origin_of("not a url"), "null");
    assert_eq!(origin_of("null"), "null");
}

#[test]
fn sdk_like_json_without_origin_passes() {
    assert_eq!(check(json(), ORIGIN, SESSION), Ok(()));
    let charset = Signals {
        content_type: Some("Application/JSON; charset=utf-8"),
        ..json()
    };
    assert_eq!(check(charset, ORIGIN, SESSION), Ok(()));
    let problem = Signals {
        content_type: Some("application/problem+json"),
        ..json()
    };
    assert_eq!(check(problem, ORIGIN, SESSION), Ok(()));
}

#[test]
fn a_bodiless_request_without_content_type_passes() {
    assert_eq!(check(Signals::default(), ORIGIN, SESSION), Ok(()));
    let json_header_no_body = Signals {
        content_type: Some("application/json"),
        ..Signals::default()
    };
    assert_eq!(check(json_header_no_body, ORIGIN, SESSION), Ok(()));
}

#[test]
fn form_content_types_are_refused_without_a_token() {
    for ct in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/json",
    ] {
        let s = Signals {
            content_type: Some(ct),
            ..json()
        };
        assert_eq!(check(s, ORIGIN, SESSION), Err(CsrfRefusal::NotJson), "{ct}");
        let empty_form = Signals {
            has_body: false,
            ..s
        };
        assert_eq!(
            check(empty_form, ORIGIN, SESSION),
            Err(CsrfRefusal::NotJson),
            "{ct}"
        );
    }
    let no_type = Signals {
        content_type: None,
        ..json()
    };
    assert_eq!(check(no_type, ORIGIN, SESSION), Err(CsrfRefusal::NotJson));
}

#[test]
fn cross_site_fetch_metadata_is_refused_even_for_json() {
    for site in ["cross-site", "same-site", "Cross-Site"] {
        let s = Signals {
            fetch_site: Some(site),
            ..json()
        };
        assert!(
            matches!(check(s, ORIGIN, SESSION), Err(CsrfRefusal::CrossSite(_))),
            "{site}"
        );
    }
    for site in ["same-origin", "none"] {
        let s = Signals {
            fetch_site: Some(site),
            ..json()
        };
        assert_eq!(check(s, ORIGIN, SESSION), Ok(()), "{site}");
    }
}

#[test]
fn only_the_public_origin_is_accepted() {
    for origin in [
        "http://evil.example",
        "http://127.0.0.1:3001",
        "https://127.0.0.1:3000",
        "http://localhost:3000",
        "null",
        "",
    ] {
        let s = Signals {
            origin: Some(origin),
            ..json()
        };
        assert!(
            matches!(
                check(s, ORIGIN, SESSION),
                Err(CsrfRefusal::ForeignOrigin { .. })
            ),
            "{origin}"
        );
    }
    for origin in [ORIGIN, "http://127.0.0.1:3000/", "HTTP://127.0.0.1:3000"] {
        let s = Signals {
            origin: Some(origin),
            ..json()
        };
        assert_eq!(check(s, ORIGIN, SESSION), Ok(()), "{origin}");
    }
}

#[test]
fn the_token_admits_any_body_but_not_a_foreign_origin() {
    let token = csrf_token(SESSION);
    assert_eq!(token.len(), 64);
    assert_ne!(token, csrf_token("another session"));
    let form = Signals {
        content_type: Some("text/plain"),
        has_body: true,
        token: Some(&token),
        ..Signals::default()
    };
    assert_eq!(check(form, ORIGIN, SESSION), Ok(()));
    let wrong = Signals {
        token: Some("nope"),
        ..json()
    };
    assert_eq!(
        check(wrong, ORIGIN, SESSION),
        Err(CsrfRefusal::TokenMismatch)
    );
    let foreign = Signals {
        origin: Some("http://evil.example"),
        ..form
    };
    assert!(matches!(
        check(foreign, ORIGIN, SESSION),
        Err(CsrfRefusal::ForeignOrigin { .. })
    ));
}
