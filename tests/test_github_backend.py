"""GitHubBackend against the GitHub stand-in: PyGithub over real HTTP on 127.0.0.1, no mocks.

The stand-in (``switchboard.testing.github``) follows GitHub's documented REST
shapes and, like GitHub, refuses a ref update that is not a fast forward —
the refusal the backend's compare-and-swap commits are built on.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator

import pytest

from switchboard.actions.client import ActionsClient
from switchboard.backends.base import Backend
from switchboard.backends.github import GitHubBackend, GitHubSession, git_blob_sha
from switchboard.exceptions import BackendError, ConfigError, GitHubError
from switchboard.testing.github import GitHubStandIn

REPO = "octo/switchboard"
TOKEN = "ghp_Standin0Secret0Token0abcdef0123456789"
TEXT = b"gAAAAABm-fernet-token-looking-text=="


@pytest.fixture
def standin() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(
        REPO,
        TOKEN,
        files={
            "README.md": b"# my switchboard\n",
            "data/schedules/recurring/t1/a.json.enc": b"AAA",
            "data/schedules/recurring/t1/b.json.enc": b"BBB",
            "data/schedules/one-time/2025-01-01/09/t1/c.json.enc": b"CCC",
            "data/results/t1/c.jsonl.enc": b"RRR",
        },
    ) as server:
        yield server


def make(server: GitHubStandIn, token: str = TOKEN, **kwargs: object) -> GitHubBackend:
    """A backend on the stand-in, without GitHub's pause between writes and without retries."""
    options: dict[str, object] = {"seconds_between_writes": None, "retries": 0, "timeout": 5}
    options.update(kwargs)
    return GitHubBackend(GitHubSession(REPO, token, base_url=server.base_url, **options))  # type: ignore[arg-type]


def test_is_a_backend(standin: GitHubStandIn) -> None:
    backend: Backend = make(standin, branch="main")
    assert "octo/switchboard" in backend.describe()
    assert TOKEN not in backend.describe()


def test_refresh_list_read(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    assert backend.list("data/schedules") == [
        "data/schedules/one-time/2025-01-01/09/t1/c.json.enc",
        "data/schedules/recurring/t1/a.json.enc",
        "data/schedules/recurring/t1/b.json.enc",
    ]
    assert backend.list("data/schedules/recurring/") == [
        "data/schedules/recurring/t1/a.json.enc",
        "data/schedules/recurring/t1/b.json.enc",
    ]
    assert backend.list("data/schedules/recur") == []  # a directory, not a string prefix
    assert backend.list("nothing/here") == []
    assert backend.read("data/schedules/recurring/t1/a.json.enc") == b"AAA"
    assert backend.read("README.md") == b"# my switchboard\n"
    assert backend.read("data/missing.enc") is None
    assert backend.head == standin.head()


def test_reads_are_cached_by_blob_and_list_costs_nothing(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    before = len(standin.requests)
    backend.list("data")
    backend.list("")
    assert len(standin.requests) == before
    backend.read("data/results/t1/c.jsonl.enc")
    backend.read("data/results/t1/c.jsonl.enc")
    assert standin.count("GET", "/git/blobs/") == 1


def test_first_use_refreshes_by_itself(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    assert backend.read("data/schedules/recurring/t1/b.json.enc") == b"BBB"


@pytest.mark.parametrize("branch", ["main", None])
def test_refresh_costs_a_few_requests_whatever_the_file_count(branch: str | None) -> None:
    files = {
        f"data/schedules/one-time/2025-01-{d:02d}/{h:02d}/t/{d}-{h}.json.enc": b"x" * 10
        for d in range(1, 26)
        for h in range(12)
    }
    assert len(files) == 300
    with GitHubStandIn(REPO, TOKEN, files=files) as server:
        backend = make(server, branch=branch)
        backend.refresh()
        assert len(backend.list("data")) == 300
        first = [(r.method, r.path, r.query) for r in server.requests]
        assert len(first) <= 3
        assert ("GET", f"/repos/{REPO}/branches/main", {}) in first
        assert sum(1 for m, p, q in first if "/git/trees/" in p and q == {"recursive": "1"}) == 1
        server.requests.clear()
        backend.refresh()
        assert len(server.requests) == 2  # the default branch is looked up once


def test_default_branch_is_used_when_none_is_given() -> None:
    with GitHubStandIn(REPO, TOKEN, default_branch="trunk") as server:
        backend = make(server)
        assert backend.commit({"data/x.enc": TEXT}, "add x")
        assert backend.branch == "trunk"
        assert server.files("trunk")["data/x.enc"] == TEXT


def test_commit_creates_updates_and_deletes_in_one_commit(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    commits_before = standin.commit_count()
    standin.requests.clear()

    landed = backend.commit(
        {
            "data/results/t1/new.jsonl.enc": TEXT,  # create
            "data/schedules/recurring/t1/a.json.enc": b"AAA-2",  # update
            "data/schedules/recurring/t1/b.json.enc": None,  # delete
        },
        "tick: 3 changes",
    )

    assert landed
    files = standin.files()
    assert files["data/results/t1/new.jsonl.enc"] == TEXT
    assert files["data/schedules/recurring/t1/a.json.enc"] == b"AAA-2"
    assert "data/schedules/recurring/t1/b.json.enc" not in files
    assert files["data/results/t1/c.jsonl.enc"] == b"RRR"  # untouched files stay
    assert standin.commit_count() == commits_before + 1
    assert standin.commit_message() == "tick: 3 changes"
    assert standin.count("PATCH", "/git/refs/heads/main") == 1
    assert standin.count("POST", "/git/commits") == 1
    assert standin.count("POST", "/git/trees") == 1
    assert standin.count("POST", "/git/blobs") == 0  # text goes inline in the tree
    patch = next(r for r in standin.requests if r.method == "PATCH")
    assert patch.body == {"sha": standin.head(), "force": False}
    tree_post = next(r for r in standin.requests if r.path.endswith("/git/trees"))
    assert {"path": "data/schedules/recurring/t1/b.json.enc", "mode": "100644", "type": "blob", "sha": None} in (
        tree_post.body["tree"]
    )


def test_commit_updates_the_view_without_reading_it_back(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    assert backend.commit({"data/a.enc": TEXT, "data/schedules/recurring/t1/a.json.enc": None}, "one")
    standin.requests.clear()
    assert backend.head == standin.head()
    assert backend.read("data/a.enc") == TEXT
    assert "data/schedules/recurring/t1/a.json.enc" not in backend.list("data")
    assert standin.requests == []
    # The next commit builds on the first one with no refresh in between.
    assert backend.commit({"data/b.enc": TEXT}, "two")
    assert set(standin.files()) >= {"data/a.enc", "data/b.enc"}


def test_binary_content_goes_up_as_a_base64_blob(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    data = bytes(range(256)) + b"\x00\xff\xfe"
    assert backend.commit({"data/bin.enc": data, "data/text.enc": TEXT}, "mixed")
    assert standin.files()["data/bin.enc"] == data
    assert standin.files()["data/text.enc"] == TEXT
    blob_post = next(r for r in standin.requests if r.method == "POST" and r.path.endswith("/git/blobs"))
    assert blob_post.body == {"content": base64.b64encode(data).decode(), "encoding": "base64"}
    fresh = make(standin, branch="main")
    assert fresh.read("data/bin.enc") == data


def test_blob_shas_are_git_shas() -> None:
    # `printf hi | git hash-object --stdin`
    assert git_blob_sha(b"hi") == "32f95c0d1244a78b2be1bab8de17906fabb2c4a8"


def test_nothing_to_change_makes_no_commit(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    head = standin.head()
    standin.requests.clear()
    assert backend.commit({}, "empty")
    assert backend.commit({"data/never-existed.enc": None}, "delete a missing file")
    assert backend.commit({"data/schedules/recurring/t1/a.json.enc": b"AAA"}, "same content")
    assert standin.head() == head
    assert standin.requests == []


def test_bad_paths_are_refused_before_any_request(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    standin.requests.clear()
    for path in ("/etc/passwd", "data/../x", "data//x", ""):
        with pytest.raises(BackendError):
            backend.commit({path: b"x"}, "bad")
    assert standin.count("POST") == 0


def test_a_concurrent_push_makes_commit_return_false_then_a_retry_lands(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    standin.push_external({"data/results/t1/other.enc": b"theirs"}, "someone else's tick")
    theirs = standin.head()

    assert backend.commit({"data/results/t1/mine.enc": TEXT}, "my tick") is False

    assert standin.head() == theirs  # nothing of ours landed
    assert "data/results/t1/mine.enc" not in standin.files()
    assert backend.head == theirs  # the backend refreshed onto the new head
    assert backend.read("data/results/t1/other.enc") == b"theirs"

    assert backend.commit({"data/results/t1/mine.enc": TEXT}, "my tick, again") is True
    files = standin.files()
    assert files["data/results/t1/other.enc"] == b"theirs"
    assert files["data/results/t1/mine.enc"] == TEXT
    assert standin.commit_count() == 3  # initial, theirs, mine: no merge, no force


def test_many_writers_at_once_lose_nothing(standin: GitHubStandIn) -> None:
    errors: list[BaseException] = []
    losses: list[int] = []

    def writer(n: int) -> None:
        try:
            backend = make(standin, branch="main")
            backend.refresh()
            for _ in range(50):
                if backend.commit({f"data/results/w/{n}.enc": TEXT}, f"writer {n}"):
                    return
                losses.append(n)
            raise AssertionError(f"writer {n} never landed")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    written = [p for p in standin.files() if p.startswith("data/results/w/")]
    assert sorted(written) == sorted(f"data/results/w/{n}.enc" for n in range(6))
    assert standin.commit_count() == 1 + 6  # one commit per writer, none lost, none forced
    assert standin.count("PATCH") == 6 + len(losses)


def test_an_ambiguous_refusal_with_an_unmoved_branch_is_an_error(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    head = standin.head()
    standin.fail_next("PATCH", r"/git/refs/heads/main$", 422, "Reference cannot be updated")
    with pytest.raises(GitHubError, match=r"moving branch main of octo/switchboard failed: GitHub answered 422"):
        backend.commit({"data/x.enc": TEXT}, "x")
    assert standin.head() == head
    assert backend.commit({"data/x.enc": TEXT}, "x")  # the view is intact: a retry works


def test_truncated_tree_listing_falls_back_to_walking(standin: GitHubStandIn) -> None:
    files = {f"data/schedules/recurring/t{t}/{i}.json.enc": b"%d" % i for t in range(4) for i in range(10)}
    files["README.md"] = b"hi"
    with GitHubStandIn(REPO, TOKEN, files=files) as server:
        server.truncate_at = 5
        backend = make(server, branch="main")
        backend.refresh()
        assert backend.list("") == sorted(files)
        assert backend.read("data/schedules/recurring/t3/9.json.enc") == b"9"
        assert backend.commit({"data/schedules/recurring/t0/0.json.enc": None}, "delete one")
        assert len(server.files()) == len(files) - 1


def test_bad_token_is_a_clear_error_without_the_token(standin: GitHubStandIn) -> None:
    wrong = "ghp_WrongToken0000000000000000000000000"
    backend = make(standin, token=wrong, branch="main")
    with pytest.raises(GitHubError) as info:
        backend.refresh()
    message = str(info.value)
    assert message == "GitHub rejected the token (401) — check GITHUB_TOKEN has contents:write on octo/switchboard"
    assert wrong not in message and TOKEN not in message
    assert wrong not in repr(info.value.__cause__)


def test_read_only_token_cannot_commit(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    standin.can_push = False
    with pytest.raises(
        GitHubError, match=r"committing to octo/switchboard failed: GitHub answered 403 .*contents:write"
    ):
        backend.commit({"data/x.enc": TEXT}, "x")
    assert not backend.can_write()


def test_server_errors_say_to_try_again(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    backend.refresh()
    standin.fail_next("POST", r"/git/trees$", 502, "Server Error")
    with pytest.raises(GitHubError, match=r"GitHub answered 502 \(Server Error\) — GitHub had a problem; try again"):
        backend.commit({"data/x.enc": TEXT}, "x")


def test_unknown_branch_and_repository(standin: GitHubStandIn) -> None:
    with pytest.raises(GitHubError, match=r"reading branch nope of octo/switchboard failed: GitHub answered 404"):
        make(standin, branch="nope").refresh()
    other = GitHubBackend(
        GitHubSession("octo/other", TOKEN, base_url=standin.base_url, retries=0, seconds_between_writes=None)
    )
    with pytest.raises(GitHubError, match=r"404.*check that octo/other exists"):
        other.refresh()


def test_unreachable_github_is_a_github_error() -> None:
    server = GitHubStandIn(REPO, TOKEN).start()
    url = server.base_url
    server.stop()
    backend = GitHubBackend(GitHubSession(REPO, TOKEN, base_url=url, branch="main", retries=0, timeout=2))
    with pytest.raises(GitHubError, match=r"could not reach GitHub at 127\.0\.0\.1:\d+ \(ConnectionError\)"):
        backend.refresh()


def test_repository_name_and_token_are_checked() -> None:
    with pytest.raises(ConfigError, match=r'"not-a-repo" is not a GitHub repository name'):
        GitHubSession("not-a-repo", TOKEN)
    with pytest.raises(ConfigError, match="GITHUB_TOKEN"):
        GitHubSession(REPO, "")


def test_dispatch_records_ref_and_inputs(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    ActionsClient(backend.session).dispatch_workflow("tick.yml", None, {"dry_run": "false", "hold": "0m"})
    assert standin.dispatches == [{"workflow": "tick.yml", "ref": "main", "inputs": {"dry_run": "false", "hold": "0m"}}]
    run = ActionsClient(backend.session).last_workflow_run("tick.yml")
    assert run is not None
    assert run["status"] == "queued" and run["conclusion"] is None and run["event"] == "workflow_dispatch"
    assert run["html_url"].startswith("https://github.com/octo/switchboard/actions/runs/")
    assert run["created_at"].endswith("+00:00")


def test_dispatch_of_a_disabled_or_missing_workflow_says_what_to_do(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    standin.set_workflow("tick.yml", "disabled_fork")
    with pytest.raises(
        GitHubError, match=r"422 \(Cannot trigger .* disabled workflow\) — .*enable it in the Actions tab"
    ):
        ActionsClient(backend.session).dispatch_workflow("tick.yml", "main", {})
    with pytest.raises(GitHubError, match=r"404.*is \.github/workflows/nope\.yml committed"):
        ActionsClient(backend.session).dispatch_workflow("nope.yml", "main", {})
    assert standin.dispatches == []


def test_workflow_state_and_enable(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    standin.set_workflow("tick.yml", "disabled_fork")
    assert ActionsClient(backend.session).workflow_state("tick.yml") == "disabled_fork"
    ActionsClient(backend.session).enable_workflow("tick.yml")
    assert standin.workflow_state("tick.yml") == "active"
    assert ActionsClient(backend.session).workflow_state("tick.yml") == "active"
    assert standin.count("PUT", "/actions/workflows/tick.yml/enable") == 1


def test_last_workflow_run(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    assert ActionsClient(backend.session).last_workflow_run("tick.yml") is None
    standin.add_run("tick.yml", status="completed", conclusion="failure", event="schedule")
    standin.add_run("tick.yml", status="completed", conclusion="success", event="schedule")
    run = ActionsClient(backend.session).last_workflow_run("tick.yml")
    assert run is not None
    assert (run["status"], run["conclusion"], run["event"]) == ("completed", "success", "schedule")


def test_set_actions_secret_is_sealed_for_the_repository(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    value = "k1b2c3-fernet-key-value="
    ActionsClient(backend.session).set_actions_secret("SWITCHBOARD_ENCRYPTION_KEY", value)
    stored = standin.secrets["SWITCHBOARD_ENCRYPTION_KEY"]
    assert stored["key_id"] == standin.secrets_key_id
    assert value not in stored["encrypted_value"]
    assert standin.decrypt_secret("SWITCHBOARD_ENCRYPTION_KEY") == value
    assert all(value not in repr(r.body) for r in standin.requests)
    ActionsClient(backend.session).set_actions_secret("SWITCHBOARD_ENCRYPTION_KEY", "rotated")  # replacing works too
    assert standin.decrypt_secret("SWITCHBOARD_ENCRYPTION_KEY") == "rotated"


def test_can_write(standin: GitHubStandIn) -> None:
    backend = make(standin, branch="main")
    assert backend.can_write()
    standin.oauth_scopes = "read:org, workflow"  # a classic token without "repo"
    assert not backend.can_write()
    standin.oauth_scopes = "repo, workflow"
    assert backend.can_write()
    standin.can_push = False
    assert not backend.can_write()
