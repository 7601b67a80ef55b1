"""`make bench`: runs every benchmark and prints one table (see bench/README.md)."""

from __future__ import annotations

import asyncio

from bench import reads
from bench.harness import database_server, progress


def main() -> None:
    with database_server() as server_url:
        progress("benchmark: public reads")
        rows = asyncio.run(reads.run(server_url))
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
