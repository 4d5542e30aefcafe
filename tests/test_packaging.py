"""switchboard as a tool people install once: --version, shell completion, the sdist and wheel, uv tool install.

The wheel and sdist are built for real (`python -m build --no-isolation`: the
build backend is the locked one in this venv, so nothing is downloaded) and
checked with `twine check`. The wheel is then installed with `uv tool install
--offline` into a temporary tool folder (uv's cache is warm: make installed
the same locked packages with it) and its own `switchboard serve` serves the
web page on 127.0.0.1.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import Parser
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from api_server import free_port
from conftest import ROOT, Repo, run_cli

from switchboard import __version__
from switchboard.testing.letta import LettaStandIn

BIN = Path(sys.executable).parent
STATIC = ROOT / "switchboard" / "api" / "static"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    assert __version__ == version("letta-switchboard") == VERSION
    done = run_cli("--version", env={"HOME": str(tmp_path)})
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"switchboard {VERSION} (Python {platform.python_version()})\n"


def test_shell_completion_completes_commands_and_options_in_bash(tmp_path: Path) -> None:
    tab = '_switchboard_completion switchboard; echo "${COMPREPLY[*]}"\n'
    script = (
        'eval "$(switchboard --show-completion)"\n'
        "complete -p switchboard\n"
        # What bash does on <TAB> after `switchboard recurring pa` and `switchboard send --ag`.
        f"COMP_WORDS=(switchboard recurring pa); COMP_CWORD=2; {tab}"
        f"COMP_WORDS=(switchboard send --ag); COMP_CWORD=2; {tab}"
    )
    env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path), "SHELL": "/bin/bash"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "complete -o default -F _switchboard_completion switchboard"
    assert lines[1:] == ["pause", "--agent-id"]


# -- the sdist and the wheel ------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """The sdist and the wheel `python -m build` made."""

    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    # A copy, so that the build's build/ and egg-info land nowhere near the checkout.
    src = tmp_path_factory.mktemp("src") / "letta-switchboard"
    skip = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, src, ignore=skip)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Built(sdist, wheel)


@pytest.mark.slow
def test_the_wheel_holds_the_package_the_page_and_the_metadata(built: Built) -> None:
    assert built.wheel.name == f"letta_switchboard-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        for page in sorted(STATIC.iterdir()):
            assert wheel.read(f"switchboard/api/static/{page.name}") == page.read_bytes()
        info = f"letta_switchboard-{VERSION}.dist-info"
        metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "switchboard/cli/root.py" in names and "switchboard/tick/__init__.py" in names
    assert not {n for n in names if n.startswith(("tests/", "benchmarks/", "scripts/", "data/"))}
    assert "switchboard = switchboard.cli:run" in entry_points
    assert metadata["Name"] == "letta-switchboard" and metadata["Version"] == VERSION
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "MIT"
    assert set(metadata.get_all("Classifier") or []) == set(PYPROJECT["project"]["classifiers"])
    assert metadata.get_all("Project-URL"), "no project URL in the metadata"
    assert set(metadata.get_all("Provides-Extra") or []) == {"api", "github", "dev"}
    assert metadata["Description-Content-Type"] == "text/markdown"


@pytest.mark.slow
def test_the_sdist_holds_the_page_and_both_pass_twine_check(built: Built) -> None:
    top = f"letta_switchboard-{VERSION}"
    with tarfile.open(built.sdist) as sdist:
        names = set(sdist.getnames())
    assert {f"{top}/switchboard/api/static/{p.name}" for p in STATIC.iterdir()} <= names
    assert {f"{top}/pyproject.toml", f"{top}/README.md", f"{top}/LICENSE"} <= names
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(built.sdist), str(built.wheel)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout


# -- uv tool install, then the installed command serves the page --------------------------------------


@pytest.fixture(scope="module")
def tool(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `switchboard` that `uv tool install 'letta_switchboard-….whl[api]'` put on a (temporary) PATH."""
    uv = shutil.which("uv", path=str(BIN))
    if uv is None:
        pytest.skip("no uv next to this Python: `make` installs it from requirements/uv.txt")
    top = tmp_path_factory.mktemp("tools")
    env = {**os.environ, "UV_TOOL_DIR": str(top / "tools"), "UV_TOOL_BIN_DIR": str(top / "bin")}
    done = subprocess.run(
        # Offline, and held to the locked versions: the packages are those make installed with this uv.
        [uv, "tool", "install", "--offline", "--constraints", str(ROOT / "requirements" / "dev.txt"),
         f"{built.wheel}[api]"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stderr}\n(uv's cache is warm after `make`; run it first)"
    return top / "bin" / "switchboard"


@pytest.fixture
def served(tool: Path, repo: Repo, key: str, standin: LettaStandIn, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "SWITCHBOARD_REPO": str(repo.clone),
        "SWITCHBOARD_ENCRYPTION_KEY": key,
        "LETTA_BASE_URL": standin.base_url,
    }
    proc = subprocess.Popen(
        [str(tool), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"switchboard serve did not come up: {proc.communicate(timeout=10)[1]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_the_wheel_installed_with_uv_tool_runs_and_serves_the_page(tool: Path, served: str, tmp_path: Path) -> None:
    # Away from the checkout, whose switchboard/ folder a `python -c` would import instead.
    done = subprocess.run([str(tool), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith(f"switchboard {VERSION} (Python ")
    # The tool's own environment, not this checkout: its switchboard lives under the tool folder.
    where = subprocess.run(
        [str(tool.parent.parent / "tools" / "letta-switchboard" / "bin" / "python"), "-c",
         "import switchboard, sys; sys.stdout.write(switchboard.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert Path(where.stdout).is_relative_to(tool.parent.parent), where.stdout + where.stderr
    assert httpx.get(f"{served}/health").json()["version"] == VERSION
    pages = [("/", "index.html"), ("/dashboard", "index.html"), ("/static/app.js", "app.js"),
             ("/static/style.css", "style.css")]  # fmt: skip
    for path, name in pages:
        answer = httpx.get(served + path, headers={"Accept": "text/html,*/*"})  # as a browser asks
        assert answer.status_code == 200, path
        assert answer.content == (STATIC / name).read_bytes(), path
