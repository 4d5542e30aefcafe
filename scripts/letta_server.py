#!/usr/bin/env python3
"""Install, start and stop a real Letta server (0.11.7 or 0.16.8) on loopback, for end-to-end tests.

Usage::

    python scripts/letta_server.py install [--version V | --all]  # once; cached outside the repo
    python scripts/letta_server.py start [--version V] [--state F] # prints the state JSON
    python scripts/letta_server.py status [--version V] [--state F]
    python scripts/letta_server.py stop [--version V] [--state F]

``--version`` defaults to 0.16.8 (0.11.7 is kept for a run on request). Each version has its own venv under
``~/.cache/letta-switchboard/letta-<version>``, installed from the pin list
``letta-server-<version>-requirements.txt`` beside this file:

- **0.11.7** keeps its data in SQLite under the server's ``HOME``.
- **0.16.8** needs PostgreSQL with pgvector: its pin list has the
  ``pgserver`` wheel, which ships Postgres 16 and pgvector. ``start`` runs a
  private cluster (password-protected, in a new temp dir, on a free loopback
  port, as an unprivileged user when run as root), creates Letta's schema
  from ``letta.orm`` (``letta_pg_schema.py``) and points Letta at it with
  ``LETTA_PG_URI``.

Either way the server runs in secure mode with a fresh password and talks to
``fake_model.py``; ``stop`` ends every process by the PIDs in the state file
(Letta, the fake model and Postgres), even after the caller crashed.

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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

#: Every Letta version this harness can run, oldest first.
VERSIONS = ("0.11.7", "0.16.8")
#: The version used when none is named: the last V1 server, kept as the runnable model of the Letta API.
LETTA_VERSION = DEFAULT_VERSION = "0.16.8"
#: The versions the tests (and CI) run; 0.11.7 only when SWITCHBOARD_LETTA_VERSIONS names it
#: (its quirks are not Letta Cloud's, and it costs CI minutes).
TESTED_VERSIONS = ("0.16.8",)
#: Versions that keep their data in PostgreSQL (the others use SQLite).
POSTGRES_VERSIONS = frozenset({"0.16.8"})
#: How big each install is, for the progress line.
INSTALL_SIZE = {"0.11.7": "about 630 MB to download", "0.16.8": "about 1.1 GB on disk"}
SCRIPTS_DIR = Path(__file__).resolve().parent
FAKE_MODEL = SCRIPTS_DIR / "fake_model.py"
PG_SCHEMA = SCRIPTS_DIR / "letta_pg_schema.py"
MARKER_NAME = ".switchboard-installed"
STATE_DIR = Path(tempfile.gettempdir()) / "letta-switchboard-server"
HEALTH_TIMEOUT = 120.0
POSTGRES_TIMEOUT = 60.0
LOOPBACK = "127.0.0.1"
#: The system user Postgres runs as when this script runs as root (Postgres refuses root).
PG_SYSTEM_USER = "nobody"
PG_ROLE = "letta"
PG_DATABASE = "letta"


class LettaServerError(RuntimeError):
    """The Letta server could not be installed, started or reached."""


# ---------------------------------------------------------------- install


def check_version(version: str) -> str:
    """``version`` itself when this harness knows it; else a clear error."""
    if version not in VERSIONS:
        raise LettaServerError(f"unknown Letta version {version!r}; known: {', '.join(VERSIONS)}")
    return version


def default_state(version: str = DEFAULT_VERSION) -> Path:
    """The state file ``start``/``stop``/``status`` use when ``--state`` is not given."""
    return STATE_DIR / f"state-{version}.json"


def requirements_path(version: str = DEFAULT_VERSION) -> Path:
    """The committed pin list a version's venv is installed from."""
    return SCRIPTS_DIR / f"letta-server-{check_version(version)}-requirements.txt"


def venv_dir(version: str = DEFAULT_VERSION) -> Path:
    """Where a version's virtualenv lives: outside the repo, so it is never committed.

    ``LETTA_SERVER_CACHE`` moves the folder holding every version's venv
    (default ``~/.cache/letta-switchboard``).
    """
    cache = os.environ.get("LETTA_SERVER_CACHE")
    root = Path(cache).expanduser() if cache else Path.home() / ".cache" / "letta-switchboard"
    return root / f"letta-{check_version(version)}"


def venv_bin(name: str, venv: Path | None = None) -> Path:
    """Path of an executable inside a server venv (default: the default version's)."""
    return (venv or venv_dir()) / "bin" / name


def requirements_hash(version: str = DEFAULT_VERSION) -> str:
    """Hash of the pin list: the marker stores it, so a changed list reinstalls."""
    return hashlib.sha256(requirements_path(version).read_bytes()).hexdigest()


def is_installed(version: str = DEFAULT_VERSION) -> bool:
    """True when the version's venv exists and was fully installed from today's pin list."""
    venv = venv_dir(version)
    marker = venv / MARKER_NAME
    try:
        return marker.read_text().strip() == requirements_hash(version) and venv_bin("letta", venv).exists()
    except OSError:
        return False


def installed_versions() -> list[str]:
    """The versions whose venv is ready, oldest first."""
    return [v for v in VERSIONS if is_installed(v)]


def pypi_reachable(timeout: float = 10.0, version: str = DEFAULT_VERSION) -> bool:
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
    return proc.returncode == 0 and version in proc.stdout


def ensure_installed(timeout: float | None = None, version: str = DEFAULT_VERSION) -> Path:
    """Create a version's server venv and install its pinned requirements, once.

    Idempotent: a marker file holding the requirements' hash is written only
    after pip succeeds, so an interrupted install is retried next time and a
    finished one returns at once. A lock file keeps two concurrent callers
    (a CI step and a pytest run, two terminals) from installing on top of
    each other. Returns the venv path.
    """
    venv = venv_dir(version)
    if is_installed(version):
        _log(f"letta {version} already installed in {venv}")
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_installed(version):  # another process finished while we waited
            return venv
        _install_locked(venv, version, timeout)
    return venv


def _install_locked(venv: Path, version: str, timeout: float | None) -> None:
    requirements = requirements_path(version)
    started = time.monotonic()
    python = venv_bin("python", venv)
    if not python.exists():
        _log(f"creating virtualenv {venv}")
        # The base interpreter, not a venv's: a venv made from inside another
        # venv chains to it and breaks when that one is rebuilt.
        base = getattr(sys, "_base_executable", None) or sys.executable
        subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    (venv / MARKER_NAME).unlink(missing_ok=True)
    _log(f"installing {requirements.name} into {venv} ({INSTALL_SIZE[version]}; takes minutes)")
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
        str(requirements),
    ]
    log_path = venv / "pip-install.log"
    rc = _run_pip_quietly(cmd, log_path, timeout)
    if rc != 0:
        raise LettaServerError(f"pip install failed with exit code {rc}; see {log_path}")
    if not venv_bin("letta", venv).exists():
        raise LettaServerError(f"pip finished but {venv_bin('letta', venv)} is missing")
    (venv / MARKER_NAME).write_text(requirements_hash(version) + "\n")
    _log(f"installed letta {version} in {time.monotonic() - started:.0f} s")


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
    """Everything needed to talk to, and later stop, one running server and its helpers.

    Serialised as the state JSON; ``password`` is the bearer token the
    server accepts (secure mode), generated fresh for every start. The
    ``pg_*`` fields are set for versions that run on PostgreSQL: ``pg_pid``
    is the postmaster, ``pg_dir`` the temp dir holding its cluster (removed
    by :func:`stop_server`).
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
    letta_version: str = DEFAULT_VERSION
    owns_workdir: bool = False
    seconds_to_healthy: float = 0.0
    pg_pid: int = 0
    pg_port: int = 0
    pg_dir: str = ""
    pg_log: str = ""

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


def _spawn(
    cmd: list[str], log_path: Path, cwd: Path, env: dict[str, str], user: str | None = None
) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so its whole group can be killed) logging to a file.

    ``user`` (root only) runs it as that system user; the log stays ours.
    """
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=_primary_group(user) if user else None,
        )
    _CHILDREN[proc.pid] = proc
    return proc


def _tail(path: str | Path, lines: int = 40) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _server_env(home: Path, password: str, model_url: str, version: str, pg_uri: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUBBED_ENV_PREFIXES)}
    env.update(
        {
            "HOME": str(home),
            "PATH": f"{venv_bin('letta', venv_dir(version)).parent}{os.pathsep}{env.get('PATH', '')}",
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
    if pg_uri:
        env["LETTA_PG_URI"] = pg_uri
        # Letta's default opens a new database connection per session; with
        # it, about one run in five here sat at "created" for 60 s (a
        # connect timing out) before completing. A connection pool does not.
        env["LETTA_DISABLE_SQLALCHEMY_POOLING"] = "false"
    if version != "0.11.7":
        # 0.16.8 fetches NLTK's index from GitHub at start-up: a proxy on a
        # closed loopback port makes that fail at once and keeps the server
        # off the network (loopback stays direct through NO_PROXY).
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
            env[name] = f"http://{LOOPBACK}:9"
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


# ---------------------------------------------------------------- PostgreSQL (0.16.8)


@dataclass
class _Postgres:
    """A private PostgreSQL cluster started for one Letta server."""

    proc: subprocess.Popen[bytes]
    port: int
    password: str
    pg_dir: Path
    log: Path

    def uri(self) -> str:
        """``LETTA_PG_URI`` for Letta: TCP on loopback, no TLS (nothing leaves the machine)."""
        return f"postgresql://{PG_ROLE}:{self.password}@{LOOPBACK}:{self.port}/{PG_DATABASE}?sslmode=disable"


def _primary_group(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_gid


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise LettaServerError(f"no site-packages in {venv}")
    return found[-1]


def _postgres_bin(venv: Path, pg_dir: Path, user: str | None) -> Path:
    """The folder of pgserver's Postgres binaries, readable by the user Postgres runs as.

    Run as root, Postgres must run as another user, who cannot read a venv
    under root's home: the binaries are copied into ``pg_dir`` then, keeping
    the layout their RPATH expects (``pgserver.libs`` three levels up).
    """
    site = _site_packages(venv)
    if user is None:
        return site / "pgserver" / "pginstall" / "bin"
    shutil.copytree(site / "pgserver" / "pginstall", pg_dir / "pgserver" / "pginstall", symlinks=True)
    shutil.copytree(site / "pgserver.libs", pg_dir / "pgserver.libs", symlinks=True)
    return pg_dir / "pgserver" / "pginstall" / "bin"


def _pg_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGHOST, ...) from the caller must not steer the private cluster.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PG", "PYTHON", "LC_"))}
    env["LC_ALL"] = "C"
    return env


def _start_postgres(version: str, workdir: Path, on_spawn: Callable[[_Postgres], None]) -> _Postgres:
    """initdb and start a password-protected cluster on a free loopback port; wait until it accepts connections.

    ``on_spawn`` is called as soon as the postmaster exists (to write the
    state file), so a crash during the wait still leaves its PID behind.
    """
    user = PG_SYSTEM_USER if os.geteuid() == 0 else None
    pg_dir = Path(tempfile.mkdtemp(prefix="letta-switchboard-pg-"))
    if user:
        pg_dir.chmod(0o755)  # the Postgres user must reach its data dir and binaries
    bin_dir = _postgres_bin(venv_dir(version), pg_dir, user)
    data = pg_dir / "data"
    data.mkdir(mode=0o700)
    password = secrets.token_urlsafe(24)
    pwfile = pg_dir / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if user:
        uid, gid = _uid(user), _primary_group(user)
        os.chown(data, uid, gid)
        os.chown(pwfile, uid, gid)
    log = workdir / "postgres.log"
    initdb = [
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        PG_ROLE,
        "--auth=scram-sha-256",
        f"--pwfile={pwfile}",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]
    with log.open("ab") as out:
        done = subprocess.run(
            initdb,
            cwd=pg_dir,
            env=_pg_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            user=user,
            group=_primary_group(user) if user else None,
            timeout=120,
            check=False,
        )
    pwfile.unlink()
    if done.returncode != 0:
        shutil.rmtree(pg_dir, ignore_errors=True)
        raise LettaServerError(f"initdb failed with exit code {done.returncode}:\n{_tail(log)}")
    for attempt in range(1, 4):
        port = free_port()
        offset = log.stat().st_size
        proc = _spawn(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-p",
                str(port),
                # TCP on loopback only: no Unix socket for other local users to find.
                "-c",
                "unix_socket_directories=",
                # A throwaway test cluster: durability buys nothing, speed does.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            log,
            pg_dir,
            _pg_env(),
            user=user,
        )
        pg = _Postgres(proc=proc, port=port, password=password, pg_dir=pg_dir, log=log)
        on_spawn(pg)
        deadline = time.monotonic() + POSTGRES_TIMEOUT
        while True:
            with log.open("rb") as fh:
                fh.seek(offset)
                text = fh.read().decode("utf-8", "replace")
            if "ready to accept connections" in text:
                return pg
            if proc.poll() is not None:
                if attempt < 3 and "could not bind" in text.lower():
                    _log(f"port {port} was taken before Postgres bound it; retrying")
                    break
                raise LettaServerError(f"postgres exited with code {proc.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise LettaServerError(f"postgres not ready after {POSTGRES_TIMEOUT:.0f} s:\n{_tail(log)}")
            time.sleep(0.1)
    raise LettaServerError("postgres could not bind a free port")


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


def _create_schema(version: str, pg: _Postgres, workdir: Path) -> None:
    """Letta's tables in the new cluster, made by ``letta_pg_schema.py`` in the server venv."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_SCRUBBED_ENV_PREFIXES)}
    env.update({"LETTA_PG_URI": pg.uri(), "HOME": str(workdir / "home"), "NO_PROXY": "127.0.0.1,localhost"})
    log = workdir / "schema.log"
    with log.open("ab") as out:
        done = subprocess.run(
            [str(venv_bin("python", venv_dir(version))), str(PG_SCHEMA)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=300,
            check=False,
        )
    if done.returncode != 0:
        raise LettaServerError(f"creating Letta's schema failed (exit {done.returncode}):\n{_tail(log)}")


# ---------------------------------------------------------------- start / stop (both versions)


def start_server(
    workdir: Path,
    *,
    version: str = DEFAULT_VERSION,
    state_file: Path | None = None,
    port: int | None = None,
    health_timeout: float = HEALTH_TIMEOUT,
    progress: bool = True,
    owns_workdir: bool = False,
) -> ServerInfo:
    """Start the fake model, Postgres when the version needs it, and a secure Letta server; wait until healthy.

    ``workdir`` holds the server's ``HOME`` (so 0.11.7's SQLite database),
    the logs and, unless ``state_file`` says otherwise, ``state.json``. The
    state is written as soon as each process exists, so ``stop`` can clean
    up even after an interrupted start; on any failure here all are stopped again.
    ``owns_workdir`` is recorded so that ``stop`` removes ``workdir`` too.
    """
    check_version(version)
    if not is_installed(version):
        raise LettaServerError(
            f"letta {version} is not installed in {venv_dir(version)}: "
            f"run `python {Path(__file__).name} install --version {version}`"
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
    pg: _Postgres | None = None
    # Until the Letta server exists, a partial state names the helpers, for `stop`.
    partial: dict[str, object] = {"owns_workdir": owns_workdir}

    def note(pg_new: _Postgres) -> None:
        nonlocal pg
        pg = pg_new
        partial.update(pg_pid=pg_new.proc.pid, pg_port=pg_new.port, pg_dir=str(pg_new.pg_dir), pg_log=str(pg_new.log))
        _write_partial_state(state_path, workdir, version, model_proc, partial)

    try:
        model_proc, model_port = _start_fake_model(workdir)
        _write_partial_state(state_path, workdir, version, model_proc, partial)
        model_url = f"http://{LOOPBACK}:{model_port}/v1"
        status, _ = http_json("GET", f"{model_url}/models", timeout=5)
        if status != 200:
            raise LettaServerError(f"fake model answered {status} on /v1/models")

        pg_uri = ""
        if version in POSTGRES_VERSIONS:
            _start_postgres(version, workdir, note)
            assert pg is not None
            _create_schema(version, pg, workdir)
            pg_uri = pg.uri()
            if progress:
                _log(f"postgres ready on {LOOPBACK}:{pg.port} after {time.monotonic() - started:.1f} s")

        password = secrets.token_urlsafe(24)
        env = _server_env(home, password, model_url, version, pg_uri)
        # free_port() cannot reserve the port: another process may take it
        # before Letta binds. Then Letta exits at once; try a fresh port.
        for attempt in range(1, 4):
            server_port = port or free_port()
            server_log = workdir / "letta_server.log"
            server = _spawn(
                [str(venv_bin("letta", venv_dir(version))), "server", "--host", LOOPBACK, "--port", str(server_port)],
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
                letta_version=version,
                **partial,  # type: ignore[arg-type]
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
        # KeyboardInterrupt included: a half-started set must not outlive us.
        if info is not None:
            stop_server(info)
        else:
            if model_proc is not None:
                _kill_group(model_proc.pid, "fake_model.py")
            if pg is not None:
                _stop_postgres(pg.proc.pid, str(pg.pg_dir))
            state_path.unlink(missing_ok=True)
        raise


def _write_partial_state(
    state_path: Path, workdir: Path, version: str, model_proc: subprocess.Popen[bytes] | None, pg: dict[str, object]
) -> None:
    """The state before Letta runs: enough for ``stop`` to end the helpers already started."""
    info = ServerInfo(
        base_url="",
        password="",
        port=0,
        pid=0,
        model_url="",
        model_port=0,
        model_pid=model_proc.pid if model_proc else 0,
        workdir=str(workdir),
        state_file=str(state_path),
        server_log="",
        model_log=str(workdir / "fake_model.log"),
        letta_version=version,
        **pg,  # type: ignore[arg-type]
    )
    write_state(info, state_path)


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


def _stop_postgres(pid: int, pg_dir: str) -> None:
    """Stop the postmaster (and its backends: its process group), then remove its cluster."""
    _kill_group(pid, "postgres")
    # Only a dir this harness made: a corrupt state file must not delete anything else.
    if pg_dir and Path(pg_dir).name.startswith("letta-switchboard-pg-"):
        shutil.rmtree(pg_dir, ignore_errors=True)


def stop_server(info: ServerInfo, *, remove_state: bool = True) -> None:
    """Stop the Letta server, the fake model and Postgres (whole process groups); safe to call twice."""
    _kill_group(info.pid, "letta")
    _kill_group(info.model_pid, "fake_model.py")
    if info.pg_pid:
        _stop_postgres(info.pg_pid, info.pg_dir)
    if remove_state:
        Path(info.state_file).unlink(missing_ok=True)


def server_status(info: ServerInfo) -> dict[str, object]:
    """Whether each process runs and whether the server answers its health check."""
    healthy = False
    try:
        if info.base_url:  # empty while a start is still under way
            status, _ = http_json("GET", f"{info.base_url}/v1/health/", headers=info.auth_headers(), timeout=3)
            healthy = status == 200
    except (OSError, urllib.error.URLError):
        pass
    result: dict[str, object] = {
        "letta_version": info.letta_version,
        "base_url": info.base_url,
        "server_running": info.pid > 1 and _cmdline(info.pid) is not None,
        "model_running": info.model_pid > 1 and _cmdline(info.model_pid) is not None,
        "healthy": healthy,
    }
    if info.pg_pid:
        result["postgres_running"] = _cmdline(info.pg_pid) is not None
    return result


# ---------------------------------------------------------------- CLI


def _state_path(args: argparse.Namespace) -> Path:
    return Path(args.state) if args.state else default_state(args.version)


def _cmd_start(args: argparse.Namespace) -> int:
    state = _state_path(args)
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
        info = start_server(
            workdir,
            version=args.version,
            state_file=state,
            port=args.port,
            health_timeout=args.timeout,
            owns_workdir=owns,
        )
    except LettaServerError as exc:
        _log(str(exc))
        if owns:
            shutil.rmtree(workdir, ignore_errors=True)
        return 1
    write_state(info, state)
    print(info.to_json(), flush=True)
    return 0


def _cmd_stop(args: argparse.Namespace) -> int:
    state = _state_path(args)
    if not state.exists():
        _log(f"no state file {state}: nothing to stop")
        return 0
    info = ServerInfo.from_file(state)
    stop_server(info)
    if info.owns_workdir and not args.keep:
        shutil.rmtree(info.workdir, ignore_errors=True)
    pg = f" and postgres pid {info.pg_pid}" if info.pg_pid else ""
    _log(f"stopped letta {info.letta_version} pid {info.pid}, fake model pid {info.model_pid}{pg}")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    state = _state_path(args)
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
    versions = {"choices": VERSIONS, "default": DEFAULT_VERSION, "help": f"Letta version (default {DEFAULT_VERSION})"}
    p_install = sub.add_parser("install", help="create a Letta version's venv (idempotent)")
    p_install.add_argument("--version", **versions)  # type: ignore[arg-type]
    p_install.add_argument("--all", action="store_true", help=f"install every version: {', '.join(VERSIONS)}")
    p_install.add_argument("--timeout", type=float, default=None, help="give up after this many seconds (each)")
    for name, helptext in (("start", "start fake model + server"), ("stop", "stop them all"), ("status", "report")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--version", **versions)  # type: ignore[arg-type]
        p.add_argument("--state", default=None, help=f"state JSON (default {default_state('VERSION')})")
        if name == "start":
            p.add_argument("--port", type=int, default=None, help="server port (default: a free one)")
            p.add_argument("--workdir", default=None, help="HOME and logs (default: a new temp dir)")
            p.add_argument("--timeout", type=float, default=HEALTH_TIMEOUT, help="seconds to wait for health")
        if name == "stop":
            p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, SQLite)")
    args = parser.parse_args(argv)
    if args.command == "install":
        for version in VERSIONS if args.all else (args.version,):
            try:
                ensure_installed(timeout=args.timeout, version=version)
            except (LettaServerError, OSError, subprocess.SubprocessError) as exc:
                _log(f"install of letta {version} failed: {exc}")
                return 1
        return 0
    return {"start": _cmd_start, "stop": _cmd_stop, "status": _cmd_status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
