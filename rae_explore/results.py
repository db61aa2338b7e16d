"""Result tables: rows (dicts) written atomically as ``.jsonl``, ``.csv`` or ``.parquet``, read back.

Every row of a task grid carries ``config_id`` and ``status`` (``"ok"`` or ``"error"``):
:func:`ok_rows` keeps the finished ones, for summaries, figures and resume.

Several writers, one file: :func:`write_rows` reads the file, merges and rewrites it under a lock
(:func:`results_lock`, a ``filelock`` lock per results file), so two sweeps writing the same file
at once lose nothing: rows of the file whose ``config_id`` is not among the rows written are kept.
It refuses to touch an existing file that is not a results file (no ``config_id`` or ``status``
column): an unrelated CSV given as the output is never rewritten. :func:`read_rows` drops, with an
:class:`IncompleteRowsWarning`, the rows a truncated file cut in half (a CSV whose last line has
no end, a JSON line that does not parse, a row without its id or status).
"""

import hashlib
import json
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .atomic import atomic_write, check_writable

#: Columns every row of a results file has.
REQUIRED_COLUMNS = ("config_id", "status")
#: Seconds a writer waits for another one to finish its read-merge-write before giving up.
LOCK_TIMEOUT_S = 300


class IncompleteRowsWarning(UserWarning):
    """A results file held rows cut short (a truncated file); they were dropped and will be recomputed."""

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


def check_results_file(path, inputs=(), what="results file", required=REQUIRED_COLUMNS):
    """Check, before any work, that ``path`` can take results: suffix, writable, not an input, of the right kind.

    ``required``: the columns an existing file must have to be of the same kind (a sweep's have
    ``method``, a pipeline grid's ``index``). Returns the path; raises as
    :func:`check_results_path`, :func:`rae_explore.atomic.check_writable` and :func:`read_rows`
    (an existing file that is not a results file of this kind, naming its missing columns).
    """
    path = check_writable(check_results_path(path), inputs, what)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteRowsWarning)  # said when the run reads it
        read_rows(path, required=tuple(required))
    return path


def results_lock(path, timeout=LOCK_TIMEOUT_S):
    """A ``filelock.FileLock`` for the results file ``path`` (one per resolved path).

    The lock file lives in ``<tempdir>/rae-explore-locks/`` (named by a hash of the resolved
    path), not next to the results: the results folder holds only results, and every process on
    this machine that writes the same file, under whatever relative name or symlink, takes the
    same lock.
    """
    from filelock import FileLock

    folder = Path(tempfile.gettempdir()) / "rae-explore-locks"
    try:  # shared by every user, as /tmp itself (sticky, world-writable)
        folder.mkdir()
        os.chmod(folder, 0o1777)
    except FileExistsError:
        pass
    key = hashlib.sha1(os.fsencode(os.path.realpath(path))).hexdigest()[:24]
    return FileLock(str(folder / f"{key}.lock"), timeout=timeout)


def _missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def _check_kind(path, columns, required=REQUIRED_COLUMNS):
    missing = [c for c in required if c not in columns]
    if missing:
        shown = ", ".join(map(str, list(columns)[:8])) + (", ..." if len(columns) > 8 else "")
        raise ValueError(
            f"{path} exists but is not a results file of this kind: it has no column(s) {', '.join(missing)} "
            f"(its columns: {shown or 'none'}). It was left untouched; give another output path, or move the "
            "file away to start a new results file there")


def read_rows(path, required=REQUIRED_COLUMNS):
    """Rows (list of dicts) of a results file written by :func:`run_tasks`; [] if it does not exist.

    Parameters
    ----------
    path : path
    required : tuple of str
        Columns the file must have (a results file of the expected kind).

    Raises
    ------
    ValueError
        The file exists but is not a results file (naming the missing columns), or cannot be read
        as its suffix says.

    Warns
    -----
    IncompleteRowsWarning
        Rows cut short by a truncated file were dropped (their configs run again on resume).
    """
    path = check_results_path(path)
    if not path.exists() or path.stat().st_size == 0:
        return []
    dropped = []
    if path.suffix == ".jsonl":
        rows = []
        with open(path, "rb") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (ValueError, UnicodeDecodeError):
                    dropped.append(f"line {i} (not a complete JSON object)")
                    continue
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {i}: not a results file (a JSON line that is not an object); "
                                     "give another output path or move the file away")
                rows.append(row)
        columns = list(dict.fromkeys(k for r in rows for k in r))
    else:
        import pandas as pd

        try:
            if path.suffix == ".parquet":
                df = pd.read_parquet(path)
            else:  # a hex id such as "12e4..." must not be read back as a number
                df = pd.read_csv(path, dtype={"config_id": str})
        except Exception as e:  # noqa: BLE001 -- pandas/pyarrow raise many kinds for a corrupt file
            raise ValueError(f"{path} cannot be read as a {path.suffix} results file ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); it was left untouched: give another "
                             "output path, or move the file away") from None
        columns = list(df.columns)
        rows = df.to_dict("records")
        if path.suffix == ".csv" and rows:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) not in (b"\n", b"\r"):
                    dropped.append(f"line {len(rows) + 1} (the last line has no end: the file was cut)")
                    rows = rows[:-1]
    _check_kind(path, columns, required)
    complete = []
    for i, r in enumerate(rows):
        if any(_missing(r.get(c)) for c in REQUIRED_COLUMNS):
            dropped.append(f"row {i + 1} (no {' or '.join(c for c in REQUIRED_COLUMNS if _missing(r.get(c)))})")
        else:
            complete.append(r)
    if dropped:
        warnings.warn(f"{path}: dropped {len(dropped)} incomplete row(s): {'; '.join(dropped[:5])}; "
                      "their configurations will run again", IncompleteRowsWarning, stacklevel=2)
    return complete


def write_rows(rows, path, *, merge=True):
    """Write ``rows`` (list of dicts) to a results file, atomically and under its lock.

    Parameters
    ----------
    rows : list of dict
    path : path
    merge : bool
        True (default): read the file under the lock and keep its rows whose ``config_id`` is not
        among ``rows``' (written by another process meanwhile), then ``rows``; a config finished
        in the file keeps its rows when ``rows`` only hold an error for it. False: replace the
        file's content with ``rows`` (still refusing a file that is not a results file).

    Raises
    ------
    ValueError
        ``path`` exists and is not a results file (nothing is written).
    """
    path = check_results_path(path)
    with results_lock(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", IncompleteRowsWarning)  # said once, when the run read the file
            old = read_rows(path)
        if merge and old:
            # a finished row in the file is never replaced by an error row for the same config
            # (another writer finished what failed here)
            done = {r.get("config_id") for r in old if r.get("status") == "ok"}
            failed_here = {r.get("config_id") for r in rows} - {r.get("config_id") for r in rows
                                                                  if r.get("status", "ok") == "ok"}
            keep = done & failed_here
            rows = [r for r in rows if r.get("config_id") not in keep]
            ids = {r.get("config_id") for r in rows}
            rows = [r for r in old if r.get("config_id") not in ids] + rows
        _write(rows, path)


def _write(rows, path):
    """Rewrite ``path`` with ``rows``, atomically (the caller holds the lock)."""
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


