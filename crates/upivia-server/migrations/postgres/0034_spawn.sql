-- Spawned agents: the parent that spawned an agent and how deep it sits
-- (a root agent is depth 1; spawning is refused past depth 3).
ALTER TABLE agents ADD COLUMN parent_agent_id TEXT REFERENCES agents(id);
ALTER TABLE agents ADD COLUMN spawn_depth INTEGER NOT NULL DEFAULT 1 CHECK (spawn_depth BETWEEN 1 AND 3);
CREATE INDEX agents_parent ON agents(parent_agent_id) WHERE parent_agent_id IS NOT NULL;
