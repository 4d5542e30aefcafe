"""The time parser against tests/data/time_corpus.tsv: every phrase read as meant, every non-time refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.exceptions import TimeParseError
from switchboard.testing.corpus import Row, judge, read_table, summary
from switchboard.timeparse import parse_instant

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Pacific/Apia", "Asia/Kathmandu"]

DATA = Path(__file__).resolve().parent / "data"
CORPUS = read_table(DATA / "time_corpus.tsv")


def test_the_corpus_is_large_and_mixed() -> None:
    meanings = [row for row in CORPUS if row.expected != "reject"]
    assert len(CORPUS) >= 400
    assert len(CORPUS) - len(meanings) >= 100  # phrases that are not times, or not clear enough


@pytest.mark.parametrize("row", CORPUS, ids=[f"{row.line}:{row.phrase}" for row in CORPUS])
def test_corpus_row(row: Row) -> None:
    outcome = judge(row)
    expected = "rejected" if row.expected == "reject" else "understood"
    assert outcome.verdict == expected, f"{row.phrase!r}: expected {row.expected}, got {outcome.answer}"


def test_a_refusal_quotes_what_it_did_not_understand() -> None:
    for row in CORPUS:
        outcome = judge(row)
        if outcome.verdict == "rejected":
            quoted = re.findall(r'"([^"]+)"', outcome.answer)
            assert any(piece.lower() in row.phrase.lower() for piece in quoted), outcome.answer


def test_a_changed_meaning_is_counted_wrong(tmp_path: Path) -> None:
    table = tmp_path / "table.tsv"
    table.write_text(
        "# phrase, zone, now, expected\n"
        "tomorrow at 9am\tUTC\t2026-03-10T15:20:00Z\t2026-03-11T10:00:00Z\n"
        "at 9\tUTC\t2026-03-10T15:20:00Z\t2026-03-11T09:00:00Z\n"
        "two three\tUTC\t2026-03-10T15:20:00Z\treject\n"
        "every weekday at 10am\tUTC\t2026-03-10T15:20:00Z\t0 10 * * 1-5\n",
        encoding="utf-8",
    )
    outcomes = [judge(row) for row in read_table(table)]
    assert [outcome.verdict for outcome in outcomes] == ["wrong", "refused", "rejected", "understood"]
    assert summary(outcomes) == (
        "1 understood, 1 refused, 1 wrong (33.3 % of 3 understood; 1 non-times rejected as expected)"
    )


# Words one-time phrases are made of, thrown together at random: every mix is read or refused, never a crash.
WORDS = [
    "at", "on", "in", "the", "of", "and", "a", "an", "half", "quarter", "past", "to", "after", "before", "ago",
    "from", "now", "later", "today", "tonight", "tomorrow", "yesterday", "day", "next", "last", "this", "coming",
    "monday", "fri", "morning", "afternoon", "evening", "night", "noon", "midnight", "dec", "march", "may",
    "1st", "24th", "third", "0", "1", "3", "9", "12", "13", "24", "31", "60", "1030", "2027", "9am", "7p",
    "3:30", "17:00", "25:00", "15h", "3/4", "24/12/2026", "2026-12-24", "hours", "minutes", "days", "weeks",
    "months", "years", "fortnight", "couple", "few", "ten", "thirty", "twenty", "five", "pm", "am", "oclock",
    "utc", "pst", "+02:00", "ish", "about", "1.5", "same", "time",
    "week", "month", "first", "second", "last", "fifth", "sunday", "mondays", "fridays", "back", "hence", "1/2",
    "3/4h", "more", "and", "quarters", "mid", "moment", "right", "h", "15h", "6pm", "morning of", "the 31st",
]  # fmt: skip
REFERENCE = datetime(2026, 12, 5, 15, 22, tzinfo=UTC)


@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=7).map(" ".join), st.sampled_from(ZONES))
def test_any_phrase_is_read_or_refused(text: str, tz: str) -> None:
    try:
        found = parse_instant(text, tz=tz, now=REFERENCE)
    except TimeParseError:
        return
    assert found.tzinfo is UTC
