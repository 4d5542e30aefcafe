"""Letta's clock, run on the stand-in: real passes arm native fires, the stand-in's worker fires them, some stall.

Used by ``benchmarks/lateness.py`` for its "Letta Cloud's clock" row. Nothing is
modelled but Letta's own side (when its worker fires, and which fires stall):

* the schedules are real encrypted records with ``clock="letta"``, each on its
  own agent, in a real clone with a bare remote;
* ``run_pass`` runs at the tick instants it is given (``now`` is a parameter:
  nothing sleeps), against the Letta stand-in on 127.0.0.1 and its native
  schedule API (``switchboard.testing.letta_schedules``);
* the stand-in's worker (``fire_due``) is driven once a simulated minute, at a
  second drawn uniformly from the minute (seeded): a fire goes out 0-60 s
  after its minute;
* before each pass, each agent is stalled (``stall``) with probability
  ``overdue_rate``: the native schedule the pass creates for it stays overdue
  and never fires (letta-code#3725). A schedule holds at most one native fire,
  so that is the rate per fire. The tick's watchdog must then delete it and
  send the fire once.

The run raises ``RuntimeError`` if a fire reaches Letta twice, early, or never,
if a recurring schedule's deliveries (each with the fires it skipped) do not
add up to its fires, or if no fire stalled (nothing tried the watchdog).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from benchmarks.world import API_KEY, make_world
from switchboard.due import fires
from switchboard.letta import LettaClient
from switchboard.models import OneTimeSchedule, RecurringSchedule
from switchboard.testing.letta import Delivery, LettaStandIn
from switchboard.tick import Job, TickOptions, run_pass

Schedule = OneTimeSchedule | RecurringSchedule


@dataclass(frozen=True)
class LettaWindow:
    """Which part of the reference month runs on Letta's clock, and how often Letta's fires stall."""

    start: datetime
    hours: float
    overdue_rate: float
    """The chance that a native schedule a pass creates stalls (the overdue fault): Letta never fires it."""
    tail: timedelta = timedelta(hours=1)
    """Passes go on this long after the window, so that its last fires are delivered or merged."""

    @property
    def end(self) -> datetime:
        """The first instant after the window."""
        return self.start + timedelta(hours=self.hours)


@dataclass(frozen=True)
class Fire:
    """One due fire of the window, and when Letta recorded the message that carried it."""

    schedule: str
    """The schedule's name in the reference month ("one-time", or "<cron> <zone>")."""
    due: datetime
    recorded: datetime
    how: str
    """letta (its worker fired it) | watchdog (it stalled; a pass sent it) | tick (a pass sent it) | merged
    (a later fire's delivery stands for it, as the tick merges missed fires)."""

    @property
    def late(self) -> float:
        """Seconds from due to recorded."""
        return (self.recorded - self.due).total_seconds()


@dataclass
class LettaClockRun:
    """What one run on Letta's clock saw."""

    window: LettaWindow
    fires: list[Fire]
    pass_seconds: list[float]
    native_armed: int
    overdue: int


@dataclass
class _Tally:
    """What the run sees, keyed by otid (the tick and Letta's worker send a fire with the same one)."""

    recorded: dict[str, datetime] = field(default_factory=dict)
    sender: dict[str, str] = field(default_factory=dict)  # "letta" (its worker) | "tick"
    skipped: dict[str, int] = field(default_factory=dict)  # fires a delivery stands for, besides its own
    stalled: dict[str, bool] = field(default_factory=dict)  # native schedule id -> created stalled
    native_otid: dict[str, str] = field(default_factory=dict)  # native schedule id -> its message's otid
    twice: list[str] = field(default_factory=list)

    def take(self, deliveries: Sequence[Delivery], at: datetime, sender: str) -> None:
        """Note messages Letta received, recorded at ``at``."""
        for delivery in deliveries:
            if delivery.otid is None:
                raise RuntimeError("a message reached Letta without an otid")
            if delivery.otid in self.recorded:
                self.twice.append(delivery.otid)
            self.recorded[delivery.otid] = at
            self.sender[delivery.otid] = sender


def _client(base_url: str, api_key: str | None) -> LettaClient:
    return LettaClient(base_url, api_key, transport=httpx.HTTPTransport(), timeout=5.0)


def _schedules(month: dict[str, list[datetime]], window: LettaWindow, letta: LettaStandIn) -> dict[str, Schedule]:
    """The window's schedules on Letta's clock, each on a new agent, by name (one-time: with its instant)."""
    created = window.start - timedelta(hours=1)
    made: dict[str, Schedule] = {}
    for at in (a for a in month["one-time"] if window.start <= a < window.end):
        made[f"one-time {at:%Y-%m-%dT%H:%M}"] = OneTimeSchedule(
            agent_id=letta.add_agent(), message=f"one-time at {at:%H:%M}", execute_at=at, created_at=created,
            api_key=API_KEY, base_url=letta.base_url, clock="letta",
        )  # fmt: skip
    for name in month:
        if name != "one-time":
            cron, zone = name.rsplit(" ", 1)
            made[name] = RecurringSchedule(
                agent_id=letta.add_agent(), message=f"recurring {name}", cron=cron, timezone=zone,
                created_at=created, api_key=API_KEY, base_url=letta.base_url, clock="letta",
            )  # fmt: skip
    return made


def simulate(
    top: Path, month: dict[str, list[datetime]], window: LettaWindow, passes: Sequence[datetime], seed: int = 11
) -> LettaClockRun:
    """Run ``window`` of ``month`` on Letta's clock, with a pass at each of ``passes`` (sorted)."""
    # Two streams, so that the worker's timing and the faults do not shift each other when either changes.
    worker, faults = random.Random(seed), random.Random(seed + 1)
    created = window.start - timedelta(hours=1)
    passes = [p for p in passes if created < p <= window.end + window.tail]
    tally = _Tally()
    pass_seconds: list[float] = []
    with LettaStandIn() as letta:
        world = make_world(top / "letta-clock", letta)
        made = _schedules(month, window, letta)
        world.seed(made.values())
        # The worker's once-a-minute poll, at a random second of the minute, in time order with the passes.
        polls, minute = [], created.replace(second=0, microsecond=0)
        while minute <= passes[-1]:
            polls.append(minute + timedelta(seconds=worker.uniform(0.0, 60.0)))
            minute += timedelta(minutes=1)
        agents = [s.agent_id for s in made.values()]
        for at, what in sorted([(p, "pass") for p in passes] + [(p, "poll") for p in polls]):
            seen = len(letta.deliveries)
            if what == "poll":
                for native_id in letta.schedules.fire_due(at):
                    (entry,) = letta.schedules.history_of(native_id)
                    if entry["status"] != "success":
                        raise RuntimeError(f"Letta's worker failed a fire: {entry['response']}")
                    # The instant Letta records for the fire: its history's sent_at.
                    mine = [d for d in letta.deliveries[seen:] if d.run_id == entry["run_id"]]
                    tally.take(mine, datetime.fromisoformat(entry["sent_at"].replace("Z", "+00:00")), "letta")
                continue
            letta.schedules.unstall()
            stalled = {a for a in agents if faults.random() < window.overdue_rate}
            for agent in sorted(stalled):
                letta.schedules.stall(agent)
            began = time.perf_counter()
            report = run_pass(world.store, at, _client, TickOptions(), sleep=lambda _s: None)
            pass_seconds.append(time.perf_counter() - began)
            tally.take(letta.deliveries[seen:], at, "tick")
            for outcome in report.outcomes:
                if outcome.status != "delivered":
                    raise RuntimeError(f"the pass at {at:%Y-%m-%d %H:%M} did not deliver: {outcome.error}")
                tally.skipped[outcome.job.otid] = outcome.job.skipped
            by_id = {s.id: s for s in made.values()}
            for result in report.native:
                if result.status != "delivered":
                    raise RuntimeError(f"the pass at {at:%Y-%m-%d %H:%M} recorded a failed native fire: {result.error}")
                tally.skipped[Job("", by_id[result.schedule_id], result.scheduled_for).otid] = result.skipped
            for native in letta.schedules.live():
                if native["id"] not in tally.stalled:
                    tally.stalled[native["id"]] = native["agent_id"] in stalled
                    tally.native_otid[native["id"]] = native["message"]["messages"][0]["otid"]
        letta.schedules.unstall()
    overdue = sum(tally.stalled.values())
    return LettaClockRun(window, _judge(made, window, tally, passes[-1]), pass_seconds, len(tally.stalled), overdue)


def _judge(made: dict[str, Schedule], window: LettaWindow, tally: _Tally, last_pass: datetime) -> list[Fire]:
    """Every due fire of the window with when Letta recorded it, after checking none went twice or was lost."""
    if tally.twice:
        raise RuntimeError(f"{len(tally.twice)} fires reached Letta twice")
    # Every fire a message can carry, by its otid; a daily schedule's next fire is armed up to a day ahead.
    fire_of: dict[str, tuple[str, datetime]] = {}
    for name, schedule in made.items():
        if isinstance(schedule, OneTimeSchedule):
            instants = [schedule.execute_at]
        else:
            instants = [f for f in fires(schedule.cron, schedule.timezone, schedule.created_at, 2000)
                        if f <= window.end + timedelta(days=2)]  # fmt: skip
        for instant in instants:
            fire_of[Job("", schedule, instant).otid] = (name, instant)
    if any(otid not in fire_of for otid in tally.recorded):
        raise RuntimeError("a message reached Letta that is no fire of any schedule")
    delivered: dict[str, list[tuple[datetime, datetime, str]]] = {name: [] for name in made}
    for otid, at in tally.recorded.items():
        name, instant = fire_of[otid]
        if at < instant:
            raise RuntimeError(f"a fire due at {instant:%Y-%m-%d %H:%M} reached Letta early, at {at:%H:%M:%S}")
        delivered[name].append((instant, at, otid))
    stalled = {tally.native_otid[i] for i, s in tally.stalled.items() if s}
    # Each fire Letta never made (whose grace ran out before the last pass) went out once, from a pass.
    grace = TickOptions().native_grace
    watched = [o for o in stalled if fire_of[o][1] + grace < last_pass]
    if any(tally.sender.get(o) != "tick" for o in watched):
        raise RuntimeError("a native fire Letta never made was not sent by the watchdog")
    if not watched:
        raise RuntimeError("no native fire stalled in the window: nothing tried the watchdog (raise the rate)")
    found: list[Fire] = []
    for name, schedule in made.items():
        mine = sorted(delivered[name])
        if isinstance(schedule, OneTimeSchedule) and len(mine) != 1:
            raise RuntimeError(f"a one-time message reached Letta {len(mine)} times")
        if isinstance(schedule, RecurringSchedule):
            # A delivery stands for its own fire and the ones it skipped (the tick's contract): together they
            # must be every fire up to the last one delivered, each counted once.
            upto = sum(1 for n, i in fire_of.values() if n == name and i <= mine[-1][0]) if mine else 0
            counted = sum(1 + tally.skipped.get(otid, 0) for _, _, otid in mine)
            if counted != upto:
                raise RuntimeError(f"{name}: its deliveries stand for {counted} fires, {upto} were due")
        group = "one-time" if isinstance(schedule, OneTimeSchedule) else name
        due = sorted(i for n, i in fire_of.values() if n == name)
        for instant in (i for i in due if window.start <= i < window.end):
            covering = next((m for m in mine if m[0] >= instant), None)
            if covering is None:
                raise RuntimeError(f"a fire of {group} due at {instant:%Y-%m-%d %H:%M} never reached Letta")
            own, at, otid = covering
            how = "merged" if own != instant else ("watchdog" if otid in stalled else tally.sender[otid])
            found.append(Fire(group, instant, at, how))
    return found
