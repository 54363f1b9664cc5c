"""Which tree a benchmark record was measured on: the commit, and whether the measured code had
uncommitted changes (a record without it cannot be matched to the code later)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def git_commit(*paths: str) -> str:
    """The short commit of the checkout, with ``+dirty PATHS`` when those paths have uncommitted
    changes; ``unknown`` outside a git checkout."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=ROOT, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], capture_output=True, text=True,
                               cwd=ROOT, check=True).stdout.strip()
        return sha + (f"+dirty {' '.join(paths)}" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
