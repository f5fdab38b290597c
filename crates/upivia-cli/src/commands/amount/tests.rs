use super::*;

#[test]
fn dollars_are_read_into_whole_cents() {
    assert_eq!(parse_dollars("25"), Ok(2_500));
    assert_eq!(parse_dollars("12.50"), Ok(1_250));
    assert_eq!(parse_dollars("12.5"), Ok(1_250));
    assert_eq!(parse_dollars("0.05"), Ok(5));
    assert_eq!(parse_dollars("$3.07"), Ok(307));
    assert_eq!(parse_dollars(" 7 "), Ok(700));
    assert_eq!(parse_dollars("0"), Ok(0));
}

#[test]
fn anything_but_a_plain_amount_is_refused() {
    for bad in [
        "", "abc", "-5", "+5", "1,000", "12.", ".5", "1.005", "1e3", "12.5.0", "$", "1 000",
    ] {
        assert!(parse_dollars(bad).is_err(), "{bad:?} was accepted");
    }
    assert!(parse_dollars("92233720368547759").is_err());
    assert!(parse_dollars("1.005").unwrap_err().contains("two decimals"));
}

#[test]
fn a_credit_must_be_more_than_nothing() {
    assert!(parse_positive_dollars("0.00").is_err());
    assert_eq!(parse_positive_dollars("0.01"), Ok(1));
}
