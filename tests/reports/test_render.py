"""The report as a planner sees it: the HTML in headless Chromium (no console error, the
Thai font loaded and drawn, not tofu, the charts drawn, nothing fetched) and the PDF
(Thai font embedded, Thai words extractable intact)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pubnet.cli import main
from tests.reports import month
from tests.support import require_binary

pytestmark = pytest.mark.integration

BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("render")
    config = month.write_setup(folder)
    out = folder / "out"
    assert main(["report", "coverage", "--config", str(config), "--month", month.MONTH,
                 "--out", str(out), "--sla", str(month.SLA), "--pdf"]) == 0
    return out


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    chromium = require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=BROWSER_ARGS)
        tab = browser.new_page(viewport={"width": 900, "height": 1300})
        problems: list[str] = []
        requests: list[str] = []
        tab.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
               if m.type in ("error", "warning") else None)
        tab.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
        tab.on("request", lambda r: requests.append(r.url))
        tab.goto((report / "coverage.html").as_uri())
        tab.wait_for_load_state("load")
        tab.evaluate("document.fonts.ready.then(() => true)")
        yield tab, problems, requests
        browser.close()


def test_no_console_errors_and_nothing_fetched(page: tuple[Any, list[str], list[str]],
                                               report: Path) -> None:
    _, problems, requests = page
    assert problems == []
    assert [r for r in requests if not r.startswith(("file:", "data:"))] == []


def test_thai_font_loaded_and_not_tofu(page: tuple[Any, list[str], list[str]]) -> None:
    tab, _, _ = page
    loaded = tab.evaluate("[...document.fonts].filter(f => f.family.includes('Laksaman')"
                          " && f.status === 'loaded').length")
    assert loaded >= 1
    assert "ประจำเดือนพฤศจิกายน พ.ศ. 2569" in tab.inner_text("h1")
    # Tofu draws every missing glyph as the same box: two different Thai words of the same
    # length would then look alike. Drawn with the report's font, they differ, and have ink.
    tab.evaluate("""() => {
        for (const [id, text] of [['t1', 'ประจำ'], ['t2', 'หมู่บ้าน'], ['t3', 'กกกกก'],
                                  ['t4', 'ขขขขข']]) {
            const el = document.createElement('span');
            el.id = id; el.textContent = text;
            el.style.cssText = "font-family: Laksaman; font-size: 40px; position: fixed; " +
                "top: 0; left: 0; background: #fff; color: #000; padding: 4px";
            document.body.appendChild(el);
        }
    }""")
    shots = {}
    for el in ("t1", "t2", "t3", "t4"):
        for other in ("t1", "t2", "t3", "t4"):
            tab.evaluate(f"document.getElementById('{other}').style.visibility = "
                         f"'{'visible' if other == el else 'hidden'}'")
        shots[el] = tab.locator(f"#{el}").screenshot()
    assert shots["t3"] != shots["t4"], "Thai letters drawn as identical boxes (tofu)"
    tab.evaluate("document.getElementById('t4').style.color = '#fff'")
    assert tab.locator("#t4").screenshot() != shots["t4"], "the Thai text has no ink"
    assert shots["t1"] != shots["t2"]
    for el in ("t1", "t2", "t3", "t4"):
        tab.evaluate(f"document.getElementById('{el}').remove()")


def test_charts_are_drawn(page: tuple[Any, list[str], list[str]]) -> None:
    tab, _, _ = page
    bars = tab.locator("#province-chart rect.bar")
    assert bars.count() == len(month.PROVINCES)
    for i in range(bars.count()):
        box = bars.nth(i).bounding_box()
        assert box is not None and box["width"] > 20 and box["height"] > 3
    assert tab.locator("#daily-chart rect.day").count() == 30
    assert tab.locator("#site-map path").count() >= 3
    assert tab.locator("#cause-chart rect").count() >= 4
    # the worst site first, flagged by text as well as colour
    first = tab.locator("#worst tbody tr").first
    assert first.get_attribute("data-site") == "S6"
    assert "ไม่ผ่าน" in first.inner_text()


def test_pdf_embeds_the_thai_font_and_extracts_thai(report: Path) -> None:
    pdf = report / "coverage.pdf"
    fonts = subprocess.run([require_binary("pdffonts"), str(pdf)], capture_output=True,
                           text=True, check=True).stdout
    laksaman = [line for line in fonts.splitlines() if "Laksaman" in line]
    assert laksaman, fonts
    assert all(line.split()[-5] == "yes" for line in laksaman), fonts  # emb column
    text = subprocess.run([require_binary("pdftotext"), str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "ประจำ" in text
    assert "หมู่บ้าน" in text
    info = subprocess.run([require_binary("pdfinfo"), str(pdf)], capture_output=True,
                          text=True, check=True).stdout
    assert "(A4)" in info
