"""The package's structure: no import cycle, and one exception tree.

Read from the source itself (``ast``), so a new module is checked without
being listed here.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import switchboard
from switchboard import exceptions

PACKAGE = Path(switchboard.__file__).parent


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its file (in functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    wanted: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            # "from a.b import c" imports a.b, and a.b.c too when c is a module.
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        wanted.update(t for t in targets if t in modules and t != name)
    return wanted


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle in ``graph``, as the list of modules around it, or None."""
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        trail.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        trail.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_cycle_in_the_package() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    # A package's __init__ gathering its own submodules is its face, not a cycle: a submodule
    # importing its parent package would be, and stays in the graph.
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".") or modules[name].name != "__init__.py"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_exception_is_in_the_one_tree() -> None:
    tree = inspect.getdoc(exceptions) or ""
    strays: list[str] = []
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="switchboard."):
        if info.name.startswith(("switchboard.testing", "switchboard.agent_tools.source", "switchboard.__main__")):
            continue  # test support, and tool code that runs inside Letta with the stdlib only
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if not (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == info.name):
                continue
            if info.name != "switchboard.exceptions" or not issubclass(value, exceptions.SwitchboardError):
                strays.append(f"{info.name}.{value.__name__}")
    assert strays == [], f"define these in switchboard/exceptions.py, below SwitchboardError: {strays}"
    for name, value in vars(exceptions).items():
        if inspect.isclass(value) and issubclass(value, exceptions.SwitchboardError):
            assert name.endswith("Error") and name in tree, f"{name} is missing from the tree in the docstring"


def test_only_the_settings_module_reads_the_environment() -> None:
    # git runs with the environment it was given, and the agent tools' code runs inside Letta.
    allowed = {"switchboard.config", "switchboard.backends.git", "switchboard.agent_tools.source"}
    readers = [
        name
        for name, path in _modules().items()
        if not name.startswith("switchboard.testing")
        and name not in allowed
        and any(word in path.read_text(encoding="utf-8") for word in ("os.environ", "getenv("))
    ]
    assert readers == [], f"read settings through switchboard.config (Settings.env), not os.environ: {readers}"


def test_every_variable_named_in_the_code_is_listed_and_documented() -> None:
    from switchboard.config import VARIABLES

    named: set[str] = set()
    for name, path in _modules().items():
        if name.startswith(("switchboard.testing", "switchboard.agent_tools.source")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named.update(re.findall(r"\b(?:SWITCHBOARD|LETTA)_[A-Z][A-Z_]*[A-Z]\b", node.value))
    # Not read by switchboard: the agent's own tool environment, and a repository variable the workflow reads.
    named -= {"SWITCHBOARD_URL", "SWITCHBOARD_TOKEN", "LETTA_AGENT_ID", "SWITCHBOARD_FAILURE_ISSUES"}
    assert sorted(named - set(VARIABLES)) == [], "add these to config.VARIABLES (and docs/settings.md)"
    table = (PACKAGE.parent / "docs" / "settings.md").read_text(encoding="utf-8")
    documented = re.findall(r"^\| `([A-Z_]+)` \|", table, re.M)
    assert documented == list(VARIABLES), "docs/settings.md's table and config.VARIABLES differ"
