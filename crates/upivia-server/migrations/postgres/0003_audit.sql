-- The audit trail across nodes (store/postgres/audit.rs): the signed
-- checkpoints every node's sealer records, the signing key they share,
-- when each entry was inserted (by the database's clock), and a guard
-- against rewriting entries.

-- The checkpoint signing key the chain is sealed with (`AuditPublicKey::id`),
-- recorded by the first node as mac_key_id is: every node signs with it.
ALTER TABLE audit_chains ADD COLUMN signing_key_id TEXT;

-- Every signed checkpoint, exactly as the line of a checkpoint file. One
-- node signs at a time (under the chainer's advisory lock) and only when
-- the head moved, so there is at most one checkpoint per seq.
CREATE TABLE audit_checkpoints (
    seq         BIGINT PRIMARY KEY,
    line        TEXT NOT NULL,
    recorded_at TIMESTAMPTZ DEFAULT now()
);

-- The database's time of the insert, for verify's "left out of the chain"
-- rule: node clocks (and tests' clocks) may differ from it; this one is
-- the same for every row.
ALTER TABLE audit_log ADD COLUMN inserted_at TIMESTAMPTZ NOT NULL DEFAULT statement_timestamp();

-- Defence in depth, not the protection (the MACs and checkpoints are): a
-- chained entry is never updated or deleted, an unchained one only gets
-- its chain fields, once, and no entry or checkpoint is ever deleted. The
-- owner of the tables or a superuser can drop or disable these triggers.
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.chain_seq IS NULL
        AND NEW.chain_seq IS NOT NULL
        AND OLD.prev_hash IS NULL AND OLD.hash IS NULL AND OLD.mac IS NULL
        AND (NEW.seq, NEW.id, NEW.org_id, NEW.event_type, NEW.actor, NEW.agent_id,
             NEW.service, NEW.operation, NEW.status, NEW.request_id, NEW.cost_cents,
             NEW.details, NEW.created_at, NEW.xid, NEW.inserted_at)
            IS NOT DISTINCT FROM
            (OLD.seq, OLD.id, OLD.org_id, OLD.event_type, OLD.actor, OLD.agent_id,
             OLD.service, OLD.operation, OLD.status, OLD.request_id, OLD.cost_cents,
             OLD.details, OLD.created_at, OLD.xid, OLD.inserted_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % of audit_log row % refused', TG_OP, OLD.seq
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

CREATE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();

CREATE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
