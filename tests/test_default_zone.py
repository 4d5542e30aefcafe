"""The default time zone: --tz beats SWITCHBOARD_TZ beats `config set-tz` beats this machine's zone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchboard.cli import app
from switchboard.zones import system_zone

NOW = "2026-03-10T15:20:00Z"
runner = CliRunner()


def machine(tmp_path: Path, target: str | None) -> Path:
    """A stand-in for /etc/localtime: a link to ``target`` under a zoneinfo folder, or no file at all."""
    link = tmp_path / "localtime"
    if target is not None:
        link.symlink_to(tmp_path / "usr" / "share" / "zoneinfo" / target)
    return link


@pytest.mark.parametrize(
    ("tz", "target", "expected"),
    [
        ("Europe/Berlin", "Asia/Tokyo", "Europe/Berlin"),  # TZ names a zone: it wins
        (":America/New_York", None, "America/New_York"),  # glibc's leading colon
        ("Mars/Olympus", "Asia/Tokyo", "Asia/Tokyo"),  # TZ is not a zone: where /etc/localtime points
        ("", "Etc/UTC", "UTC"),  # UTC by any other name is UTC
        ("EST5EDT,M3.2.0,M11.1.0", None, "UTC"),  # a POSIX rule is no IANA name: UTC
        ("", None, "UTC"),
    ],
)
def test_system_zone(tmp_path: Path, tz: str, target: str | None, expected: str) -> None:
    assert system_zone({"TZ": tz}, localtime=machine(tmp_path, target)) == expected


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    """A user with an empty config folder, on a machine whose zone (TZ) is America/New_York."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path), "TZ": "America/New_York",
            "SWITCHBOARD_TZ": None}  # fmt: skip


def explained(env: dict[str, str | None], *args: str) -> dict[str, str]:
    result = runner.invoke(app, ["explain", "--at", "tomorrow at 9am", "--now", NOW, "--json", *args], env=env)
    assert result.exit_code == 0, result.output
    data: dict[str, str] = json.loads(result.stdout)
    return data


def test_each_source_beats_the_next(env: dict[str, str | None]) -> None:
    assert explained(env)["timezone"] == "America/New_York"  # this machine's zone
    assert explained(env)["execute_at"] == "2026-03-11T13:00:00+00:00"

    saved = runner.invoke(app, ["config", "set-tz", "Europe/Berlin"], env=env)
    assert saved.exit_code == 0 and saved.stdout.startswith("Saved timezone in ")
    assert explained(env)["timezone"] == "Europe/Berlin"  # the config file beats the machine
    assert explained(env)["execute_at"] == "2026-03-11T08:00:00+00:00"

    env["SWITCHBOARD_TZ"] = "Asia/Tokyo"
    assert explained(env)["timezone"] == "Asia/Tokyo"  # the environment beats the config file
    assert explained(env, "--tz", "UTC")["timezone"] == "UTC"  # the flag beats them all


def test_every_preview_names_the_zone(env: dict[str, str | None]) -> None:
    result = runner.invoke(app, ["explain", "--at", "tomorrow at 9am", "--now", NOW], env=env)
    assert result.stdout == "One-time: 2026-03-11 13:00 UTC = 2026-03-11 09:00 EDT (America/New_York).\n"
    result = runner.invoke(app, ["explain", "--every", "every weekday at 10am", "--now", NOW, "--count", "1"], env=env)
    assert result.stdout.startswith("Recurring: 0 10 * * 1-5 in America/New_York — ")


def test_config_show_says_the_zone_and_where_it_comes_from(env: dict[str, str | None]) -> None:
    shown = runner.invoke(app, ["config", "show"], env=env).stdout
    assert "not set: this machine's zone, America/New_York" in shown
    runner.invoke(app, ["config", "set-tz", "Asia/Tokyo"], env=env)
    assert json.loads(runner.invoke(app, ["config", "show", "--json"], env=env).stdout)["timezone"] == "Asia/Tokyo"


def test_an_unknown_zone_is_refused_and_nothing_is_saved(env: dict[str, str | None], tmp_path: Path) -> None:
    refused = runner.invoke(app, ["config", "set-tz", "europe/berlin"], env=env)
    assert refused.exit_code == 1
    assert refused.stderr == (
        'Error: unknown time zone "europe/berlin" — use an IANA name such as "Europe/Berlin" or "UTC" '
        '(did you mean "Europe/Berlin"?)\n'
    )
    assert not (tmp_path / "config").exists()
