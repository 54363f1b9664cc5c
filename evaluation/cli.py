"""``foreshock evaluate PATH... [--json FILE]``: measure the detectors on datasets (see :mod:`evaluation.harness`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from evaluation.discover import Item, discover
from evaluation.harness import evaluate
from evaluation.report import render
from foreshock.cli import CliError
from foreshock.datasets import DatasetError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="measure the detectors on datasets (NAB, CWRU, FEMTO, IMS, simulator runs)",
        description="Stream every dataset under PATH through the detectors (each observation scored "
                    "before it is learnt), print a report and optionally write it as JSON.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="dataset files or folders")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON here ('-' for stdout)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: the number of CPUs)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run, needs_settings=False)


def run(args: argparse.Namespace, settings: Any) -> int:
    if args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")
    try:
        items = discover(args.paths)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if not items:
        raise CliError(f"no dataset found under {', '.join(args.paths)}")

    def progress(k: int, n: int, item: Item, seconds: float) -> None:
        if not args.quiet:
            print(f"[{k}/{n}] {item.kind:<6} {item.name} ({seconds:.1f} s)", file=sys.stderr, flush=True)

    try:
        report = evaluate(items, jobs=args.jobs, progress=progress)
    except DatasetError as exc:
        raise CliError(str(exc)) from None
    if args.json == "-":
        json.dump(report, sys.stdout, indent=2, default=str)
        print()
    else:
        print(render(report))
        if args.json:
            try:
                with open(args.json, "w", encoding="utf-8") as fh:
                    json.dump(report, fh, indent=2, default=str)
            except OSError as exc:
                raise CliError(f"{args.json}: cannot write the JSON report: {exc}") from None
    return 0
