use super::*;

#[test]
fn a_token_is_shown_by_its_kind_and_four_characters() {
    let pat = format!("upivia_pat_live_{}", "Ab12".repeat(10));
    assert_eq!(shown(&pat), "upivia_pat_live_Ab12…");
    // Too short to give any of it away.
    assert_eq!(shown("upivia_pat_live_short"), "upivia_pat_live_…");
    assert_eq!(shown("opaque"), "…");
    assert_eq!(shown(""), "…");
}

#[test]
fn the_debug_form_of_a_login_hides_the_token() {
    let login = Login {
        base_url: "http://127.0.0.1:3000".into(),
        pat: format!("upivia_pat_live_{}", "x".repeat(40)),
    };
    let debug = format!("{login:?}");
    assert!(!debug.contains(&"x".repeat(5)), "{debug}");
    assert!(debug.contains("127.0.0.1:3000"), "{debug}");
}

#[test]
fn a_trailing_slash_names_the_same_server() {
    assert!(same_server("http://h:1", "http://h:1/"));
    assert!(!same_server("http://h:1", "http://h:2"));
}
