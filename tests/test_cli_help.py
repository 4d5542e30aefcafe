"""Help pages a person reads: no type labels, usage lines as typed, and examples that parse."""

from __future__ import annotations

import re
import shlex

import pytest
import typer.main

from switchboard.cli import app, main
from switchboard.cli.helppages import EXAMPLES


def command_paths() -> list[str]:
    """Every command and group under `switchboard`, as typed after it ("" is the root)."""
    paths: list[str] = []

    def walk(command: object, path: str) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return paths


def help_page(path: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main([*path.split(), "--help"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: p or "switchboard")
def test_every_help_page_names_values_and_ends_with_examples(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    page = help_page(path, capsys)
    usage = next(line for line in page.splitlines() if "Usage:" in line)
    assert f"Usage: switchboard {path}".replace("  ", " ").rstrip() in usage
    assert not re.search(r"<(str|bool|int|float|path)>", page), page  # no type labels
    assert "{" not in usage  # typer's {ID}: a required argument is written as typed
    examples = page[page.index("Examples:") :].split()
    for example in EXAMPLES[path]:  # every command has examples, and its page shows them
        assert " ".join(example.split()[:4]) in " ".join(examples)


@pytest.mark.parametrize(
    ("path", "usage"),
    [
        ("send", "Usage: switchboard send --agent-id AGENT_ID --message TEXT [OPTIONS]"),
        ("results get", "Usage: switchboard results get [OPTIONS] ID"),
        ("config set-repo", "Usage: switchboard config set-repo [OPTIONS] [PATH]"),
    ],
)
def test_usage_lines_show_what_is_required(path: str, usage: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert usage in help_page(path, capsys).splitlines()[1]


def test_flags_have_no_value_and_values_have_names(capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line.split() for line in help_page("send", capsys).splitlines() if "│ " in line and " --" in line]
    rows = {words[1]: words[2] for words in lines}
    assert rows["--tz"] == "ZONE" and rows["--execute-at,--at"] == "WHEN" and rows["--now"] == "ISO_TIME"
    assert rows["--json"] == "Print"  # a flag: its help follows its name directly


EXAMPLE_LINES = sorted({line for lines in EXAMPLES.values() for line in lines})


@pytest.mark.parametrize("example", EXAMPLE_LINES)
def test_every_example_parses(example: str, capsys: pytest.CaptureFixture[str]) -> None:
    words = shlex.split(example)
    words = words[words.index("switchboard") + 1 :]  # after any VAR=value in front
    # --help is handled after parsing: an unknown command or option fails first, with an Error: line.
    assert main([*words, "--help"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().err == ""
