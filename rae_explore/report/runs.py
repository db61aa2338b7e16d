"""One run of a notebook: its id (notebook + effective parameters), its folder and its ``run.json``."""

import datetime as _dt
import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..atomic import atomic_write
from ..paths import REPORTS_DIR

logger = logging.getLogger(__name__)

KERNEL_NAME = "python3"
"""Jupyter kernel the notebooks run in (installed into the venv by ``make``)."""

STATUSES = ("ok", "failed", "running")

_RUN_FILE = "run.json"


def _canonical(obj):
    return json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))


def make_run_id(notebook, parameters):
    """Deterministic run id: ``<notebook stem>[--<dataset>]--<10 hex digits of a hash of the parameters>``."""
    stem = Path(notebook).stem
    h = hashlib.sha256(_canonical({"notebook": stem, "parameters": parameters}).encode()).hexdigest()[:10]
    ds = parameters.get("dataset")
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(ds)).strip("-")[:40] if ds is not None else ""
    return f"{stem}--{slug}--{h}" if slug else f"{stem}--{h}"


# --------------------------------------------------------------------------- runs
@dataclass
class Run:
    """One notebook executed with one set of parameters (the content of ``run.json``).

    ``source_sha`` hashes the notebook file, ``package_sha`` the package's source code
    (:func:`rae_explore.report.batch.package_source_sha`): a finished run is reused only while both
    are unchanged.
    """

    run_id: str
    notebook: str
    parameters: dict
    overrides: dict
    status: str = "running"
    error: str = ""
    started: str = ""
    finished: str = ""
    duration_s: float = 0.0
    source_sha: str = ""
    package_sha: str = ""
    kernel: str = KERNEL_NAME
    reused: bool = field(default=False, compare=False)
    directory: str = field(default="", compare=False)

    @property
    def ipynb(self):
        return Path(self.directory) / f"{self.notebook}.ipynb"

    @property
    def html(self):
        return Path(self.directory) / f"{self.notebook}.html"

    def save(self):
        """Write ``run.json`` atomically."""
        d = asdict(self)
        d.pop("reused"), d.pop("directory")
        write_text(Path(self.directory) / _RUN_FILE, json.dumps(d, indent=1, default=str))

    @classmethod
    def load(cls, directory):
        """Read ``<directory>/run.json``; None if absent or unreadable."""
        p = Path(directory) / _RUN_FILE
        try:
            d = json.loads(p.read_text())
            return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__}, directory=str(directory))
        except (OSError, ValueError, TypeError) as e:
            if p.exists():
                logger.warning("ignoring unreadable %s: %s", p, e)
            return None


def write_text(path, text):
    """Write a text file atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def now_iso():
    """The local time now, ISO 8601 to the second (what run.json and the index show)."""
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def list_runs(reports_dir=None):
    """Every run found under ``reports_dir`` (folders holding a ``run.json``), newest first."""
    reports_dir = Path(REPORTS_DIR if reports_dir is None else reports_dir)
    runs = [r for d in sorted(reports_dir.glob("*/")) if (r := Run.load(d)) is not None] if reports_dir.exists() else []
    return sorted(runs, key=lambda r: r.started, reverse=True)
