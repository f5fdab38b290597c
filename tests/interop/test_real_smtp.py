"""email.send through the official SDK into a real SMTP server: aiosmtpd
(an SMTP implementation of its own, from PyPI) listens on loopback, the
server is started with UPIVIA_SMTP_URL pointing at it, and a live agent's
governed request puts the message in its mailbox with the Message-ID the
result names, charged once; a refusal by the SMTP server is a failed
request that costs nothing."""

from __future__ import annotations

import email
import socket
from email import policy
from typing import Any, Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from support import balance_cents


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Any]] = []

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if address.endswith("@refused.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope, parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[tuple[int, _Mailbox]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


def test_a_governed_email_lands_in_a_real_smtp_server(start_server, mailbox) -> None:
    port, box = mailbox
    with start_server(
        "--smtp-url", f"smtp://127.0.0.1:{port}", "--smtp-from", "Agents <agents@example.test>"
    ) as srv:
        srv.add_credits(1_000)
        owner = srv.client(pat=srv.pat)
        try:
            catalog = srv.admin("GET", "/services")
            providers = {
                op["full_name"]: op["provider"] for s in catalog["services"] for op in s["operations"]
            }
            assert providers["email.send"] == "smtp", providers
            created = owner.agents.create({"name": "mailer"})
            assert created["api_key"].startswith("agent_key_live_"), created["api_key"]
            owner.agents.enable_service(created["agent"]["id"], {"service_id": "email"})
            agent = srv.client(api_key=created["api_key"], max_retries=0)
            before = balance_cents(owner)
            try:
                sent = agent.service_requests.create(
                    service="email",
                    operation="send",
                    payload={
                        "to": "ops@example.test",
                        "subject": "Nightly report",
                        "body": "All 14 jobs finished.",
                    },
                )
                assert sent["status"] == "executed", sent
                message_id = sent["result"]["message_id"]
                assert message_id.startswith("<req_") and message_id.endswith("@example.test>")
                assert len(box.messages) == 1
                envelope, message = box.messages[0]
                assert envelope.mail_from == "agents@example.test"
                assert envelope.rcpt_tos == ["ops@example.test"]
                assert message["Subject"] == "Nightly report"
                assert message["Message-ID"] == message_id
                assert "All 14 jobs finished." in message.get_content()
                charged = before - balance_cents(owner)
                assert charged == sent["cost_cents"] and charged > 0, (before, sent)

                refused = agent.service_requests.create(
                    service="email",
                    operation="send",
                    payload={"to": "nobody@refused.test", "subject": "x", "body": "y"},
                )
                assert refused["status"] == "failed", refused
                assert refused["reason_code"] == "adapter_error", refused
                assert len(box.messages) == 1
                assert before - balance_cents(owner) == charged
            finally:
                agent.close()
        finally:
            owner.close()
