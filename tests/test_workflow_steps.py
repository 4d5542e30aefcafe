"""The tick workflow's own `run:` steps, run with bash the way GitHub Actions runs them.

tick.yml is parsed with PyYAML; each step of the `tick` job runs in order in a
fork-like clone (a shallow clone of a bare "GitHub" remote, as
actions/checkout makes it), with the Actions environment: GITHUB_ACTIONS,
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files per step, RUNNER_TEMP, secrets and
variables substituted into `env:` through a small evaluator of GitHub's
expression language, and `if:` conditions honoured. The `uses:` steps
(checkout, setup-python, cache) and the install step are what this machine already
has: the clone exists and `.venv/bin` (this checkout's `switchboard`) leads
PATH. Letta is the stand-in on 127.0.0.1.

The report-failures job's condition is evaluated the same way, and its script
runs against a `gh` stand-in on PATH that records what it was asked to do.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import LETTA_KEY, ROOT, clone_of, configure, git

from switchboard.backends.git import GitBackend
from switchboard.crypto import codec_from_keys, generate_key
from switchboard.index import indexed_store
from switchboard.service import add_one_time
from switchboard.testing.letta import LettaStandIn

WORKFLOW = ROOT / ".github" / "workflows" / "tick.yml"
VENV_BIN = ROOT / ".venv" / "bin"
REPO = "octo/switchboard"
GITHUB_TOKEN = "ghs_FakeRunnerToken0123456789abcdef"
MESSAGE = "Water the plants on the balcony — the basil looks sad"


# -- GitHub's expression language, as much as the workflows use ----------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>\|\||&&|==|!=|<=|>=|<|>|!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.\-*]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"cannot read expression at {text[pos:]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _number(value: Any) -> float:
    """GitHub's coercion to a number: null 0, booleans 1/0, '' 0, other text parsed or NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if not text:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return math.nan


def _truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") and value != 0.0


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()  # GitHub compares strings ignoring case
    if type(a) is type(b):
        return bool(a == b)
    return _number(a) == _number(b)


class Expr:
    """Evaluates one expression against contexts: {"secrets": {…}, "vars": {…}, "steps": {…}, …}."""

    def __init__(self, text: str, contexts: Mapping[str, Any], status: str = "success") -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.status = status

    def value(self) -> Any:
        result = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos]}")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left if _truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._cmp()
        while self._peek() == "&&":
            self._take()
            right = self._cmp()
            left = right if _truthy(left) else left
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        op = self._peek()
        if op in ("==", "!=", "<", ">", "<=", ">="):
            self._take()
            right = self._unary()
            if op == "==":
                return _equal(left, right)
            if op == "!=":
                return not _equal(left, right)
            a, b = _number(left), _number(right)
            return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not _truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text == "(":
            inner = self._or()
            assert self._take()[1] == ")"
            return inner
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self._peek() == "(":
            self._take()
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._take()
            return self._call(text, args)
        value: Any = self.contexts
        for part in text.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    def _call(self, name: str, args: list[Any]) -> Any:
        if name == "always":
            return True
        if name == "success":
            return self.status == "success"
        if name == "failure":
            return self.status == "failure"
        if name == "cancelled":
            return False
        if name == "contains":
            return str(args[1]).lower() in str(args[0]).lower()
        raise ValueError(f"no function {name}() in this evaluator")


def evaluate(text: str, contexts: Mapping[str, Any], status: str = "success") -> Any:
    """The value of one expression (the part between ``${{`` and ``}}``)."""
    return Expr(text, contexts, status).value()


def as_string(value: Any) -> str:
    """How Actions puts an expression's value into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def substitute(text: str, contexts: Mapping[str, Any]) -> str:
    """Replace every ``${{ … }}`` in ``text``."""
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: as_string(evaluate(m.group(1), contexts)), text)


def condition(text: str | bool | None, contexts: Mapping[str, Any], status: str) -> bool:
    """A step's or job's `if:`; without a status function, GitHub adds `success() &&`."""
    if text is None:
        return status == "success"
    expression = str(text).strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    if not re.search(r"\b(always|success|failure|cancelled)\(", expression):
        expression = f"success() && ({expression})"
    return _truthy(evaluate(expression, contexts, status))


# -- one job, step by step ---------------------------------------------------------------


@dataclass
class StepRun:
    """What one step did."""

    name: str
    outcome: str  # success | failure | skipped | emulated
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    """What the job did: its steps, its status, its summary."""

    steps: list[StepRun]
    status: str
    summary: str
    contexts: dict[str, Any]

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    @property
    def log(self) -> str:
        """Everything the steps printed, as the runner would have it before masking."""
        return "".join(s.stdout + s.stderr for s in self.steps)


def read_outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file: ``name=value`` lines and ``name<<DELIM`` blocks."""
    outputs: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            index += 1
            while lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            outputs[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        index += 1
    return outputs


def run_job(
    job: Mapping[str, Any],
    *,
    workspace: Path,
    runner: Path,
    contexts: dict[str, Any],
    base_env: Mapping[str, str],
) -> JobRun:
    """Run a job's steps as the runner would: `if:`, `env:`, `bash -e` for `run:`, outputs, summaries."""
    steps: list[StepRun] = []
    status = "success"
    summaries: list[str] = []
    contexts.setdefault("steps", {})
    for number, step in enumerate(job["steps"]):
        name = step.get("name", f"step {number}")
        if not condition(step.get("if"), contexts, status):
            steps.append(StepRun(name, "skipped"))
            if "id" in step:
                contexts["steps"][step["id"]] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
            continue
        run = step.get("run")
        if "uses" in step or "pip install" in (run or ""):
            # actions/checkout: the workspace is that clone; setup-python, the cache and the install: .venv/bin on PATH.
            steps.append(StepRun(name, "emulated"))
            continue
        assert "${{" not in run, f"step {name!r} puts an expression into its script: pass it through env"
        env = dict(base_env)
        for key, value in (step.get("env") or {}).items():
            env[key] = substitute(str(value), contexts)
        output_file = runner / f"output-{number}"
        summary_file = runner / f"summary-{number}"
        output_file.write_text("")
        summary_file.write_text("")
        env["GITHUB_OUTPUT"] = str(output_file)
        env["GITHUB_STEP_SUMMARY"] = str(summary_file)
        script = runner / f"step-{number}.sh"
        script.write_text(run, encoding="utf-8")
        # GitHub's default shell on Linux when a step names none: `bash -e {0}`.
        proc = subprocess.run(
            ["bash", "-e", str(script)], cwd=workspace, env=env, capture_output=True, text=True, timeout=300
        )
        outputs = read_outputs(output_file)
        outcome = "success" if proc.returncode == 0 else "failure"
        steps.append(StepRun(name, outcome, proc.stdout, proc.stderr, outputs))
        summaries.append(summary_file.read_text(encoding="utf-8"))
        if "id" in step:
            contexts["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
        if outcome == "failure":
            status = "failure"
    return JobRun(steps, status, "".join(summaries), contexts)


def job_outputs(job: Mapping[str, Any], contexts: Mapping[str, Any]) -> dict[str, str]:
    """The job's `outputs:`, evaluated after its steps."""
    return {k: substitute(str(v), contexts) for k, v in (job.get("outputs") or {}).items()}


def visible(log: str) -> tuple[str, set[str]]:
    """The log as the runner shows it (without ::add-mask:: commands) and the values they masked."""
    masked, shown = set(), []
    for line in log.splitlines(keepends=True):
        if line.startswith("::add-mask::"):
            masked.add(line[len("::add-mask::") :].strip())
        else:
            shown.append(line)
    return "".join(shown), masked


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/T0SECRET/B0SECRET"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@dataclass
class Fork:
    """A private copy made from the template: a bare 'GitHub' remote, a laptop clone, the runner's paths."""

    remote: Path
    laptop: Path
    top: Path
    key: str

    def checkout(self, name: str = "workspace") -> Path:
        """What actions/checkout leaves: a depth-1 clone with no git identity."""
        dest = self.top / name
        git(self.top, "clone", "--quiet", "--depth", "1", f"file://{self.remote}", str(dest))
        return dest

    def remote_files(self) -> list[str]:
        return git(self.remote, "ls-tree", "-r", "--name-only", "main").split()

    def remote_log(self, fmt: str = "%s") -> list[str]:
        return git(self.remote, "log", f"--format={fmt}", "main").splitlines()


@pytest.fixture
def fork(tmp_path: Path) -> Fork:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(remote))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(remote), str(seed))
    configure(seed)
    # The template's own files that matter to the tick (the real workflows, the package metadata).
    for rel in (".github/workflows/tick.yml", ".github/workflows/ci.yml", "pyproject.toml"):
        target = seed / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / rel).read_bytes())
    (seed / "data").mkdir()
    (seed / "data" / ".gitkeep").write_text("")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "Initial commit from the template")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    laptop = clone_of(remote, tmp_path / "laptop")
    return Fork(remote, laptop, tmp_path, generate_key())


def schedule(fork: Fork, letta: LettaStandIn, agent: str, *, due: datetime) -> str:
    """Schedule MESSAGE from the laptop clone (pushed to the remote); returns its id."""
    store = indexed_store(GitBackend(fork.laptop), codec_from_keys(fork.key))
    created = add_one_time(
        store,
        api_key=LETTA_KEY,
        base_url=letta.base_url,
        agent_id=agent,
        message=MESSAGE,
        execute_at=due,
        now=datetime.now(UTC) - timedelta(minutes=5),
    )
    return created.id


def actions_env(top: Path, runner: Path, workspace: Path) -> dict[str, str]:
    """The environment a GitHub-hosted runner gives every step (nothing from this test process)."""
    home = top / "runner-home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": f"{VENV_BIN}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_RUN_ID": "30433642",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_EVENT_NAME": "schedule",
        "RUNNER_TEMP": str(runner),
    }


def run_tick_job(
    workflow: Mapping[str, Any],
    fork: Fork,
    *,
    secrets: Mapping[str, str],
    variables: Mapping[str, str] | None = None,
    inputs: Mapping[str, Any] | None = None,
    name: str = "workspace",
) -> JobRun:
    """The `tick` job of tick.yml in a fresh checkout of the fork."""
    workspace = fork.checkout(name)
    runner = fork.top / f"runner-{name}"
    runner.mkdir()
    contexts: dict[str, Any] = {
        "secrets": {"GITHUB_TOKEN": GITHUB_TOKEN, **secrets},
        "vars": dict(variables or {}),
        "inputs": dict(inputs or {}),
        "github": {"token": GITHUB_TOKEN, "repository": REPO, "event_name": "schedule"},
        "steps": {},
    }
    return run_job(
        workflow["jobs"]["tick"],
        workspace=workspace,
        runner=runner,
        contexts=contexts,
        base_env=actions_env(fork.top, runner, workspace),
    )


# -- the expression evaluator itself ------------------------------------------------------


def test_the_evaluator_follows_githubs_rules() -> None:
    ctx = {"inputs": {"hold": "", "dry_run": False}, "vars": {"SWITCHBOARD_HOLD": "5m"}, "needs": {}}
    assert evaluate("inputs.hold || vars.SWITCHBOARD_HOLD || '0m'", ctx) == "5m"
    assert evaluate("inputs.hold || vars.NOPE || '0m'", ctx) == "0m"
    assert evaluate("inputs.dry_run && 'true' || 'false'", ctx) == "false"
    assert evaluate("inputs.dry_run && 'true' || 'false'", {"inputs": {"dry_run": True}}) == "true"
    assert evaluate("'TRUE' == 'true'", {}) is True
    assert evaluate("'2' > 0", {}) is True
    assert evaluate("needs.tick.outputs.failed > 0", ctx) is False  # null -> 0
    assert condition("steps.config.outputs.configured == 'true'", ctx, "failure") is False


# -- the tick job ---------------------------------------------------------------------------


def test_a_due_message_is_delivered_summarised_and_pushed(
    workflow: dict[str, Any], fork: Fork, standin: LettaStandIn
) -> None:
    agent = standin.add_agent()
    schedule_id = schedule(fork, standin, agent, due=datetime.now(UTC) - timedelta(minutes=1))
    before = len(fork.remote_log())

    job = run_tick_job(workflow, fork, secrets={"SWITCHBOARD_ENCRYPTION_KEY": fork.key})

    tick = job.step("Tick")
    assert job.status == "success", tick.stdout + tick.stderr
    assert [s.outcome for s in job.steps] == ["success", *["emulated"] * 4, "success", "success"]
    # Delivered, once, with the text and the schedule's own key.
    assert [(d.agent_id, d.text) for d in standin.deliveries] == [(agent, MESSAGE)]
    assert standin.received_keys == {LETTA_KEY}
    # The step outputs the report-failures job reads.
    assert tick.outputs == {"delivered": "1", "failed": "0", "deferred": "0"}
    assert job_outputs(workflow["jobs"]["tick"], job.contexts) == {"delivered": "1", "failed": "0", "deferred": "0"}
    assert "delivered=1 failed=0 deferred=0" in tick.stdout
    # The job summary: a table row with the ids and the run id, no text.
    run_id = standin.deliveries[0].run_id
    assert "### switchboard tick at" in job.summary
    assert f"| `{schedule_id}` | one-time | `{agent}` | delivered | `{run_id}` |" in job.summary
    # Pushed: the claim and the record, by the identity the workflow sets, and the schedule is gone.
    log = fork.remote_log("%s|%an")
    assert len(log) == before + 2
    assert all(line.endswith("|github-actions[bot]") for line in log[:2])
    assert "claim" in log[1] and "delivered 1" in log[0]
    files = fork.remote_files()
    assert not [f for f in files if f.startswith("data/schedules/one-time/")]
    assert [f for f in files if f.startswith("data/results/") and f"/{schedule_id}/" in f]
    # Nothing secret, and no message text, in the log (as shown) or the summary.
    shown, masked = visible(job.log)
    for secret in (fork.key, LETTA_KEY, GITHUB_TOKEN, MESSAGE):
        assert secret not in shown
        assert secret not in job.summary
    assert {fork.key, LETTA_KEY} <= masked  # and the runner is told to mask them anyway


def test_without_the_secret_the_first_step_explains_and_the_rest_is_skipped(
    workflow: dict[str, Any], fork: Fork, standin: LettaStandIn
) -> None:
    agent = standin.add_agent()
    schedule(fork, standin, agent, due=datetime.now(UTC) - timedelta(minutes=1))
    before = fork.remote_log()

    job = run_tick_job(workflow, fork, secrets={})

    first = job.steps[0]
    assert first.outcome == "success"
    assert first.outputs == {"configured": "false"}
    assert first.stdout.startswith("::notice title=switchboard is not set up::")
    assert "SWITCHBOARD_ENCRYPTION_KEY" in first.stdout
    assert [s.outcome for s in job.steps[1:]] == ["skipped"] * (len(job.steps) - 1)
    assert job.status == "success"  # a copy not set up yet stays green
    assert "### switchboard is not set up" in job.summary
    assert standin.deliveries == []
    assert fork.remote_log() == before


def test_a_failed_delivery_still_sets_the_outputs_and_fails_the_job(
    workflow: dict[str, Any], fork: Fork, standin: LettaStandIn, receiver: Receiver
) -> None:
    agent = standin.add_agent()
    schedule_id = schedule(fork, standin, agent, due=datetime.now(UTC) - timedelta(minutes=1))
    standin.fail(agent, 422, detail="agent cannot take messages")

    job = run_tick_job(
        workflow,
        fork,
        secrets={"SWITCHBOARD_ENCRYPTION_KEY": fork.key, "SWITCHBOARD_WEBHOOK_URL": receiver.url},
    )

    tick = job.step("Tick")
    assert tick.outcome == "failure"  # `switchboard tick` exits 1 on a permanent failure…
    assert tick.outputs == {"delivered": "0", "failed": "1", "deferred": "0"}  # …after the counts are out
    assert "::warning title=deliveries failed::1 deliveries failed" in tick.stdout
    assert "| failed |" in job.summary
    # The result is committed all the same.
    assert [f for f in fork.remote_files() if f.startswith("data/results/") and f"/{schedule_id}/" in f]
    # The webhook got counts and ids, and nothing else.
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["counts"] == {"delivered": 0, "failed": 1, "requeued": 0, "deferred": 0}
    assert body["results"][0]["schedule_id"] == schedule_id
    assert body["results"][0]["http_status"] == 422
    assert body["github"]["run_url"] == f"https://github.com/{REPO}/actions/runs/30433642"
    text = json.dumps(body)
    for secret in (fork.key, LETTA_KEY, MESSAGE, "agent cannot take messages", receiver.url):
        assert secret not in text
    shown, _ = visible(job.log)
    assert receiver.url not in shown and MESSAGE not in shown


def test_a_hold_over_30_minutes_is_refused_before_anything_is_sent(
    workflow: dict[str, Any], fork: Fork, standin: LettaStandIn
) -> None:
    agent = standin.add_agent()
    schedule(fork, standin, agent, due=datetime.now(UTC) - timedelta(minutes=1))
    job = run_tick_job(
        workflow,
        fork,
        secrets={"SWITCHBOARD_ENCRYPTION_KEY": fork.key},
        variables={"SWITCHBOARD_HOLD": "45m"},
    )
    tick = job.step("Tick")
    assert tick.outcome == "failure"
    assert "::error title=hold too long::hold '45m' is over 30m" in tick.stdout
    assert standin.deliveries == []


def test_a_dispatched_dry_run_sends_and_commits_nothing(
    workflow: dict[str, Any], fork: Fork, standin: LettaStandIn
) -> None:
    agent = standin.add_agent()
    schedule_id = schedule(fork, standin, agent, due=datetime.now(UTC) - timedelta(minutes=1))
    before = fork.remote_log()
    job = run_tick_job(
        workflow,
        fork,
        secrets={"SWITCHBOARD_ENCRYPTION_KEY": fork.key},
        inputs={"dry_run": True, "hold": "0m"},
    )
    assert job.status == "success", job.step("Tick").stderr
    assert standin.deliveries == []
    assert fork.remote_log() == before
    assert "Dry run: 1 due, nothing sent." in job.summary
    assert schedule_id not in job.step("Tick").stdout  # the JSON report stays in RUNNER_TEMP


# -- the report-failures job ----------------------------------------------------------------

GH_STANDIN = r"""#!/usr/bin/env bash
# A stand-in for the gh CLI: records each call, answers `issue list` from $GH_EXISTING.
printf '%s\0' "$@" >> "${GH_CALLS}"
printf '\n' >> "${GH_CALLS}"
if [ "$1 $2" = "issue list" ]; then
  printf '%s' "${GH_EXISTING:-}"
fi
"""


def _needs(result: str, failed: str) -> dict[str, Any]:
    return {"tick": {"result": result, "outputs": {"failed": failed, "delivered": "0", "deferred": "0"}}}


@pytest.mark.parametrize(
    ("enabled", "result", "failed", "runs"),
    [
        ("true", "success", "0", False),
        ("true", "success", "2", True),
        ("true", "failure", "", True),
        ("true", "failure", "1", True),
        ("", "failure", "1", False),
        ("false", "success", "3", False),
    ],
)
def test_report_failures_runs_only_when_asked_and_something_failed(
    workflow: dict[str, Any], enabled: str, result: str, failed: str, runs: bool
) -> None:
    job = workflow["jobs"]["report-failures"]
    contexts = {"vars": {"SWITCHBOARD_FAILURE_ISSUES": enabled}, "needs": _needs(result, failed)}
    # The job's own status is "success" before it starts; always() keeps it from being skipped after a failure.
    assert condition(job["if"], contexts, "failure" if result == "failure" else "success") is runs


@pytest.mark.parametrize(
    ("existing", "result", "failed", "expected"),
    [
        ("", "success", "2", ["issue", "create", "--repo", REPO, "--title", "switchboard: deliveries are failing"]),
        ("17", "success", "2", ["issue", "comment", "17", "--repo", REPO]),
        ("", "failure", "", ["issue", "create", "--repo", REPO, "--title", "switchboard: deliveries are failing"]),
    ],
)
def test_report_failures_opens_or_comments_on_one_issue(
    workflow: dict[str, Any], tmp_path: Path, existing: str, result: str, failed: str, expected: list[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(GH_STANDIN)
    gh.chmod(0o755)
    calls = tmp_path / "calls"
    env = actions_env(tmp_path, tmp_path, tmp_path)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env.update(GH_CALLS=str(calls), GH_EXISTING=existing)
    contexts: dict[str, Any] = {
        "github": {"token": GITHUB_TOKEN},
        "needs": _needs(result, failed),
        "vars": {"SWITCHBOARD_FAILURE_ISSUES": "true"},
    }
    job = run_job(
        workflow["jobs"]["report-failures"], workspace=tmp_path, runner=tmp_path, contexts=contexts, base_env=env
    )
    assert job.status == "success", job.log
    recorded = [line.split("\0")[:-1] for line in calls.read_text().splitlines()]
    assert recorded[0][:2] == ["issue", "list"]
    assert "--search" not in recorded[0]  # listed, not searched: the search index lags
    assert len(recorded) == 2
    action = recorded[1]
    assert action[: len(expected)] == expected
    body = action[action.index("--body") + 1]
    run_url = f"https://github.com/{REPO}/actions/runs/30433642"
    assert body == (
        f"The tick job failed: {run_url}"
        if result == "failure"
        else f"{failed} deliveries failed in {run_url} ('switchboard results list' shows why)."
    )


def test_the_runner_is_github_hosted_unless_a_repository_variable_names_one(workflow: dict[str, Any]) -> None:
    runs_on = workflow["jobs"]["tick"]["runs-on"]
    assert substitute(runs_on, {"vars": {}}) == "ubuntu-latest"
    assert substitute(runs_on, {"vars": {"SWITCHBOARD_RUNS_ON": ""}}) == "ubuntu-latest"
    assert substitute(runs_on, {"vars": {"SWITCHBOARD_RUNS_ON": "self-hosted"}}) == "self-hosted"
    # The failure report needs no machine of the user's: it stays on a hosted runner (a skipped job is free).
    assert workflow["jobs"]["report-failures"]["runs-on"] == "ubuntu-latest"
