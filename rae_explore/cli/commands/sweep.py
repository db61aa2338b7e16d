"""``rae-explore sweep``: evaluate methods x dimensions x seeds on a dataset into a results table.

Each row is :func:`rae_explore.experiments.evaluate.evaluate`'s (top-k accuracies, n-R@m recalls, fit and
transform seconds, condition number). The table is rewritten atomically after every row and a
rerun with the same ``--out`` skips the configurations already there.

Example::

    rae-explore sweep sift5k --methods pca rp rae --dims 16 32 64 \\
        --params '{"rae": [{"alpha": 0}, {"alpha": 1e-7}], "rp": {"kind": "sparse"}}' --out results/sift5k.csv
"""

from ...results import ok_rows
from . import add_cluster_options, cluster, json_object_option


def register(sub):
    p = sub.add_parser("sweep", help="evaluate reducers over dimensions and seeds into a CSV table (resumable)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", help="dataset name (see `rae-explore datasets`) or vector file")
    p.add_argument("--methods", nargs="+", required=True, help="reducer names (pca rp umap isomap mds lpp rae)")
    p.add_argument("--dims", nargs="+", type=int, required=True, help="reduced dimensions")
    p.add_argument("--params", default="{}",
                   help='JSON: method -> params dict or list of dicts, e.g. \'{"rae": [{"alpha": 1e-7}]}\'')
    p.add_argument("--seeds", nargs="+", type=int, default=[0], help="random_state values (default 0)")
    p.add_argument("--ks", nargs="+", type=int, default=[1, 5, 10, 20, 50], help="top-k accuracies")
    p.add_argument("--metric", choices=["l2", "ip", "cosine"], help="override the dataset's metric")
    p.add_argument("--n-samples", type=int, help="rows to keep before the 90/10 split")
    p.add_argument("--self-eval", action="store_true", help="also the reference's in-sample 'train' accuracy")
    p.add_argument("--out", required=True,
                   help="results .csv (or .parquet, .jsonl), written atomically; resumed if present")
    add_cluster_options(p)
    p.add_argument("--errors", choices=["record", "raise"], default="record",
                   help="record a failing configuration as an error row and go on (default), or stop")
    p.set_defaults(func=run)


def run(args):
    from ...experiments.sweep import sweep

    params = json_object_option(args.params, "--params", '\'{"rae": [{"alpha": 1e-7}]}\' (method -> params)')
    unknown = set(params) - set(args.methods)
    if unknown:
        raise ValueError(f"--params names methods not in --methods: {sorted(unknown)}")
    methods = {m: params.get(m, {}) for m in args.methods}
    dk = {"n_samples": args.n_samples} if args.n_samples else {}
    from ...experiments.distributed import executor_for

    with cluster(args) as client:
        df = sweep(methods, args.dims, args.dataset, ks=args.ks, metric=args.metric, seeds=args.seeds,
                   self_eval=args.self_eval, dataset_kwargs=dk, results_path=args.out, errors=args.errors,
                   executor=executor_for(client), verbose=args.verbose)
    failed = df[df["status"] == "error"]
    ok = ok_rows(df)
    if len(ok):
        cols = ["method", "n_components", "seed"] + [c for c in ok.columns if c.startswith("top_k@")] + ["fit_s"]
        print(ok[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for _, r in failed.iterrows():
        print(f"failed: {r['method']} n_components={r['n_components']} seed={r['seed']}: {r['error']}")
    print(f"{len(df)} rows -> {args.out}" + (f"; {len(failed)} failed" if len(failed) else ""))
    return 1 if len(failed) else 0
