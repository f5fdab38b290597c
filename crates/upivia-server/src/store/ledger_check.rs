//! The part of the ledger check both backends share: every transfer is one
//! debit and one credit of the same amount on two accounts, and no debit
//! happens outside a transfer.

use std::collections::BTreeMap;

use crate::model::EntryKind;

/// The transfer entries seen so far, by transfer id.
#[derive(Debug, Default)]
pub(crate) struct Transfers {
    sides: BTreeMap<String, Vec<(String, EntryKind, i64)>>,
    problems: Vec<String>,
}

impl Transfers {
    /// Notes one ledger entry (every entry passes through here).
    pub(crate) fn see(
        &mut self,
        account: &str,
        kind: EntryKind,
        amount: i64,
        transfer_id: Option<&str>,
    ) {
        match (kind, transfer_id) {
            (EntryKind::Debit | EntryKind::Credit, Some(id)) => self
                .sides
                .entry(id.to_owned())
                .or_default()
                .push((account.to_owned(), kind, amount)),
            (EntryKind::Debit, None) => self.problems.push(format!(
                "{account}: a debit of {amount} outside any transfer"
            )),
            (other, Some(id)) => self.problems.push(format!(
                "{id}: a {} entry on {account} inside a transfer",
                other.as_str()
            )),
            _ => {}
        }
    }

    /// What is wrong with the transfers seen.
    pub(crate) fn problems(self) -> Vec<String> {
        let mut problems = self.problems;
        for (id, sides) in self.sides {
            let debits: Vec<_> = sides.iter().filter(|s| s.1 == EntryKind::Debit).collect();
            let credits: Vec<_> = sides.iter().filter(|s| s.1 == EntryKind::Credit).collect();
            match (debits.as_slice(), credits.as_slice()) {
                ([debit], [credit]) => {
                    if debit.2 != credit.2 {
                        problems.push(format!(
                            "{id}: debits {} on {} but credits {} on {}",
                            debit.2, debit.0, credit.2, credit.0
                        ));
                    }
                    if debit.0 == credit.0 {
                        problems.push(format!("{id}: moves money from {} to itself", debit.0));
                    }
                }
                _ => problems.push(format!(
                    "{id}: {} debits and {} credits, not one of each",
                    debits.len(),
                    credits.len()
                )),
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balanced_pair_is_clean_and_anything_else_is_named() {
        let mut t = Transfers::default();
        t.see("org:o", EntryKind::Debit, 50, Some("trf_1"));
        t.see("team:t", EntryKind::Credit, 50, Some("trf_1"));
        t.see("org:o", EntryKind::Credit, 9, None);
        assert!(t.problems().is_empty());

        let mut t = Transfers::default();
        t.see("org:o", EntryKind::Debit, 50, Some("trf_1"));
        t.see("team:t", EntryKind::Credit, 40, Some("trf_1"));
        t.see("org:o", EntryKind::Debit, 5, None);
        t.see("team:t", EntryKind::Credit, 5, Some("trf_2"));
        t.see("team:t", EntryKind::Reserve, 5, Some("trf_3"));
        let problems = t.problems();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("outside any transfer")));
        assert!(problems.iter().any(|p| p.contains("trf_1: debits 50")));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("trf_2: 0 debits and 1 credits"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("trf_3: a reserve entry"))
        );
    }
}
