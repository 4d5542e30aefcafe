"""Score the time parser against a table of phrases and what they mean.

A table is tab-separated: ``phrase, zone, now, expected`` (a leading ``kind``
column, as in the examples file, is ignored). ``expected`` is an ISO 8601
instant, a cron expression (read in the zone; equal fire times count as
equal) or ``reject``. Each row comes out as one of:

- ``understood``: the parser gave the expected meaning;
- ``refused``: the parser refused a phrase that has a meaning (allowed, but counted);
- ``wrong``: the parser gave another meaning, or a meaning where a refusal was expected;
- ``rejected``: the parser refused a phrase the table marks ``reject``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from switchboard.cron import fires
from switchboard.exceptions import SwitchboardError
from switchboard.timeparse import looks_recurring, parse_instant, parse_recurring

_FIRES_COMPARED = 30


@dataclass(frozen=True)
class Row:
    """One phrase of a table, with the zone and instant it is read at and what it means."""

    phrase: str
    tz: str
    now: datetime
    expected: str
    line: int


@dataclass(frozen=True)
class Outcome:
    """How the parser did on one row: its verdict and what it answered."""

    row: Row
    verdict: str
    answer: str


def read_table(path: Path) -> list[Row]:
    """The rows of a table file; blank lines and lines starting with # are left out."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) == 5:  # kind, phrase, zone, now, expected: a "reject" kind has "-" as expected
            kind, *cells = cells
            cells[3] = "reject" if kind == "reject" else cells[3]
        phrase, tz, now, expected = cells
        rows.append(Row(phrase, tz, datetime.fromisoformat(now), expected.strip(), number))
    return rows


def _is_cron(expected: str) -> bool:
    return expected != "reject" and not expected[:4].isdigit()


def judge(row: Row) -> Outcome:
    """Run the parser on one row and say how it did."""
    recurring = _is_cron(row.expected) or (row.expected == "reject" and looks_recurring(row.phrase))
    try:
        if recurring:
            cron, zone_name = parse_recurring(row.phrase, tz=row.tz)
            answer = cron
            same = _is_cron(row.expected) and fires(cron, zone_name, row.now, _FIRES_COMPARED) == fires(
                row.expected, row.tz, row.now, _FIRES_COMPARED
            )
        else:
            instant = parse_instant(row.phrase, tz=row.tz, now=row.now)
            answer = instant.isoformat()
            same = row.expected != "reject" and instant == datetime.fromisoformat(row.expected)
    except SwitchboardError as exc:
        return Outcome(row, "rejected" if row.expected == "reject" else "refused", str(exc))
    return Outcome(row, "understood" if same else "wrong", answer)


def score(rows: Iterable[Row]) -> list[Outcome]:
    """The outcome of every row."""
    return [judge(row) for row in rows]


def summary(outcomes: list[Outcome]) -> str:
    """ "N understood, M refused, K wrong", with the share understood of the phrases that mean a time."""
    counts = Counter(outcome.verdict for outcome in outcomes)
    meaningful = sum(outcome.row.expected != "reject" for outcome in outcomes)
    share = 100 * counts["understood"] / meaningful if meaningful else 100.0
    line = f"{counts['understood']} understood, {counts['refused']} refused, {counts['wrong']} wrong"
    return f"{line} ({share:.1f} % of {meaningful} understood; {counts['rejected']} non-times rejected as expected)"
