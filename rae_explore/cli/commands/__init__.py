"""Sub-commands of the ``rae-explore`` CLI, one module each (see :mod:`rae_explore.cli`)."""

import json


def json_object_option(text, flag, example):
    """Parse a JSON-object command-line option; ValueError naming the flag and an example otherwise."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{flag} is not valid JSON ({e}); example: {example}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}; example: {example}")
    return value


def add_cluster_options(p):
    """``--workers N`` and ``--scheduler ADDRESS``: run the command's grid on Dask."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, metavar="N",
                   help="run the grid on a Dask LocalCluster of N worker processes (dashboard address printed)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the grid on a running Dask cluster, e.g. tcp://host:8786 (its workers need rae_explore "
                        "and the data)")


def cluster(args):
    """Context manager: a Dask client for ``--workers``/``--scheduler``, or None (run in this process)."""
    from ...experiments.distributed import dask_client

    workers, scheduler = getattr(args, "workers", None), getattr(args, "scheduler", None)
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    return dask_client(workers, scheduler)
