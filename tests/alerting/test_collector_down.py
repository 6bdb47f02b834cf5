"""A polling shard that goes away (issue 15): one ``collector_down`` incident naming the
shard and what it watched, its devices stale (never counted down for their collector's
absence), and everything back once the shard returns. A device never heard from is
unknown, not down."""

from __future__ import annotations

from alerting.correlate import Correlator
from alerting.impact import AlertTopology
from alerting.intake import Intake
from alerting.messages import MessageBuilder
from alerting.model import Kind, Reason, Severity, State, Status
from inventory.topology import Topology
from pubnet.catalog import LABEL_SHARD, PUBNET_DEVICE, SHARD_UP
from pubnet.config import AlertingConfig
from pubnet.model import Attempt, Batch, Observation, PollStatus, Source
from pubnet.shard import Shard, select
from tests.alerting.builders import district_inventory

INVENTORY = district_inventory()
SHARD_1 = select(INVENTORY, Shard(1, 2))


def setup(down_after: int = 2) -> tuple[Intake, Correlator]:
    config = AlertingConfig.model_validate({"down_after": down_after})
    correlator = Correlator(AlertTopology(INVENTORY, Topology.build(INVENTORY)),
                            iter(f"INC-{n}" for n in range(1, 100)).__next__)
    return Intake(config, INVENTORY, correlator, lambda: 0.0), correlator


def shard_up(up: bool, ts: float, spec: str = "1/2") -> Batch:
    return Batch(observations=(Observation(PUBNET_DEVICE, SHARD_UP, float(up), ts,
                                           Source.INTERNAL, ((LABEL_SHARD, spec),)),))


def failed(device: str, ts: float) -> Batch:
    return Batch(attempts=(Attempt(device, PollStatus.TIMEOUT, ts, Source.SNMP,
                                   previous=PollStatus.OK),))


def outages(correlator: Correlator) -> list[str]:
    return sorted(i.root for i in correlator.incidents.values()
                  if i.kind in (Kind.DEVICE_DOWN, Kind.SITE_DOWN, Kind.LINK_DOWN))


def test_a_gone_shard_is_one_incident_and_its_devices_go_stale_not_down() -> None:
    feed, correlator = setup()
    feed.ingest(shard_up(True, 0.0))
    feed.ingest(failed("S-2-gw", 5.0))  # one failure of two, then the shard dies
    feed.ingest(shard_up(False, 10.0))
    correlator.reconcile(10.0)
    [incident] = correlator.incidents.values()
    assert (incident.kind, incident.root, incident.severity) == (
        Kind.COLLECTOR_DOWN, "collector:1", Severity.MAJOR)
    assert f"shard 1/2: {len(SHARD_1.sites)} sites, {len(SHARD_1.devices)} devices" in \
        incident.detail
    impact = correlator.topology.impact(incident.root)
    assert impact.devices == frozenset(SHARD_1.devices)
    assert impact.sites == frozenset(SHARD_1.sites)
    assert feed.stale == set(SHARD_1.devices)
    # the same news again (the feed republishes every few seconds) opens nothing more
    feed.ingest(shard_up(False, 15.0))
    assert len(correlator.incidents) == 1
    # a stale device's old failure does not count, nor does a late message for it
    feed.ingest(failed("S-2-gw", 16.0))
    feed.ingest(failed("S-2-gw", 17.0))
    correlator.reconcile(20.0)
    assert outages(correlator) == []


def test_the_shard_back_resolves_it_and_its_devices_resume() -> None:
    feed, correlator = setup()
    feed.ingest(shard_up(True, 0.0))
    feed.ingest(failed("S-2-gw", 5.0))
    feed.ingest(shard_up(False, 10.0))
    correlator.reconcile(10.0)
    assert [i.state for i in correlator.incidents.values()] == [State.PENDING]
    feed.ingest(shard_up(True, 30.0))
    correlator.reconcile(30.0)
    # back within group_wait: the pending incident is dropped, nobody was told (an
    # announced one resolves: tests/deploy/test_sharded_alerting.py)
    assert correlator.incidents == {}
    assert not correlator.condition_open(Kind.COLLECTOR_DOWN, "collector:1")
    assert feed.stale == set()
    # counting starts afresh: the failure before the shard left is forgotten
    feed.ingest(failed("S-2-gw", 31.0))
    correlator.reconcile(31.0)
    assert outages(correlator) == []
    feed.ingest(failed("S-2-gw", 32.0))
    correlator.reconcile(32.0)
    assert outages(correlator) == ["device:S-2-gw"]


def test_the_other_shard_s_devices_still_go_down() -> None:
    feed, correlator = setup()
    feed.ingest(shard_up(False, 0.0, "2/2"))
    assert feed.stale == set(select(INVENTORY, Shard(2, 2)).devices)
    for ts in (1.0, 2.0):
        feed.ingest(failed("S-3-gw", ts))
    correlator.reconcile(2.0)
    assert outages(correlator) == ["device:S-3-gw"]


def test_a_device_never_heard_from_is_unknown_not_down() -> None:
    feed, correlator = setup(down_after=1)
    feed.ingest(shard_up(True, 0.0))
    feed.expire(1000.0)
    correlator.reconcile(1000.0)
    assert correlator.incidents == {}
    assert correlator.down == {}


def test_collector_down_message_in_thai_and_english() -> None:
    feed, correlator = setup()
    feed.ingest(shard_up(False, 10.0))
    correlator.reconcile(10.0)
    [incident] = correlator.incidents.values()
    builder = MessageBuilder(correlator.topology, 50, "https://maps?q={lat},{lon}")
    thai = builder.payload(incident, Status.FIRING, Reason.FIRST, 1, "th", 11.0)
    english = builder.payload(incident, Status.FIRING, Reason.FIRST, 1, "en", 11.0)
    assert thai["kind"] == english["kind"] == "collector_down"
    assert english["affected_devices"] == len(SHARD_1.devices)
    assert english["message"].splitlines()[0] == (
        "[FIRING] Monitoring shard down (sites unwatched, not down): pubnet polling shard 1")
    assert "เครื่องเฝ้าระวัง pubnet ชุดที่ 1" in thai["message"]
    assert "ไม่ถูกเฝ้าดู" in thai["message"] and "unwatched (stale)" in english["message"]
    assert english["province_code"] == "" and english["root_device"] is None
