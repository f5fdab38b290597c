use serde_json::json;
use time::OffsetDateTime;

use super::*;
use crate::money::Cents;

fn task(cap: Option<i64>) -> DelegatedTask {
    DelegatedTask {
        id: "dtk_1".into(),
        org_id: "org_1".into(),
        parent_agent_id: "agt_p".into(),
        child_agent_id: "agt_c".into(),
        objective: "o".into(),
        budget_cap: cap.map(Cents::new),
        permissions: vec![],
        model_id: None,
        status: TaskStatus::Accepted,
        result: None,
        last_seq: 1,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[test]
fn a_task_holds_on_its_own_account_capped_or_tracked() {
    assert_eq!(
        hold(&task(Some(25))),
        Hold {
            account: Account::Task("dtk_1".into()),
            limit: HoldLimit::Cap(Cents::new(25)),
        }
    );
    assert_eq!(hold(&task(Some(0))).limit, HoldLimit::Cap(Cents::ZERO));
    assert_eq!(hold(&task(None)).limit, HoldLimit::Unlimited);
    assert_eq!(hold(&task(None)).account.key(), "task:dtk_1");
}

#[test]
fn only_a_non_null_metadata_key_names_a_task() {
    assert_eq!(task_id_of(None), None);
    assert_eq!(task_id_of(Some(&json!({"other": 1}))), None);
    assert_eq!(task_id_of(Some(&json!({"delegated_task_id": null}))), None);
    assert_eq!(
        task_id_of(Some(&json!({"delegated_task_id": "dtk_1"}))),
        Some(&json!("dtk_1"))
    );
    assert_eq!(
        task_id_of(Some(&json!({"delegated_task_id": 7}))),
        Some(&json!(7))
    );
}
