-- Transfers: money moved between two accounts as a debit on the source and
-- a credit on the destination, both carrying the transfer's id (allocating
-- to a team pool, approving a budget request, carving a spawned agent's
-- allowance out of its parent's month). SQLite cannot widen a CHECK in
-- place, so the table is rebuilt with the same rows and seqs.
CREATE TABLE ledger_entries_next (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       TEXT NOT NULL,
    account      TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('credit', 'debit', 'reserve', 'release', 'settle')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    request_id   TEXT,
    note         TEXT,
    created_at   TEXT NOT NULL,
    transfer_id  TEXT
);
INSERT INTO ledger_entries_next (seq, org_id, account, kind, amount_cents, request_id, note, created_at)
    SELECT seq, org_id, account, kind, amount_cents, request_id, note, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_next RENAME TO ledger_entries;
CREATE INDEX ledger_entries_account ON ledger_entries(account);
CREATE INDEX ledger_entries_transfer ON ledger_entries(transfer_id) WHERE transfer_id IS NOT NULL;
