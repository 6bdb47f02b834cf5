"""Digests: one message instead of a hundred when a province goes dark.

For each recipient (a channel, or a technician's ``oncall:<id>`` queue) the gate lets
messages through until either

* more than ``digest_after`` incidents opened (first messages) within ``digest_window``, or
  more than ``digest_after`` resolved within it, or
* the recipient's budget (:mod:`alerting.budget`) is spent;

from then on each message is *held*, counted by reason (``digest`` or ``budget``) in
``pubnet_alert_messages_held_total``, and everything held for the recipient goes out as
one digest ``digest_window`` after the first was held ("112 sites down in น่าน Nan, 3 root
causes: ..."), with the top root causes and a link to the status page. Later messages of
an incident that was held (its resolution, its repeats) are folded into the digest too:
the recipient never heard of it on its own. Other messages stop one short of a budget, so
that the digest fits in it; a digest itself is never held, and at most one goes to a
recipient per window.

Nothing here reads a clock or does I/O. What the gate decides is kept across a restart:
every change (a message held, a digest sent, a budget spent, a recipient's windows) is
collected as :class:`GateChanges`, which :mod:`alerting.persist` writes in the same SQLite
transaction as the cycle's incidents and outbox rows, and :meth:`Gate.restore` takes back at
start. So a restart in a mass outage neither loses the pending digest, nor tells a
recipient one by one what a digest already summarised, nor hands anyone a fresh budget.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from alerting.budget import Budgets
from alerting.messages import iso, local_time
from alerting.model import Outgoing, Reason, Status
from inventory.geography import province_index

DIGEST_PREFIX = "DIGEST-"
TOP_CAUSES = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class HeldMessage:
    """What a digest needs to know of one held message. Keywords only: four texts in a
    row (province, district, the cause in Thai and in English) are easily swapped."""

    incident_id: str
    status: Status
    province: str
    district: str
    sites: int
    cause_th: str
    cause_en: str


@dataclass(frozen=True, slots=True)
class Held:
    """A message held for ``recipient``'s next digest."""

    recipient: str
    message: HeldMessage


@dataclass(frozen=True, slots=True)
class Summarised:
    """``recipient``'s digest went out: what was held is gone, and the incidents it told
    of as firing are now ``digested`` (their resolution is folded into a digest too)."""

    recipient: str
    digested: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spent:
    """One message of ``recipient``'s budget spent ``at``."""

    recipient: str
    at: float


@dataclass(frozen=True, slots=True)
class Windows:
    """A recipient's digest windows as they are now (a snapshot, not a change)."""

    recipient: str
    due: float | None
    firsts: tuple[float, ...]
    resolves: tuple[float, ...]


GateChange = Held | Summarised | Spent


@dataclass(slots=True)
class GateChanges:
    """What the gate decided since it was last asked, in order, for the database."""

    changes: list[GateChange] = field(default_factory=list)
    windows: dict[str, Windows] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes or self.windows)

    def merge(self, later: GateChanges) -> GateChanges:
        """These changes followed by ``later`` ones (a failed save keeps both)."""
        return GateChanges([*self.changes, *later.changes], {**self.windows, **later.windows})


@dataclass(frozen=True, slots=True)
class GateState:
    """What :meth:`Gate.restore` resumes from (read back from the database)."""

    windows: list[Windows] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    """Oldest first."""
    digested: dict[str, set[str]] = field(default_factory=dict)
    sent: dict[str, list[float]] = field(default_factory=dict)
    """Recipient -> when budgeted messages went out (the last day's, oldest first)."""


@dataclass(slots=True)
class _Recipient:
    firsts: deque[float] = field(default_factory=deque)
    resolves: deque[float] = field(default_factory=deque)
    held: list[HeldMessage] = field(default_factory=list)
    held_ids: set[str] = field(default_factory=set)
    digested: set[str] = field(default_factory=set)
    """Open incidents the recipient heard of only in a digest: their resolution is folded
    into a digest as well."""
    due: float | None = None
    language: str = "th"


class Gate:
    """Decides, per recipient, whether a message goes out now or into the next digest."""

    def __init__(self, digest_after: int, digest_window: float, budgets: Budgets,
                 status_url: str | None = None) -> None:
        self.digest_after = digest_after
        self.window = digest_window
        self.budgets = budgets
        self.status_url = status_url
        self.held_counts: Counter[tuple[str, str]] = Counter()
        """(recipient, reason) -> messages held so far."""
        self.digests_sent = 0
        self._recipients: dict[str, _Recipient] = {}
        self._changes = GateChanges()
        self._dirty: set[str] = set()
        """Recipients whose windows changed since :meth:`take_changes`."""

    def take_changes(self) -> GateChanges:
        """Everything decided since the last call, to be written with the cycle."""
        changes, self._changes = self._changes, GateChanges()
        for recipient in self._dirty:
            state = self._recipients[recipient]
            changes.windows[recipient] = Windows(recipient, state.due, tuple(state.firsts),
                                                 tuple(state.resolves))
        self._dirty = set()
        return changes

    def restore(self, saved: GateState) -> None:
        """Resume from what the database kept (before the first cycle)."""
        for windows in saved.windows:
            state = self._state(windows.recipient)
            state.due = windows.due
            state.firsts.extend(windows.firsts)
            state.resolves.extend(windows.resolves)
        for held in saved.held:
            state = self._state(held.recipient)
            state.held.append(held.message)
            state.held_ids.add(held.message.incident_id)
        for recipient, digested in saved.digested.items():
            self._state(recipient).digested |= digested
        for recipient, times in saved.sent.items():
            budget = self.budgets.of(recipient)
            if budget is not None:
                budget.sent.extend(times)

    def _state(self, recipient: str) -> _Recipient:
        state = self._recipients.get(recipient)
        if state is None:
            state = self._recipients[recipient] = _Recipient()
        return state

    def admit(self, recipient: str, incident_id: str, status: Status, reason: Reason,
              now: float, describe: Callable[[], HeldMessage], *,
              root_of_told: bool = False) -> bool:
        """True: send it now (its budget is spent). False: held for the digest.

        ``root_of_told``: the incident absorbed incidents already announced, whose updates
        say "merged into" it. Its first message is the root cause of what the technician
        was just told, and it is not held for the digest however many firsts came before
        (the site incidents of a district cut are detected before the router, and used up
        the window); only the budget can hold it.
        """
        state = self._state(recipient)
        hold: str | None = None
        if incident_id in state.held_ids or incident_id in state.digested:
            hold = "digest"
        else:
            window = None
            if status is Status.RESOLVED:
                window = state.resolves
            elif reason is Reason.FIRST:
                window = state.firsts
            if window is not None:
                while window and window[0] <= now - self.window:
                    window.popleft()
                window.append(now)
                if len(window) > self.digest_after and not root_of_told:
                    hold = "digest"
                while len(window) > self.digest_after + 1:  # all a decision needs
                    window.popleft()
                self._dirty.add(recipient)
        budget = self.budgets.of(recipient)
        if hold is None and budget is not None and not budget.allows(now, reserve=1):
            hold = "budget"
        if hold is None:
            if budget is not None:
                budget.spend(now)
                self._changes.changes.append(Spent(recipient, now))
            return True
        self.held_counts[(recipient, hold)] += 1
        message = describe()
        state.held.append(message)
        state.held_ids.add(incident_id)
        self._changes.changes.append(Held(recipient, message))
        if status is Status.RESOLVED:
            state.digested.discard(incident_id)
        if state.due is None:
            state.due = now + self.window
            self._dirty.add(recipient)
        return False

    def next_due(self) -> float | None:
        dues = [s.due for s in self._recipients.values() if s.due is not None]
        return min(dues) if dues else None

    def digests(self, now: float) -> list[Outgoing]:
        """The digests due at ``now``, one per recipient with held messages."""
        out: list[Outgoing] = []
        for recipient, state in self._recipients.items():
            if state.due is None or now < state.due:
                continue
            held, state.held, state.held_ids, state.due = state.held, [], set(), None
            self._dirty.add(recipient)
            if not held:
                continue
            firing = [m.incident_id for m in _latest(held, Status.FIRING)]
            self._changes.changes.append(Summarised(recipient, tuple(firing)))
            state.digested.update(firing)
            self.digests_sent += 1
            budget = self.budgets.of(recipient)
            if budget is not None:
                budget.spend(now)  # counted, never refused: it replaces what was held
                self._changes.changes.append(Spent(recipient, now))
            number = int(now * 1000)
            out.append(Outgoing(recipient, f"{DIGEST_PREFIX}{number}", Status.FIRING, 1,
                                json.dumps(self.payload(held, now, f"{DIGEST_PREFIX}{number}"),
                                           ensure_ascii=False),
                                _area(held)))
        return out

    def payload(self, held: list[HeldMessage], now: float, digest_id: str) -> dict[str, object]:
        """The digest as JSON (``kind: digest``): counts, causes, and the text."""
        firing = _latest(held, Status.FIRING)
        resolved = _latest(held, Status.RESOLVED)
        return {
            "incident_id": digest_id,
            "kind": "digest",
            "status": "firing",
            "reason": "digest",
            "incidents": sorted({m.incident_id for m in held}),
            "firing": len(firing),
            "resolved": len(resolved),
            "affected_sites": sum(m.sites for m in firing),
            "sent_at": iso(now),
            "status_url": self.status_url,
            "message": self.text(firing, resolved, now),
        }

    def text(self, firing: list[HeldMessage], resolved: list[HeldMessage], now: float) -> str:
        lines: list[str] = []
        area_th, area_en = _area_names(firing or resolved)
        if firing:
            sites = sum(m.sites for m in firing)
            causes = Counter[tuple[str, str]]()
            for m in firing:
                causes[(m.cause_th, m.cause_en)] += m.sites
            top = causes.most_common(TOP_CAUSES)
            lines.append(f"[สรุป] ไซต์ใช้งานไม่ได้ {sites} ไซต์ ใน{area_th} "
                         f"สาเหตุหลัก {len(causes)} จุด: "
                         + "; ".join(f"{th} ({n} ไซต์)" for (th, _), n in top))
            lines.append(f"[DIGEST] {sites} sites down in {area_en}, {len(causes)} root "
                         f"cause{'s' if len(causes) != 1 else ''}: "
                         + "; ".join(f"{en} ({n} site{'s' if n != 1 else ''})"
                                     for (_, en), n in top))
        if resolved:
            sites = sum(m.sites for m in resolved)
            lines.append(f"แก้ไขแล้ว {len(resolved)} เหตุการณ์ ({sites} ไซต์) / "
                         f"{len(resolved)} incidents resolved ({sites} sites)")
        ids = sorted({m.incident_id for m in (*firing, *resolved)})
        shown = ", ".join(ids[:10]) + (f" … (+{len(ids) - 10})" if len(ids) > 10 else "")
        lines.append(f"เหตุการณ์ / Incidents: {shown}")
        if self.status_url:
            lines.append(f"สถานะ / Status: {self.status_url}")
        lines.append(f"{local_time(now)} (เวลาประเทศไทย / Thailand time)")
        return "\n".join(lines)


def _latest(held: list[HeldMessage], status: Status) -> list[HeldMessage]:
    """One entry per incident whose last held message has ``status``."""
    last: dict[str, HeldMessage] = {}
    for message in held:
        last[message.incident_id] = message
    return [m for m in last.values() if m.status is status]


def _area(held: list[HeldMessage]) -> tuple[str, str]:
    provinces = {m.province for m in held}
    districts = {m.district for m in held}
    return (next(iter(provinces)) if len(provinces) == 1 else "",
            next(iter(districts)) if len(districts) == 1 and len(provinces) == 1 else "")


def _area_names(held: list[HeldMessage]) -> tuple[str, str]:
    """("จังหวัดน่าน", "น่าน Nan") for one province, else "N provinces"."""
    provinces = Counter(m.province for m in held if m.province)
    if len(provinces) == 1:
        code = next(iter(provinces))
        found = province_index().get(code)
        if found is not None:
            return f"จังหวัด{found.name_th}", f"{found.name_th} {found.name_en}"
        return f"จังหวัด {code}", f"province {code}"
    return f" {len(provinces)} จังหวัด", f"{len(provinces)} provinces"
