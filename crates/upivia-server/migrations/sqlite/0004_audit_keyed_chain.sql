-- Keyed audit chain. Every entry from `keyed_from` on also carries
-- `mac = HMAC-SHA256(audit key, hash)`, the key kept outside the database;
-- entries written before this migration keep their plain SHA-256 chain and
-- verify as before (the first keyed entry links to the last plain one).
ALTER TABLE audit_log ADD COLUMN mac TEXT;

-- The database's record of each chain. SQLite has one, `global`, over all
-- organisations. `mac_key_id` names the audit key the chain is written
-- with, so a server started with another key refuses to run. The
-- checkpoint columns record that signed checkpoints were written (the
-- checkpoint file itself lives outside the database), so a deleted or
-- rolled-back checkpoint file is noticed.
CREATE TABLE audit_chains (
    chain          TEXT PRIMARY KEY,
    keyed_from     INTEGER NOT NULL,
    mac_key_id     TEXT,
    checkpoints    INTEGER NOT NULL DEFAULT 0,
    checkpoint_seq INTEGER,
    checkpoint_at  TEXT
);
INSERT INTO audit_chains (chain, keyed_from)
SELECT 'global', COALESCE(MAX(seq), 0) + 1 FROM audit_log;
