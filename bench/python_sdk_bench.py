"""The Rust SDK benchmark's workloads through the official Python SDK 0.2.0.

Sequential: the sync ``UpiviaClient``, one governed ``email.send`` at a time.
Concurrent: ``AsyncUpiviaClient`` with ``asyncio.gather``, ``--concurrency``
requests in flight (a semaphore keeps exactly that many outstanding).
Setup (credits, an agent with ``email`` enabled) uses the same SDK with the
owner's PAT. Every request must come back ``executed``.

    python -m venv /tmp/pybench && /tmp/pybench/bin/pip install upivia==0.2.0
    /tmp/pybench/bin/python bench/python_sdk_bench.py \\
        --base-url http://127.0.0.1:3000 --pat upivia_pat_... [--json]

Run it against the same server, in the same session, as
``cargo run --release -p upivia --example bench_sdk``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import httpx
import upivia
from upivia import AsyncUpiviaClient, UpiviaClient


def email(n: int) -> dict:
    return {"to": "bench@example.com", "subject": f"bench {n}", "body": "Benchmark message."}


def setup(base_url: str, pat: str) -> str:
    """Credits the org and creates an agent with email enabled; returns its key."""
    httpx.post(
        f"{base_url}/api/v1/balance/credits",
        headers={"authorization": f"Bearer {pat}"},
        json={"amount_cents": 100_000_000, "note": "python sdk bench"},
        timeout=30,
    ).raise_for_status()
    with UpiviaClient(pat=pat, base_url=base_url) as owner:
        created = owner.agents.create({"name": "python sdk bench", "rate_limit_per_minute": 1_000_000_000})
        owner.agents.enable_service(created["agent"]["id"], {"service_id": "email"})
    return created["api_key"]


def sequential(base_url: str, key: str, n: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failed = 0
    with UpiviaClient(api_key=key, base_url=base_url, max_retries=0) as client:
        start = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            out = client.service_requests.create(service="email", operation="send", payload=email(i))
            latencies.append(time.perf_counter() - t)
            failed += out.get("status") != "executed"
        elapsed = time.perf_counter() - start
    return elapsed, sorted(latencies), failed


async def concurrent(base_url: str, key: str, n: int, in_flight: int) -> tuple[float, int]:
    gate = asyncio.Semaphore(in_flight)
    async with AsyncUpiviaClient(api_key=key, base_url=base_url, max_retries=0) as client:

        async def one(i: int) -> bool:
            async with gate:
                out = await client.service_requests.create(
                    service="email", operation="send", payload=email(i)
                )
                return out.get("status") == "executed"

        await asyncio.gather(*(one(i) for i in range(200)))  # warm-up
        start = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - start
    return elapsed, sum(not ok for ok in results)


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, round((len(sorted_values) - 1) * p))] * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--pat", required=True)
    parser.add_argument("--sequential", type=int, default=3000)
    parser.add_argument("--concurrent", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    key = setup(args.base_url, args.pat)
    sequential(args.base_url, key, 200)  # warm-up
    seq_time, seq_lat, seq_failed = sequential(args.base_url, key, args.sequential)
    con_time, con_failed = asyncio.run(
        concurrent(args.base_url, key, args.concurrent, args.concurrency)
    )
    report = {
        "sdk": "python",
        "version": upivia.__version__,
        "python": sys.version.split()[0],
        "base_url": args.base_url,
        "sequential": {
            "requests": args.sequential,
            "seconds": seq_time,
            "rps": args.sequential / seq_time,
            "p50_ms": percentile(seq_lat, 0.5),
            "p99_ms": percentile(seq_lat, 0.99),
            "mean_ms": statistics.fmean(seq_lat) * 1e3 if seq_lat else 0.0,
            "not_executed": seq_failed,
        },
        "concurrent": {
            "requests": args.concurrent,
            "in_flight": args.concurrency,
            "seconds": con_time,
            "rps": args.concurrent / con_time,
            "not_executed": con_failed,
        },
    }
    if args.json:
        print(json.dumps(report))
    else:
        s, c = report["sequential"], report["concurrent"]
        print(f"Python SDK {upivia.__version__} against {args.base_url}")
        print(
            f"  sequential : {s['rps']:9.1f} req/s  ({s['requests']} requests, "
            f"p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms)"
        )
        print(f"  concurrent : {c['rps']:9.1f} req/s  ({c['requests']} requests, {c['in_flight']} in flight)")
    return 1 if seq_failed + con_failed else 0


if __name__ == "__main__":
    sys.exit(main())
