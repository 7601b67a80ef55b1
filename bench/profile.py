"""`python -m bench --only door --profile`: py-spy samples one web worker during the door's
64-scanner closed loop (only while it holds the GIL: where its CPU goes) and the top frames
are printed to stderr and kept in var/bench/door-profile.txt.

py-spy is not a dependency: install it where you like (`pip install py-spy`) and have it on
PATH or name it in PY_SPY.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.settings import PROJECT_ROOT

ENABLED = False
OUT = PROJECT_ROOT / "var" / "bench" / "door-profile.txt"
# Frames every sample has (the process, granian, the event loop): not interesting.
_SCAFFOLD = re.compile(
    r"runpy|multiprocessing|granian/server|service/cli\.py|threading\.py|"
    r"BaseEventLoop\.(run_forever|run_until_complete|_run_once)|Handle\._run"
)


def py_spy() -> str | None:
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


def _name(frame: str) -> str:
    match = re.match(r"(.*) \((.*?):\d+\)", frame)
    if not match:
        return frame
    function, path = match.groups()
    path = re.sub(r".*site-packages/", "", path)
    path = re.sub(r".*/lib/python3\.\d+/", "", path)
    path = path.replace(str(PROJECT_ROOT) + "/", "")
    return f"{function} ({path})"


def summarise(raw: Path, top: int = 25) -> str:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        names = [_name(f) for f in stack.split(";")]
        own[names[-1]] += n
        for name in set(names):
            if not _SCAFFOLD.search(name):
                inclusive[name] += n
    lines = [f"{total} samples of one web worker holding the GIL", "", "own time:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top * 2)]
    return "\n".join(lines)


@contextmanager
def sampling(pid: int, seconds: float) -> Iterator[None]:
    """Records `pid` for `seconds` while the body runs (the body should last as long)."""
    spy = py_spy() if ENABLED else None
    if spy is None:
        if ENABLED:
            print("· --profile: py-spy not found (PATH or PY_SPY)", file=sys.stderr)
        yield
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    raw = OUT.with_suffix(".raw")
    command = [spy, "record", "--pid", str(pid), "--duration", str(int(seconds))]
    command += ["--rate", "200", "--gil", "--format", "raw", "--output", str(raw)]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.wait(timeout=seconds + 30)
    if raw.exists():
        text = summarise(raw)
        OUT.write_text(text + "\n")
        print(text, file=sys.stderr)
