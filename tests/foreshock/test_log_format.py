"""``log_format = "json"`` gives one JSON object per log line, for log shippers; ``text`` stays the default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _db_upgrade(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FORESHOCK_")}
    full.update(env, FORESHOCK_DATABASE__URL=f"sqlite:///{tmp_path / 'f.db'}", FORESHOCK_DATA_DIR=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "foreshock", "db", "upgrade"], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def test_json_log_lines(tmp_path):
    run = _db_upgrade(tmp_path, FORESHOCK_LOG_FORMAT="json")
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    upgraded = [rec for rec in lines if rec["logger"] == "foreshock.db" and "upgraded" in rec["message"]]
    assert upgraded and upgraded[0]["level"] == "INFO" and upgraded[0]["ts"].endswith("Z"), lines


def test_text_is_the_default_and_a_bad_format_is_named(tmp_path):
    run = _db_upgrade(tmp_path)
    assert run.returncode == 0 and " INFO foreshock.db: database " in run.stderr, run.stderr
    bad = _db_upgrade(tmp_path, FORESHOCK_LOG_FORMAT="yaml")
    assert bad.returncode == 2 and "log_format" in bad.stderr and "FORESHOCK_LOG_FORMAT" in bad.stderr, bad.stderr
