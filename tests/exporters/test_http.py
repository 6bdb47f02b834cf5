"""The HTTP endpoint: formats, gzip, probes, basic auth, TLS, and promtool's verdict."""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
import subprocess
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from exporters.prometheus.exposition import Format
from pubnet.config import ConfigError, PrometheusConfig, parse_config
from pubnet.model import Observation, Source
from testbed.tls import self_signed
from tests.exporters.conftest import run_exporter
from tests.exporters.helpers import interface, set_up
from tests.standin import NotStarted
from tests.support import eventually, require_binary

OM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
             "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def fill(store: object) -> None:
    from pubnet.state import StateStore

    assert isinstance(store, StateStore)
    for dev in ("gw1", "ap1", "ap2", "gw2", "dist1"):
        set_up(store, dev, True, 100.0)
        store.publish(interface(dev, "eth0", 1e9, 2e9, 100.0))
    store.publish([Observation("ap1", "pubnet_ap_clients", 12.0, 100.0, Source.SNMP,
                               (("radio", 'wlan "ไทย"\n\\'),))])


async def test_metrics_text_openmetrics_gzip_and_probes(tmp_path: Path) -> None:
    async with run_exporter(PrometheusConfig(listen="127.0.0.1:0")) as exp:
        fill(exp.store)
        async with aiohttp.ClientSession(auto_decompress=False) as http:
            async with http.get(exp.url + "/metrics",
                                headers={"Accept-Encoding": "identity"}) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = (await resp.read()).decode()
            families = {f.name: f for f in parse_text(text)}
            assert {"pubnet_site_up", "pubnet_interface_receive_bytes", "pubnet_site_info",
                    "pubnet_poll_duration_seconds", "pubnet_state_dropped",
                    "pubnet_exporter_scrape_duration_seconds"} <= set(families)
            assert len(families["pubnet_interface_receive_bytes"].samples) == 5

            async with http.get(exp.url + "/metrics", headers={
                    "Accept": OM_ACCEPT, "Accept-Encoding": "gzip"}) as resp:
                assert resp.headers["Content-Encoding"] == "gzip"
                assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
                om = gzip.decompress(await resp.read()).decode()
            assert om.endswith("# EOF\n") and om.count("# EOF") == 1
            om_families = {f.name: f for f in parse_openmetrics(om)}
            assert om_families["pubnet_interface_receive_bytes"].type == "counter"
            clients = om_families["pubnet_ap_clients"].samples[0]
            assert clients.labels["radio"] == 'wlan "ไทย"\n\\'

            async with http.get(exp.url + "/healthz") as resp:
                assert resp.status == 200
            async with http.get(exp.url + "/readyz") as resp:
                assert resp.status == 200
            exp.readiness.track([NotStarted("snmp-poller")])
            async with http.get(exp.url + "/readyz") as resp:
                assert resp.status == 503
                assert "snmp-poller" in await resp.text()

    promtool = require_binary("promtool")
    path = tmp_path / "metrics.txt"
    path.write_text(text, encoding="utf-8")
    check = await asyncio.to_thread(subprocess.run, [promtool, "check", "metrics"],
                                    input=text.encode(), capture_output=True, timeout=60)
    assert check.returncode == 0, check.stderr.decode() + check.stdout.decode()


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def test_basic_auth_and_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    hashed = bcrypt.hashpw("สวัสดี-secret".encode(), bcrypt.gensalt(rounds=4)).decode()
    config = PrometheusConfig(listen="127.0.0.1:0", basic_auth_users={"noc": hashed},
                              tls_cert_file=cert, tls_key_file=key)
    tls = ssl.create_default_context(cafile=str(cert))
    tls.check_hostname = False
    async with run_exporter(config) as exp:
        fill(exp.store)
        assert exp.url.startswith("https://")
        async with aiohttp.ClientSession() as http:
            cases = [({}, 401), (_basic("noc", "wrong"), 401), (_basic("nobody", "x"), 401),
                     ({"Authorization": "Basic !!!"}, 401),
                     (_basic("noc", "สวัสดี-secret"), 200), (_basic("noc", "สวัสดี-secret"), 200)]
            for headers, status in cases:
                async with http.get(exp.url + "/metrics", headers=headers, ssl=tls) as resp:
                    assert resp.status == status, headers
                    if status == 200:
                        assert "pubnet_site_up" in await resp.text()
            async with http.get(exp.url + "/healthz", ssl=tls) as resp:
                assert resp.status == 200
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{exp.port}/metrics") as resp:
                    await resp.read()


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"listen": "9108"}, "prometheus.listen"),
        ({"listen": "127.0.0.1:99999"}, "prometheus.listen"),
        ({"basic_auth_users": {"noc": "plain-password"}}, "prometheus.basic_auth_users"),
        ({"tls_cert_file": "/x.pem"}, "prometheus"),
        ({"listn": "127.0.0.1:9108"}, "prometheus.listn"),
    ],
    ids=["no-port", "bad-port", "not-bcrypt", "cert-without-key", "typo"],
)
def test_config_errors_name_the_key(section: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"prometheus": section})
    assert err.value.problems[0][0] == where
    assert "plain-password" not in str(err.value)


def test_config_default_is_on_and_null_turns_it_off() -> None:
    assert parse_config({}).prometheus == PrometheusConfig(listen="127.0.0.1:9108")
    assert parse_config({"prometheus": None}).prometheus is None


@pytest.mark.parametrize("saturated", [False, True], ids=["quiet-loop", "saturated-loop"])
async def test_bodies_written_by_a_worker_thread_keep_the_connection_usable(
        saturated: bool) -> None:
    """The body goes out from a worker thread straight to the socket (the loop writes
    only the head): every response on one kept-alive connection is whole, gzip and plain
    alike, and equal to the exposition's own; on a saturated loop too."""
    async with run_exporter(PrometheusConfig(listen="127.0.0.1:0")) as exp:
        for n in range(3000):  # a body of several socket buffers
            exp.store.publish(interface(f"device-{n:05d}", "eth0", 1e12 + n, 2e9, 100.0))
        service = exp.exporter.service
        expected = service.exposition.render_sync(Format.TEXT, True)
        service.loop_saturated = lambda: saturated  # type: ignore[method-assign]
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:
            for encoding in ("gzip", "identity", "gzip"):
                async with http.get(exp.url + "/metrics",
                                    headers={"Accept-Encoding": encoding}) as resp:
                    assert resp.status == 200
                    data = await resp.read()
                    assert len(data) == int(resp.headers["Content-Length"])
                text = gzip.decompress(data) if encoding == "gzip" else data
                fleet = gzip.decompress(expected)
                assert text[:len(fleet)] == fleet
                assert text[len(fleet):].startswith(b"# HELP pubnet_")
        assert service.health.scrape.scrapes == 3


async def test_a_scrape_restricted_to_sample_names_serves_their_families_only() -> None:
    """``/metrics?name[]=…`` as prometheus-client's handler takes it: fleet families (a
    counter asked for by its ``_total`` sample) and health families (a histogram by its
    ``_count``) in both text formats, plain and gzip; not counted as a scrape."""
    async with run_exporter(PrometheusConfig(listen="127.0.0.1:0")) as exp:
        fill(exp.store)
        stats = exp.exporter.service.health.scrape
        async with aiohttp.ClientSession() as http:
            asked = [("name[]", "pubnet_interface_receive_bytes_total"),
                     ("name[]", "pubnet_poll_duration_seconds_count"),
                     ("name[]", "pubnet_exporter_series")]
            for accept, encoding in [("text/plain", "identity"), (OM_ACCEPT, "gzip")]:
                async with http.get(exp.url + "/metrics", params=asked, headers={
                        "Accept": accept, "Accept-Encoding": encoding}) as resp:
                    assert resp.status == 200
                    text = await resp.text()
                parse = parse_openmetrics if accept == OM_ACCEPT else parse_text
                families = {f.name: f for f in parse(text)}
                assert set(families) == {"pubnet_interface_receive_bytes",
                                         "pubnet_poll_duration_seconds",
                                         "pubnet_exporter_series"}, (accept, set(families))
                assert len(families["pubnet_interface_receive_bytes"].samples) == 5
            async with http.get(exp.url + "/metrics") as resp:  # a whole one, counted
                assert resp.status == 200
                await resp.read()
        # counted once its body is written (after the client has it): the first and only
        await eventually(lambda: stats.scrapes > 0, what="the whole scrape counted")
        await asyncio.sleep(0.2)
        assert stats.scrapes == 1
