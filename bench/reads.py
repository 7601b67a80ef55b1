"""Public reads: GET /api/v1/conferences/{slug} against pgbench -S on the same server."""

from __future__ import annotations

import asyncio

import asyncpg

from bench.harness import closed_loop, fresh_database, percentile, pgbench_tps, progress, service
from service.demo import DEMO_SLUG, load_demo

CLIENTS = 16
SECONDS = 5


async def run(server_url: str, workers: int = 2) -> list[tuple[str, str]]:
    url, drop = await fresh_database(server_url)
    try:
        conn = await asyncpg.connect(url)
        await load_demo(conn)
        await conn.close()
        progress(f"baseline: pgbench -S, {CLIENTS} clients, {SECONDS} s")
        baseline = await asyncio.to_thread(
            pgbench_tps, url, clients=CLIENTS, seconds=SECONDS, select_only=True
        )
        progress(f"service: GET /api/v1/conferences/{{slug}}, {workers} workers, {CLIENTS} clients")
        with service(url, workers=workers) as base:
            path = f"{base}/api/v1/conferences/{DEMO_SLUG}"
            ok, failed, latencies = await closed_loop(
                lambda client: client.get(path), clients=CLIENTS, seconds=SECONDS
            )
        rate = ok / SECONDS
        return [
            ("pgbench -S (baseline)", f"{baseline:,.0f} tx/s"),
            ("GET conference (JSON)", f"{rate:,.0f} req/s = {rate / baseline:.3f} × baseline"),
            (
                "  p50 / p99 latency",
                f"{percentile(latencies, 0.5) * 1000:.1f} / "
                f"{percentile(latencies, 0.99) * 1000:.1f} ms",
            ),
            ("  failed requests", str(failed)),
        ]
    finally:
        await drop()
