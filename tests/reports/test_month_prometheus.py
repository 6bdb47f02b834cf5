"""The synthetic November as ``pubnet_site_up`` samples backfilled into a real Prometheus
(``promtool tsdb create-blocks-from openmetrics``): ``--source prometheus`` gives the same
figures as the history, to 0.01 %."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pubnet.cli import main
from tests.reports import month
from tests.reports.test_month_history import check_areas, check_sites, read_csv
from tests.support import free_port, require_binary, stop_process

pytestmark = pytest.mark.integration
STEP = 60


def status_at(events: list[tuple[float, str]], t: float) -> str | None:
    """The site's status at ``t`` as the exporter would have shown it (None: no sample)."""
    run = next((r for r in month.RUNS if r[0] <= t < r[1]), None)
    if run is None:
        return None
    current = None
    for when, status in events:
        if run[0] <= when <= t:
            current = status
    return current


def openmetrics(path: Path) -> None:
    start, end = int(month.at(1)), int(month.at(1, month=12))
    with path.open("w", encoding="utf-8") as out:
        out.write("# TYPE pubnet_site_up gauge\n")
        inv = month.inventory()
        for site_id, events in month.SITE_EVENTS.items():
            s = inv.sites[site_id]
            labels = (f'site="{site_id}",province="{s.province_code}",'
                      f'district="{s.district_code}",kind="village_wifi"')
            for t in range(start, end, STEP):
                status = status_at(events, t)
                if status is not None:
                    out.write(f"pubnet_site_up{{{labels}}} {1 if status == 'up' else 0} {t}\n")
        out.write("# TYPE pubnet_link_utilization_ratio gauge\n")
        for link, level in (("L-pn-50", 0.9), ("L-agg-5001", 0.3)):
            for direction in ("in", "out"):
                for t in range(start, end, 300):
                    value = level if direction == "in" else 0.1
                    out.write(f'pubnet_link_utilization_ratio{{link="{link}",'
                              f'direction="{direction}"}} {value} {t}\n')
        out.write("# EOF\n")


@contextlib.contextmanager
def backfilled_prometheus(tmp_path: Path) -> Iterator[str]:
    promtool = require_binary("promtool")
    prometheus = require_binary("prometheus")
    data = tmp_path / "om.txt"
    openmetrics(data)
    tsdb = tmp_path / "tsdb"
    done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(data),
                           str(tsdb)], capture_output=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n", encoding="utf-8")
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tsdb}",
         "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
         "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        break
            assert time.monotonic() < deadline, "prometheus did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        stop_process(proc, 20)
        log.close()


async def test_prometheus_source_gives_the_hand_computed_figures(tmp_path: Path) -> None:
    config = month.write_setup(tmp_path)
    out = tmp_path / "prom-report"

    def run() -> int:
        with backfilled_prometheus(tmp_path) as url:
            return main(["report", "coverage", "--config", str(config), "--month",
                         month.MONTH, "--out", str(out), "--sla", str(month.SLA),
                         "--source", "prometheus", "--prometheus-url", url])

    assert await asyncio.to_thread(run) == 0
    _, sites = read_csv(out / "sites.csv")
    check_sites(sites)
    _, provinces = read_csv(out / "provinces.csv")
    _, districts = read_csv(out / "districts.csv")
    check_areas(provinces, districts)
    # the same numbers as the history gives
    history = tmp_path / "history-report"
    assert main(["report", "coverage", "--config", str(config), "--month", month.MONTH,
                 "--out", str(history), "--sla", str(month.SLA)]) == 0
    _, from_history = read_csv(history / "provinces.csv")
    assert {k: v["availability_pct"] for k, v in provinces.items()} == {
        k: v["availability_pct"] for k, v in from_history.items()}
    html = (out / "coverage.html").read_text(encoding="utf-8")
    assert 'data-link="L-pn-50"' in html and 'data-link="L-agg-5001"' not in html
    assert "Prometheus" in html
    # S5's samples begin on 16 Nov, the others' on the first day: only S5 is commissioned
    flagged = re.findall(r'<tr data-site="(\w+)"[^>]*><td><b>\w+</b>[^<]*<span class="flag">',
                         html)
    assert set(flagged) == {"S5"}


async def test_victoriametrics_gives_the_same_figures(tmp_path: Path) -> None:
    """Any Prometheus-compatible query API: the same month imported into VictoriaMetrics."""
    import aiohttp

    from tests.exporters.victoria import Victoria

    config = month.write_setup(tmp_path)
    data = tmp_path / "om.txt"
    openmetrics(data)
    # Prometheus text format wants milliseconds
    lines = []
    for line in data.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        head, value, ts = line.rsplit(" ", 2)
        lines.append(f"{head} {value} {int(ts) * 1000}")
    vm = Victoria(tmp_path)
    await vm.start()
    try:
        async with aiohttp.ClientSession() as http:
            for start in range(0, len(lines), 50_000):
                body = "\n".join(lines[start:start + 50_000]) + "\n"
                async with http.post(vm.url + "/api/v1/import/prometheus",
                                     data=io.BytesIO(body.encode())) as resp:
                    assert resp.status == 204, await resp.text()
        await vm.wait_for_points(len(lines), match='{__name__=~"pubnet_.*"}')
        out = tmp_path / "vm-report"
        code = await asyncio.to_thread(
            main, ["report", "coverage", "--config", str(config), "--month", month.MONTH,
                   "--out", str(out), "--sla", str(month.SLA), "--source", "prometheus",
                   "--prometheus-url", vm.url])
    finally:
        await vm.stop()
    assert code == 0
    _, sites = read_csv(out / "sites.csv")
    check_sites(sites)
    _, provinces = read_csv(out / "provinces.csv")
    _, districts = read_csv(out / "districts.csv")
    check_areas(provinces, districts)
