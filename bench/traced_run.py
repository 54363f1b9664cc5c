"""``foreshock`` under tracemalloc, for bench/fleet_soak.py --tracemalloc: the command line as given
(``python bench/traced_run.py --config X run``), and on SIGUSR1 a snapshot of the Python heap. The
first snapshot is the baseline; each later one appends to ``$FS_TRACE_OUT`` the 30 source lines
whose allocations grew most since it (size and count), so growth that is not released shows with
the line that allocates it.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OUT = Path(os.environ.get("FS_TRACE_OUT", "tracemalloc.txt"))
tracemalloc.start(int(os.environ.get("FS_TRACE_FRAMES", "1")))
_base: list[tracemalloc.Snapshot] = []
_t0 = time.monotonic()


def _snapshot() -> tracemalloc.Snapshot:
    return tracemalloc.take_snapshot().filter_traces([
        tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")])


def _dump(*_: object) -> None:
    snap = _snapshot()
    current, peak = tracemalloc.get_traced_memory()
    with OUT.open("a") as f:
        f.write(f"== t {time.monotonic() - _t0:.0f} s: traced {current / 2**20:.1f} MiB (peak {peak / 2**20:.1f})\n")
        if not _base:
            _base.append(snap)
            f.write("baseline\n")
            return
        for stat in snap.compare_to(_base[0], "lineno")[:30]:
            f.write(f"{stat}\n")


signal.signal(signal.SIGUSR1, _dump)

from foreshock.cli import main  # noqa: E402

sys.exit(main())
