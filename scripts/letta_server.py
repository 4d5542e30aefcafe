#!/usr/bin/env python3
"""Install, start and stop a real Letta 0.11.7 server on loopback, for end-to-end tests.

Usage::

    python scripts/letta_server.py install            # once; cached outside the repo
    python scripts/letta_server.py start [--state F]  # prints the state JSON
    python scripts/letta_server.py status [--state F]
    python scripts/letta_server.py stop [--state F]

Importable too: :func:`ensure_installed`, :func:`start_server`, :func:`stop_server`.

Stdlib only on purpose: this file runs before any project dependency is
installed (CI calls ``install`` first) and in the project's own venv.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

LETTA_VERSION = "0.11.7"
SCRIPTS_DIR = Path(__file__).resolve().parent
REQUIREMENTS = SCRIPTS_DIR / f"letta-server-{LETTA_VERSION}-requirements.txt"
FAKE_MODEL = SCRIPTS_DIR / "fake_model.py"
MARKER_NAME = ".switchboard-installed"
DEFAULT_STATE = Path(tempfile.gettempdir()) / "letta-switchboard-server" / "state.json"
HEALTH_TIMEOUT = 120.0
LOOPBACK = "127.0.0.1"


class LettaServerError(RuntimeError):
    """The Letta server could not be installed, started or reached."""


# ---------------------------------------------------------------- install


def venv_dir() -> Path:
    """Where the server's virtualenv lives: outside the repo, so it is never committed."""
    env = os.environ.get("LETTA_SERVER_VENV")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "letta-switchboard" / f"letta-{LETTA_VERSION}"


def venv_bin(name: str, venv: Path | None = None) -> Path:
    """Path of an executable inside the server venv."""
    return (venv or venv_dir()) / "bin" / name


def requirements_hash() -> str:
    """Hash of the pin list: the marker stores it, so a changed list reinstalls."""
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def is_installed(venv: Path | None = None) -> bool:
    """True when the venv exists and was fully installed from today's pin list."""
    venv = venv or venv_dir()
    marker = venv / MARKER_NAME
    try:
        return marker.read_text().strip() == requirements_hash() and venv_bin("letta", venv).exists()
    except OSError:
        return False


def pypi_reachable(timeout: float = 10.0) -> bool:
    """Whether pip can plausibly reach its index (for a clear pytest skip reason).

    Asks pip itself (``pip index versions``) so proxies, mirrors and pip.conf
    are honoured exactly as the real install will see them.
    """
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "index", "versions", "letta"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and LETTA_VERSION in proc.stdout


def ensure_installed(timeout: float | None = None) -> Path:
    """Create the server venv and install the pinned requirements, once.

    Idempotent: a marker file holding the requirements' hash is written only
    after pip succeeds, so an interrupted install is retried next time and a
    finished one returns at once. A lock file keeps two concurrent callers
    (a CI step and a pytest run, two terminals) from installing on top of
    each other. Returns the venv path.
    """
    venv = venv_dir()
    if is_installed(venv):
        _log(f"letta {LETTA_VERSION} already installed in {venv}")
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_installed(venv):  # another process finished while we waited
            return venv
        _install_locked(venv, timeout)
    return venv


def _install_locked(venv: Path, timeout: float | None) -> None:
    started = time.monotonic()
    python = venv_bin("python", venv)
    if not python.exists():
        _log(f"creating virtualenv {venv}")
        # The base interpreter, not a venv's: a venv made from inside another
        # venv chains to it and breaks when that one is rebuilt.
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    (venv / MARKER_NAME).unlink(missing_ok=True)
    _log(f"installing {REQUIREMENTS.name} into {venv} (about 630 MB to download; takes minutes)")
    cmd = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        "-r",
        str(REQUIREMENTS),
    ]
    log_path = venv / "pip-install.log"
    rc = _run_pip_quietly(cmd, log_path, timeout)
    if rc != 0:
        raise LettaServerError(f"pip install failed with exit code {rc}; see {log_path}")
    if not venv_bin("letta", venv).exists():
        raise LettaServerError(f"pip finished but {venv_bin('letta', venv)} is missing")
    (venv / MARKER_NAME).write_text(requirements_hash() + "\n")
    _log(f"installed in {time.monotonic() - started:.0f} s")


def _run_pip_quietly(cmd: list[str], log_path: Path, timeout: float | None) -> int:
    """Run pip, keeping its full output in ``log_path`` and the terminal calm.

    This machine's pip.conf names local index folders that may be missing,
    and letta asks for an extra that ruff lacks: pip warns about both
    hundreds of times, so those lines go to the log only. A heartbeat line
    every 30 s shows the install is alive.
    """
    noise = ("is ignored: it is neither a file nor a directory", "does not provide the extra")
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                if not any(n in line for n in noise):
                    sys.stderr.write(line)
                    sys.stderr.flush()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            while True:
                try:
                    proc.wait(timeout=30)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - started
                    if timeout is not None and elapsed > timeout:
                        proc.kill()
                        proc.wait()
                        raise LettaServerError(f"pip install did not finish within {timeout:.0f} s") from None
                    _log(f"pip still installing ... {elapsed:.0f} s")
        except BaseException:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise
        reader.join(timeout=5)
    return proc.returncode


def _log(msg: str) -> None:
    """Progress goes to stderr so ``start`` keeps stdout for the state JSON."""
    print(f"[letta_server] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- start / stop


@dataclass
class ServerInfo:
    """Everything needed to talk to, and later stop, one running server pair.

    Serialised as the state JSON; ``password`` is the bearer token the
    server accepts (secure mode), generated fresh for every start.
    """

    base_url: str
    password: str
    port: int
    pid: int
    model_url: str
    model_port: int
    model_pid: int
    workdir: str
    state_file: str
    server_log: str
    model_log: str
    letta_version: str = LETTA_VERSION
    owns_workdir: bool = False
    seconds_to_healthy: float = 0.0

    def auth_headers(self) -> dict[str, str]:
        """The ``Authorization`` header this server accepts."""
        return {"Authorization": f"Bearer {self.password}"}

    def llm_config(self) -> dict[str, object]:
        """An agent ``llm_config`` pointing at the fake model (no real model key needed)."""
        return {
            "model": "fake-model",
            "model_endpoint_type": "openai",
            "model_endpoint": self.model_url,
            "context_window": 32000,
        }

    def embedding_config(self) -> dict[str, object]:
        """An agent ``embedding_config`` pointing at the fake model's embeddings."""
        return {
            "embedding_endpoint_type": "openai",
            "embedding_endpoint": self.model_url,
            "embedding_model": "fake-embed",
            "embedding_dim": 1536,
        }

    def agent_body(self, name: str) -> dict[str, object]:
        """The ``POST /v1/agents/`` body for an agent that answers via the fake model."""
        return {
            "name": name,
            "llm_config": self.llm_config(),
            "embedding_config": self.embedding_config(),
        }

    def to_json(self) -> str:
        """The state file's text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: Path) -> ServerInfo:
        """Read a state file written by :func:`start_server`."""
        data = json.loads(Path(path).read_text())
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


# Popen objects of the processes this interpreter started, by pid, so that
# stop_server() can reap them (no zombies left behind in a long pytest run).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}

# Letta reads these; one leaking in from the caller's shell would point the
# test server at a real database, a real model or a real tracing endpoint.
_SCRUBBED_ENV_PREFIXES = (
    "LETTA_",
    "OPENAI_",
    "ANTHROPIC_",
    "OTEL_",
    "SENTRY_",
    "DD_",
    "COMPOSIO_",
    "PYTHON",
    "VIRTUAL_ENV",
)


def _opener() -> urllib.request.OpenerDirector:
    # An empty ProxyHandler: loopback requests must never go through a proxy
    # that the environment may configure.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: object | None = None,
    timeout: float = 10.0,
) -> tuple[int, object]:
    """A tiny stdlib JSON client: returns ``(status, parsed body or text)``; never raises on HTTP errors."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with _opener().open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw or b"null")
    except json.JSONDecodeError:
        return status, raw.decode("utf-8", "replace")


def write_state(info: ServerInfo, path: Path | str) -> None:
    """Write the state JSON readable by the owner only: it holds the server password."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(info.to_json() + "\n")


def free_port() -> int:
    """A currently free TCP port on loopback (Letta cannot report the port it bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _spawn(cmd: list[str], log_path: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so its whole group can be killed) logging to a file."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def _tail(path: str | Path, lines: int = 40) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _server_env(home: Path, password: str, model_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUBBED_ENV_PREFIXES)}
    env.update(
        {
            "HOME": str(home),
            "PATH": f"{venv_bin('letta').parent}{os.pathsep}{env.get('PATH', '')}",
            "OPENAI_API_KEY": "sk-dummy",
            # The key enables Letta's built-in OpenAI provider, which lists
            # models when asked: pointing it at the fake model keeps any such
            # call on loopback instead of trying api.openai.com.
            "OPENAI_API_BASE": model_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "LETTA_SERVER_SECURE": "true",
            "LETTA_SERVER_PASSWORD": password,
            "PYTHONUNBUFFERED": "1",
            # composio (imported by letta) phones home on import and at exit:
            # a version check against PyPI and a Sentry DSN fetch. Off, so
            # the server stays on loopback (see also _quiet_composio).
            "COMPOSIO_DISABLE_VERSION_CHECK": "true",
            "COMPOSIO_DISABLE_SENTRY": "true",
            "COMPOSIO_CACHE_DIR": str(home / ".composio"),
        }
    )
    return env


def _quiet_composio(home: Path) -> None:
    """Pre-seed composio's cache so its atexit hook does not fetch a Sentry DSN.

    That hook runs whatever the environment says; it skips the fetch only
    when ``user_data.json`` already names a DSN (any non-null value).
    """
    cache = home / ".composio"
    cache.mkdir(parents=True, exist_ok=True)
    user_data = cache / "user_data.json"
    if not user_data.exists():
        user_data.write_text(json.dumps({"sentry": {"dsn": ""}}))


def _start_fake_model(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port_file = workdir / "fake_model.port"
    port_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PYTHONPATH",))}
    proc = _spawn(
        [sys.executable, str(FAKE_MODEL), "--host", LOOPBACK, "--port", "0", "--port-file", str(port_file)],
        workdir / "fake_model.log",
        workdir,
        env,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LettaServerError(f"fake model exited early:\n{_tail(workdir / 'fake_model.log')}")
        if port_file.exists():
            return proc, int(port_file.read_text())
        time.sleep(0.05)
    raise LettaServerError("fake model did not report its port within 15 s")


def start_server(
    workdir: Path,
    *,
    state_file: Path | None = None,
    port: int | None = None,
    health_timeout: float = HEALTH_TIMEOUT,
    progress: bool = True,
) -> ServerInfo:
    """Start the fake model and a secure Letta server on loopback; wait until healthy.

    ``workdir`` holds the server's ``HOME`` (so its SQLite database), both
    logs and, unless ``state_file`` says otherwise, ``state.json``. The state
    is written as soon as the processes exist, so ``stop`` can clean up even
    after an interrupted start; on any failure here both are stopped again.
    """
    if not is_installed():
        raise LettaServerError(
            f"letta {LETTA_VERSION} is not installed in {venv_dir()}: run `python {Path(__file__).name} install`"
        )
    workdir = Path(workdir).resolve()
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    _quiet_composio(home)
    state_path = Path(state_file) if state_file else workdir / "state.json"
    state_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    info: ServerInfo | None = None
    model_proc: subprocess.Popen[bytes] | None = None
    try:
        model_proc, model_port = _start_fake_model(workdir)
        model_url = f"http://{LOOPBACK}:{model_port}/v1"
        status, _ = http_json("GET", f"{model_url}/models", timeout=5)
        if status != 200:
            raise LettaServerError(f"fake model answered {status} on /v1/models")

        password = secrets.token_urlsafe(24)
        env = _server_env(home, password, model_url)
        # free_port() cannot reserve the port: another process may take it
        # before Letta binds. Then Letta exits at once; try a fresh port.
        for attempt in range(1, 4):
            server_port = port or free_port()
            server_log = workdir / "letta_server.log"
            server = _spawn(
                [str(venv_bin("letta")), "server", "--host", LOOPBACK, "--port", str(server_port)],
                server_log,
                workdir,
                env,
            )
            info = ServerInfo(
                base_url=f"http://{LOOPBACK}:{server_port}",
                password=password,
                port=server_port,
                pid=server.pid,
                model_url=model_url,
                model_port=model_port,
                model_pid=model_proc.pid,
                workdir=str(workdir),
                state_file=str(state_path),
                server_log=str(server_log),
                model_log=str(workdir / "fake_model.log"),
            )
            write_state(info, state_path)
            try:
                _wait_healthy(info, server, health_timeout, progress)
                break
            except LettaServerError:
                if port or attempt == 3 or "address already in use" not in _tail(server_log).lower():
                    raise
                _log(f"port {server_port} was taken before Letta bound it; retrying")
                _kill_group(server.pid, "letta")
        assert info is not None  # the loop above either broke with a server or raised
        info.seconds_to_healthy = round(time.monotonic() - started, 1)
        write_state(info, state_path)
        return info
    except BaseException:
        # KeyboardInterrupt included: a half-started pair must not outlive us.
        if info is not None:
            stop_server(info)
        elif model_proc is not None:
            _kill_group(model_proc.pid, "fake_model.py")
        raise


def _wait_healthy(info: ServerInfo, server: subprocess.Popen[bytes], timeout: float, progress: bool) -> None:
    started = time.monotonic()
    next_note = started + 5
    last = "no answer yet"
    while True:
        elapsed = time.monotonic() - started
        if server.poll() is not None:
            raise LettaServerError(
                f"letta server exited with code {server.returncode} before it was healthy:\n{_tail(info.server_log)}"
            )
        try:
            status, _ = http_json("GET", f"{info.base_url}/v1/health/", headers=info.auth_headers(), timeout=3)
            if status == 200:
                if progress:
                    _log(f"letta server healthy at {info.base_url} after {elapsed:.1f} s")
                return
            last = f"HTTP {status}"
        except (OSError, urllib.error.URLError) as exc:
            last = type(exc).__name__
        if elapsed > timeout:
            raise LettaServerError(
                f"letta server not healthy after {timeout:.0f} s ({last}):\n{_tail(info.server_log)}"
            )
        if progress and time.monotonic() >= next_note:
            _log(f"waiting for {info.base_url}/v1/health/ ... {elapsed:.0f} s ({last})")
            next_note += 5
        time.sleep(0.5)


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_group_gone(pgid: int, child: subprocess.Popen[bytes] | None, grace: float) -> bool:
    """Wait up to ``grace`` seconds for every process of the group to end."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if child is not None:
            # Reap our own child: unreaped, it stays a zombie member of the
            # group and the group would look alive for ever.
            child.poll()
        if not _group_alive(pgid):
            return True
        time.sleep(0.1)
    return False


def _kill_group(pid: int, expect: str, timeout: float = 15.0) -> None:
    """Stop the process group led by ``pid``: SIGTERM, then SIGKILL after ``timeout``.

    Each process was started with its own session, so its pid is its group
    id and the group also holds anything it spawned. When the leader still
    runs, its command line must contain ``expect``: a stale state file must
    never make us kill an unrelated process that reused the pid.
    """
    if pid <= 1:
        return
    child = _CHILDREN.get(pid)
    cmdline = _cmdline(pid)
    if child is None and cmdline is not None and expect not in cmdline:
        _log(f"pid {pid} is not ours any more ({cmdline[:80]!r}); not killing it")
        return
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        if _wait_group_gone(pid, child, grace):
            break
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
        _CHILDREN.pop(pid, None)


def stop_server(info: ServerInfo, *, remove_state: bool = True) -> None:
    """Stop the Letta server and the fake model (both whole process groups); safe to call twice."""
    _kill_group(info.pid, "letta")
    _kill_group(info.model_pid, "fake_model.py")
    if remove_state:
        Path(info.state_file).unlink(missing_ok=True)


def server_status(info: ServerInfo) -> dict[str, object]:
    """Whether each process runs and whether the server answers its health check."""
    healthy = False
    try:
        status, _ = http_json("GET", f"{info.base_url}/v1/health/", headers=info.auth_headers(), timeout=3)
        healthy = status == 200
    except (OSError, urllib.error.URLError):
        pass
    return {
        "base_url": info.base_url,
        "server_running": _cmdline(info.pid) is not None,
        "model_running": _cmdline(info.model_pid) is not None,
        "healthy": healthy,
    }


# ---------------------------------------------------------------- CLI


def _cmd_start(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if state.exists():
        try:
            old = ServerInfo.from_file(state)
        except (OSError, ValueError, TypeError):
            old = None
        if old is not None and server_status(old)["server_running"]:
            _log(f"a server from {state} is still running at {old.base_url}; run `stop --state {state}` first")
            return 1
        state.unlink()
    if args.workdir:
        workdir, owns = Path(args.workdir), False
    else:
        workdir, owns = Path(tempfile.mkdtemp(prefix="letta-switchboard-")), True
    try:
        info = start_server(workdir, state_file=state, port=args.port, health_timeout=args.timeout)
    except LettaServerError as exc:
        _log(str(exc))
        if owns:
            shutil.rmtree(workdir, ignore_errors=True)
        return 1
    info.owns_workdir = owns
    write_state(info, state)
    print(info.to_json(), flush=True)
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if not state.exists():
        _log(f"no state file {state}: nothing to stop")
        return 0
    info = ServerInfo.from_file(state)
    stop_server(info)
    if info.owns_workdir and not args.keep:
        shutil.rmtree(info.workdir, ignore_errors=True)
    _log(f"stopped server pid {info.pid} and fake model pid {info.model_pid}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = Path(args.state)
    if not state.exists():
        print(json.dumps({"running": False, "state_file": str(state)}))
        return 1
    result = server_status(ServerInfo.from_file(state))
    print(json.dumps(result, indent=2))
    return 0 if result["healthy"] else 1


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_install = sub.add_parser("install", help=f"create the letta {LETTA_VERSION} venv (idempotent)")
    p_install.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    for name, helptext in (("start", "start fake model + server"), ("stop", "stop both"), ("status", "report")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--state", default=str(DEFAULT_STATE), help=f"state JSON (default {DEFAULT_STATE})")
        if name == "start":
            p.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
            p.add_argument("--workdir", default=None, help="HOME and logs (default: a new temp dir)")
            p.add_argument("--timeout", type=float, default=HEALTH_TIMEOUT, help="seconds to wait for health")
        if name == "stop":
            p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite)")
    args = parser.parse_args(argv)
    if args.command == "install":
        try:
            ensure_installed(timeout=args.timeout)
        except (LettaServerError, OSError, subprocess.SubprocessError) as exc:
            _log(f"install failed: {exc}")
            return 1
        return 0
    return {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
