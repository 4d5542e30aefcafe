"""The time parser against tests/data/time_corpus.tsv: every phrase read as meant, every non-time refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from switchboard.corpus import Row, judge, read_table, summary

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
