"""``pubnet`` under tracemalloc: where the bytes of a running service go.

``python bench/memsnap.py SECONDS OUT run --config pubnet.yaml`` runs the CLI as usual and,
SECONDS after start, writes to OUT the total traced bytes and the 80 biggest allocation
sites (file:line, bytes, blocks) of that moment. ``bench/fleet.py --snapshot-after`` uses it
to answer "bytes per series, spent where" at fleet scale. Tracing slows pubnet down
(roughly 2×) and adds its own memory: compare sites, not the RSS of a traced run.
"""

from __future__ import annotations

import sys
import threading
import time
import tracemalloc
from pathlib import Path

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


def main() -> int:
    seconds, out, argv = float(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    tracemalloc.start(1)
    threading.Thread(target=snapshot_after, args=(seconds, out), daemon=True).start()
    from pubnet.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
