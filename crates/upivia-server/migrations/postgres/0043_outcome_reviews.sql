-- A request whose provider call had begun when the process died may have
-- had its side effect (an email may have left). `provider_started_at` is
-- set just before a provider that acts on the world is called, so
-- recovery can tell "never sent" from "may have been sent".
ALTER TABLE service_requests ADD COLUMN provider_started_at TIMESTAMPTZ;

-- The operator's decision on such a request: it ended `failed` /
-- `outcome_unknown` with its estimate still held, and an operator settles
-- it (it happened: charge) or releases it (it did not: free the money),
-- once. Shown in the approvals inbox beside the approval gates.
CREATE TABLE outcome_reviews (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    agent_id      TEXT NOT NULL REFERENCES agents(id),
    request_id    TEXT NOT NULL UNIQUE REFERENCES service_requests(id),
    provider      TEXT NOT NULL,
    held_cents    BIGINT NOT NULL CHECK (held_cents >= 0),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'settled', 'released')),
    charged_cents BIGINT,
    decided_at    TIMESTAMPTZ,
    decided_by    TEXT,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX outcome_reviews_org_status ON outcome_reviews(org_id, status);
