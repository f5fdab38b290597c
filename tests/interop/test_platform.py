"""platform.* and services.list: public endpoints (no Authorization header)."""

from __future__ import annotations

from support import Server

# Operations the suite relies on, with the fields their input schema requires.
EXPECTED_OPERATIONS = {
    "email.send": {"to", "subject", "body"},
    "sms.send": {"to", "from", "body"},
    "voice_call.create": {"to", "from", "say"},
    "platform.check_budget": set(),  # defaults to the calling agent
    "text_generation.generate": set(),
    "web_search.search": {"query"},
    "discord.send_message": {"channel_id", "content"},
    "github.create_issue": {"repo", "title"},
    "notion.create_page": {"parent_id", "title"},
    "mms.send": {"to", "from", "body", "media_url"},
    "notification.webhook": {"url"},
}


def test_health_reports_ok(server: Server) -> None:
    with server.client() as anonymous:
        assert anonymous.platform.health() == {"ok": True}


def test_readiness_reports_db_and_worker(server: Server) -> None:
    with server.client() as anonymous:
        readiness = anonymous.platform.readiness()
    assert readiness["status"] == "ok"
    assert readiness["checks"]["db"] == "ok"
    assert readiness["checks"]["worker"] == "ok"


def test_agent_docs_lists_the_catalog(server: Server) -> None:
    with server.client() as anonymous:
        docs = anonymous.platform.agent_docs()
        catalog = anonymous.services.list()
    assert isinstance(docs, dict)
    documented = {s["id"] for s in docs["services"]}
    assert documented == {s["id"] for s in catalog["services"]}


def test_services_list_works_without_credentials(server: Server) -> None:
    with server.client() as anonymous:
        services = anonymous.services.list()["services"]
    assert services, "empty catalog"
    assert all(s["operations"] for s in services)


def test_services_list_has_the_default_operations(catalog: dict) -> None:
    missing = set(EXPECTED_OPERATIONS) - set(catalog)
    assert not missing, f"catalog lacks {sorted(missing)}"
    for full_name, required in EXPECTED_OPERATIONS.items():
        schema = catalog[full_name]["input_schema"]
        assert schema.get("type") == "object", full_name
        assert required <= set(schema.get("required", [])), (full_name, schema.get("required"))


def test_every_operation_has_integer_price_and_input_schema(catalog: dict) -> None:
    for full_name, op in catalog.items():
        price = op["base_price_cents"]
        assert isinstance(price, int) and not isinstance(price, bool), (full_name, price)
        assert price >= 0, full_name
        assert isinstance(op["input_schema"], dict), full_name


def test_budget_check_is_free_and_voice_is_asynchronous(catalog: dict) -> None:
    assert catalog["platform.check_budget"]["base_price_cents"] == 0
    assert catalog["voice_call.create"]["asynchronous"] is True
    assert catalog["email.send"]["asynchronous"] is False
