"""``pubnet`` with probes: where the bytes of a running service go, and its GC pauses.

``python bench/memsnap.py SECONDS OUT run --config pubnet.yaml`` runs the CLI as usual and
writes to ``OUT.gc`` every garbage collection of the oldest generation (time, duration,
objects collected). With SECONDS > 0 it also traces allocations and, SECONDS after start,
writes to OUT the total traced bytes and the 80 biggest allocation sites (file:line,
bytes, blocks). ``bench/fleet.py --snapshot-after`` uses it to answer "bytes per series,
spent where" at fleet scale. Tracing slows pubnet down (roughly 2x) and adds its own
memory: compare sites, not the RSS of a traced run.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def snapshot_after(seconds: float, out: Path) -> None:
    time.sleep(seconds)
    snap = tracemalloc.take_snapshot()
    stats = snap.statistics("lineno")
    total = sum(s.size for s in stats)
    lines = [f"total {total} bytes in {sum(s.count for s in stats)} blocks"]
    for stat in stats[:80]:
        frame = stat.traceback[0]
        lines.append(f"{stat.size:>12} {stat.count:>10} {frame.filename}:{frame.lineno}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


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
    seconds, out, argv = float(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    gc.callbacks.append(GcLog(out.with_name(out.name + ".gc")))
    if seconds > 0:
        tracemalloc.start(1)
        threading.Thread(target=snapshot_after, args=(seconds, out), daemon=True).start()
    from pubnet.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
