"""The live engine's NAB-detector notes on healthy simulated units over more days than
``bench/scalar_notes_fleet.py``'s 4, so that a daily cycle of values a minute (1,440 values, longer
than :class:`detectors.scalar.ScalarAnomaly`'s phase history sees) is found by the long-cycle phase
novelty (``detectors/scalars_longcycle.py``) and its notes, if any, are counted.

    .venv/bin/python bench/nab_long_fleet.py [--days 10] [--seed N] [--detector MODULE:NAME]

The same fleet, units, episodes and counting as ``bench/scalar_notes_fleet.py`` (it runs that
script's ``main`` with ``DAYS`` set to ``--days``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scalar_notes_fleet  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=10)
    args, rest = ap.parse_known_args()
    if args.days < 1:
        ap.error(f"--days must be >= 1, got {args.days}")
    scalar_notes_fleet.DAYS = args.days
    sys.argv = [sys.argv[0], *rest]
    return scalar_notes_fleet.main()


if __name__ == "__main__":
    sys.exit(main())
