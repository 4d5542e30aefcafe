"""One file under data/ that does not open delays nothing else: it is skipped, named and explained.

Random bytes, a token cut short, and a token written with another key each
sit beside six due messages of two tenants. The pass delivers all six; the
tick output, the job summary, the webhook body and the listings name each
skipped file with its own reason.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
import tick_support
from tick_support import LETTA_KEY, OTHER_KEY, T0, World, texts

from switchboard import service
from switchboard.actions import alerts
from switchboard.backends.git import GitBackend
from switchboard.cli.runner import show, summary_markdown
from switchboard.crypto import codec_from_keys, generate_key, token_damage
from switchboard.exceptions import DecryptError
from switchboard.index import indexed_store
from switchboard.store import ONE_TIME, RECURRING, RESULTS, Transaction, bucket

world_fixture, letta_fixture, git_template_fixture = (
    tick_support.world_fixture,
    tick_support.letta_fixture,
    tick_support.git_template_fixture,
)

RANDOM = "is not a Fernet token (random or foreign bytes)"
CUT = "is a damaged Fernet token (cut short)"
FOREIGN = "was written with another encryption key"


def poison(world: World) -> dict[str, str]:
    """Three files nobody can open, in the places a pass and a listing read; path -> the reason expected."""
    store = world.store
    mine, theirs = store.tenant(LETTA_KEY), store.tenant(OTHER_KEY)
    assert mine is not None and theirs is not None
    sample = store.codec.encrypt(b'{"format": 1, "record": {}}' * 4)
    foreign = codec_from_keys(generate_key()).encrypt(b'{"format": 1, "record": {}}')
    files = {
        f"{ONE_TIME}/{bucket(T0 - timedelta(minutes=5))}/{mine}/{uuid.uuid4()}.json.enc": (os.urandom(300), RANDOM),
        f"{RECURRING}/{theirs}/{uuid.uuid4()}.json.enc": (foreign, FOREIGN),
        f"{RESULTS}/{mine}/{uuid.uuid4()}/20260601T110000000000Z-0a0b0c0d.json.enc": (sample[:-7], CUT),
    }

    def compute(tx: Transaction) -> None:
        for path, (content, _) in files.items():
            tx.put(path, content)

    store.transact("tests: files nobody can open", compute)
    return {path: why for path, (_, why) in files.items()}


def seed_six(world: World) -> None:
    """Six due messages: per tenant two one-time and one recurring."""
    a, b, c = world.letta.agents
    schedules = []
    for key, agents in ((LETTA_KEY, (a, b)), (OTHER_KEY, (c, world.letta.add_agent()))):
        schedules += [
            world.one_time(T0 - timedelta(minutes=3), agent=agents[0], api_key=key, message=f"{key[-4:]} one"),
            world.one_time(T0 - timedelta(minutes=2), agent=agents[1], api_key=key, message=f"{key[-4:]} two"),
            world.recurring("0 11 * * *", created=T0 - timedelta(days=1), agent=agents[0], api_key=key,
                            message=f"{key[-4:]} daily"),
        ]  # fmt: skip
    world.seed(*schedules)


def test_token_damage_tells_random_bytes_and_cut_tokens_from_another_keys_tokens() -> None:
    codec = codec_from_keys(generate_key())
    token = codec.encrypt(b"x" * 100)
    assert token_damage(token) is None
    assert token_damage(codec_from_keys(generate_key()).encrypt(b"x")) is None  # well formed: another key's
    assert token_damage(os.urandom(64)) == RANDOM
    assert token_damage(b"") == RANDOM
    assert token_damage(b"gAAAAA" + b"!" * 80) == RANDOM
    bare = token.rstrip(b"=")  # padding is not content: a token without it is whole
    assert token_damage(bare) is None
    for cut in (1, 4, 7, 40):
        assert token_damage(bare[:-cut]) == CUT, cut
    with pytest.raises(DecryptError) as raised:
        codec.decrypt(os.urandom(64), path="data/x.json.enc")
    assert (
        str(raised.value) == f"data/x.json.enc {RANDOM}: no key can open it — restore it from git history or remove it"
    )
    assert (raised.value.path, raised.value.reason) == ("data/x.json.enc", RANDOM)


def test_a_pass_delivers_everything_else_and_names_each_file_it_skipped(world: World) -> None:
    seed_six(world)
    expected = poison(world)

    report = world.tick(T0)

    assert report.count("delivered") == 6
    assert len(texts(world.letta.deliveries)) == 6
    skipped = {p: why for p, why in expected.items() if not p.startswith(RESULTS)}  # a pass reads no old results
    assert report.unreadable == skipped
    assert report.as_json()["unreadable"] == [{"path": p, "reason": w} for p, w in sorted(skipped.items())]
    lines: list[str] = []
    show(report, False, lines.append)
    assert "  skipped 2 files that do not open (everything else went on):" in lines
    for path, why in skipped.items():
        assert f"    {path} {why}" in lines
        assert f"- `{path}` {why}" in summary_markdown(report)
    body = alerts.payload(report, {})
    assert body["unreadable"] == report.as_json()["unreadable"]
    assert alerts.wanted(report, "failures")  # nothing failed, but a file nobody reads is worth an alert

    # The next pass still names them (nothing was changed behind anyone's back), and sends nothing twice.
    again = world.tick(T0 + timedelta(minutes=1))
    assert again.unreadable == skipped and again.count("delivered") == 0
    assert len(world.letta.deliveries) == 6


def test_listings_and_send_go_on_past_a_file_that_does_not_open(world: World) -> None:
    seed_six(world)
    expected = poison(world)
    store = world.clone("laptop")

    assert len(service.list_one_time(store, LETTA_KEY)) == 2
    assert len(service.list_recurring(store, OTHER_KEY)) == 1
    assert service.list_results(store, LETTA_KEY) == []
    assert store.take_unreadable() == expected
    added = service.add_one_time(
        store, api_key=LETTA_KEY, base_url=world.letta.base_url, agent_id=world.letta.agents[0],
        message="later", execute_at=T0 + timedelta(hours=1), now=T0,
    )  # fmt: skip
    assert added.id in {s.id for s in service.list_one_time(store, LETTA_KEY)}


def test_a_store_without_the_right_key_skips_and_says_so(world: World) -> None:
    seed_six(world)
    stranger = indexed_store(world.clone("stranger").backend, codec_from_keys(f"{generate_key()},{world.key}"))
    assert len(service.list_one_time(stranger, LETTA_KEY)) == 2  # an added key still opens the old files
    assert stranger.take_unreadable() == {}


def test_keys_rotate_skips_damaged_files_and_stops_at_another_keys_file(world: World) -> None:
    seed_six(world)
    skipped = poison(world)
    new = generate_key()
    rotating = indexed_store(GitBackend(world.path()), codec_from_keys(f"{new},{world.key}"))

    # A file of a key that is not in the list: that key may still exist, so the rotation stops and says so.
    before = world.snapshot()
    with pytest.raises(DecryptError) as refused:
        service.rotate_keys(rotating)
    assert refused.value.reason == FOREIGN
    assert world.snapshot() == before

    foreign = next(path for path, why in skipped.items() if why == FOREIGN)
    world.store.transact("tests: drop the other key's file", lambda tx: tx.delete(foreign))
    del skipped[foreign]
    before = world.snapshot()

    # Damaged files open with no key: left as they are and named; every other file moves to the new key.
    count = service.rotate_keys(rotating)
    assert rotating.take_unreadable() == skipped
    after = {path: content for path, content in world.snapshot().items() if path.endswith(".enc")}
    assert sorted(after) == sorted(p for p in before if p.endswith(".enc"))
    assert count == len(after) - len(skipped)
    only_new = codec_from_keys(new)
    for path, content in after.items():
        if path in skipped:
            assert content == before[path]
        else:
            only_new.decrypt(content, path=path)
