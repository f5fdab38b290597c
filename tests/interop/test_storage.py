"""storage.objects through the official SDK: a multipart upload (bytes and
a file object) is live with its SHA-256, the signed download serves it
without credentials (type, disposition, ranges), presign → raw PUT →
confirm seals an object and refuses a wrong digest or a replay, a soft
delete leaves the list and is restored, and the quota, a tampered URL
and an agent key are refused with the error kinds the SDK documents."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import pytest
from upivia import UpiviaClient, UpiviaError

from support import CLIENT_TIMEOUT_SECONDS


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str, **headers: str) -> httpx.Response:
    # No credentials: a signed URL is its own authority.
    return httpx.get(url, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS)


def _listed(owner: UpiviaClient) -> set[str]:
    return {o["id"] for o in owner.storage.objects.iter(limit=2)}


def test_an_upload_is_live_and_its_signed_url_serves_it(owner: UpiviaClient) -> None:
    data = b"quarterly report\n" * 1000
    created = owner.storage.objects.upload(filename="report.txt", content=data, content_type="text/plain")
    row = created["object"]
    assert row["id"].startswith("obj_")
    assert row["status"] == "live"
    assert row["size_bytes"] == len(data)
    assert row["sha256"] == _sha(data)
    assert row["content_type"] == "text/plain"
    assert row["filename"] == "report.txt"

    assert owner.storage.objects.get(row["id"])["object"]["sha256"] == _sha(data)
    assert row["id"] in _listed(owner)

    link = owner.storage.objects.download(row["id"], expires_in=120)
    assert link["expires_in_seconds"] == 120
    assert isinstance(link["expires_at"], str)
    served = _fetch(link["url"])
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"].startswith("text/plain")
    assert "report.txt" in served.headers["content-disposition"]

    part = _fetch(link["url"], range="bytes=0-15")
    assert part.status_code == 206
    assert part.content == data[:16]
    assert part.headers["content-range"] == f"bytes 0-15/{len(data)}"


def test_a_file_object_streams_in(owner: UpiviaClient, tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 4096  # 1 MiB
    path.write_bytes(data)
    with path.open("rb") as handle:
        row = owner.storage.objects.upload(filename="blob.bin", content=handle)["object"]
    assert row["size_bytes"] == len(data)
    assert row["sha256"] == _sha(data)
    assert row["content_type"] == "application/octet-stream"
    served = _fetch(owner.storage.objects.download(row["id"])["url"])
    assert hashlib.sha256(served.content).hexdigest() == _sha(data)


def test_presign_put_and_confirm_seal_an_object(owner: UpiviaClient) -> None:
    data = b"bytes that arrive by a presigned PUT"
    presigned = owner.storage.objects.presign(filename="big.zip", content_type="application/zip", size_bytes=len(data))
    pending = presigned["object"]
    assert pending["status"] == "pending"
    assert isinstance(presigned["expires_at"], str)
    assert pending["id"] not in _listed(owner), "a pending object is not listed"

    put = httpx.put(presigned["upload_url"], content=data, timeout=CLIENT_TIMEOUT_SECONDS)
    assert put.status_code == 200, put.text

    with pytest.raises(UpiviaError) as info:
        owner.storage.objects.confirm(pending["id"], sha256=_sha(b"something else"))
    assert (info.value.status, info.value.code, info.value.kind) == (409, "sha256_mismatch", "http")
    assert owner.storage.objects.get(pending["id"])["object"]["status"] == "pending"

    sealed = owner.storage.objects.confirm(pending["id"], sha256=_sha(data))["object"]
    assert sealed["status"] == "live"
    assert sealed["sha256"] == _sha(data)
    assert sealed["size_bytes"] == len(data)
    assert pending["id"] in _listed(owner)

    replay = httpx.put(presigned["upload_url"], content=b"X" * len(data), timeout=CLIENT_TIMEOUT_SECONDS)
    assert replay.status_code == 409
    assert replay.json()["error"]["code"] == "object_not_pending"
    assert _fetch(owner.storage.objects.download(pending["id"])["url"]).content == data


def test_a_put_of_the_wrong_size_or_with_a_tampered_signature_is_refused(owner: UpiviaClient) -> None:
    presigned = owner.storage.objects.presign(filename="x.bin", content_type="application/octet-stream", size_bytes=8)
    url = presigned["upload_url"]
    short = httpx.put(url, content=b"1234", timeout=CLIENT_TIMEOUT_SECONDS)
    assert (short.status_code, short.json()["error"]["code"]) == (400, "size_mismatch")
    at = url.index("sig=") + 4
    tampered = url[:at] + ("b" if url[at] == "a" else "a") + url[at + 1 :]
    forged = httpx.put(tampered, content=b"12345678", timeout=CLIENT_TIMEOUT_SECONDS)
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "invalid_signature")
    assert owner.storage.objects.get(presigned["object"]["id"])["object"]["status"] == "pending"


def test_a_deleted_object_leaves_the_list_and_comes_back_on_restore(owner: UpiviaClient) -> None:
    row = owner.storage.objects.upload(filename="notes.md", content=io.BytesIO(b"# notes\n"))["object"]
    link = owner.storage.objects.download(row["id"])["url"]

    deleted = owner.storage.objects.delete(row["id"])
    assert deleted["object"]["status"] == "deleted"
    assert row["id"] not in _listed(owner)
    assert _fetch(link).status_code == 404, "a signed URL stops serving a deleted object"
    with pytest.raises(UpiviaError) as info:
        owner.storage.objects.download(row["id"])
    assert (info.value.status, info.value.code) == (409, "object_not_live")

    restored = owner.storage.objects.restore(row["id"])["object"]
    assert restored["status"] == "live"
    assert row["id"] in _listed(owner)
    assert _fetch(owner.storage.objects.download(row["id"])["url"]).content == b"# notes\n"

    with pytest.raises(UpiviaError) as info:
        owner.storage.objects.restore(row["id"])
    assert (info.value.status, info.value.code) == (409, "not_deleted")


def test_refusals_come_back_as_typed_errors(owner: UpiviaClient, make_agent, start_server) -> None:
    with pytest.raises(UpiviaError) as info:
        owner.storage.objects.get("obj_doesnotexist")
    assert (info.value.status, info.value.kind) == (404, "http")

    # Storage is a workspace surface: an agent key alone sends no credentials there.
    agent = make_agent()
    with pytest.raises(UpiviaError) as info:
        agent.client.storage.objects.list()
    assert (info.value.status, info.value.kind) == (401, "unauthorized")

    with start_server("--storage-quota-bytes", "100") as small:
        client = small.client(pat=small.pat)
        try:
            assert client.storage.objects.upload(filename="a", content=b"a" * 60)["object"]["status"] == "live"
            with pytest.raises(UpiviaError) as info:
                client.storage.objects.upload(filename="b", content=b"b" * 41)
            assert (info.value.status, info.value.code) == (413, "storage_quota_exceeded")
            with pytest.raises(UpiviaError) as info:
                client.storage.objects.presign(filename="c", content_type="text/plain", size_bytes=41)
            assert (info.value.status, info.value.code) == (413, "storage_quota_exceeded")
            assert client.storage.objects.upload(filename="d", content=b"d" * 40)["object"]["size_bytes"] == 40
        finally:
            client.close()
