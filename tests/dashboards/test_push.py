"""``pubnet dashboards push`` against a local stand-in for Grafana's HTTP API."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from dashboards.grafana import build_all, ids, render
from pubnet.cli import main
from tests.dashboards.fake_grafana import FakeGrafana
from tests.support import free_port

TOKEN = "glsa_pubnetTestToken_0123456789abcdef"
UIDS = [ids.NOC, ids.SITE, ids.BACKBONE, ids.COVERAGE, ids.HEALTH]


async def push(*args: str) -> int:
    return await asyncio.to_thread(main, ["--log-level", "debug", "dashboards", "push", *args])


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PUBNET_TEST_GRAFANA_TOKEN", TOKEN)
    return "PUBNET_TEST_GRAFANA_TOKEN"


async def test_push_creates_the_folder_and_every_dashboard(
        token_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeGrafana(token=TOKEN).serving() as grafana:
        code = await push("--url", grafana.url, "--token-env", token_env,
                          "--folder", "NOC ศูนย์ควบคุม")
        out, err = capsys.readouterr()
    assert code == 0, err
    assert list(grafana.folders.values()) == ["NOC ศูนย์ควบคุม"]
    [folder_uid] = grafana.folders
    assert sorted(grafana.dashboards) == sorted(UIDS)
    built = {d.uid: render.to_dict(d) for d in build_all()}
    for uid, saved in grafana.dashboards.items():
        assert saved.folder_uid == folder_uid
        assert saved.version == 1
        assert saved.dashboard == {**built[uid], "id": None}
        assert saved.message == "pubnet dashboards push"
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == UIDS
    assert all(line.split("\t")[2].startswith(f"{grafana.url}/d/") for line in lines)
    assert ("GET", "/api/folders", f"Bearer {TOKEN}") in grafana.requests
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in grafana.requests)
    assert [p for m, p, _ in grafana.requests if m == "POST"].count("/api/dashboards/db") == 5
    assert TOKEN not in out + err


async def test_push_again_updates_in_place(token_env: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeGrafana(token=TOKEN).serving() as grafana:
        assert await push("--url", grafana.url, "--token-env", token_env) == 0
        first = {uid: saved.dashboard for uid, saved in grafana.dashboards.items()}
        assert await push("--url", grafana.url, "--token-env", token_env) == 0
    assert list(grafana.folders.values()) == ["pubnet"]  # found, not created twice
    assert [m for m, p, _ in grafana.requests if p == "/api/folders"].count("POST") == 1
    assert {uid: s.version for uid, s in grafana.dashboards.items()} == dict.fromkeys(UIDS, 2)
    assert {uid: s.dashboard for uid, s in grafana.dashboards.items()} == first
    assert TOKEN not in "".join(capsys.readouterr())


async def test_a_grafana_error_names_the_dashboard_and_status(
        token_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    grafana = FakeGrafana(token=TOKEN, fail={
        ids.BACKBONE: (500, "database is locked"),
        # a misbehaving proxy that echoes the request's credentials back
        ids.SITE: (403, f"permission denied for Bearer {TOKEN}"),
    })
    async with grafana.serving():
        code = await push("--url", grafana.url, "--token-env", token_env)
        out, err = capsys.readouterr()
    assert code == 1
    assert "โครงข่ายหลัก · Backbone (pubnet-backbone): HTTP 500: database is locked" in err
    assert "(pubnet-site): HTTP 403: permission denied for Bearer ********" in err
    assert sorted(grafana.dashboards) == sorted({ids.NOC, ids.COVERAGE, ids.HEALTH})
    assert [line.split("\t")[0] for line in out.splitlines()] == [
        ids.NOC, ids.COVERAGE, ids.HEALTH]
    assert TOKEN not in out + err


async def test_a_wrong_token_is_reported_without_the_token(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("not-the-right-token\n", encoding="utf-8")
    async with FakeGrafana(token=TOKEN).serving() as grafana:
        code = await push("--url", grafana.url, "--token-file", str(token_file))
        out, err = capsys.readouterr()
    assert code == 1
    assert "HTTP 401" in err and "folder 'pubnet'" in err
    assert "not-the-right-token" not in out + err
    assert grafana.dashboards == {}
    assert {auth for _, _, auth in grafana.requests} == {"Bearer not-the-right-token"}


async def test_token_file_and_basic_auth_in_the_url(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    async with FakeGrafana(token=TOKEN).serving() as grafana:
        assert await push("--url", grafana.url, "--token-file", str(token_file)) == 0
    basic = "Basic " + base64.b64encode(b"admin:pa55word").decode()
    async with FakeGrafana(basic=basic).serving() as grafana:
        url = grafana.url.replace("http://", "http://admin:pa55word@")
        code = await push("--url", url)
        out, err = capsys.readouterr()
    assert code == 0, err
    assert len(grafana.dashboards) == 5
    assert "pa55" not in out + err
    assert f"{grafana.url}/d/" in out


@pytest.mark.parametrize(("args", "message"), [
    (["--token-env", "PUBNET_TEST_UNSET_TOKEN"], "PUBNET_TEST_UNSET_TOKEN is not set"),
    (["--token-file", "/nonexistent/token"], "cannot read the token file"),
], ids=["env-unset", "file-unreadable"])
def test_a_missing_token_is_bad_input(args: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "push", "--url", "http://127.0.0.1:9", *args]) == 1
    assert message in capsys.readouterr().err


def test_both_token_options_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboards", "push", "--url", "http://127.0.0.1:9", "--token-env", "A",
                 "--token-file", "b"]) == 2


async def test_an_unreachable_grafana_is_reported(token_env: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await push("--url", url, "--token-env", token_env) == 1
    out, err = capsys.readouterr()
    assert f"cannot reach {url}" in err
    assert TOKEN not in out + err
