-- Funds accounts (organisations, team pools) and agents' months are split
-- over several balance rows, their stripes, so that concurrent requests
-- of one organisation or agent lock different rows instead of queueing on
-- one (every request of an organisation holds on its balance). An account's sums are
-- the sums of its stripes; a request reserves on its own stripe and closes
-- there (`service_requests.held_stripe`); a stripe that lacks the money is
-- topped up from the others with every stripe locked, and a cap is
-- checked against every stripe of the agent's month (see ledger.rs).
-- A binding's month, always capped, keeps one row, stripe 0.
ALTER TABLE account_balances ADD COLUMN stripe SMALLINT NOT NULL DEFAULT 0 CHECK (stripe >= 0);
ALTER TABLE account_balances DROP CONSTRAINT account_balances_pkey;
ALTER TABLE account_balances ADD PRIMARY KEY (account, stripe);

ALTER TABLE service_requests ADD COLUMN held_stripe SMALLINT NOT NULL DEFAULT 0 CHECK (held_stripe >= 0);
