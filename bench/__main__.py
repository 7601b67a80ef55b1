"""`make bench`: runs every benchmark and prints one table (see bench/README.md).

python -m bench                      # all of them, the door and rushes with 1 and 2 workers
python -m bench --only door,mail     # some of them
python -m bench --workers 2          # the door and rushes with 2 workers only
python -m bench --readme             # also write the table into bench/README.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    door,
    forum_rush,
    large,
    mail,
    profile,
    reads,
    registration_rush,
    rendering,
    stack,
)
from bench.harness import Row, database_server, progress

BENCHMARKS: dict[str, Callable[[str, tuple[int, ...]], Awaitable[list[Row]]]] = {
    "reads": lambda url, workers: reads.run(url),
    "door": door.run,
    "stack": lambda url, workers: stack.run(url),
    "registration": registration_rush.run,
    "forums": forum_rush.run,
    "mail": lambda url, workers: mail.run(url),
    "rendering": lambda url, workers: rendering.run(),
    "large": lambda url, workers: large.run(url),
}
README = Path(__file__).parent / "README.md"


def table(rows: list[Row]) -> str:
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def busy_share(seconds: float = 2.0) -> float:
    """How busy all cores are with other work just before the run (a shared machine)."""

    def jiffies() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]

    (total0, idle0) = jiffies()
    time.sleep(seconds)
    (total1, idle1) = jiffies()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; before the run: load average {load}, "
        f"cores {busy_share():.0%} busy with other work"
    )


def write_readme(text: str, database: str, seconds: float, machine_note: str) -> None:
    """Replaces the README's last-run block for this kind of database server (the machine's
    PostgreSQL at DATABASE_URL, or the embedded one), or appends one."""
    key = "embedded" if database.startswith("embedded") else "server"
    begin, end = f"<!-- last run ({key}): begin -->", f"<!-- last run ({key}): end -->"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    section = (
        f"{begin}\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, bench from the working tree on "
        f"{commit or '?'}, {database}; "
        f"`make bench` took {seconds:.0f} s.\n"
        f"Machine: {machine_note}.\n\n"
        f"```\n{text}\n```\n{end}"
    )
    current = README.read_text()
    start, stop = current.find(begin), current.find(end)
    if start < 0 or stop < 0:
        current = current.rstrip() + "\n\n" + section + "\n"
    else:
        current = current[:start] + section + current[stop + len(end) :]
    README.write_text(current)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated names")
    parser.add_argument("--workers", default="1,2", help="web processes for door and rushes")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy on a web worker at the door (see profile.py)"
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = set(names) - BENCHMARKS.keys()
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(sorted(unknown))}; known: {list(BENCHMARKS)}"
        )
    workers = tuple(int(w) for w in args.workers.split(","))
    profile.ENABLED = args.profile
    database = (
        "PostgreSQL at DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
    )
    started = time.monotonic()
    load_before = machine()
    rows: list[Row] = []
    needs_database = any(name != "rendering" for name in names)
    with database_server() if needs_database else contextlib.nullcontext("") as server_url:
        for name in names:
            progress(f"benchmark: {name}")
            began = time.monotonic()
            rows.append((f"[{name}]", ""))
            rows += asyncio.run(BENCHMARKS[name](server_url, workers))
            progress(f"{name}: {time.monotonic() - began:.0f} s")
    seconds = time.monotonic() - started
    text = table(rows)
    print()
    print(text)
    print(f"\n{database}; {seconds:.0f} s. Machine: {load_before}.")
    if args.readme:
        write_readme(text, database, seconds, load_before)
        progress(f"wrote the table into {README}")


if __name__ == "__main__":
    main()
