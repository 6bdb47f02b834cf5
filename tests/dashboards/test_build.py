"""``pubnet dashboards build``: the files, the provisioning, and the committed build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dashboards.grafana import build_all, ids, render
from pubnet.cli import main

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "dashboards" / "grafana" / "build"
REBUILD = "pubnet dashboards build --out dashboards/grafana/build"
UIDS = [ids.NOC, ids.SITE, ids.BACKBONE, ids.COVERAGE, ids.HEALTH]


def test_build_writes_dashboards_and_provisioning(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["dashboards", "build", "--out", str(tmp_path / "grafana"),
                 "--prometheus-url", "http://127.0.0.1:9090",
                 "--dashboards-path", "/srv/pubnet/dashboards"])
    assert code == 0
    out = tmp_path / "grafana"
    assert sorted(p.name for p in (out / "dashboards").iterdir()) == sorted(
        f"{uid}.json" for uid in UIDS)
    assert len(capsys.readouterr().out.splitlines()) == len(UIDS) + 2

    datasources = yaml.safe_load((out / "provisioning/datasources/pubnet.yaml").read_text())
    assert datasources["apiVersion"] == 1
    [source] = datasources["datasources"]
    assert source["uid"] == ids.DATASOURCE_UID == "pubnet-prometheus"
    assert source["type"] == "prometheus"
    assert source["url"] == "http://127.0.0.1:9090"

    providers = yaml.safe_load((out / "provisioning/dashboards/pubnet.yaml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/srv/pubnet/dashboards"

    for uid in UIDS:
        text = (out / "dashboards" / f"{uid}.json").read_text(encoding="utf-8")
        dashboard = json.loads(text)
        assert dashboard["uid"] == uid
        assert ids.TAG in dashboard["tags"]
        assert "\\u0e" not in text, f"{uid}: Thai written as \\u escapes"
        assert "ไซต์" in text or "ระบบ" in text or "ลิงก์" in text


def test_build_default_prometheus_is_the_compose_one(tmp_path: Path) -> None:
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 0
    source = yaml.safe_load(
        (tmp_path / "provisioning/datasources/pubnet.yaml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090"


def test_build_into_a_file_is_bad_input(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["dashboards", "build", "--out", str(blocker)]) == 1
    assert "pubnet dashboards build:" in capsys.readouterr().err


def test_committed_build_matches_the_code() -> None:
    """dashboards/grafana/build/ is what the code builds with the default options."""
    expected = render.files(build_all(), render.Options())
    committed = {str(p.relative_to(COMMITTED)): p.read_text(encoding="utf-8")
                 for p in COMMITTED.rglob("*") if p.is_file()}
    stale = sorted(set(committed) - set(expected))
    differ = sorted(k for k in expected if committed.get(k) != expected[k])
    assert not stale and not differ, (
        f"dashboards/grafana/build/ is out of date (differs: {differ}, stale: {stale}); "
        f"rebuild it with: {REBUILD}")


def test_uids_and_variables_are_the_interface() -> None:
    dashboards = {d.uid: render.to_dict(d) for d in build_all()}
    assert list(dashboards) == UIDS
    for uid, dashboard in dashboards.items():
        names = [v["name"] for v in dashboard["templating"]["list"]]
        assert names[0] == "datasource", uid
        assert dashboard["templating"]["list"][0]["query"] == "prometheus"
    for uid in (ids.NOC, ids.COVERAGE):
        assert ["province", "district"] == [
            n for n in (v["name"] for v in dashboards[uid]["templating"]["list"])
            if n in ("province", "district", "site")]
    site_vars = {v["name"]: v for v in dashboards[ids.SITE]["templating"]["list"]}
    assert site_vars["province"]["includeAll"] and site_vars["district"]["includeAll"]
    assert not site_vars["site"]["includeAll"]  # one site at a time
    assert "$province" in site_vars["district"]["query"]
    assert "$district" in site_vars["site"]["query"]


def test_tables_link_sites_to_the_site_dashboard() -> None:
    noc = render.to_dict(next(d for d in build_all() if d.uid == ids.NOC))
    urls = [link["url"]
            for panel in noc["panels"]
            for override in panel.get("fieldConfig", {}).get("overrides", [])
            if override["matcher"]["options"] == "site"
            for prop in override["properties"] if prop["id"] == "links"
            for link in prop["value"]]
    assert urls, "no site link on the NOC overview"
    for url in urls:
        assert url.startswith(f"/d/{ids.SITE}?")
        for kept in ("${__url_time_range}", "${datasource:queryparam}",
                     "var-site=${__data.fields.site}"):
            assert kept in url
    assert all(link["includeVars"] and link["keepTime"] for link in noc["links"])


def test_without_the_extra_the_commands_say_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "grafana_foundation_sdk", None)  # not installed
    assert main(["dashboards", "build", "--out", str(tmp_path)]) == 1
    assert "pip install 'pubnet[dashboards]'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    assert main(["dashboards", "build", "--help"]) == 0
