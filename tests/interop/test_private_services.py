"""A private service end to end through the official SDK: the owner stores
the credential as an organisation secret, an admin's agent registers the
organisation's own API with platform.register_service, and another agent
calls it with service_requests.create; the call reaches a local HTTP
server with the secret, the answer is the result, and the cost estimate is
charged."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from support import balance_cents

SECRET = "interop-private-api-token-93ac"


class _Upstream(BaseHTTPRequestHandler):
    seen: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("content-length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        type(self).seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        answer = json.dumps({"echo": body, "found": True}).encode()
        self.send_response(type(self).status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[tuple[str, type[_Upstream]]]:
    handler = type("Upstream", (_Upstream,), {"seen": [], "status": 200})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_private_api_is_governed_end_to_end(start_server, upstream) -> None:
    base, handler = upstream
    with start_server("--webhook-hosts", "http://127.0.0.1") as srv:
        srv.add_credits(1_000)
        owner = srv.client(pat=srv.pat)
        try:
            put = srv.admin("PUT", "/secrets/BILLING_TOKEN", {"value": SECRET})
            assert put["secret"]["name"] == "BILLING_TOKEN"

            admin_agent = owner.agents.create({"name": "registrar"})
            owner.agents.enable_service(admin_agent["agent"]["id"], {"service_id": "platform"})
            registrar = srv.client(api_key=admin_agent["api_key"], max_retries=0)
            registered = registrar.service_requests.create(
                service="platform",
                operation="register_service",
                payload={
                    "key": "billing.lookup",
                    "endpoint": f"{base}/invoices/lookup",
                    "auth": {"type": "bearer", "secret_ref": "BILLING_TOKEN"},
                    "request_schema": {
                        "type": "object",
                        "properties": {"invoice_id": {"type": "string"}},
                        "required": ["invoice_id"],
                    },
                    "cost_estimate_cents": 4,
                },
            )
            assert registered["status"] == "executed", registered
            assert registered["result"]["service"]["full_name"] == "billing.lookup"

            # The SDK lists the catalog without credentials: the public view
            # has no private services; a signed-in browser sees them.
            public = owner.services.list()["services"]
            assert not [s for s in public if s["id"] == "billing"]
            session = srv.login()
            with srv.client(default_headers={"cookie": f"upivia_session={session}"}) as browser:
                listed = browser.services.list()["services"]
            private = [s for s in listed if s["id"] == "billing"]
            assert private and private[0]["operations"][0]["provider"] == "custom"

            caller = owner.agents.create({"name": "caller"})
            owner.agents.enable_service(
                caller["agent"]["id"], {"service_id": "billing", "operation": "lookup"}
            )
            agent = srv.client(api_key=caller["api_key"], max_retries=0)
            before = balance_cents(owner)
            done = agent.service_requests.create(
                service="billing", operation="lookup", payload={"invoice_id": "inv_42"}
            )
            assert done["status"] == "executed", done
            assert done["result"] == {"echo": {"invoice_id": "inv_42"}, "found": True}
            assert done["cost_cents"] == 4
            assert balance_cents(owner) == before - 4

            (hit,) = handler.seen
            assert hit["path"] == "/invoices/lookup"
            headers = {k.lower(): v for k, v in hit["headers"].items()}
            assert headers["authorization"] == f"Bearer {SECRET}"
            assert headers["idempotency-key"] == done["request_id"]

            # The upstream failing costs nothing.
            handler.status = 503
            failed = agent.service_requests.create(
                service="billing", operation="lookup", payload={"invoice_id": "inv_43"}
            )
            assert failed["status"] == "failed", failed
            assert failed["reason_code"] == "provider_unavailable"
            assert balance_cents(owner) == before - 4

            log = srv.log_path.read_text()
            assert SECRET not in log
            registrar.close()
            agent.close()
        finally:
            owner.close()
