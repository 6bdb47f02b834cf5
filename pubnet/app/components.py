"""Which components a config turns on, in start order.

The one place that knows every component package: the shell may import components, the
components never import each other or the shell. Each later feature adds its factory here.
Start order is consumers first (exporters, alerting), producers last (collectors), so that
nothing a collector publishes at start-up is missed and shutdown stops intake first.

Roles (``roles:``/``--role``, :class:`pubnet.config.Role`) choose the halves: ``poll``
runs the collectors, ``alerting`` runs alerting, history and reports. A poll-only process
(a shard) adds the ``state-publisher`` (its device status onto the broker) and an
alerting-only one the ``state-feed`` (device status from the broker) instead of
collectors; the exporters and the status page run in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pubnet.app.runtime import Component, Context, Readiness

if TYPE_CHECKING:
    from aiohttp import web

    from alerting.oncall import Oncall
    from alerting.service import AlertingService
    from dashboards.status import StatusPage
    from exporters.prometheus.endpoint import PrometheusExporter
    from inventory.model import Inventory
    from pubnet.app.web import WebServer
    from pubnet.config import AlertChannel, Config
    from pubnet.derive import Derivation
    from pubnet.httpstats import HttpStats
    from pubnet.incidents import IncidentSource
    from pubnet.shard import Shard
    from pubnet.state import StateStore


@dataclass(frozen=True, slots=True)
class Planned:
    """A component the config enables, described for the log before it starts."""

    name: str
    detail: str


def plan(ctx: Context) -> list[Planned]:
    """What ``pubnet run`` would start for this config and inventory."""
    config = ctx.config
    planned: list[Planned] = []
    if config.prometheus is not None:
        planned.append(Planned("prometheus", "route=/metrics"))
        planned.append(Planned("status", "routes=/,/api/v1 "
                               f"operators={len(config.web.operators)}"))
        planned.append(Planned("http", f"listen={config.prometheus.listen}"))
    if config.influxdb is not None:
        planned.append(Planned("influxdb", f"url={config.influxdb.url} "
                               f"bucket={config.influxdb.bucket} "
                               f"buffer_dir={config.influxdb.buffer_dir}"))
    alerts = ctx.alerts
    if alerts and config.alerting is not None and config.alerting.webhooks():
        planned.append(Planned("chat", "routes=" + ",".join(config.alerting.webhooks())))
    if alerts and config.alerting is not None:
        planned.append(Planned("alerting", f"database={config.alerting.database} "
                               f"routes={len(config.alerting.routes)} "
                               f"channels={len(config.alerting.channels)}"))
    if alerts and config.history is not None:
        planned.append(Planned("history", f"retention={config.history.retention / 86400:g}d"))
    if alerts and config.reports is not None:
        planned.append(Planned("reports", f"out_dir={config.reports.out_dir}"))
    if _publishes_state(ctx):
        planned.append(Planned("state-publisher", f"shard={_shard_of(ctx)} "
                               f"broker={config.mqtt.host}:{config.mqtt.port} "
                               f"heartbeat={config.cluster.heartbeat:g}s"))
    if _feeds_state(ctx):
        planned.append(Planned("state-feed", f"broker={config.mqtt.host}:{config.mqtt.port} "
                               f"client_id={config.mqtt.client_id} "
                               f"devices={len(ctx.inventory.devices)}"))
    if not ctx.polls:
        return planned
    snmp_devices = [
        d for d in ctx.inventory.devices.values() if d.profile not in ("icmp", "mqtt")
    ]
    icmp_devices = [d for d in ctx.inventory.devices.values() if d.profile == "icmp"]
    mqtt_devices = [d for d in ctx.inventory.devices.values() if d.profile == "mqtt"]
    if snmp_devices:
        planned.append(
            Planned(
                "snmp-poller",
                f"devices={len(snmp_devices)} interval={config.snmp.interval:g}s "
                f"timeout={config.snmp.timeout:g}s retries={config.snmp.retries}",
            )
        )
    if icmp_devices:
        planned.append(Planned("icmp-prober", f"devices={len(icmp_devices)} "
                               f"interval={config.icmp.interval:g}s count={config.icmp.count}"))
    if config.traps is not None:
        planned.append(Planned("trap-receiver", f"listen={config.traps.listen}"))
    if _mqtt_enabled(ctx):
        mqtt = config.mqtt
        broker = (f"embedded {mqtt.embedded_host}:{mqtt.port}" if mqtt.embedded
                  else f"{mqtt.host}:{mqtt.port}")
        planned.append(Planned("mqtt-subscriber", f"devices={len(mqtt_devices)} broker={broker} "
                               f"client_id={mqtt.client_id} qos={mqtt.qos}"))
    return planned


def _publishes_state(ctx: Context) -> bool:
    """A process that polls but does not alert sends device status to the broker, when
    there is a broker to share (a shard on the embedded broker has none: it warns)."""
    return ctx.polls and not ctx.alerts and not ctx.config.mqtt.embedded


def _feeds_state(ctx: Context) -> bool:
    """A process that alerts but does not poll takes device status from the broker."""
    return ctx.alerts and not ctx.polls


def _shard_of(ctx: Context) -> Shard:
    from pubnet.shard import Shard

    return ctx.shard if ctx.shard is not None else Shard(1, 1)


def _mqtt_enabled(ctx: Context) -> bool:
    """MQTT runs when the inventory has MQTT devices or the config has an ``mqtt:`` section
    (gateways may publish telemetry besides answering SNMP)."""
    return "mqtt" in ctx.config.model_fields_set or any(
        d.profile == "mqtt" for d in ctx.inventory.devices.values())


def build(ctx: Context) -> list[Component]:
    """Instantiate the enabled components, in start order, each from the pieces of the
    config and context it needs (no component sees the whole context).

    Raises :class:`alerting.directory.DirectoryError` when ``alerting.technicians`` or
    ``alerting.oncall`` cannot be read (every problem as ``file:line: field: message``)."""
    from pubnet.app.web import stats_for

    config, inventory = ctx.config, ctx.inventory
    readiness = Readiness()
    built: list[Component] = []
    workers = build_workers(ctx)
    if config.prometheus is not None:
        stats = stats_for(config.prometheus)
        exporter = build_exporter(config, exported_inventory(ctx), ctx.store, stats,
                                  exported_derivation(ctx))
        built += [exporter, build_listener(config, inventory,
                                           [*exporter.routes(), *workers.routes], readiness,
                                           stats, workers.signed)]
    built += workers.components
    readiness.track(built)
    return built


@dataclass(slots=True)
class Workers:
    """A generation's components and the routes they contribute to the one listener."""

    components: list[Component]
    routes: list[web.RouteDef]
    """The status page's ``/`` and ``/api/v1/...`` (behind the listener's basic auth)."""
    signed: list[web.RouteDef]
    """The chat webhooks, which check their own signatures (no basic auth)."""
    intake: list[Component] = field(default_factory=list)
    """The collectors among ``components``: stopped first, all at once."""


OncallSetup = tuple["Oncall", dict[str, "AlertChannel"]]
"""Who the ``oncall`` route target reaches, and each technician's own channel."""


def load_directory(config: Config) -> OncallSetup | None:
    """Read ``alerting.technicians`` and ``alerting.oncall`` (blocking: files), or None
    when there is no directory. Raises :class:`alerting.directory.DirectoryError`."""
    alerting = config.alerting
    if alerting is None or alerting.technicians is None:
        return None
    from alerting.oncall import load_oncall

    return load_oncall(alerting.technicians, alerting.oncall, alerting.channels)


def build_workers(ctx: Context, *, summary: bool = True,
                  directory: OncallSetup | None = None) -> Workers:
    """Every enabled component except the Prometheus exporter and the HTTP listener, in
    start order: what a reload replaces besides the exporter (:mod:`pubnet.app.reload`).
    ``summary``: log the first round (not after a reload: it is no first round).
    ``directory``: the technicians and rota already read (:func:`load_directory`); read
    here when not given.

    Raises :class:`alerting.directory.DirectoryError` (see :func:`build`)."""
    config, inventory, store = ctx.config, ctx.inventory, ctx.store
    derivation = ctx.shared_derivation()
    built: list[Component] = []
    routes: list[web.RouteDef] = []
    oncall: Oncall | None = None
    personal: dict[str, AlertChannel] = {}
    hooks: list[Component] = []
    signed: list[web.RouteDef] = []
    alerts = ctx.alerts
    if directory is None and alerts:
        directory = load_directory(config)
    if alerts and config.alerting is not None and directory is not None:
        from alerting.chat.hooks import ChatHooks
        from pubnet.config import TelegramChannel

        oncall, personal = directory
        chat = ChatHooks(config.alerting, oncall.directory, store)
        signed = chat.routes() if config.prometheus is not None else []
        if signed or any(isinstance(c, TelegramChannel) and c.updates == "polling"
                         for c in config.alerting.channels.values()):
            hooks.append(chat)
    alerting: AlertingService | None = None
    if alerts and config.alerting is not None:
        from alerting.service import AlertingService

        alerting = AlertingService(config.alerting, inventory, ctx.topology, store,
                                   broker=config.mqtt, oncall=oncall,
                                   personal_channels=personal, derivation=derivation)
    if config.influxdb is not None:
        from exporters.influx.writer import InfluxWriter

        built.append(InfluxWriter(store, inventory, config.influxdb))
    if alerting is not None:
        built.append(alerting)
        built += hooks
    if config.prometheus is not None:
        incidents = None
        if alerting is not None:
            from alerting.incident_source import AlertingIncidents

            incidents = AlertingIncidents(alerting)
        status = build_status(config, inventory, store, incidents, derivation)
        built.append(status)
        routes += status.routes()
    if _publishes_state(ctx):
        from exporters.mqttstate.publisher import StatePublisher

        built.append(StatePublisher(config.mqtt, config.cluster, inventory, store,
                                    _shard_of(ctx)))
    if alerts and config.history is not None:
        from dashboards.reports.recorder import HistoryRecorder
        from pubnet.config.history import history_database

        history = config.history
        built.append(HistoryRecorder(store, inventory, history_database(config),
                                     flush_interval=history.flush_interval,
                                     heartbeat=history.heartbeat, retention=history.retention,
                                     rollup_after=history.rollup_after,
                                     derivation=derivation))
    if alerts and config.reports is not None:
        from dashboards.reports.schedule import MonthlyReports

        built.append(MonthlyReports(config, inventory,
                                    Path(config.inventory) if config.inventory else None))
    # -- producers (collectors) last --
    first_producer = len(built)
    if _feeds_state(ctx):
        from collectors.statefeed.feed import StateFeed

        built.append(StateFeed(config.mqtt, config.cluster, inventory, store))
    if not ctx.polls:
        return Workers(built, routes, signed, built[first_producer:])
    if any(d.profile not in ("icmp", "mqtt") for d in inventory.devices.values()):
        from collectors.snmp.poller import SnmpPoller

        built.append(SnmpPoller(config, inventory, store))
    if any(d.profile == "icmp" for d in inventory.devices.values()):
        from collectors.icmp.prober import IcmpProber

        built.append(IcmpProber(config.icmp, inventory, store))
    if config.traps is not None:
        from collectors.traps.receiver import TrapReceiver

        built.append(TrapReceiver(config.traps, config.credentials, inventory, store))
    if _mqtt_enabled(ctx):
        from collectors.mqtt.component import MqttCollector

        elsewhere = (frozenset(ctx.whole.devices).difference(inventory.devices)
                     if ctx.whole is not None else frozenset())
        built.append(MqttCollector(config.mqtt, inventory, store, elsewhere=elsewhere))
    if summary and inventory.devices:
        from pubnet.app.startup import StartupSummary, first_round_deadline

        built.append(StartupSummary(store, list(inventory.devices),
                                    first_round_deadline(config, inventory)))
    return Workers(built, routes, signed, built[first_producer:])


def exported_inventory(ctx: Context) -> Inventory:
    """What ``/metrics`` derives the site and link series from: the inventory this process
    polls. An alerting-only instance polls nothing: the shards export its sites and links,
    and the same ``pubnet_site_up`` from it too would count every site twice in Prometheus.
    """
    if ctx.polls:
        return ctx.inventory
    from inventory.model import Inventory

    return Inventory()


def exported_derivation(ctx: Context) -> Derivation | None:
    """The shared index of :func:`exported_inventory` (None: the empty one, indexed by
    the exporter itself)."""
    return ctx.shared_derivation() if ctx.polls else None


def build_exporter(config: Config, inventory: Inventory, store: StateStore,
                   stats: HttpStats, derivation: Derivation | None = None) -> (
        PrometheusExporter):
    """The ``prometheus`` component for this config and inventory; ``stats`` are the
    listener's counters, which it shows on ``/metrics``; ``derivation``: the index of
    ``inventory`` the other components share (built by the exporter when not given)."""
    from exporters.prometheus.endpoint import PrometheusExporter

    http = config.prometheus
    assert http is not None, "prometheus is off in this config"
    return PrometheusExporter(store, inventory, gzip_level=http.gzip_level, http=stats,
                              derivation=derivation)


def build_listener(config: Config, inventory: Inventory, routes: Sequence[web.RouteDef],
                   readiness: Readiness, stats: HttpStats,
                   signed: Sequence[web.RouteDef] = ()) -> WebServer:
    """The one HTTP listener (``http``), serving ``routes`` besides its probes (behind its
    basic auth, which the status page's operators also pass) and ``signed`` routes (which
    check their own signatures).
    """
    from pubnet.app.web import WebServer, limits_for
    from pubnet.fdbudget import plan_budget

    http = config.prometheus
    assert http is not None, "prometheus is off in this config"
    return WebServer(http, limits_for(http, plan_budget(config, inventory)), routes,
                     readiness.waiting, stats, also_admitted=config.web.operators,
                     signed=signed)


def build_status(config: Config, inventory: Inventory, store: StateStore,
                 incidents: IncidentSource | None, derivation: Derivation | None = None) -> (
        StatusPage):
    """The status page; ``incidents`` (alerting, when on) feeds its incidents and
    acknowledgements, which the operators of ``web.operators`` may make; ``derivation``
    as for :func:`build_exporter`."""
    from dashboards.status import StatusPage
    from pubnet.app.auth import BasicAuth

    operators = config.web.operators
    return StatusPage(store, inventory, incidents=incidents,
                      operators=BasicAuth(operators).user if operators else None,
                      poll_interval=config.snmp.interval, derivation=derivation)


def build_http(config: Config, inventory: Inventory, store: StateStore,
               readiness: Readiness, incidents: IncidentSource | None = None) -> (
        list[Component]):
    """The web side alone, as :func:`build` wires it: the ``prometheus`` exporter, the
    HTTP listener and the ``status`` page (tests and benchmarks run it without the
    collectors). The listener's counters are made here and handed to both: the listener
    counts, the exporter shows them on ``/metrics``."""
    from pubnet.app.web import stats_for

    http = config.prometheus
    assert http is not None, "prometheus is off in this config"
    from pubnet.derive import Derivation

    stats = stats_for(http)
    derivation = Derivation(inventory)
    exporter = build_exporter(config, inventory, store, stats, derivation)
    status = build_status(config, inventory, store, incidents, derivation)
    server = build_listener(config, inventory, [*exporter.routes(), *status.routes()],
                            readiness, stats)
    return [exporter, server, status]
