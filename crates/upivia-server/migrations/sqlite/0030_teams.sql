-- Teams of an organisation and the users in them, with a team role
-- (`manager` manages the team's members, `worker` works in it); a team's
-- name is unique in its organisation. A session or a PAT may carry an
-- active team (`POST /teams/switch`).
CREATE UNIQUE INDEX teams_org_name ON teams(org_id, name);

CREATE TABLE team_members (
    id         TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL REFERENCES teams(id),
    org_id     TEXT NOT NULL REFERENCES orgs(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('manager', 'worker')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members(user_id, org_id);

ALTER TABLE sessions ADD COLUMN active_team_id TEXT REFERENCES teams(id);
ALTER TABLE pats ADD COLUMN active_team_id TEXT REFERENCES teams(id);
