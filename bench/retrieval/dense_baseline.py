#!/usr/bin/env python3
"""Dense-only reference ranking, outside the server, to judge the fusion.

Embeds every passage and query through the same OpenAI-compatible endpoint
the hybrid run uses, ranks passages by cosine similarity alone, and scores
them with run.py's metrics. The server's hybrid figure can then be read
against two references measured on the same data: BM25 alone (run.py's
lexical mode) and vectors alone (this).

    python3 bench/retrieval/dense_baseline.py \
        --embeddings http://127.0.0.1:8089/v1 --model all-MiniLM-L6-v2

The text embedded for a passage is the chunk the server makes of its
document (`# title`, a newline, the text with whitespace runs collapsed),
so both sides embed the same strings.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import requests

import run

BATCH = 16


def embed(base_url: str, model: str, texts: list[str]) -> list[list[float]]:
    vectors: list[list[float]] = []
    for i in range(0, len(texts), BATCH):
        r = requests.post(f"{base_url}/embeddings", json={"model": model, "input": texts[i : i + BATCH]}, timeout=60)
        r.raise_for_status()
        data = sorted(r.json()["data"], key=lambda d: d["index"])
        vectors.extend(d["embedding"] for d in data)
    return vectors


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def chunk_text(p: run.Passage) -> str:
    # Mirrors the server's chunker for a one-chunk document: paragraphs
    # whitespace-collapsed and joined by a single newline.
    return "\n".join(" ".join(part.split()) for part in (f"# {p.title}", p.text))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--embeddings", metavar="URL", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", type=Path, default=run.HERE / "corpus.jsonl")
    ap.add_argument("--queries", type=Path, default=run.HERE / "queries.jsonl")
    ap.add_argument("--json", type=Path, metavar="FILE")
    args = ap.parse_args(argv)

    try:
        passages, queries = run.load_data(args.corpus, args.queries)
        docs = embed(args.embeddings, args.model, [chunk_text(p) for p in passages])
        qvecs = embed(args.embeddings, args.model, [q.query for q in queries])
    except (run.BenchError, requests.RequestException) as e:
        print(f"dense baseline failed: {e}", file=sys.stderr)
        return 1

    per_query = []
    for q, qv in zip(queries, qvecs):
        scored = sorted(((cosine(qv, dv), p.id) for p, dv in zip(passages, docs)), key=lambda s: -s[0])
        ranked = [pid for _, pid in scored[: run.TOP_K]]
        per_query.append(
            {
                "id": q.id,
                "kind": q.kind,
                "ranked": ranked,
                "recall": run.recall_at(ranked, q.relevant, run.RECALL_AT),
                "ndcg": run.ndcg_at(ranked, q.relevant, run.NDCG_AT),
            }
        )
    summary = run.summarize(per_query)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"mode": "dense-only", "model": args.model, **summary, "per_query": per_query}, indent=2) + "\n"
        )
    r, n = f"recall@{run.RECALL_AT}", f"ndcg@{run.NDCG_AT}"
    print(f"Mode: dense only, outside the server ({args.model})\n")
    print(f"| kind | queries | {r} | nDCG@{run.NDCG_AT} |\n|---|---:|---:|---:|")
    for name, b in [("**overall**", summary["overall"]), *summary["by_kind"].items()]:
        print(f"| {name} | {b['queries']} | {b[r]:.3f} | {b[n]:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
