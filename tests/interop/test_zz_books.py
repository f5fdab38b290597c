"""Runs last (file order): after everything above, the ledger balances and
the audit chain verifies. The session fixture re-checks at teardown."""

from __future__ import annotations

from support import Server


def test_ledger_check_reports_ok(server: Server) -> None:
    ledger = server.ledger_check()
    assert ledger["ok"] is True, ledger
    assert ledger["problems"] == []


def test_audit_chain_verifies(server: Server) -> None:
    audit = server.audit_verify()
    assert audit["ok"] is True, audit
    assert audit["first_break"] is None
    assert audit["entries_checked"] > 0
