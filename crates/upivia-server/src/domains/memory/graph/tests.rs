use time::OffsetDateTime;

use super::*;

fn keys(content: &str) -> Vec<(String, NodeKind)> {
    mentions(content)
        .into_iter()
        .map(|e| (e.key, e.kind))
        .collect()
}

fn memory(id: &str, content: &str, tags: &[&str]) -> Memory {
    Memory {
        id: id.into(),
        org_id: "org_1".into(),
        agent_id: "agt_1".into(),
        content: content.into(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        archived: false,
        created_by: "agent:agt_1".into(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[test]
fn names_handles_hashtags_emails_and_hosts_are_entities() {
    use NodeKind::*;
    assert_eq!(
        keys(
            "Ask @bob.k or mail ops@Example.com about #deploys; \
             see https://www.Status.example.io/incidents?id=1 and the Billing Service."
        ),
        vec![
            ("@bob.k".into(), Entity),
            ("ops@example.com".into(), Entity),
            ("deploys".into(), Tag),
            ("status.example.io".into(), Entity),
            ("billing service".into(), Entity),
        ]
    );
}

#[test]
fn a_capitalised_first_word_is_not_a_name_but_a_run_is() {
    use NodeKind::*;
    assert!(keys("The staging database rotates. Monthly reports follow.").is_empty());
    assert_eq!(
        keys("The Billing Service pages Alice Smith on Monday."),
        vec![
            ("billing service".into(), Entity),
            ("alice smith".into(), Entity),
            ("monday".into(), Entity),
        ]
    );
    assert_eq!(
        keys("Alice Smith owns it.\nPostgres, Redis and I agree"),
        vec![("alice smith".into(), Entity), ("redis".into(), Entity)]
    );
}

#[test]
fn odd_text_yields_no_entity_and_no_panic() {
    for text in [
        "",
        "   \n\n",
        "@ # http:// https://x mailto:@ a@b @@ ## ...!!!",
        "(((\"“‘",
        "É 𝔸𝔹 ÀÉÎ-Õ’s",
    ] {
        let _ = mentions(text);
    }
    assert!(keys("@ # https://nohost/ a@b").is_empty());
    let long = "Word ".repeat(500);
    assert!(keys(&format!("x {long}")).is_empty());
}

#[test]
fn tags_and_mentions_of_one_name_are_one_tag_node() {
    let memories = [
        memory("mem_2", "Deploys go through Ops on Fridays.", &[]),
        memory("mem_1", "Rollbacks need #ops approval.", &["Ops"]),
    ];
    let graph = build(&memories);
    let ops: Vec<&Node> = graph
        .nodes
        .iter()
        .filter(|n| n.id == "entity:ops")
        .collect();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].kind, NodeKind::Tag);
    assert_eq!(ops[0].label, "Ops");
    assert!(graph.edges.contains(&Edge {
        source: "mem_2".into(),
        target: "mem_1".into(),
        kind: EdgeKind::Shares { weight: 1 },
    }));
}

#[test]
fn memories_sharing_entities_are_joined_by_weight() {
    let memories = [
        memory(
            "mem_3",
            "Alice Smith runs the Billing Service.",
            &["billing"],
        ),
        memory("mem_2", "Billing Service questions go to Alice Smith.", &[]),
        memory("mem_1", "Nothing in common here.", &["billing"]),
    ];
    let graph = build(&memories);
    assert_eq!(
        graph
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Memory)
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        ["mem_3", "mem_2", "mem_1"]
    );
    let shares: Vec<(&str, &str, u32)> = graph
        .edges
        .iter()
        .filter_map(|e| match e.kind {
            EdgeKind::Shares { weight } => Some((e.source.as_str(), e.target.as_str(), weight)),
            EdgeKind::Mentions => None,
        })
        .collect();
    assert_eq!(shares, [("mem_3", "mem_2", 2), ("mem_3", "mem_1", 1)]);
    let mentions = graph
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Mentions)
        .count();
    assert_eq!(mentions, 3 + 2 + 1);
    assert!(!graph.shares_truncated);
}

#[test]
fn shares_are_capped_heaviest_first() {
    let memories: Vec<Memory> = (0..100)
        .map(|i| memory(&format!("mem_{i:03}"), "x", &["common"]))
        .collect();
    let graph = build(&memories);
    let shares = graph
        .edges
        .iter()
        .filter(|e| matches!(e.kind, EdgeKind::Shares { .. }))
        .count();
    assert_eq!(shares, MAX_SHARES);
    assert!(graph.shares_truncated);
}

#[test]
fn a_memory_label_is_its_first_line_cut_short() {
    let long = "a".repeat(200);
    let graph = build(&[memory("mem_1", &format!("\n  {long}\nsecond"), &[])]);
    assert_eq!(graph.nodes[0].label.chars().count(), MEMORY_LABEL_CHARS);
    assert!(graph.nodes[0].label.ends_with('…'));
}
