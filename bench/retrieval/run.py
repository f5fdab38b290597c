#!/usr/bin/env python3
"""Retrieval quality benchmark for knowledge.search.

Starts its own `upivia serve` (ephemeral port, temporary data dir), loads
every passage of corpus.jsonl into one collection as its own document, runs
every query of queries.jsonl through the governed `knowledge.search`
operation with an agent key, and scores the ranking against the graded
judgements: recall@5 and nDCG@10, overall and per query kind.

    python3 bench/retrieval/run.py                       # lexical (BM25 only)
    python3 bench/retrieval/run.py \
        --embeddings http://127.0.0.1:8089/v1 --model all-MiniLM-L6-v2   # hybrid

The mode is asserted, not assumed: every search result must carry the
`semantic` flag the mode implies, or the run aborts (the server silently
falls back to full-text when the embeddings endpoint fails, and a
"hybrid" figure measured on a lexical fallback would be a lie).

Exits non-zero on any failure; the server it started is stopped on every
exit path (normal, exception, Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

TOP_K = 10
RECALL_AT = 5
NDCG_AT = 10

HTTP_TIMEOUT = 30.0
STARTUP_TIMEOUT = 60.0
# Enough to pay for every search many times over; the figures do not
# depend on it, only that no query is refused for want of credit.
FUNDING_CENTS = 100_000


class BenchError(RuntimeError):
    """A failure that must end the run with a non-zero exit."""


# ── data ────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str


@dataclass(frozen=True)
class Query:
    id: str
    query: str
    kind: str
    relevant: dict[str, int]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise BenchError(f"{path}:{n}: {e}") from e
    return rows


def load_data(corpus_path: Path, queries_path: Path) -> tuple[list[Passage], list[Query]]:
    passages = [Passage(r["id"], r["title"], r["text"]) for r in read_jsonl(corpus_path)]
    queries = [Query(r["id"], r["query"], r["kind"], dict(r["relevant"])) for r in read_jsonl(queries_path)]
    ids = {p.id for p in passages}
    if len(ids) != len(passages):
        raise BenchError(f"{corpus_path}: duplicate passage ids")
    # A judgement naming a passage that is not in the corpus would silently
    # cap recall below 1; refuse the data instead.
    for q in queries:
        unknown = set(q.relevant) - ids
        if unknown:
            raise BenchError(f"query {q.id} judges passages not in the corpus: {sorted(unknown)}")
        if not q.relevant or any(not isinstance(g, int) or g < 1 for g in q.relevant.values()):
            raise BenchError(f"query {q.id}: judgements must be grades >= 1: {q.relevant}")
    return passages, queries


# ── metrics ─────────────────────────────────────────────────────────────


def recall_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)


def dcg(gains: list[int]) -> float:
    # Rank 1 is discounted by log2(2) = 1.
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Linear graded gains (gain = grade), log2 discount; the ideal ranking
    is the judged passages by grade, so a partially judged query can still
    reach 1.0."""
    actual = dcg([relevant.get(pid, 0) for pid in ranked[:k]])
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    return actual / ideal


def summarize(per_query: list[dict[str, Any]]) -> dict[str, Any]:
    def block(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "queries": len(rows),
            f"recall@{RECALL_AT}": statistics.fmean(r["recall"] for r in rows),
            f"ndcg@{NDCG_AT}": statistics.fmean(r["ndcg"] for r in rows),
        }

    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in per_query:
        by_kind[row["kind"]].append(row)
    return {"overall": block(per_query), "by_kind": {k: block(v) for k, v in sorted(by_kind.items())}}


# ── the server ──────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Runs in the child before exec: if this script is killed outright
    (SIGKILL, where no finally runs), the kernel stops the server too."""
    with contextlib.suppress(Exception):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


@dataclass
class Server:
    base_url: str
    pat: str
    log_path: Path


@contextlib.contextmanager
def running_server(binary: Path, workdir: Path, embeddings: dict[str, str]) -> Iterator[Server]:
    data_dir = workdir / "data"
    log_path = workdir / "server.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # The benchmark decides the configuration: a developer's UPIVIA_* (a
    # database URL, an embeddings endpoint) must not change what is measured.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UPIVIA_", "AGENTWALLET_"))}
    env.update(embeddings)
    cmd = [str(binary), "serve", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            # Its own session: a Ctrl-C reaches only this script, which then
            # stops the server in order instead of racing it.
            start_new_session=True,
            # Safe here: the script starts no threads.
            preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        )
        try:
            creds = wait_until_ready(proc, data_dir / "initial-credentials.json", base_url, log_path)
            yield Server(base_url=base_url, pat=creds["pat"], log_path=log_path)
        finally:
            stop(proc)


def wait_until_ready(proc: subprocess.Popen, creds_path: Path, base_url: str, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"upivia exited with {proc.returncode} during start-up:\n{log_tail(log)}")
        try:
            healthy = requests.get(f"{base_url}/api/v1/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            healthy = False
        if healthy and creds_path.exists():
            # The file may be seen between its creation and its last write.
            with contextlib.suppress(json.JSONDecodeError):
                creds = json.loads(creds_path.read_text())
                if str(creds.get("pat", "")).startswith("upivia_pat_"):
                    return creds
        time.sleep(0.1)
    raise BenchError(f"upivia not healthy within {STARTUP_TIMEOUT:.0f}s:\n{log_tail(log)}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


# ── the API ─────────────────────────────────────────────────────────────


class Api:
    def __init__(self, base_url: str) -> None:
        self.base = f"{base_url}/api/v1"
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str, expect: tuple[int, ...] = (200,), **kw: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"}
        for _ in range(5):
            r = self.http.request(method, self.base + path, headers=headers, timeout=HTTP_TIMEOUT, **kw)
            # The per-key rate limit is generous by default, but a 429 is the
            # server asking to wait, not a failed benchmark.
            if r.status_code == 429:
                time.sleep(min(float(r.headers.get("retry-after", "1") or 1), 30.0))
                continue
            break
        if r.status_code not in expect:
            raise BenchError(f"{method} {path} -> {r.status_code}: {r.text[:500]}")
        return r.json()


def set_up(api: Api, pat: str) -> tuple[str, str]:
    """Funds the org, and makes the agent that will search and the empty
    collection; returns (agent key, collection id)."""
    api.call("POST", "/balance/credits", pat, json={"amount_cents": FUNDING_CENTS, "note": "retrieval bench"})
    created = api.call("POST", "/agents", pat, json={"name": "retrieval-bench"})
    agent_id, key = created["agent"]["id"], created["api_key"]
    enabled = api.call("POST", f"/agents/{agent_id}/services", pat, json={"service_id": "knowledge"})
    if enabled.get("ok") is not True:
        raise BenchError(f"enabling knowledge for the agent: {enabled}")
    collection = api.call(
        "POST",
        "/knowledge/collections",
        pat,
        json={"name": "retrieval-bench", "description": "bench/retrieval/corpus.jsonl"},
    )["collection"]
    return key, collection["id"]


def ingest(api: Api, pat: str, collection_id: str, passages: list[Passage], timeout: float) -> dict[str, str]:
    """Uploads each passage as its own Markdown document and waits for all
    to be ready; returns document id -> passage id."""
    base = f"/knowledge/collections/{collection_id}/documents"
    doc_to_passage: dict[str, str] = {}
    for p in passages:
        body = f"# {p.title}\n\n{p.text}\n".encode()
        doc = api.call(
            "POST",
            base,
            pat,
            expect=(202,),
            files={"file": (f"{p.id}.md", body, "text/markdown")},
            data={"filename": f"{p.id}.md", "contentType": "text/markdown"},
        )["document"]
        doc_to_passage[doc["id"]] = p.id

    pending = set(doc_to_passage)
    deadline = time.monotonic() + timeout
    while pending:
        for doc_id in sorted(pending):
            doc = api.call("GET", f"{base}/{doc_id}", pat)["document"]
            if doc["status"] == "ready":
                pending.discard(doc_id)
            elif doc["status"] == "failed":
                raise BenchError(f"passage {doc_to_passage[doc_id]} ({doc_id}) failed to ingest: {doc.get('error')}")
        if pending:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(pending)} documents not ready after {timeout:.0f}s")
            time.sleep(0.5)
    return doc_to_passage


def search(api: Api, key: str, collection_id: str, q: Query) -> dict[str, Any]:
    body = {
        "service": "knowledge",
        "operation": "search",
        "payload": {"collection_id": collection_id, "query": q.query, "top_k": TOP_K},
    }
    outcome = api.call("POST", "/service-requests", key, json=body)
    if outcome.get("status") != "executed":
        raise BenchError(f"query {q.id}: knowledge.search was {outcome.get('status')}: {outcome}")
    return outcome["result"]


# ── the run ─────────────────────────────────────────────────────────────


def run(args: argparse.Namespace) -> dict[str, Any]:
    passages, queries = load_data(args.corpus, args.queries)
    hybrid = args.embeddings is not None
    embeddings_env = {}
    if hybrid:
        embeddings_env = {"UPIVIA_EMBEDDINGS_BASE_URL": args.embeddings, "UPIVIA_EMBEDDINGS_MODEL": args.model}
        if args.embeddings_api_key:
            embeddings_env["UPIVIA_EMBEDDINGS_API_KEY"] = args.embeddings_api_key
    binary = args.bin if args.bin.is_absolute() else (Path.cwd() / args.bin)
    if not binary.is_file():
        raise BenchError(f"server binary not found: {binary} (build it: cargo build -p upivia-cli --bin upivia)")

    workdir = Path(tempfile.mkdtemp(prefix="upivia-retrieval-"))
    try:
        with running_server(binary, workdir, embeddings_env) as srv:
            # The start-up log says which retrieval the server believes it
            # runs; a mismatch means the configuration did not reach it.
            banner = "knowledge retrieval: hybrid" if hybrid else "knowledge retrieval: full-text only"
            if banner not in srv.log_path.read_text(errors="replace"):
                raise BenchError(f"server log lacks {banner!r}:\n{log_tail(srv.log_path)}")

            api = Api(srv.base_url)
            key, collection_id = set_up(api, srv.pat)
            started = time.monotonic()
            doc_to_passage = ingest(api, srv.pat, collection_id, passages, args.ingest_timeout)
            ingest_seconds = time.monotonic() - started

            per_query = []
            latencies = []
            duplicate_hits = 0
            for q in queries:
                t0 = time.monotonic()
                result = search(api, key, collection_id, q)
                latencies.append(time.monotonic() - t0)
                if result.get("semantic") is not hybrid:
                    raise BenchError(
                        f"query {q.id}: semantic={result.get('semantic')!r} but the mode is "
                        f"{'hybrid' if hybrid else 'lexical'}; server log:\n{log_tail(srv.log_path)}"
                    )
                # Results are chunks; a passage is one document, so a second
                # chunk of the same document adds nothing to the ranking.
                ranked: list[str] = []
                for hit in result["results"]:
                    pid = doc_to_passage.get(hit["document_id"])
                    if pid is None:
                        raise BenchError(f"query {q.id}: result from an unknown document {hit['document_id']}")
                    if pid in ranked:
                        duplicate_hits += 1
                    else:
                        ranked.append(pid)
                per_query.append(
                    {
                        "id": q.id,
                        "kind": q.kind,
                        "query": q.query,
                        "ranked": ranked,
                        "relevant": q.relevant,
                        "recall": recall_at(ranked, q.relevant, RECALL_AT),
                        "ndcg": ndcg_at(ranked, q.relevant, NDCG_AT),
                    }
                )
    finally:
        if args.keep_workdir:
            print(f"server data and log kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    latencies.sort()
    return {
        "mode": "hybrid" if hybrid else "lexical",
        "embeddings": {"base_url": args.embeddings, "model": args.model} if hybrid else None,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "corpus": {"passages": len(passages), "queries": len(queries)},
        "top_k": TOP_K,
        "ingest_seconds": round(ingest_seconds, 2),
        "search_latency_ms": {
            "median": round(statistics.median(latencies) * 1000, 1),
            "p95": round(latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] * 1000, 1),
        },
        "duplicate_document_hits": duplicate_hits,
        **summarize(per_query),
        "per_query": per_query,
    }


def markdown(report: dict[str, Any]) -> str:
    r, n = f"recall@{RECALL_AT}", f"ndcg@{NDCG_AT}"
    mode = report["mode"]
    if report["embeddings"]:
        mode += f" ({report['embeddings']['model']})"
    lines = [
        (
            f"Mode: {mode}; {report['corpus']['passages']} passages, {report['corpus']['queries']} queries, "
            f"top_k={report['top_k']}; ingestion {report['ingest_seconds']} s; search median "
            f"{report['search_latency_ms']['median']} ms, p95 {report['search_latency_ms']['p95']} ms"
        ),
        "",
        f"| kind | queries | recall@{RECALL_AT} | nDCG@{NDCG_AT} |",
        "|---|---:|---:|---:|",
    ]
    rows = [("**overall**", report["overall"])] + list(report["by_kind"].items())
    for name, b in rows:
        lines.append(f"| {name} | {b['queries']} | {b[r]:.3f} | {b[n]:.3f} |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", type=Path, default=REPO / "target" / "debug" / "upivia", help="the upivia binary")
    p.add_argument("--corpus", type=Path, default=HERE / "corpus.jsonl")
    p.add_argument("--queries", type=Path, default=HERE / "queries.jsonl")
    p.add_argument("--embeddings", metavar="URL", help="OpenAI-compatible base URL (…/v1): hybrid mode")
    p.add_argument("--model", help="embeddings model name (required with --embeddings)")
    p.add_argument("--embeddings-api-key", help="sent to the embeddings endpoint as a bearer token")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the full report (with per-query rankings)")
    p.add_argument("--ingest-timeout", type=float, default=600.0, help="seconds for all documents to be ready")
    p.add_argument("--keep-workdir", action="store_true", help="keep the server's data dir and log")
    args = p.parse_args(argv)
    if (args.embeddings is None) != (args.model is None):
        p.error("--embeddings and --model go together")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    # SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the finally
    # blocks stop the server and remove the temp dir.
    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    try:
        report = run(args)
    except (BenchError, requests.RequestException) as e:
        print(f"retrieval bench failed: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("retrieval bench interrupted", file=sys.stderr)
        return 130
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
