"""Score the time parser on tables of phrases: "N understood, M refused, K wrong".

    .venv/bin/python -m benchmarks.corpus tests/data/time_corpus.tsv [MORE.tsv ...] [--show wrong,refused]

Each file is tab-separated ``phrase, zone, now, expected`` (see switchboard/testing/corpus.py).
Prints one summary line per file, and the rows of the verdicts named by --show.
Exits 1 when any row is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from switchboard.testing.corpus import read_table, score, summary


def main(argv: list[str] | None = None) -> int:
    """Score each file given and print its summary; 1 if any row was wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--show", default="wrong", help="comma-separated verdicts to list (wrong, refused, rejected)")
    args = parser.parse_args(argv)
    shown = set(args.show.split(",")) if args.show else set()
    any_wrong = False
    for path in args.files:
        outcomes = score(read_table(path))
        for outcome in outcomes:
            if outcome.verdict in shown:
                row = outcome.row
                print(f"{path.name}:{row.line}: {outcome.verdict}: {row.phrase!r} ({row.tz}, {row.now.isoformat()})")
                print(f"    expected {row.expected}; got {outcome.answer}")
        any_wrong = any_wrong or any(outcome.verdict == "wrong" for outcome in outcomes)
        print(f"{path}: {summary(outcomes)}")
    return 1 if any_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
