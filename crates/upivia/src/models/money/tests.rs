use super::*;

#[test]
fn dollars_round_half_to_even_like_the_reference_sdk() {
    assert_eq!(Cents::from_dollars_rounded(1.5), Some(Cents::new(150)));
    assert_eq!(Cents::from_dollars_rounded(0.125), Some(Cents::new(12)));
    assert_eq!(Cents::from_dollars_rounded(0.135), Some(Cents::new(14)));
    assert_eq!(Cents::from_dollars_rounded(-2.0), Some(Cents::new(-200)));
    assert_eq!(Cents::from_dollars_rounded(f64::NAN), None);
    assert_eq!(Cents::from_dollars_rounded(f64::INFINITY), None);
    assert_eq!(Cents::from_dollars_rounded(1e300), None);
}

#[test]
fn checked_arithmetic_reports_overflow() {
    assert_eq!(
        Cents::new(2).checked_add(Cents::new(3)),
        Some(Cents::new(5))
    );
    assert_eq!(Cents::new(i64::MAX).checked_add(Cents::new(1)), None);
    assert_eq!(Cents::new(i64::MIN).checked_sub(Cents::new(1)), None);
}

#[test]
fn serializes_as_a_bare_integer() {
    assert_eq!(serde_json::to_string(&Cents::new(42)).unwrap(), "42");
    let c: Cents = serde_json::from_str("-7").unwrap();
    assert_eq!(c.get(), -7);
    assert!(serde_json::from_str::<Cents>("1.5").is_err());
}
