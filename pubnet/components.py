"""Which components a config turns on, in start order.

The one place that knows every component package: the shell may import components, the
components never import each other or the shell. Each later feature adds its factory here.
Start order is consumers first (exporters, alerting), producers last (collectors), so that
nothing a collector publishes at start-up is missed and shutdown stops intake first.
"""

from __future__ import annotations

from dataclasses import dataclass

from pubnet.runtime import Component, Context


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
        planned.append(Planned("prometheus", f"listen={config.prometheus.listen}"))
    if config.influxdb is not None:
        planned.append(Planned("influxdb", f"url={config.influxdb.url} "
                               f"bucket={config.influxdb.bucket} "
                               f"buffer_dir={config.influxdb.buffer_dir}"))
    if config.alerting is not None:
        planned.append(Planned("alerting", f"database={config.alerting.database} "
                               f"routes={len(config.alerting.routes)} "
                               f"channels={len(config.alerting.channels)}"))
    if config.history is not None:
        planned.append(Planned("history", f"retention={config.history.retention / 86400:g}d"))
    if config.reports is not None:
        planned.append(Planned("reports", f"out_dir={config.reports.out_dir}"))
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


def _mqtt_enabled(ctx: Context) -> bool:
    """MQTT runs when the inventory has MQTT devices or the config has an ``mqtt:`` section
    (gateways may publish telemetry besides answering SNMP)."""
    return "mqtt" in ctx.config.model_fields_set or any(
        d.profile == "mqtt" for d in ctx.inventory.devices.values())


def build(ctx: Context) -> list[Component]:
    """Instantiate the enabled components that exist so far, in start order."""
    built: list[Component] = []
    if ctx.config.prometheus is not None:
        from exporters.prometheus.server import PrometheusExporter

        built.append(PrometheusExporter(ctx))
    if ctx.config.influxdb is not None:
        from exporters.influx.writer import InfluxWriter

        built.append(InfluxWriter(ctx.store, ctx.inventory, ctx.config.influxdb))
    if ctx.config.alerting is not None:
        from alerting.service import AlertingService

        built.append(AlertingService.from_context(ctx))
    if ctx.config.history is not None:
        from dashboards.reports.recorder import HistoryRecorder

        built.append(HistoryRecorder.from_context(ctx))
    if ctx.config.reports is not None:
        from dashboards.reports.schedule import MonthlyReports

        built.append(MonthlyReports.from_context(ctx))
    # -- producers (collectors) last --
    if any(d.profile not in ("icmp", "mqtt") for d in ctx.inventory.devices.values()):
        from collectors.snmp.poller import SnmpPoller

        built.append(SnmpPoller(ctx.config, ctx.inventory, ctx.store))
    if any(d.profile == "icmp" for d in ctx.inventory.devices.values()):
        from collectors.icmp.prober import IcmpProber

        built.append(IcmpProber(ctx.config.icmp, ctx.inventory, ctx.store))
    if ctx.config.traps is not None:
        from collectors.traps.receiver import TrapReceiver

        built.append(TrapReceiver(ctx.config.traps, ctx.config.credentials, ctx.inventory,
                                  ctx.store))
    if _mqtt_enabled(ctx):
        from collectors.mqtt.component import MqttCollector

        built.append(MqttCollector.from_context(ctx))
    if ctx.inventory.devices:
        from pubnet.startup import StartupSummary, first_round_deadline

        built.append(StartupSummary(ctx.store, list(ctx.inventory.devices),
                                    first_round_deadline(ctx.config, ctx.inventory)))
    return built
