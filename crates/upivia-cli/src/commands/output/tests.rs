use super::*;

#[test]
fn cents_print_as_dollars_without_rounding() {
    assert_eq!(dollars(0), "$0.00");
    assert_eq!(dollars(1), "$0.01");
    assert_eq!(dollars(105), "$1.05");
    assert_eq!(dollars(123_456), "$1234.56");
    assert_eq!(dollars(-5), "-$0.05");
    assert_eq!(dollars(i64::MIN), "-$92233720368547758.08");
    assert_eq!(dollars_of(&Value::Null), "-");
}

#[test]
fn tables_pad_every_column_but_the_last() {
    let mut t = Table::new(["ID", "NAME"]);
    t.row(vec!["a".into(), "first".into()]);
    t.row(vec!["long-id".into(), "x".into()]);
    assert_eq!(t.render(), "ID       NAME\na        first\nlong-id  x");
}
