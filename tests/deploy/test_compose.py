"""The docker-compose stack, checked without a Docker engine: the Compose Specification's
schema, every file it mounts or builds from, the configs each engine's own checker accepts,
secrets only from .env, and the Dockerfile installing pubnet as the README does."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from alerting.rules import alertmanager_config, export_rules
from inventory.generate import generate
from inventory.loader import load_inventory
from inventory.writer import write_inventory
from pubnet.config import load_config
from simulator import AddressPlan, plan_addresses, simulated_inventory
from tests.support import require_binary

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).with_name("compose-spec.json")
ENV_EXAMPLE = ROOT / ".env.example"
FOLDER = ROOT / "deploy" / "compose"
DEMO_INVENTORY = ROOT / "deploy" / "demo" / "inventory"
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` with .env.example's values."""
    env = env_example()
    return VARIABLE.sub(lambda m: env.get(m.group(1), m.group(2) or ""), text)


def host_mounts() -> list[tuple[str, str, str]]:
    """(service, host path, container path) of every bind mount."""
    mounts = []
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source, target = interpolate(volume).split(":")[:2]
            if source.startswith((".", "/")):
                mounts.append((name, source, target))
    return mounts


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose())


def test_the_schema_catches_a_misspelt_key() -> None:
    """The vendored schema really constrains services (a typo is not silently accepted)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = compose()
    broken["services"]["pubnet"]["helthcheck"] = broken["services"]["pubnet"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError, match="helthcheck"):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_services_are_the_ones_the_issue_names() -> None:
    services = compose()["services"]
    assert set(services) == {"pubnet", "rules", "mosquitto", "prometheus", "alertmanager",
                             "grafana", "influxdb", "simulator"}
    assert services["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in services.items() if n != "simulator")
    assert "/readyz" in " ".join(services["pubnet"]["healthcheck"]["test"])


def test_every_mounted_or_built_file_exists() -> None:
    mounts = host_mounts()
    assert len(mounts) >= 12
    for service, source, _target in mounts:
        assert (ROOT / source).exists(), f"{service} mounts {source}, which does not exist"
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build is not None:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is missing"


def test_every_variable_is_in_env_example_and_secrets_come_only_from_it() -> None:
    env = env_example()
    data = compose()
    used = set(VARIABLE.findall(COMPOSE.read_text(encoding="utf-8")))
    assert {name for name, _default in used} <= set(env)
    secrets = data["secrets"]
    for name, secret in secrets.items():
        assert set(secret) == {"environment"}, name
        assert secret["environment"] in env, name
    for name, service in data["services"].items():
        for key, value in service.get("environment", {}).items():
            if re.search("PASSWORD|TOKEN|SECRET|KEY", key):
                assert key.endswith("_FILE") and value.startswith("/run/secrets/"), (name, key)
        for secret in service.get("secrets", []):
            assert secret in secrets, (name, secret)
    # no secret value of .env.example is written in any file the stack mounts
    values = [v for k, v in env.items() if re.search("PASSWORD|TOKEN|KEY|COMMUNITY", k)]
    for _service, source, _target in host_mounts():
        for path in [ROOT / source] if (ROOT / source).is_file() else (ROOT / source).rglob("*"):
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                assert not [v for v in values if v in text], path


def test_pubnet_config_reads_every_secret_from_a_mounted_docker_secret(
        tmp_path: Path) -> None:
    """deploy/compose/pubnet.yaml loads as the daemon loads it, with each /run/secrets/NAME
    that pubnet and the simulator are given (here files in tmp_path), and agrees with
    .env.example on InfluxDB's org and bucket."""
    text = (FOLDER / "pubnet.yaml").read_text(encoding="utf-8")
    named = set(re.findall(r"file:/run/secrets/([a-z_]+)", text))
    services = compose()["services"]
    assert named <= set(services["pubnet"]["secrets"])
    assert named <= set(services["simulator"]["secrets"])
    env = env_example()
    for name in named:
        (tmp_path / name).write_text(env[name.upper()] + "\n", encoding="utf-8")
    (tmp_path / "pubnet.yaml").write_text(
        text.replace("/run/secrets/", f"{tmp_path}/"), encoding="utf-8")
    config = load_config(tmp_path / "pubnet.yaml")
    assert config.influxdb is not None and config.mqtt.url == "mqtt://mosquitto:1883"
    assert (config.influxdb.org, config.influxdb.bucket) == (env["INFLUXDB_ORG"],
                                                             env["INFLUXDB_BUCKET"])
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == env["MQTT_PASSWORD"]
    assert config.influxdb.token.get_secret_value() == env["INFLUXDB_TOKEN"]


def test_dockerfile_installs_as_the_readme_does() -> None:
    """The README's setup is scripts/demo; the image runs its venv and pip commands."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./scripts/demo" in readme
    script = [line.strip() for line in (ROOT / "scripts" / "demo").read_text(
        encoding="utf-8").splitlines()]
    wanted = [line.replace('"$PY"', "python3") for line in script
              if "pip install" in line or "-m venv" in line]
    assert len(wanted) == 3
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    runs = [line[len("RUN "):].strip() for line in dockerfile.splitlines()
            if line.startswith("RUN ")]
    assert [r for r in runs if "pip" in r or "venv" in r] == wanted
    assert re.search(r"^FROM python:3\.1[1-9]-slim$", dockerfile, re.M)
    assert re.search(r"^USER pubnet$", dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile
    assert not re.search(r"^(ENV|ARG) .*(PASSWORD|TOKEN|SECRET|COMMUNITY)", dockerfile, re.M)


def test_promtool_accepts_the_prometheus_config_and_the_exported_rules(
        tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    config = FOLDER / "prometheus" / "prometheus.yml"
    check = subprocess.run([promtool, "check", "config", "--syntax-only", str(config)],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    targets = [t for job in data["scrape_configs"] for s in job["static_configs"]
               for t in s["targets"]]
    assert "pubnet:9108" in targets
    assert data["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"]
    # the rules service writes export-rules' files where prometheus' rule_files look
    services = compose()["services"]
    assert "export-rules" in services["rules"]["command"]
    out = services["rules"]["command"][services["rules"]["command"].index("--out") + 1]
    assert f"rules:{out}" in services["rules"]["volumes"]
    mount = next(v.split(":")[1] for v in services["prometheus"]["volumes"]
                 if v.startswith("rules:"))
    written = export_rules(load_inventory(DEMO_INVENTORY).inventory, tmp_path)
    loaded = [p for p in written for pattern in data["rule_files"]
              if Path(pattern).parent == Path(mount) and p.match(Path(pattern).name)]
    assert sorted(p.name for p in loaded) == ["pubnet-rules.yml", "pubnet-topology.yml"]
    rules = subprocess.run([promtool, "check", "rules", *map(str, loaded)],
                           capture_output=True, text=True, timeout=60)
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_amtool_accepts_alertmanager_config_with_the_exported_inhibitions() -> None:
    amtool = require_binary("amtool")
    path = FOLDER / "alertmanager" / "alertmanager.yml"
    check = subprocess.run([amtool, "check-config", str(path)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["inhibit_rules"] == alertmanager_config()["inhibit_rules"]


def test_grafana_provisioning_parses_and_points_at_the_stack() -> None:
    services = compose()["services"]
    mounts = {target: ROOT / source for service, source, target in host_mounts()
              if service == "grafana"}
    datasources = yaml.safe_load(next(mounts[
        "/etc/grafana/provisioning/datasources"].glob("*.yaml")).read_text(encoding="utf-8"))
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    host, port = source["url"].removeprefix("http://").split(":")
    assert host in services and port == "9090"
    providers = yaml.safe_load(next(mounts[
        "/etc/grafana/provisioning/dashboards"].glob("*.yaml")).read_text(encoding="utf-8"))
    path = providers["providers"][0]["options"]["path"]
    assert path in mounts
    dashboards = [json.loads(p.read_text(encoding="utf-8")) for p in mounts[path].glob("*.json")]
    assert len(dashboards) >= 5
    uids = {d["uid"] for d in dashboards}
    assert len(uids) == len(dashboards)
    used = {p["datasource"]["uid"] for d in dashboards for p in d.get("panels", [])
            if isinstance(p.get("datasource"), dict) and "uid" in p["datasource"]}
    assert used <= {source["uid"], "${datasource}", "-- Grafana --"}


def test_compose_mosquitto_keeps_every_setting_of_the_shipped_config() -> None:
    """Only the listeners (a container's, TLS moved to conf.d) and the password file's place
    differ from deploy/mosquitto/mosquitto.conf: persistence and queue limits are the same."""

    def settings(path: Path) -> set[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return {line.strip() for line in lines if line.strip() and not line.startswith("#")}

    shipped = settings(ROOT / "deploy" / "mosquitto" / "mosquitto.conf")
    ours = settings(FOLDER / "mosquitto" / "mosquitto.conf")
    moved = {s for s in shipped if s.startswith(("listener", "cafile", "certfile", "keyfile",
                                                 "password_file"))}
    assert shipped - moved <= ours
    assert ours - shipped == {"listener 1883", "include_dir /mosquitto/config/conf.d",
                              "password_file /mosquitto/run/passwd"}
    tls = settings(FOLDER / "mosquitto" / "conf.d" / "tls.conf.example")
    assert {s.split()[0] for s in moved if not s.startswith(("password", "listener 1883"))} \
        <= {s.split()[0] for s in tls}
    entrypoint = (FOLDER / "mosquitto" / "entrypoint.sh").read_text(encoding="utf-8")
    assert "run=/mosquitto/run\n" in entrypoint
    assert 'mosquitto_passwd -U "$run/passwd"' in entrypoint
    for name in compose()["services"]["mosquitto"]["secrets"]:
        assert f"/run/secrets/{name}" in entrypoint


def test_simulator_serves_the_demo_inventory_at_its_addresses(tmp_path: Path) -> None:
    """deploy/demo/inventory is what the simulator service's flags address: regenerating it
    gives the same files (so pubnet polls exactly where the simulator answers)."""
    command = compose()["services"]["simulator"]["command"]
    flags = dict(zip(command[3::2], command[4::2], strict=False))
    assert flags["--inventory"] == "/opt/pubnet/deploy/demo/inventory"
    base = generate(sites=300, seed=1)
    plan = AddressPlan(flags["--network"], int(flags["--port"]))
    write_inventory(simulated_inventory(base, plan_addresses(base, plan)), tmp_path)
    for name in ("sites.csv", "devices.csv", "links.csv"):
        assert (tmp_path / name).read_bytes() == (DEMO_INVENTORY / name).read_bytes(), name
    assert "network_mode" in compose()["services"]["simulator"]
    assert shlex.join(command).count("--mqtt-password-file /run/secrets/") == 1


def test_the_image_holds_every_package_pubnet_installs() -> None:
    """Each package pyproject.toml installs is copied into the image, and .dockerignore
    keeps nothing the Dockerfile copies out of the build context."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"][
        "include"]}
    copied = set()
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    assert packages <= copied
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith(("#", "!"))]
    for source in copied:
        for pattern in ignored:
            bare = pattern.removeprefix("**/").rstrip("/")
            assert not (source == bare or source.startswith(bare + "/")), (source, pattern)


def test_the_vendored_schema_is_the_one_its_source_note_names() -> None:
    import hashlib

    note = SCHEMA.with_name("compose-spec.SOURCE.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    assert f"- sha256: {digest}\n" in note
    assert "- source: https://github.com/compose-spec/compose-spec/blob/" in note
