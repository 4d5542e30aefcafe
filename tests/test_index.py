"""The next-fire index and the pruned one-time walk: a pass reads what is due, and finds what a full scan finds.

Every test works on real clones of a real bare remote (tick_support's world)
and checks the index against the files themselves: after every kind of
write, with two clones writing at once, after the index is deleted, corrupted
or left stale by a writer that does not know it, and, as a Hypothesis
property, that a pass through the index picks exactly the due set a full scan
picks, over random schedules, claims and instants.
"""

from __future__ import annotations

import subprocess
import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tick_support
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tick_support import LETTA_KEY, OTHER_KEY, T0, World

from switchboard import index, service
from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.exceptions import SwitchboardError
from switchboard.index import INDEX, Entry, entry_of, fingerprint, indexed_store, read_index
from switchboard.models import OneTimeSchedule, RecurringSchedule, Schedule
from switchboard.store import ONE_TIME, RECURRING, Store, Transaction
from switchboard.tick import Job, due_candidates, next_due, select_due

# The fixtures `world`, `letta` and `git_template`.
world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)


# -- what the index should say, computed from the files alone ------------------------------------


def expected_index(store: Store) -> dict[str, Entry]:
    """The entry of every recurring file, from its content (what the index must hold)."""
    expected = {}
    for path in store.recurring_files():
        raw = store.backend.read(path)
        assert raw is not None
        expected[path] = entry_of(store.load_recurring(path), fingerprint(raw))
    return expected


def assert_index_true(store: Store) -> None:
    """The index on the store's (refreshed) state is exactly what the files say, and needs no repair."""
    store.backend.refresh()
    assert read_index(store) == expected_index(store)
    tx = Transaction(store)
    index.due_recurring(store, T0, tx)
    assert tx.index_notes == {}


def full_scan(store: Store, now: datetime) -> list[Job]:
    """The due set as a pass computed it before the index: every file read."""
    one_time = [(p, store.load_one_time(p)) for p in store.one_time_files(through=now)]
    recurring = [(p, store.load_recurring(p)) for p in store.recurring_files()]
    return select_due(one_time, recurring, now)


def indexed(store: Store, now: datetime) -> list[Job]:
    """The due set as a pass computes it now."""
    one_time, recurring = due_candidates(store, now)
    return select_due(one_time, recurring, now)


def full_next_due(store: Store, after: datetime) -> datetime | None:
    """tick.next_due as it was before the index: every file read."""
    from switchboard.due import next_fire

    best: datetime | None = None
    for path in store.one_time_files():
        one = store.load_one_time(path)
        if one.execute_at > after and (best is None or one.execute_at < best):
            best = one.execute_at
    for path in store.recurring_files():
        rec = store.load_recurring(path)
        if rec.status != "active":
            continue
        try:
            when = next_fire(rec.cron, rec.timezone, max(rec.anchor, after))
        except SwitchboardError:
            continue
        if best is None or when < best:
            best = when
    return best


def key_of(jobs: Sequence[Job]) -> list[tuple[str, datetime, int]]:
    """What identifies a due set: which files, which fire, how many skipped."""
    return [(j.path, j.scheduled_for, j.skipped) for j in jobs]


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def by_hand(clone: Path, message: str, writes: dict[str, bytes | None]) -> None:
    """Commit and push files the way a person (or a switchboard without the index) would: no index update."""
    for path, content in writes.items():
        target = clone / path
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    git(clone, "add", "-A", "data")
    git(clone, "commit", "--quiet", "-m", message)
    git(clone, "push", "--quiet", "origin", "HEAD:main")


# -- every kind of write keeps it true -----------------------------------------------------------


def test_every_write_keeps_the_index_true(world: World) -> None:
    store = world.store
    agent = world.letta.agents[0]
    common = {"api_key": LETTA_KEY, "base_url": world.letta.base_url, "message": "check in"}
    daily = service.add_recurring(store, agent_id=agent, cron="0 9 * * *", timezone="Europe/Berlin", now=T0, **common)
    often = service.add_recurring(store, agent_id=agent, cron="*/5 * * * *", timezone="UTC", now=T0, **common)
    other = service.add_recurring(
        store,
        api_key=OTHER_KEY,
        base_url=world.letta.base_url,
        message="other tenant",
        agent_id=world.letta.agents[1],
        cron="30 17 * * L5",
        timezone="America/New_York",
        now=T0,
    )
    service.add_one_time(store, agent_id=agent, execute_at=T0 + timedelta(minutes=3), now=T0, **common)
    assert_index_true(store)
    assert len(read_index(store)) == 3
    assert read_index(store)[store.locate(store.tenant(LETTA_KEY), often.id)].wake == int(
        (T0 + timedelta(minutes=5)).timestamp()
    )

    service.set_paused(store, LETTA_KEY, daily.id, paused=True, now=T0)
    assert_index_true(store)
    assert read_index(store)[store.locate(store.tenant(LETTA_KEY), daily.id)].wake is None
    service.set_paused(store, LETTA_KEY, daily.id, paused=False, now=T0 + timedelta(hours=1))
    assert_index_true(store)

    # A pass claims (wake 0: every pass opens a claimed file) and records (wake: the next fire).
    claimed: list[dict[str, Entry]] = []
    options = replace(tick_support.FAST, on_claimed=lambda jobs: claimed.append(read_index(store)))
    report = world.tick(T0 + timedelta(minutes=6), options=options)
    assert report.count("delivered") == 2  # the one-time message and the */5 schedule
    often_path = store.locate(store.tenant(LETTA_KEY), often.id)
    assert claimed[0][often_path].wake == 0
    assert_index_true(store)
    assert read_index(store)[often_path].wake == int((T0 + timedelta(minutes=10)).timestamp())

    service.delete_schedule(store, OTHER_KEY, other.id)
    assert_index_true(store)
    assert len(read_index(store)) == 2

    # keys rotate: the shards are re-encrypted like every .enc file, and the index stays true.
    new = generate_key()
    rotated = indexed_store(store.backend, codec_from_keys(f"{new},{world.key}"))
    service.rotate_keys(rotated)
    only_new = indexed_store(store.backend, codec_from_keys(new))
    assert_index_true(only_new)
    assert only_new.files(INDEX)


def test_only_writes_of_recurring_files_rewrite_shards(world: World) -> None:
    store = world.store
    rec = world.recurring("0 * * * *", created=T0 - timedelta(hours=2))
    world.seed(rec)
    shard = index.shard_path(rec.id, store.codec.suffix)
    before = store.backend.read(shard)
    # Re-saving the schedule unchanged gives a new ciphertext, so a new fingerprint: its shard is rewritten.
    store.transact("tests: resave", lambda tx: tx.save(rec))
    assert store.backend.read(shard) != before
    assert_index_true(store)
    # A transaction that touches no recurring file leaves every shard alone.
    before = store.backend.read(shard)
    world.seed(world.one_time(T0 + timedelta(days=1)))
    assert store.backend.read(shard) == before


# -- two clones at once ---------------------------------------------------------------------------


def test_two_clones_writing_at_once_keep_one_true_index(world: World) -> None:
    stores = [world.clone("a"), world.clone("b")]
    errors: list[BaseException] = []
    # Ids sharing their first two hex digits land in one shard: both writers rewrite the same file.
    ids = [[str(uuid.UUID("ab" + uuid.uuid4().hex[2:])) for _ in range(4)] for _ in stores]

    def writer(store: Store, mine: list[str]) -> None:
        try:
            for n, schedule_id in enumerate(mine):
                rec = world.recurring(f"{n} 10 * * *", created=T0)
                store.transact("tests: add", lambda tx, r=rec.model_copy(update={"id": schedule_id}): tx.save(r))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s, i)) for s, i in zip(stores, ids, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    fresh = world.clone("check")
    assert_index_true(fresh)
    assert len(read_index(fresh)) == 8
    assert {p.rsplit("/", 1)[1].split(".")[0] for p in read_index(fresh)} == {i for group in ids for i in group}


def test_two_clones_ticking_at_once_leave_a_true_index(world: World) -> None:
    recs = [world.recurring("*/5 * * * *", agent=a, created=T0 - timedelta(minutes=7)) for a in world.letta.agents]
    world.seed(*recs)
    stores = [world.clone("a"), world.clone("b")]
    delivered: list[int] = []
    errors: list[BaseException] = []

    def tick(store: Store) -> None:
        try:
            delivered.append(world.tick(T0, store=store).count("delivered"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert sum(delivered) == len(recs)  # each fire once, whichever clone sent it
    assert_index_true(world.clone("check"))


# -- it heals -------------------------------------------------------------------------------------


def _seed_mixed(world: World) -> list[RecurringSchedule]:
    agents = world.letta.agents
    recs = [
        world.recurring("*/5 * * * *", agent=agents[0], created=T0 - timedelta(minutes=7)),
        world.recurring("0 20 * * *", agent=agents[1], created=T0 - timedelta(minutes=7)),
        world.recurring("15 12 * * *", "Asia/Tokyo", agent=agents[2], created=T0 - timedelta(days=2)),
    ]
    world.seed(*recs, world.one_time(T0 - timedelta(minutes=1)), world.one_time(T0 + timedelta(days=3)))
    return recs


def test_a_missing_index_is_rebuilt_by_the_next_pass_that_commits(world: World) -> None:
    _seed_mixed(world)
    store = world.store
    expected = key_of(full_scan(store, T0))
    by_hand(world.path(), "tests: lose the index", {p: None for p in store.files(INDEX)})
    store.backend.refresh()
    assert read_index(store) == {}
    assert key_of(indexed(store, T0)) == expected  # correct without it, just slower
    head = git(world.remote, "rev-parse", "main")
    assert world.tick(T0 + timedelta(seconds=1), options=replace(tick_support.FAST, dry_run=True)).planned
    assert git(world.remote, "rev-parse", "main") == head  # a dry run commits nothing, repairs neither
    world.tick(T0)
    assert_index_true(store)


def test_repairs_alone_wait_for_a_commit_unless_there_are_many(world: World) -> None:
    store = world.store
    world.seed(*[world.recurring("0 20 * * *", created=T0) for _ in range(3)])
    by_hand(world.path(), "tests: lose the index", {p: None for p in store.files(INDEX)})
    head = git(world.remote, "rev-parse", "main")
    world.tick(T0)  # nothing due, three repairs: no commit of their own
    assert git(world.remote, "rev-parse", "main") == head
    tx = Transaction(store)
    for _ in range(index.REPAIR_ALONE):
        path = f"{RECURRING}/t/{uuid.uuid4()}{store.codec.suffix}"
        tx.index_notes[path] = Entry(None, None)
    index.stage(tx)
    assert tx.changes and all(p.startswith(INDEX) for p in tx.changes)  # many: committed on their own


def test_a_file_changed_behind_the_index_back_is_noticed(world: World) -> None:
    """A writer that knows nothing of the index (an older switchboard, a hand edit) resumes a paused schedule."""
    store = world.store
    agent = world.letta.agents[0]
    paused = world.recurring("*/5 * * * *", agent=agent, created=T0 - timedelta(minutes=7), status="paused")
    world.seed(paused)
    path = store.recurring_files()[0]
    assert read_index(store)[path].wake is None  # paused: no pass opens it
    resumed = paused.model_copy(update={"status": "active"})
    by_hand(world.path(), "tests: resume by hand", {path: store.encode(resumed)})
    store.backend.refresh()
    assert key_of(indexed(store, T0)) == key_of(full_scan(store, T0)) != []
    assert world.tick(T0).count("delivered") == 1
    assert_index_true(store)


def test_files_added_and_removed_behind_its_back_are_noticed(world: World) -> None:
    store = world.store
    kept, gone = (world.recurring("*/5 * * * *", created=T0 - timedelta(minutes=7)) for _ in range(2))
    world.seed(kept, gone)
    tenant = store.tenant(LETTA_KEY)
    assert tenant is not None
    gone_path = store.locate(tenant, gone.id)
    new = world.recurring("*/5 * * * *", agent=world.letta.agents[1], created=T0 - timedelta(minutes=7))
    new_path = f"{RECURRING}/{tenant}/{new.id}{store.codec.suffix}"
    by_hand(world.path(), "tests: by hand", {gone_path: None, new_path: store.encode(new)})
    store.backend.refresh()
    assert gone_path in read_index(store) and new_path not in read_index(store)
    wanted = {store.locate(tenant, kept.id), new_path}
    assert {j.path for j in indexed(store, T0)} == {j.path for j in full_scan(store, T0)} == wanted
    world.tick(T0)
    assert_index_true(store)


def test_a_shard_that_does_not_open_counts_as_missing(world: World) -> None:
    store = world.store
    rec = world.recurring("*/5 * * * *", created=T0 - timedelta(minutes=7))
    world.seed(rec)
    shard = index.shard_path(rec.id, store.codec.suffix)
    for garbage in (b"not a fernet token", store.codec.encrypt(b'{"format": 99, "entries": {}}')):
        by_hand(world.path(), "tests: break a shard", {shard: garbage})
        store.backend.refresh()
        assert read_index(store) == {}
        assert key_of(indexed(store, T0)) == key_of(full_scan(store, T0)) != []
    world.tick(T0)
    assert_index_true(store)


def test_next_due_uses_the_index_and_agrees_with_a_full_scan(world: World) -> None:
    store = world.store
    _seed_mixed(world)
    world.seed(world.recurring("0 3 * * *", created=T0, status="paused"))
    for after in (T0 - timedelta(hours=1), T0, T0 + timedelta(minutes=3), T0 + timedelta(days=2)):
        assert next_due(store, after) == full_next_due(store, after)


def test_the_one_time_walk_opens_only_past_buckets(world: World) -> None:
    store = world.store
    world.seed(*[world.one_time(T0 + timedelta(hours=h)) for h in (-30, -1, 0, 1, 50)])
    for now in (T0 - timedelta(days=2), T0, T0 + timedelta(minutes=59), T0 + timedelta(hours=49)):
        assert index.due_one_time_files(store, now) == store.one_time_files(through=now)
    # Odd folders sort the way the full walk compares them, too.
    suffix = store.codec.suffix
    odd = {f"{ONE_TIME}/junk/zz/t/x{suffix}": b"x", f"{ONE_TIME}/0000/01/t/x{suffix}": b"x"}
    by_hand(world.path(), "tests: odd folders", odd)
    store.backend.refresh()
    assert index.due_one_time_files(store, T0) == store.one_time_files(through=T0)


# -- the property: a pass through the index finds what a full scan finds ---------------------------

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
CRONS = ["*/5 * * * *", "0 * * * *", "30 2 * * *", "0 9 * * 1-5", "15 12 1 * *", "0 0 29 2 *", "59 23 * * L5"]
# Whole minutes mostly: fires fall on them, and a pass exactly at a fire is where an index off by a second shows.
instants = st.one_of(
    st.integers(min_value=-3 * 1440, max_value=3 * 1440).map(lambda m: T0 + timedelta(minutes=m)),
    st.integers(min_value=-3 * 86400, max_value=3 * 86400).map(lambda s: T0 + timedelta(seconds=s)),
)


@st.composite
def schedules(draw: st.DrawFn, agents: Sequence[str]) -> Schedule:
    """A random schedule: either kind, any state a tree can hold (claimed, paused, late, …)."""
    agent = draw(st.sampled_from(agents))
    created = draw(instants) - timedelta(days=4)
    claimed = draw(st.booleans()) and draw(st.booleans())
    claim = {"claimed_by": "20260601T000000Z-other", "claimed_at": draw(instants)} if claimed else {}
    key = draw(st.sampled_from([LETTA_KEY, OTHER_KEY]))
    common = {"agent_id": agent, "message": "hello", "created_at": created, "api_key": key, **claim}
    if draw(st.booleans()):
        return OneTimeSchedule(execute_at=draw(instants), base_url="http://letta.invalid", **common)
    last_run = draw(st.none() | instants)
    return RecurringSchedule(
        cron=draw(st.sampled_from(CRONS)),
        timezone=draw(st.sampled_from(ZONES)),
        status=draw(st.sampled_from(["active", "active", "paused"])),
        last_run=last_run,
        resumed_at=draw(st.none() | instants),
        base_url="http://letta.invalid",
        **common,
    )


def _replace_all(store: Store, wanted: Sequence[Schedule]) -> None:
    def compute(tx: Transaction) -> None:
        for path in [*store.one_time_files(), *store.recurring_files()]:
            tx.delete(path)
        for schedule in wanted:
            tx.save(schedule)

    store.transact("tests: replace every schedule", compute)


@pytest.fixture(scope="module")
def property_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """One clone for every example (each example replaces all its schedules in one commit)."""
    top = tick_support.make_template(tmp_path_factory.mktemp("index-property"))
    return indexed_store(GitBackend(top / "clone"), codec_from_keys(generate_key()))


AGENTS = [f"agent-{uuid.UUID(int=n, version=4)}" for n in range(1, 5)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    wanted=st.lists(schedules(AGENTS), max_size=12, unique_by=lambda s: s.id),
    nows=st.lists(instants, min_size=1, max_size=4),
)
def test_a_pass_through_the_index_finds_what_a_full_scan_finds(
    property_store: Store, wanted: list[Schedule], nows: list[datetime]
) -> None:
    store = property_store
    _replace_all(store, wanted)
    store.backend.refresh()
    assert read_index(store) == expected_index(store)
    for now in nows:
        assert key_of(indexed(store, now)) == key_of(full_scan(store, now))
        assert index.due_one_time_files(store, now) == store.one_time_files(through=now)
        assert next_due(store, now) == full_next_due(store, now)
        tx = Transaction(store)
        index.due_recurring(store, now, tx)
        assert tx.index_notes == {}  # a true index never asks for a repair (no commit per pass)


def test_wake_is_never_later_than_a_fire_a_full_scan_would_deliver() -> None:
    """The rule the property rests on, at the edges: claimed files always open, paused ones never unless claimed."""
    rec = RecurringSchedule(
        agent_id=AGENTS[0], message="m", cron="*/5 * * * *", created_at=T0, api_key=None, base_url="http://x"
    )
    assert entry_of(rec, None).wake == int((T0 + timedelta(minutes=5)).timestamp())
    assert entry_of(rec.model_copy(update={"claimed_by": "p", "claimed_at": T0}), None).wake == 0
    assert entry_of(rec.model_copy(update={"status": "paused"}), None).wake is None
    assert entry_of(rec.model_copy(update={"status": "paused", "claimed_by": "p"}), None).wake == 0
    never = rec.model_copy(update={"cron": "0 0 31 2 *"})  # refused when made; a stored one is possible
    assert entry_of(never, None).wake is None
    assert datetime.fromtimestamp(entry_of(rec, None).wake or 0, UTC) == T0 + timedelta(minutes=5)


# -- the git commit the benchmark made cheaper --------------------------------------------------


def test_a_commit_leaves_work_someone_staged_in_the_clone_alone(world: World) -> None:
    """A clone on a laptop may hold staged work of its owner: switchboard commits only its own paths."""
    clone = world.path()
    store = world.store  # made before the owner's work, so the clone exists
    (clone / "notes.md").write_text("my own notes\n")
    git(clone, "add", "notes.md")
    world.seed(world.recurring("0 20 * * *", created=T0))
    assert "notes.md" not in git(clone, "show", "--name-only", "--format=", "HEAD")
    assert git(clone, "diff", "--cached", "--name-only").split() == ["notes.md"]  # still staged, still theirs
    assert_index_true(store)
    # With nothing of its own staged but the owner's, switchboard commits just its paths, as before.
    world.seed(world.one_time(T0 + timedelta(days=2)))
    assert git(clone, "diff", "--cached", "--name-only").split() == ["notes.md"]


def test_a_commit_of_many_files_stages_exactly_them(world: World) -> None:
    """Past a thousand paths the backend stages with `git update-index` (an import): same outcome as `git add`."""
    store = world.store
    backend = store.backend
    many = {f"data/bulk/{n:05d}.txt": f"file {n}".encode() for n in range(1500)}
    assert backend.commit(many, "tests: many files")
    changed = {f"data/bulk/{n:05d}.txt": None for n in range(0, 1500, 2)}
    changed |= {f"data/bulk/{n:05d}.txt": b"changed" for n in range(1, 1500, 2)}
    changed |= {f"data/bulk/new-{n:05d}.txt": b"new" for n in range(600)}
    changed["data/bulk/never-there.txt"] = None
    assert backend.commit(changed, "tests: many changes")
    on_remote = set(world.remote_files("data/bulk"))
    assert on_remote == {p for p, c in changed.items() if c is not None}
    assert git(world.path(), "status", "--porcelain") == ""
    assert git(world.path(), "show", "main:data/bulk/00001.txt") == "changed"


def test_a_sha256_clone_keeps_a_true_index(tmp_path: Path) -> None:
    """Fingerprints are the clone's own blob ids, whichever hash it uses; else every pass would repair every entry."""
    clone = tmp_path / "sha256"
    git(tmp_path, "init", "--quiet", "--object-format=sha256", "--initial-branch=main", str(clone))
    git(clone, "config", "user.name", "switchboard test")
    git(clone, "config", "user.email", "test@switchboard.invalid")
    (clone / "data").mkdir()
    (clone / "data" / ".gitkeep").write_text("")
    git(clone, "add", ".")
    git(clone, "commit", "--quiet", "-m", "start")
    store = indexed_store(GitBackend(clone), codec_from_keys(generate_key()))
    rec = RecurringSchedule(
        agent_id=AGENTS[0], message="m", cron="0 9 * * *", created_at=T0, api_key=LETTA_KEY, base_url="http://x"
    )
    store.transact("switchboard: add", lambda tx: tx.save(rec))
    path = store.recurring_files()[0]
    blob = git(clone, "rev-parse", f"HEAD:{path}").strip()
    assert len(blob) == 64
    assert read_index(store)[path].blob == blob[: index.FINGERPRINT]
    tx = Transaction(store)
    index.due_recurring(store, T0, tx)
    assert tx.index_notes == {}  # nothing to repair
