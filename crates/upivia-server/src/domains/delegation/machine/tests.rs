use super::*;
use TaskStatus::*;

/// Every allowed move, written out by hand (not derived from `edge`).
const ALLOWED: &[(Side, TaskStatus, TaskStatus)] = &[
    (Side::Child, Pending, Accepted),
    (Side::Child, Accepted, InProgress),
    (Side::Child, InProgress, Completed),
    (Side::Child, InProgress, Failed),
    (Side::Parent, Pending, Cancelled),
    (Side::Parent, Accepted, Cancelled),
    (Side::Parent, InProgress, Cancelled),
];

#[test]
fn exactly_the_listed_moves_are_allowed() {
    for side in [Side::Parent, Side::Child] {
        for from in TaskStatus::ALL {
            for to in TaskStatus::ALL {
                let listed = ALLOWED.contains(&(side, from, to));
                assert_eq!(
                    transition(side, from, to).is_ok(),
                    listed,
                    "{} {} -> {}",
                    side.as_str(),
                    from.as_str(),
                    to.as_str()
                );
            }
        }
    }
}

#[test]
fn a_status_of_the_other_side_is_refused_as_wrong_side() {
    for from in TaskStatus::ALL {
        assert_eq!(
            transition(Side::Parent, from, Accepted),
            Err(Refusal::WrongSide)
        );
        assert_eq!(
            transition(Side::Parent, from, Completed),
            Err(Refusal::WrongSide)
        );
        assert_eq!(
            transition(Side::Child, from, Cancelled),
            Err(Refusal::WrongSide)
        );
    }
}

#[test]
fn final_states_and_pending_go_nowhere() {
    for side in [Side::Parent, Side::Child] {
        for from in [Completed, Failed, Cancelled] {
            for to in TaskStatus::ALL {
                assert!(transition(side, from, to).is_err());
            }
        }
        for from in TaskStatus::ALL {
            assert_eq!(transition(side, from, Pending), Err(Refusal::Invalid));
        }
    }
}

#[test]
fn skipping_a_step_is_invalid_for_the_right_side() {
    assert_eq!(
        transition(Side::Child, Pending, InProgress),
        Err(Refusal::Invalid)
    );
    assert_eq!(
        transition(Side::Child, Pending, Completed),
        Err(Refusal::Invalid)
    );
    assert_eq!(
        transition(Side::Child, Accepted, Failed),
        Err(Refusal::Invalid)
    );
    assert_eq!(
        transition(Side::Child, Accepted, Accepted),
        Err(Refusal::Invalid)
    );
}
