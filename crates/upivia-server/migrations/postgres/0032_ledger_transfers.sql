-- Transfers: money moved between two accounts as a debit on the source and
-- a credit on the destination, both carrying the transfer's id. A debit on
-- an agent's month (a spawned child's allowance carved out of it) takes its
-- credits below zero: what its cap leaves is cap + credits − settled −
-- reserved. Funds accounts still never go below zero.
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
    CHECK (kind IN ('credit', 'debit', 'reserve', 'release', 'settle'));
ALTER TABLE ledger_entries ADD COLUMN transfer_id TEXT;
CREATE INDEX ledger_entries_transfer ON ledger_entries(transfer_id) WHERE transfer_id IS NOT NULL;
ALTER TABLE account_balances DROP CONSTRAINT account_balances_credits_cents_check;
ALTER TABLE account_balances ADD CONSTRAINT account_balances_credits_cents_check
    CHECK (credits_cents >= 0 OR account LIKE 'agent:%');
