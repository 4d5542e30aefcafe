"""The data/ tree: where records go, what the files hold, and how bad files are refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import LETTA_KEY, Repo, git
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_env, codec_from_keys, generate_key
from switchboard.exceptions import DecryptError, InvalidInputError, NotFoundError
from switchboard.index import indexed_store
from switchboard.models import OneTimeSchedule, RecurringSchedule, Result, build
from switchboard.service import add_one_time, add_recurring, delete_schedule, list_one_time, list_recurring
from switchboard.store import (
    ONE_TIME,
    RECURRING,
    RESULTS,
    TENANT_KEY,
    TENANT_KEY_PLAIN,
    Store,
    bucket,
    one_time_path,
    recurring_path,
    result_path,
    result_time,
    schedule_id_of,
    tenant_of_path,
)

NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)
AGENT = "agent-0b7cbd6e-2f1e-4e55-9a57-6c1d6f0b2a11"
TENANT = "0123456789abcdef0123456789abcdef"

aware = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()).filter(
    lambda d: d.utcoffset() is not None
)


def add(store: Store, at: datetime, *, key: str = LETTA_KEY, message: str = "Water the plants") -> OneTimeSchedule:
    return add_one_time(
        store, api_key=key, base_url="http://letta", agent_id=AGENT, message=message, execute_at=at, now=NOW
    )


# -- paths (pure) ------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(at=aware, sid=st.uuids())
def test_one_time_paths_are_the_utc_bucket_of_execute_at(at: datetime, sid: uuid.UUID) -> None:
    schedule = build(OneTimeSchedule, id=str(sid), agent_id=AGENT, message="m", execute_at=at, created_at=NOW)
    path = one_time_path(TENANT, schedule, ".json.enc")
    in_utc = at.astimezone(UTC)
    assert path == f"{ONE_TIME}/{in_utc:%Y-%m-%d}/{in_utc:%H}/{TENANT}/{sid}.json.enc"
    assert bucket(at) == f"{in_utc:%Y-%m-%d}/{in_utc:%H}"
    assert schedule_id_of(path) == str(sid) and tenant_of_path(path) == TENANT
    # Only UUIDs, UTC dates and hex hashes in a path: nothing to climb out with, nothing to read.
    parts = path.split("/")
    assert ".." not in parts and "" not in parts and len(parts) == 7


@settings(max_examples=50, deadline=None)
@given(sid=st.uuids(), at=aware)
def test_recurring_and_result_paths(sid: uuid.UUID, at: datetime) -> None:
    path = recurring_path(TENANT, str(sid), ".json.enc")
    assert path == f"{RECURRING}/{TENANT}/{sid}.json.enc"
    assert schedule_id_of(path) == str(sid) and tenant_of_path(path) == TENANT
    result = build(
        Result,
        schedule_id=str(sid),
        schedule_type="recurring",
        status="delivered",
        agent_id=AGENT,
        scheduled_for=at,
        executed_at=at,
    )
    stored = result_path(TENANT, result, ".json.enc", "abcd1234")
    assert stored.startswith(f"{RESULTS}/{TENANT}/{sid}/") and stored.endswith("-abcd1234.json.enc")
    assert tenant_of_path(stored) == TENANT
    assert result_time(stored) == at.astimezone(UTC).replace(microsecond=at.microsecond)


def test_an_offset_time_lands_in_its_utc_bucket() -> None:
    at = datetime(2031, 5, 4, 21, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert bucket(at) == "2031-05-05/02"
    with pytest.raises(ValueError):
        bucket(datetime(2031, 5, 4, 21, 30))


# -- on a real clone ---------------------------------------------------------------------------


def test_files_are_format_1_envelopes_of_ciphertext(store: Store, repo: Repo, key: str) -> None:
    made = add(store, datetime(2031, 5, 4, 9, 0, tzinfo=timezone(timedelta(hours=-5))))
    path = f"{ONE_TIME}/2031-05-04/14/{store.tenant(LETTA_KEY)}/{made.id}.json.enc"
    assert path in repo.remote_files()
    assert TENANT_KEY in repo.remote_files()
    raw = (repo.clone / path).read_bytes()
    assert raw.startswith(b"gAAAAA")  # a Fernet token, nothing else
    body = json.loads(codec_from_keys(key).decrypt(raw))
    assert body["format"] == 1
    assert body["record"]["id"] == made.id and body["record"]["api_key"] == LETTA_KEY
    assert repo.remote_log()[0] == f"switchboard: add one-time {made.id}"


def test_tenants_see_only_their_own(store: Store) -> None:
    mine = add(store, NOW + timedelta(hours=1))
    theirs = add(store, NOW + timedelta(hours=1), key="sk-let-someone-else")
    assert [s.id for s in list_one_time(store, LETTA_KEY)] == [mine.id]
    assert [s.id for s in list_one_time(store, "sk-let-someone-else")] == [theirs.id]
    with pytest.raises(NotFoundError) as caught:
        delete_schedule(store, LETTA_KEY, theirs.id, "one-time")
    assert str(caught.value) == (
        f"no one-time schedule with id {theirs.id} for this Letta key — list them with `switchboard onetime list`"
    )
    assert store.owner_of(theirs.id) == store.tenant("sk-let-someone-else")


def test_ids_are_checked_before_any_path_is_built(store: Store) -> None:
    add(store, NOW)
    tenant = store.tenant(LETTA_KEY)
    for bad in ["../../etc/passwd", "a/b", "%2e%2e", f"../{uuid.uuid4()}", "..\\x"]:
        with pytest.raises(InvalidInputError, match="is not a schedule id"):
            store.locate(tenant, bad)
        with pytest.raises(InvalidInputError, match="is not a schedule id"):
            store.result_files(tenant, bad)
        with pytest.raises(InvalidInputError, match="is not a schedule id"):
            store.owner_of(bad)


def test_removing_the_last_file_of_a_bucket_removes_its_folders(store: Store, repo: Repo) -> None:
    first = add(store, datetime(2031, 5, 4, 14, 5, tzinfo=UTC))
    second = add(store, datetime(2031, 5, 4, 14, 50, tzinfo=UTC))
    bucket_dir = repo.clone / ONE_TIME / "2031-05-04"
    delete_schedule(store, LETTA_KEY, first.id, "one-time")
    assert (bucket_dir / "14").is_dir()  # the other schedule is still in it
    delete_schedule(store, LETTA_KEY, second.id, "one-time")
    assert not bucket_dir.exists()
    assert (repo.clone / "data").is_dir()  # data/ itself stays
    assert repo.remote_log()[0] == f"switchboard: delete one-time {second.id}"
    assert not [f for f in repo.remote_files() if f.startswith(ONE_TIME)]


def test_writes_leave_no_temporary_files(store: Store, repo: Repo) -> None:
    made = add(store, NOW)
    store.transact("switchboard: rewrite", lambda tx: tx.save(made.model_copy(update={"attempts": 1})))
    leftovers = [p for p in Path(repo.clone, "data").rglob("*") if ".tmp" in p.name]
    assert leftovers == []
    assert git(repo.clone, "status", "--porcelain") == ""


def test_results_are_newest_first(store: Store) -> None:
    sid = str(uuid.uuid4())

    def result(minutes: int) -> Result:
        at = NOW + timedelta(minutes=minutes)
        made: Result = build(
            Result,
            schedule_id=sid,
            schedule_type="recurring",
            status="delivered",
            run_id=f"run-{minutes}",
            agent_id=AGENT,
            scheduled_for=at,
            executed_at=at,
        )
        return made

    store.transact("switchboard: results", lambda tx: [tx.add_result(result(m), LETTA_KEY) for m in (5, 1, 9)])
    tenant = store.tenant(LETTA_KEY)
    assert [r.run_id for r in store.results(tenant)] == ["run-9", "run-5", "run-1"]
    assert [r.run_id for r in store.results(tenant, sid, limit=2)] == ["run-9", "run-5"]
    assert store.results(store.tenant("sk-let-other")) == []


# -- files that are not what they should be ------------------------------------------------------


def plant(repo: Repo, path: str, content: bytes) -> None:
    target = repo.clone / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    git(repo.clone, "add", path)
    git(repo.clone, "commit", "--quiet", "-m", "plant")
    git(repo.clone, "push", "--quiet", "origin", "HEAD:main")


def test_a_newer_format_is_refused_with_an_upgrade_hint(store: Store, repo: Repo, key: str) -> None:
    add(store, NOW)
    tenant = store.tenant(LETTA_KEY)
    path = f"{RECURRING}/{tenant}/{uuid.uuid4()}.json.enc"
    plant(repo, path, codec_from_keys(key).encrypt(json.dumps({"format": 2, "record": {}}).encode()))
    with pytest.raises(DecryptError) as caught:
        list_recurring(store, LETTA_KEY)
    assert str(caught.value) == f"{path} has format 2; this switchboard reads format 1 — upgrade switchboard"


def test_a_broken_file_is_one_clear_error(store: Store, repo: Repo, key: str) -> None:
    add(store, NOW)
    tenant = store.tenant(LETTA_KEY)
    for content, reason in [
        (b"not json", "is not a switchboard record"),
        (b"[1, 2]", "is not a switchboard record"),
        (b'{"format": 1}', "is not a switchboard record"),
        (b'{"format": 1, "record": {"agent_id": "a"}}', "holds an invalid record"),
    ]:
        path = f"{RECURRING}/{tenant}/{uuid.uuid4()}.json.enc"
        plant(repo, path, codec_from_keys(key).encrypt(content))
        with pytest.raises(DecryptError) as caught:
            list_recurring(store, LETTA_KEY)
        assert str(caught.value).startswith(f"{path} {reason}")
        assert str(caught.value).endswith("— remove it or restore it from git")
        git(repo.clone, "rm", "--quiet", path)
        git(repo.clone, "commit", "--quiet", "-m", "unplant")
        git(repo.clone, "push", "--quiet", "origin", "HEAD:main")


def test_stray_files_in_the_tree_are_left_alone(store: Store, repo: Repo) -> None:
    made = add(store, NOW)
    plant(repo, f"{ONE_TIME}/notes.json.enc", b"x")
    plant(repo, f"{ONE_TIME}/2026-03-10/README.md", b"x")
    plant(repo, f"{RECURRING}/stray.json.enc", b"x")
    assert [s.id for s in list_one_time(store, LETTA_KEY)] == [made.id]
    assert list_recurring(store, LETTA_KEY) == []


def test_another_key_cannot_read_the_tree(repo: Repo, store: Store) -> None:
    add(store, NOW)
    stranger = indexed_store(GitBackend(repo.clone), codec_from_keys(generate_key()))
    with pytest.raises(DecryptError, match=f"cannot decrypt {TENANT_KEY}"):
        list_one_time(stranger, LETTA_KEY)


def test_dev_mode_keeps_plaintext_files_apart(repo: Repo, store: Store) -> None:
    encrypted = add(store, NOW)
    dev = indexed_store(GitBackend(repo.clone), codec_from_env({"SWITCHBOARD_DEV_MODE": "true"}))
    assert list_one_time(dev, LETTA_KEY) == []  # the encrypted tree is not read as plaintext
    plain = add(dev, NOW, message="dev message")
    files = repo.remote_files()
    assert TENANT_KEY_PLAIN in files and TENANT_KEY in files
    mine = [f for f in files if f.endswith(f"{plain.id}.json")]
    assert len(mine) == 1
    assert json.loads((repo.clone / mine[0]).read_text())["record"]["message"] == "dev message"
    assert [s.id for s in list_one_time(dev, LETTA_KEY)] == [plain.id]
    assert [s.id for s in list_one_time(store, LETTA_KEY)] == [encrypted.id]


def test_recurring_schedules_are_stored_with_their_zone(store: Store, key: str, repo: Repo) -> None:
    made: RecurringSchedule = add_recurring(
        store,
        api_key=LETTA_KEY,
        base_url="http://letta",
        agent_id=AGENT,
        message="Standup",
        cron="0 10 * * 1-5",
        timezone="Europe/Berlin",
        now=NOW,
    )
    path = recurring_path(store.tenant(LETTA_KEY), made.id, ".json.enc")
    record = json.loads(codec_from_keys(key).decrypt((repo.clone / path).read_bytes()))["record"]
    assert record["cron"] == "0 10 * * 1-5" and record["timezone"] == "Europe/Berlin"
    assert [s.id for s in list_recurring(store, LETTA_KEY)] == [made.id]
