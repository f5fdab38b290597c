"""memory.* through the official SDK: an agent writes and lists its own
memories with its key, searches them (ranked, stemmed, `semantic` false:
no vector search yet), the owner archives and deletes one with a PAT and
reads the graph; a paused agent, another agent's key and bad input are
refused with the error kinds the SDK documents."""

from __future__ import annotations

import pytest
from upivia import UpiviaClient, UpiviaError

from support import Server


def _ids(body: dict) -> list[str]:
    return [m["id"] for m in body["memories"]]


def test_an_agent_writes_lists_and_searches_its_memories(make_agent) -> None:
    agent = make_agent()
    memory = agent.client.memory
    created = memory.create(agent.id, {"content": "The staging database password rotates every Monday", "tags": ["ops"]})
    first = created["memory"]
    assert first["id"].startswith("mem_")
    assert first["agent_id"] == agent.id
    assert first["tags"] == ["ops"]
    assert first["archived"] is False
    assert isinstance(first["created_at"], str) and isinstance(first["updated_at"], str)
    second = memory.create(agent.id, {"content": "Deploys freeze on Fridays"})["memory"]

    listed = memory.list(agent.id)
    assert _ids(listed) == [second["id"], first["id"]]

    found = memory.search(agent.id, q="when does the staging db password get rotated?")
    assert found["semantic"] is False
    assert _ids(found) == [first["id"]]
    # The SDK's `semantic` argument is never sent; the answer is the same.
    assert _ids(memory.search(agent.id, q="rotated", semantic=True)) == [first["id"]]
    assert memory.search(agent.id, q="the of and")["memories"] == []


def test_the_owner_archives_deletes_and_draws_the_graph(make_agent, owner: UpiviaClient) -> None:
    agent = make_agent()
    memory = agent.client.memory
    a = memory.create(agent.id, {"content": "Talk to Dana about the Billing Service", "tags": ["billing"]})["memory"]
    b = memory.create(agent.id, {"content": "The Billing Service invoices on the first", "tags": ["billing"]})["memory"]
    c = memory.create(agent.id, {"content": "lunch at noon"})["memory"]

    graph = owner.memory.graph(agent.id)
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert {a["id"], b["id"], c["id"]} <= set(nodes)
    assert nodes[a["id"]]["type"] == "memory"
    assert nodes["entity:billing"]["type"] == "tag"
    assert nodes["entity:dana"]["type"] == "entity"
    assert {"source": a["id"], "target": "entity:dana", "type": "mentions"} in graph["edges"]
    shares = [e for e in graph["edges"] if e["type"] == "shares"]
    assert len(shares) == 1 and shares[0]["weight"] == 2
    assert {shares[0]["source"], shares[0]["target"]} == {a["id"], b["id"]}

    archived = owner.memory.update(agent.id, a["id"], {"archived": True})["memory"]
    assert archived["archived"] is True
    assert a["id"] not in _ids(memory.list(agent.id))
    assert memory.search(agent.id, q="Dana")["memories"] == []
    # The owner's PAT reads (search is `any` auth) what the agent reads.
    assert _ids(owner.memory.search(agent.id, q="billing")) == [b["id"]]

    deleted = owner.memory.delete(agent.id, b["id"])
    assert deleted == {"deleted": True, "id": b["id"]}
    assert _ids(memory.list(agent.id)) == [c["id"]]
    with pytest.raises(UpiviaError) as info:
        owner.memory.delete(agent.id, b["id"])
    assert info.value.status == 404 and info.value.kind == "http"


def test_refusals_come_back_as_typed_errors(make_agent, owner: UpiviaClient, server: Server) -> None:
    agent = make_agent()
    other = make_agent()
    agent.client.memory.create(agent.id, {"content": "mine"})

    with pytest.raises(UpiviaError) as info:
        other.client.memory.list(agent.id)
    assert info.value.status == 403 and info.value.kind == "unauthorized"
    with pytest.raises(UpiviaError) as info:
        other.client.memory.create(agent.id, {"content": "not yours"})
    assert info.value.status == 403

    with pytest.raises(UpiviaError) as info:
        agent.client.memory.create(agent.id, {"content": "   "})
    assert info.value.status == 422 and info.value.kind == "http"
    with pytest.raises(UpiviaError) as info:
        agent.client.memory.create(agent.id, {"content": "x", "tags": ["t"] * 21})
    assert info.value.status == 422
    with pytest.raises(UpiviaError) as info:
        agent.client.memory.create(agent.id, {"content": "x", "pinned": True})
    assert info.value.status == 400

    owner.agents.update(agent.id, {"status": "paused"})
    with pytest.raises(UpiviaError) as info:
        agent.client.memory.create(agent.id, {"content": "while paused"})
    assert info.value.status == 403 and info.value.code == "agent_paused"
    assert [m["content"] for m in agent.client.memory.list(agent.id)["memories"]] == ["mine"]
    owner.agents.update(agent.id, {"status": "active"})

    # The graph and changes take a workspace credential.
    keyless = agent.client.memory
    with pytest.raises(UpiviaError) as info:
        keyless.graph(agent.id)
    assert info.value.kind == "unauthorized"


def test_the_quota_refuses_the_write_past_it(start_server) -> None:
    with start_server("--memory-quota-per-agent", "2") as srv:
        owner = srv.client(pat=srv.pat)
        created = owner.agents.create({"name": "quota"})
        agent = srv.client(api_key=created["api_key"])
        agent_id = created["agent"]["id"]
        try:
            agent.memory.create(agent_id, {"content": "one"})
            agent.memory.create(agent_id, {"content": "two"})
            with pytest.raises(UpiviaError) as info:
                agent.memory.create(agent_id, {"content": "three"})
            assert info.value.status == 409 and info.value.code == "memory_quota_exceeded"
            assert len(agent.memory.list(agent_id)["memories"]) == 2
        finally:
            agent.close()
            owner.close()
