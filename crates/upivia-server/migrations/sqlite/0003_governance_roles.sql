-- Who set each governance value: loosening one needs at least that role
-- (governance/roles.rs). Values set before roles were recorded count as an
-- admin's: before this, only an admin or the agent's owner could set them,
-- and attributing them to the member would let a member loosen what an
-- admin may have set.
ALTER TABLE agents ADD COLUMN status_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (status_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE agents ADD COLUMN monthly_budget_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (monthly_budget_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE agents ADD COLUMN daily_request_limit_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (daily_request_limit_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE agents ADD COLUMN rate_limit_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (rate_limit_set_by_role IN ('owner', 'admin', 'member'));

-- Disabling a binding keeps its row (enabled = 0), so who disabled it is
-- known when someone enables it again, and its id (and so its monthly
-- account) survives.
ALTER TABLE bindings ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1));
ALTER TABLE bindings ADD COLUMN enabled_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (enabled_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE bindings ADD COLUMN require_approval_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (require_approval_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE bindings ADD COLUMN approval_threshold_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (approval_threshold_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE bindings ADD COLUMN max_cost_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (max_cost_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE bindings ADD COLUMN monthly_budget_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (monthly_budget_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE bindings ADD COLUMN daily_request_limit_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (daily_request_limit_set_by_role IN ('owner', 'admin', 'member'));
ALTER TABLE bindings ADD COLUMN rate_limit_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (rate_limit_set_by_role IN ('owner', 'admin', 'member'));

ALTER TABLE orgs ADD COLUMN kill_switch_set_by_role TEXT NOT NULL DEFAULT 'admin'
    CHECK (kill_switch_set_by_role IN ('owner', 'admin', 'member'));
