"""Public reads: GET /api/v1/conferences/{slug} against pgbench -S on the same server."""

from __future__ import annotations

import asyncpg

from bench.harness import Connection, Row, baseline, closed_loop, database, progress, ratio, service
from service.demo import DEMO_SLUG, load_demo

CLIENTS = 16
SECONDS = 5
WORKERS = 2


async def run(server_url: str) -> list[Row]:
    async with database(server_url) as url:
        conn = await asyncpg.connect(url)
        await load_demo(conn)
        await conn.close()
        pgbench = await baseline(url, clients=CLIENTS, select_only=True)
        path = f"/api/v1/conferences/{DEMO_SLUG}"

        async def get(connection: Connection, _: int) -> str:
            status, _body = await connection.request("GET", path)
            return "ok" if status == 200 else f"http {status}"

        with service(url, workers=WORKERS) as svc:
            await closed_loop(svc.host, svc.port, get, range(200), clients=CLIENTS)
            progress(f"service: GET {path}, {WORKERS} workers, {CLIENTS} clients, {SECONDS} s")
            loop = iter(int, 1)  # endless
            result = await closed_loop(
                svc.host, svc.port, get, loop, clients=CLIENTS, seconds=SECONDS
            )
        return [
            (f"pgbench -S, {CLIENTS} clients (baseline)", f"{pgbench:,.0f} tx/s"),
            (
                f"GET conference (JSON), {WORKERS}w",
                f"{result.rate:,.0f} req/s = {ratio(result.rate, pgbench)} pgbench -S; "
                f"p50/p99 {result.p(0.5):.1f}/{result.p(0.99):.1f} ms",
            ),
            ("  answers", ", ".join(f"{k} {v}" for k, v in sorted(result.outcomes.items()))),
        ]
