"""Config values that are wrong but used to be accepted, or ended in a traceback (issue 10,
items 8 and 12): each is a ``file: key: message`` and exit 1 from ``pubnet config check``,
never echoing what may be a secret."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pubnet.cli import main
from pubnet.config import ConfigError, load_config, parse_config, secret_values
from testbed.mosquitto import make_tls


def write(tmp_path: Path, text: str | bytes, name: str = "pubnet.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["config", "check", str(path)])
    captured = capsys.readouterr()
    return code, captured.err


# -- item 8: secrets are resolved only by the commands that use them -------------------

DAEMON_SECRETS = """
credentials:
  village-v2: {version: 2c, community: "${I10_UNSET_COMMUNITY}"}
alerting:
  database: ./alerts.db
  channels:
    noc: {type: webhook, url: "https://noc.example.th/hook", secret: "${I10_UNSET_HOOK}"}
  routes:
    - {channels: [noc]}
"""


def test_unresolved_mode_reads_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pubnet.config import UnresolvedSecret

    monkeypatch.delenv("I10_UNSET_COMMUNITY", raising=False)
    monkeypatch.delenv("I10_UNSET_HOOK", raising=False)
    path = write(tmp_path, DAEMON_SECRETS)
    with pytest.raises(ConfigError, match="I10_UNSET_COMMUNITY is not set"):
        load_config(path)
    config = load_config(path, resolve=False)
    assert config.alerting is not None
    assert config.alerting.database == tmp_path.resolve() / "alerts.db"
    community = config.credentials["village-v2"].community
    assert isinstance(community, UnresolvedSecret)
    with pytest.raises(RuntimeError):
        community.get_secret_value()  # never handed out as if it were the password
    assert secret_values(config) == []
    assert "I10_UNSET" not in repr(config)


# -- item 12: values that were accepted but meant nothing ------------------------------


@pytest.mark.parametrize(
    ("yaml_text", "key", "fragment"),
    [
        ("alerting:\n  channels: {c: {type: webhook, url: 'https://x.th/h'}}\n  routes:\n"
         "    - {match: {province: [\"Chiang Mai\"]}, channels: [c]}\n",
         "alerting.routes[0].match.province", "2-digit"),
        ("alerting:\n  channels: {c: {type: webhook, url: 'https://x.th/h'}}\n  routes:\n"
         "    - {match: {province: [\"99\"]}, channels: [c]}\n",
         "alerting.routes[0].match.province", "no province has the code 99"),
        ("alerting:\n  channels: {c: {type: webhook, url: 'https://x.th/h'}}\n  routes:\n"
         "    - {match: {district: [\"Mueang\"]}, channels: [c]}\n",
         "alerting.routes[0].match.district", "4-digit"),
        ("alerting:\n  channels:\n    c: {type: webhook, url: noc.example.th/hook}\n",
         "alerting.channels.c.webhook.url", "http:// or https://"),
        ("alerting:\n  channels:\n    t: {type: telegram, token: x, chat_id: 1, "
         "base_url: api.telegram.org}\n",
         "alerting.channels.t.telegram.base_url", "http:// or https://"),
    ],
    ids=["province-name", "province-unknown", "district-name", "webhook-no-scheme",
         "telegram-no-scheme"],
)
def test_meaningless_values_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       yaml_text: str, key: str, fragment: str) -> None:
    path = write(tmp_path, yaml_text)
    code, err = check(path, capsys)
    assert code == 1
    line = next(x for x in err.splitlines() if f": {key}: " in x)
    assert line.startswith(f"{path}: {key}: ") and fragment in line, err


def test_province_codes_accepted(tmp_path: Path) -> None:
    config = parse_config({"alerting": {
        "channels": {"c": {"type": "webhook", "url": "https://noc.example.th/h"}},
        "routes": [{"match": {"province": [50, "10"], "district": ["5001"]},
                    "channels": ["c"]}]}})
    assert config.alerting is not None
    assert config.alerting.routes[0].match.province == ["50", "10"]


def test_config_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A Thai comment saved by an editor in TIS-620 ("เชียงใหม่").
    comment = "# สำนักงาน เชียงใหม่\n".encode("tis-620")
    path = write(tmp_path, b"snmp:\n  interval: 60s\n" + comment + b"logging: {level: info}\n")
    code, err = check(path, capsys)
    assert code == 1
    assert err.startswith(f"{path}: line 3: not UTF-8"), err
    assert "Traceback" not in err


def test_duration_error_never_echoes_the_value(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    typed_secret = "MQTTPASSw0rd-9f8e7d"
    path = write(tmp_path, f"mqtt:\n  keepalive: {typed_secret}\n")
    code, err = check(path, capsys)
    assert code == 1
    assert f"{path}: mqtt.keepalive: invalid duration: expected a number" in err
    assert typed_secret not in err and "MQTTPASS" not in err


@pytest.mark.parametrize(
    "yaml_text",
    [
        "alerting:\n  channels: {c: {type: webhook, url: 'https://x.th/h'}}\n"
        "  routes:\n    - {channels: [Sup3rS3cretTok3n]}\n",
        "traps:\n  engine_ids: [Sup3rS3cretTok3n]\n",
        "credentials:\n  Sup3rS3cretTok3n!: {version: 2c, community: x}\n",
        "snmp:\n  interval_by_role: {Sup3rS3cretTok3n: 30s}\n",
        "logging:\n  level: Sup3rS3cretTok3n\n",
        "credentials:\n  c: {version: 2c, community: [Sup3rS3cretTok3n]}\n",
        "prometheus:\n  basic_auth_users: {Sup3rS3cretTok3n: not-a-hash}\n",
    ],
    ids=["channel-name", "engine-id", "credential-name", "role", "literal", "community-list",
         "auth-user"],
)
def test_secret_looking_values_are_not_echoed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              yaml_text: str) -> None:
    code, err = check(write(tmp_path, yaml_text), capsys)
    assert code == 1 and err
    assert "Sup3rS3cretTok3n" not in err, err


# -- file: secrets ---------------------------------------------------------------------


def test_relative_file_secret_follows_the_config(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "community").write_text("c0mmunity-from-file\n", encoding="utf-8")
    path = write(folder, "credentials:\n  v2: {version: 2c, community: 'file:community'}\n")
    monkeypatch.chdir(tmp_path)  # not the config's folder
    community = load_config(path).credentials["v2"].community
    assert community is not None
    assert community.get_secret_value() == "c0mmunity-from-file"


def test_fifo_secret_is_refused_not_read_forever(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "secret.fifo"
    os.mkfifo(fifo)
    path = write(tmp_path, f"credentials:\n  v2: {{version: 2c, community: 'file:{fifo}'}}\n")
    result: list[tuple[int, str]] = []
    worker = threading.Thread(target=lambda: result.append(check(path, capsys)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test run can end
        with open(fifo, "wb"):
            pass
        worker.join(5)
        pytest.fail("pubnet config check blocked on a FIFO secret")
    code, err = result[0]
    assert code == 1
    assert f"{path}: credentials.v2.community: secret file {fifo} is not a regular file" in err


def test_device_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        parse_config({"credentials": {"v2": {"version": "2c",
                                             "community": "file:/dev/null"}}})


# -- TLS certificate and key files -----------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    files = make_tls(folder)
    return {"ca": files.ca, "cert": files.server_cert, "key": files.server_key,
            "other_key": files.client_key}


@pytest.mark.parametrize(
    ("cert", "key", "bad_key", "fragment"),
    [
        pytest.param("cert", "other_key", "prometheus.tls_key_file",
                     "is not the key of the certificate", id="mismatched"),
        pytest.param("missing", "key", "prometheus.tls_cert_file", "No such file", id="no-cert"),
        pytest.param("cert", "missing", "prometheus.tls_key_file", "No such file", id="no-key"),
        pytest.param("key", "key", "prometheus.tls_cert_file", "is not a PEM certificate",
                     id="key-as-cert"),
        pytest.param("cert", "cert", "prometheus.tls_key_file",
                     "is not an unencrypted PEM private key", id="cert-as-key"),
    ],
)
def test_prometheus_tls_files_are_checked(tmp_path: Path, tls: dict[str, Path],
                                          capsys: pytest.CaptureFixture[str], cert: str,
                                          key: str, bad_key: str, fragment: str) -> None:
    files = {**tls, "missing": tmp_path / "missing.pem"}
    path = write(tmp_path, f"prometheus:\n  tls_cert_file: {files[cert]}\n"
                           f"  tls_key_file: {files[key]}\n")
    code, err = check(path, capsys)
    assert code == 1
    assert f"{path}: {bad_key}: " in err and fragment in err, err
    assert "Traceback" not in err and "BEGIN" not in err


def test_matching_tls_files_pass(tmp_path: Path, tls: dict[str, Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, f"prometheus:\n  tls_cert_file: {tls['cert']}\n"
                           f"  tls_key_file: {tls['key']}\n")
    assert check(path, capsys)[0] == 0


def test_mqtt_ca_and_client_pair_are_checked(tmp_path: Path, tls: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, f"mqtt:\n  url: mqtts://127.0.0.1:8883\n  ca_file: {tls['key']}\n"
                           f"  cert_file: {tls['cert']}\n  key_file: {tls['other_key']}\n")
    code, err = check(path, capsys)
    assert code == 1
    assert f"{path}: mqtt.ca_file: " in err and "not a PEM certificate bundle" in err
    assert f"{path}: mqtt.key_file: " in err and "is not the key" in err


def test_run_never_starts_into_a_traceback(tmp_path: Path, tls: dict[str, Path]) -> None:
    """``pubnet run`` with a mismatched key: one line naming the key, exit 1, at once."""
    path = write(tmp_path, f"prometheus:\n  listen: 127.0.0.1:0\n"
                           f"  tls_cert_file: {tls['cert']}\n  tls_key_file: {tls['other_key']}\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pubnet.cli", "run", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{path}: prometheus.tls_key_file: " in done.stderr
    assert time.monotonic() - started < 30
