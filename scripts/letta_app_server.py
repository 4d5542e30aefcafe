#!/usr/bin/env python3
"""Install, start and stop a real Letta Code App Server (``letta server``) on loopback, for end-to-end tests.

Usage::

    python scripts/letta_app_server.py install            # once; cached outside the repo
    python scripts/letta_app_server.py start [--state F]  # prints the state JSON (it holds the token)
    python scripts/letta_app_server.py status [--state F]
    python scripts/letta_app_server.py stop [--state F]

``install`` puts PyPI's ``letta`` (the App Server; it bundles its own Node
runtime) into ``~/.cache/letta-switchboard/letta-app-<version>`` from the pin
list ``letta-app-server-requirements.txt`` beside this file. ``start`` gives
the server an isolated ``HOME``, the local backend, an OpenAI-compatible
provider pointing at ``fake_model.py`` on 127.0.0.1, one agent made for the
tests, and a fresh capability token::

    letta server --backend local --listen ws://127.0.0.1:PORT --openai-api \\
        --ws-auth capability-token --ws-token-file HOME/../token

``stop`` ends the server and the fake model by the PIDs in the state file.
Importable too: :func:`ensure_installed`, :func:`start_server`, :func:`stop_server`.
Stdlib only, like ``letta_server.py``, whose helpers it shares.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import letta_server as base  # a sibling script, found through the line above

#: The App Server release the tests run.
APP_VERSION = "0.34.12"
REQUIREMENTS = base.SCRIPTS_DIR / "letta-app-server-requirements.txt"
DEFAULT_STATE = base.STATE_DIR / f"state-app-{APP_VERSION}.json"
START_TIMEOUT = 90.0
#: The agent every start creates (its id is in the state).
AGENT_NAME = "switchboard-test"
MODEL_HANDLE = "openai-compatible/fake-model"


class AppServerError(base.LettaServerError):
    """The App Server could not be installed, started or reached."""


# ---------------------------------------------------------------- install


def venv_dir() -> Path:
    """The App Server's venv: beside the V1 servers' (``LETTA_SERVER_CACHE`` moves them all)."""
    cache = os.environ.get("LETTA_SERVER_CACHE")
    root = Path(cache).expanduser() if cache else Path.home() / ".cache" / "letta-switchboard"
    return root / f"letta-app-{APP_VERSION}"


def letta_bin() -> Path:
    """The ``letta`` command of the App Server's venv."""
    return venv_dir() / "bin" / "letta"


def _requirements_hash() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_installed() -> bool:
    """True when the venv was fully installed from today's pin list."""
    try:
        marker = (venv_dir() / base.MARKER_NAME).read_text().strip()
    except OSError:
        return False
    return marker == _requirements_hash() and letta_bin().exists()


def ensure_installed(timeout: float | None = None) -> Path:
    """Create the venv and install the pinned ``letta``, once (a marker and a lock, as letta_server.py)."""
    venv = venv_dir()
    if is_installed():
        base._log(f"letta {APP_VERSION} (App Server) already installed in {venv}")
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_installed():
            return venv
        started = time.monotonic()
        python = venv / "bin" / "python"
        if not python.exists():
            interpreter = getattr(sys, "_base_executable", None) or sys.executable
            subprocess.run([interpreter, "-m", "venv", str(venv)], check=True, timeout=300)
        (venv / base.MARKER_NAME).unlink(missing_ok=True)
        base._log(f"installing letta {APP_VERSION} (the App Server, about 280 MB with its Node runtime) into {venv}")
        cmd = [str(python), "-m", "pip", "install", "--quiet", "--progress-bar", "off",
               "--disable-pip-version-check", "--only-binary", ":all:", "-r", str(REQUIREMENTS)]  # fmt: skip
        log_path = venv / "pip-install.log"
        rc = base._run_pip_quietly(cmd, log_path, timeout)
        if rc != 0:
            raise AppServerError(f"pip install failed with exit code {rc}; see {log_path}")
        if not letta_bin().exists():
            raise AppServerError(f"pip finished but {letta_bin()} is missing")
        (venv / base.MARKER_NAME).write_text(_requirements_hash() + "\n")
        base._log(f"installed letta {APP_VERSION} in {time.monotonic() - started:.0f} s")
    return venv


# ---------------------------------------------------------------- start / stop


@dataclass
class AppServerInfo:
    """One running App Server, its fake model and its test agent; serialised as the state JSON."""

    base_url: str
    token: str
    port: int
    pid: int
    agent_id: str
    home: str
    model_url: str
    model_pid: int
    workdir: str
    state_file: str
    server_log: str
    model_log: str
    letta_version: str = APP_VERSION
    owns_workdir: bool = False
    seconds_to_ready: float = 0.0

    def to_json(self) -> str:
        """The state as JSON."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_file(cls, path: Path | str) -> AppServerInfo:
        """Read a state file written by :func:`start_server`."""
        data = json.loads(Path(path).read_text())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _write_state(info: AppServerInfo) -> None:
    fd = os.open(info.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the token
    with os.fdopen(fd, "w") as fh:
        fh.write(info.to_json() + "\n")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(base._SCRUBBED_ENV_PREFIXES)}
    env.update({"HOME": str(home), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env.pop(name, None)  # everything the server keeps lands in the isolated HOME
    return env


def _letta(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120.0) -> str:
    """Run one ``letta`` command of the venv; its stdout, or AppServerError with its output."""
    try:
        proc = subprocess.run(
            [str(letta_bin()), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AppServerError(f"`letta {args[0]} {args[1]}` did not finish in {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise AppServerError(f"`letta {' '.join(args[:2])}` failed ({proc.returncode}): {proc.stderr[-800:]}")
    return proc.stdout


def _spawn_orphan(cmd: list[str], log_path: Path, cwd: Path, env: dict[str, str]) -> int:
    """Start ``cmd`` in a session of its own whose parent is already gone; its pid (= its process group).

    Letta Code exits within a second when its parent dies after it started
    (src/utils/orphan-detection.ts), but keeps running when it was orphaned
    from the start: a ``start`` command that returns must hand it over so.
    """
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked children
        try:
            os.close(read_end)
            grandchild = os.fork()
            if grandchild == 0:
                os.setsid()
                deadline = time.monotonic() + 10
                while os.getppid() == child and time.monotonic() < deadline:
                    time.sleep(0.01)
                log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os.chdir(cwd)
                os.execve(cmd[0], cmd, env)
            os.write(write_end, str(grandchild).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        pid = int(pipe.read() or 0)
    os.waitpid(child, 0)
    if pid <= 1:
        raise AppServerError("could not start the App Server in the background")
    return pid


def _wait_listening(info: AppServerInfo, alive: Callable[[], bool], timeout: float) -> None:
    """Wait until the OpenAI-compatible side answers the token (the /ws side shares the listener)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not alive():
            raise AppServerError(f"letta server exited before it was ready:\n{base._tail(info.server_log)}")
        try:
            status, _ = base.http_json(
                "GET", f"http://{base.LOOPBACK}:{info.port}/v1/models",
                headers={"Authorization": f"Bearer {info.token}"}, timeout=3,
            )  # fmt: skip
            if status == 200:
                return
            last = f"HTTP {status}"
        except (OSError, ValueError) as exc:
            last = type(exc).__name__
        time.sleep(0.3)
    raise AppServerError(f"letta server not ready after {timeout:.0f} s ({last}):\n{base._tail(info.server_log)}")


def start_server(
    workdir: Path,
    *,
    state_file: Path | None = None,
    port: int | None = None,
    timeout: float = START_TIMEOUT,
    owns_workdir: bool = False,
    detach: bool = False,
) -> AppServerInfo:
    """Start the fake model, set up an isolated HOME with one agent, and start the App Server.

    ``detach`` is for a caller that exits while the server runs on (the
    ``start`` command): the server is handed to init from its first instant.
    On any failure everything started is stopped again.
    """
    if not is_installed():
        raise AppServerError(
            f"letta {APP_VERSION} is not installed in {venv_dir()}: run `python {Path(__file__).name} install`"
        )
    workdir = Path(workdir).resolve()
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    state_path = Path(state_file) if state_file else workdir / "state.json"
    state_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    model_proc: subprocess.Popen[bytes] | None = None
    info: AppServerInfo | None = None
    try:
        model_proc, model_port = base._start_fake_model(workdir)
        model_url = f"http://{base.LOOPBACK}:{model_port}/v1"
        env = _env(home)
        _letta(["connect", "openai-compatible", "--backend", "local", "--base-url", model_url,
                "--api-key", "fake-key"], env, workdir)  # fmt: skip
        created = _letta(["agents", "create", "--backend", "local", "--name", AGENT_NAME, "--model", MODEL_HANDLE,
                          "--personality", "blank"], env, workdir)  # fmt: skip
        try:
            agent_id = str(json.loads(created)["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AppServerError(f"`letta agents create` printed no agent id: {created[:300]!r}") from exc
        token = secrets.token_urlsafe(32)
        token_file = workdir / "token"
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
        server_log = workdir / "app_server.log"
        for attempt in range(1, 4):
            server_port = port or base.free_port()
            cmd = [str(letta_bin()), "server", "--backend", "local", "--listen", f"ws://{base.LOOPBACK}:{server_port}",
                   "--openai-api", "--ws-auth", "capability-token", "--ws-token-file", str(token_file)]  # fmt: skip
            if detach:
                server_pid = _spawn_orphan(cmd, server_log, workdir, env)
                alive = _alive(server_pid)
            else:
                server = base._spawn(cmd, server_log, workdir, env)
                server_pid, alive = server.pid, server_alive(server)
            info = AppServerInfo(
                base_url=f"ws://{base.LOOPBACK}:{server_port}", token=token, port=server_port, pid=server_pid,
                agent_id=agent_id, home=str(home), model_url=model_url, model_pid=model_proc.pid,
                workdir=str(workdir), state_file=str(state_path), server_log=str(server_log),
                model_log=str(workdir / "fake_model.log"), owns_workdir=owns_workdir,
            )  # fmt: skip
            _write_state(info)
            try:
                _wait_listening(info, alive, timeout)
                break
            except AppServerError:
                if port or attempt == 3 or "in use" not in base._tail(server_log).lower():
                    raise
                base._kill_group(server_pid, "letta")
        assert info is not None
        info.seconds_to_ready = round(time.monotonic() - started, 1)
        _write_state(info)
        base._log(f"App Server ready at {info.base_url} (agent {agent_id}) after {info.seconds_to_ready} s")
        return info
    except BaseException:
        if info is not None:
            stop_server(info)
        elif model_proc is not None:
            base._kill_group(model_proc.pid, "fake_model.py")
        raise


def server_alive(server: subprocess.Popen[bytes]) -> Callable[[], bool]:
    """Whether our own child still runs."""
    return lambda: server.poll() is None


def _alive(pid: int) -> Callable[[], bool]:
    def alive() -> bool:
        text = base._cmdline(pid)
        return text is not None and text.strip() != ""  # a zombie has an empty command line

    return alive


def stop_server(info: AppServerInfo, *, remove_state: bool = True) -> None:
    """Stop the App Server and the fake model (whole process groups, by PID); safe to call twice."""
    base._kill_group(info.pid, "letta")
    base._kill_group(info.model_pid, "fake_model.py")
    if remove_state:
        Path(info.state_file).unlink(missing_ok=True)


def server_status(info: AppServerInfo) -> dict[str, object]:
    """Whether the processes run and the server accepts the token."""
    ready = False
    try:
        status, _ = base.http_json(
            "GET", f"http://{base.LOOPBACK}:{info.port}/v1/models",
            headers={"Authorization": f"Bearer {info.token}"}, timeout=3,
        )  # fmt: skip
        ready = status == 200
    except (OSError, ValueError):
        pass
    return {
        "letta_version": info.letta_version,
        "base_url": info.base_url,
        "agent_id": info.agent_id,
        "server_running": info.pid > 1 and base._cmdline(info.pid) is not None,
        "model_running": info.model_pid > 1 and base._cmdline(info.model_pid) is not None,
        "ready": ready,
    }


# ---------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help="create the App Server's venv (idempotent)")
    p_install.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    for name in ("start", "stop", "status"):
        p = sub.add_parser(name)
        p.add_argument("--state", default=str(DEFAULT_STATE), help=f"state JSON (default {DEFAULT_STATE})")
        if name == "start":
            p.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
            p.add_argument("--workdir", default=None, help="HOME, token and logs (default: a new temp dir)")
        if name == "stop":
            p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, the agent's files)")
    args = parser.parse_args(argv)
    if args.command == "install":
        try:
            ensure_installed(timeout=args.timeout)
        except (base.LettaServerError, OSError, subprocess.SubprocessError) as exc:
            base._log(f"install of letta {APP_VERSION} failed: {exc}")
            return 1
        return 0
    state = Path(args.state)
    if args.command == "start":
        if state.exists() and server_status(AppServerInfo.from_file(state))["server_running"]:
            base._log(f"an App Server from {state} is still running; run `stop --state {state}` first")
            return 1
        owns = args.workdir is None
        workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="letta-switchboard-app-"))
        try:
            info = start_server(workdir, state_file=state, port=args.port, owns_workdir=owns, detach=True)
        except base.LettaServerError as exc:
            base._log(str(exc))
            if owns:
                shutil.rmtree(workdir, ignore_errors=True)
            return 1
        print(info.to_json(), flush=True)
        return 0
    if not state.exists():
        if args.command == "status":
            print(json.dumps({"running": False, "state_file": str(state)}))
            return 1
        base._log(f"no state file {state}: nothing to stop")
        return 0
    info = AppServerInfo.from_file(state)
    if args.command == "status":
        result = server_status(info)
        print(json.dumps(result, indent=2))
        return 0 if result["ready"] else 1
    stop_server(info)
    if info.owns_workdir and not args.keep:
        shutil.rmtree(info.workdir, ignore_errors=True)
    base._log(f"stopped the App Server pid {info.pid} and the fake model pid {info.model_pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
