use serde_json::json;

use super::*;

#[test]
fn each_kind_of_line_parses_and_nothing_else_does() {
    assert_eq!(
        Line::parse(r#"{"table":"orgs","columns":["id"]}"#),
        Some(Line::Table(TableStart {
            table: "orgs".into(),
            columns: vec!["id".into()],
        }))
    );
    assert_eq!(
        Line::parse(r#"["org_1",0,null]"#),
        Some(Line::Row(vec![json!("org_1"), json!(0), json!(null)]))
    );
    assert_eq!(
        Line::parse(r#"{"end":{"orgs":1}}"#),
        Some(Line::End(End {
            end: [("orgs".to_owned(), 1)].into_iter().collect(),
        }))
    );
    for bad in [
        "",
        "{",
        "42",
        r#""text""#,
        r#"{"table":"orgs"}"#,
        r#"{"table":"orgs","columns":["id"],"extra":1}"#,
        r#"{"end":{"orgs":-1}}"#,
        r#"{"end":{"orgs":1},"more":true}"#,
    ] {
        assert_eq!(Line::parse(bad), None, "{bad}");
    }
}

#[test]
fn a_header_names_its_format_and_migration_level() {
    let header = Header {
        upivia_export: FORMAT_VERSION,
        source: "sqlite".into(),
        sqlite_migration: 4,
        exported_at: "2026-01-02T03:04:05.000006Z".into(),
    };
    let text = serde_json::to_string(&header).unwrap();
    assert_eq!(
        text,
        r#"{"upivia_export":1,"source":"sqlite","sqlite_migration":4,"exported_at":"2026-01-02T03:04:05.000006Z"}"#
    );
    assert_eq!(serde_json::from_str::<Header>(&text).unwrap(), header);
}
