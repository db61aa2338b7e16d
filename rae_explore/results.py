"""Result tables: rows (dicts) written atomically as ``.jsonl``, ``.csv`` or ``.parquet``, read back.

Every row of a task grid carries ``config_id`` and ``status`` (``"ok"`` or ``"error"``):
:func:`ok_rows` keeps the finished ones, for summaries, figures and resume.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from .atomic import atomic_write

RESULT_SUFFIXES = (".jsonl", ".csv", ".parquet")


def ok_rows(rows):
    """The rows that finished: ``status == "ok"``, or every row where there is no status.

    Parameters
    ----------
    rows : pandas.DataFrame or list of dict

    Returns
    -------
    The same type, filtered.
    """
    if hasattr(rows, "columns"):
        return rows[rows["status"] == "ok"] if "status" in rows.columns else rows
    return [r for r in rows if r.get("status", "ok") == "ok"]


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return repr(o)


def params_json(params):
    """Stable JSON string of a params dict (sorted keys; non-JSON values by ``repr``)."""
    return json.dumps(params, sort_keys=True, default=_json_default)


def config_id(config):
    """Short stable hash (16 hex digits) of a config dict: what makes two runs "the same"."""
    return hashlib.sha1(params_json(config).encode()).hexdigest()[:16]


def task_id(config):
    """The id of a config: its own ``config_id`` entry if it has one, else :func:`config_id`."""
    cid = config.get("config_id")
    return config_id(config) if cid is None else cid


def check_results_path(path):
    """``path`` as a Path if its suffix is a results format, else ValueError naming them."""
    path = Path(path)
    if path.suffix not in RESULT_SUFFIXES:
        raise ValueError(f"results file {str(path)!r} must end in one of {', '.join(RESULT_SUFFIXES)}")
    return path


def read_rows(path):
    """Rows (list of dicts) of a results file written by :func:`run_tasks`; [] if it does not exist."""
    path = check_results_path(path)
    if not path.exists():
        return []
    if path.suffix == ".jsonl":
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    import pandas as pd

    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
    else:  # a hex id such as "12e4..." must not be read back as a number
        df = pd.read_csv(path, dtype={"config_id": str})
    return df.to_dict("records")


def write_rows(rows, path):
    """Rewrite a results file atomically with ``rows`` (list of dicts)."""
    path = check_results_path(path)
    if path.suffix == ".jsonl":
        with atomic_write(path, "w") as f:
            for r in rows:
                f.write(json.dumps(r, default=_json_default) + "\n")
        return
    import pandas as pd

    df = pd.DataFrame(rows)
    if path.suffix == ".parquet":
        with atomic_write(path, "wb") as f:
            df.to_parquet(f, index=False)
    else:
        with atomic_write(path, "w") as f:
            df.to_csv(f, index=False)


