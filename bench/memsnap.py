"""``pubnet`` with probes: where the bytes of a running service go, and its GC pauses.

``python bench/memsnap.py SECONDS OUT run --config pubnet.yaml`` runs the CLI as usual and
writes to ``OUT.gc`` every garbage collection of the oldest generation (time, duration,
objects collected). With SECONDS > 0 (or several, comma-separated: ``150,330``) it also
traces allocations and, SECONDS after start, writes to OUT (and ``OUT.SECONDS``) the total
traced bytes, RSS, the 40 biggest files and the 80 biggest allocation sites (file:line,
bytes, blocks). ``bench/fleet.py --snapshot-after`` uses it to answer "bytes per series,
spent where" at fleet scale. Tracing slows pubnet down (roughly 2x) and adds its own
memory (and each snapshot ~0.8 GB at 20,000 devices, which RSS keeps): compare sites, not
the RSS of a traced run.

``stats:SECONDS[,SECONDS...]`` traces nothing and writes to OUT, at those times, what RSS
is made of: the allocator's arenas (objects up to 512 bytes; ``sys._debugmallocstats``)
and glibc malloc (larger blocks, in use and free; ``mallinfo2``), e.g. at 20,000 devices
~540 MB of small objects, ~150 MB of malloc in use and 30-90 MB malloc free.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_kb() -> dict[str, int]:
    with open("/proc/self/status", encoding="ascii") as handle:
        return {line.split(":")[0]: int(line.split()[1]) for line in handle
                if line.startswith(("VmRSS:", "VmHWM:"))}


def snapshot_after(times: list[float], out: Path) -> None:
    """At each of ``times`` (seconds after start): OUT (the last one) and OUT.<seconds> get
    the traced total, RSS, the biggest files and the biggest allocation sites."""
    started = time.monotonic()
    for seconds in times:
        time.sleep(max(0.0, started + seconds - time.monotonic()))
        snap = tracemalloc.take_snapshot()
        rss = _rss_kb()
        stats = snap.statistics("lineno")
        total = sum(s.size for s in stats)
        lines = [f"total {total} bytes in {sum(s.count for s in stats)} blocks; "
                 f"VmRSS {rss.get('VmRSS', 0)} kB, VmHWM {rss.get('VmHWM', 0)} kB, "
                 f"{seconds:.0f} s after start", "-- by file"]
        for stat in snap.statistics("filename")[:40]:
            frame = stat.traceback[0]
            lines.append(f"{stat.size:>12} {stat.count:>10} {frame.filename}")
        lines.append("-- by line")
        for stat in stats[:80]:
            frame = stat.traceback[0]
            lines.append(f"{stat.size:>12} {stat.count:>10} {frame.filename}:{frame.lineno}")
        text = "\n".join(lines) + "\n"
        out.with_name(f"{out.name}.{seconds:.0f}").write_text(text, encoding="utf-8")
        out.write_text(text, encoding="utf-8")


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _pymalloc_summary() -> list[str]:
    """The totals of ``sys._debugmallocstats`` (it writes to the C stderr)."""
    fd, name = tempfile.mkstemp()
    saved = os.dup(2)
    os.dup2(fd, 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    text = Path(name).read_text(encoding="utf-8", errors="replace")
    os.unlink(name)
    return [line for line in text.splitlines() if line.startswith((
        "# arenas allocated current", "# bytes in allocated blocks",
        "# bytes in available blocks", "Total"))][:4]


def stats_at(times: list[float], out: Path) -> None:
    """At each of ``times``: RSS, glibc malloc's totals and pymalloc's, appended to OUT."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    started = time.monotonic()
    for seconds in times:
        time.sleep(max(0.0, started + seconds - time.monotonic()))
        info = libc.mallinfo2()
        rss = _rss_kb()
        lines = [f"== {seconds:.0f} s after start: VmRSS {rss.get('VmRSS', 0)} kB, "
                 f"VmHWM {rss.get('VmHWM', 0)} kB",
                 f"malloc: in use {info.uordblks >> 20} MB, free {info.fordblks >> 20} MB, "
                 f"mmapped {info.hblkhd >> 20} MB", *_pymalloc_summary()]
        with out.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


class GcLog:
    """Appends one line per oldest-generation collection to a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = 0.0
        self.census_done = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self.started = time.perf_counter()
            return
        took = time.perf_counter() - self.started
        if took > 0.2 and not self.census_done:  # once: what the collector walks
            self.census_done = True
            census = Counter(type(o).__qualname__ for o in gc.get_objects(2))
            with self.path.with_name(self.path.name + ".types").open("w") as out:
                out.writelines(f"{n:>10} {name}\n" for name, n in census.most_common(40))
        with self.path.open("a", encoding="utf-8") as out:
            out.write(f"{time.time():.3f} gen2 {took:.3f}s collected={info.get('collected')}"
                      f" tracked={len(gc.get_objects(2)) if took > 0.2 else '-'}\n")


def main() -> int:
    spec, out, argv = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    stats = spec.startswith("stats:")
    times = [float(t) for t in spec.removeprefix("stats:").split(",")]
    gc.callbacks.append(GcLog(out.with_name(out.name + ".gc")))
    if stats:
        threading.Thread(target=stats_at, args=(times, out), daemon=True).start()
    elif times[0] > 0:
        tracemalloc.start(1)
        threading.Thread(target=snapshot_after, args=(times, out), daemon=True).start()
    from pubnet.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
