"""``rae-explore baseline --method PCA|UMAP|ISOMAP|MDS|RP|LPP``: the reference's ``baselines.py``.

Same flags and the same JSON top-level keys as the RAE reference (``args``, ``method``,
``train_time``, ``inference_time``, ``train``, ``val``; ``train`` is left out for SIFT1B, as
there), with ``--dataset NAME`` for built-in datasets. The methods are the reducers of
:mod:`rae_explore.reducers` with the reference's settings. Where ours differ — LPP centres the
data and skips degenerate eigenvectors unless ``--lpp_reference_compat true`` — it is a flag.
"""

import logging
from datetime import datetime
from pathlib import Path

from .train import (
    _bool,
    accuracy_dict,
    add_reference_arguments,
    check_reference_args,
    load_reference_dataset,
    reference_args,
    write_json,
)

logger = logging.getLogger(__name__)


def register(sub):
    p = sub.add_parser("baseline", help="evaluate a classical baseline (the reference baselines.py's flags)",
                       description=__doc__.split("\n\n")[0])
    add_reference_arguments(p, baseline=True)
    o = p.add_argument_group("baseline options (beyond the reference)")
    o.add_argument("--rp_kind", default="gaussian", choices=["gaussian", "sparse"],
                   help="RP: Gaussian / sqrt(m) (the reference) or sparse (Li et al. 2006)")
    o.add_argument("--lpp_reference_compat", type=_bool, default=False,
                   help="LPP: reproduce the reference (no centring, trivial eigenvector kept)")
    o.add_argument("--results_dir", default="./results", help="where the reference writes (default ./results)")
    p.set_defaults(func=run)


def run(args):
    from ...experiments.evaluate import evaluate
    from ...reducers import REDUCERS, make_reducer

    check_reference_args(args)
    ds, label, given = load_reference_dataset(args)
    name = args.method.lower()
    params = {"n_components": args.output_dim}
    if "random_state" in REDUCERS[name]._get_param_names():
        params["random_state"] = args.seed
    if name == "rp":
        params["kind"] = args.rp_kind
    if name == "lpp":
        params["reference_compat"] = args.lpp_reference_compat
    row = evaluate(make_reducer(name, **params), ds, args.topk_eval, recalls=(), self_eval=not given,
                   ties=False)
    out = {"args": reference_args(args), "method": args.method, "train_time": row["fit_s"],
           "inference_time": row["transform_s"]}
    if not given:
        out["train"] = accuracy_dict(row, "train_")
    out["val"] = accuracy_dict(row)
    path = Path(args.out) if args.out else (
        Path(args.results_dir) / f"{args.method}_{label}_{args.output_dim}d_{args.distance_metric}_"
                                 f"{datetime.now().strftime('%Y%m%d_%H%M%S')}.json"
    )
    write_json(path, out)
    print(f"{ds.name}: {args.method} {ds.d}->{args.output_dim} fit {row['fit_s']:.2f}s, "
          f"val {', '.join(f'{k}={v:.4f}' for k, v in out['val'].items())} -> {path}")
    return 0
