"""The batch report as a reader meets it: ``rae-explore report --force`` on the defaults.

Runs every notebook (two at a time, the batch default) on the bundled sift5k into a temporary
reports folder (``RAE_EXPLORE_REPORTS``), and reports the wall time of the whole command and of
each notebook (``duration_s`` of its ``run.json``). Target: the whole report in <= 120 s on an idle
2-core machine with the environment installed. The notebooks' expected durations
(``metadata.rae_explore.expected_s``) are given next to each one. The load average before and
after is in the note: on a busy machine the times say little.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 120.0


def _report(reports_dir, extra=()):
    env = dict(os.environ, RAE_EXPLORE_REPORTS=str(reports_dir))
    env.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / "data" / "cache" / "numba"))
    cmd = [sys.executable, "-m", "rae_explore.cli.main", "report", "--force", *extra]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    return proc, wall, (load0, os.getloadavg()[0])


def _expected():
    from rae_explore.paths import NOTEBOOKS_DIR

    out = {}
    for nb in sorted(Path(NOTEBOOKS_DIR).glob("*.ipynb")):
        meta = json.loads(nb.read_text()).get("metadata", {}).get("rae_explore", {})
        out[nb.stem] = meta.get("expected_s")
    return out


def run(quick=False):
    """``quick``: only notebook 02 (the shortest); otherwise the full report."""
    extra = ["02-encoder-spectrum"] if quick else []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        proc, wall, load = _report(Path(tmp), extra)
        runs = []
        for rj in sorted(Path(tmp).glob("*/run.json")):
            info = json.loads(rj.read_text())
            runs.append((rj.parent.name.split("--")[0], info.get("status"), info.get("duration_s")))
    note = f"load avg {load[0]:.1f} -> {load[1]:.1f}"
    if proc.returncode != 0:
        note += f"; exit {proc.returncode}: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
    expected = _expected()
    rows = [{"name": "rae-explore report --force" + (" (02 only)" if quick else " (all notebooks)"),
             "value": wall, "unit": "s", "baseline": TARGET_S, "ratio": wall / TARGET_S,
             "target": f"<= 1 (<= {TARGET_S:.0f} s on 2 idle cores)", "note": note}]
    for name, status, dur in runs:
        rows.append({"name": f"  {name}", "value": float("nan") if dur is None else float(dur), "unit": "s",
                     "note": f"status {status}; expected_s {expected.get(name)}"})
    return rows
