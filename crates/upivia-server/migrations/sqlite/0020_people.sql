-- People, roles and tokens (issue 9): a PAT may expire; a member's
-- removal ends their sessions and tokens in that organisation, found by
-- these indexes.
ALTER TABLE pats ADD COLUMN expires_at TEXT;
CREATE INDEX pats_user_org ON pats(user_id, org_id);
CREATE INDEX sessions_user_org ON sessions(user_id, org_id);
CREATE INDEX memberships_user ON memberships(user_id);
