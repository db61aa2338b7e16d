"""``rae-explore intrinsic-dim``: every scikit-dimension estimator on a dataset, as one table.

Runs :func:`rae_explore.intrinsic.estimate.estimate_id` on the dataset's base vectors (L2-normalised
under the cosine metric), prints the table and, with ``--out``, writes it atomically (.csv or
.json). ``--pointwise`` also writes the local (per-point) estimates; ``--recommend`` adds the
side-by-side table of :func:`rae_explore.experiments.recommend.recommend_dim` (intrinsic dimension,
autoencoder-loss knees, recall knee).

Example::

    rae-explore intrinsic-dim sift5k --budget 30 --out reports/sift5k_id.csv
    rae-explore intrinsic-dim manifold-id32-in128 --n-samples 100000 --estimators MLE TwoNN TLE
    rae-explore intrinsic-dim sift5k digits minilm-wordnet --workers 3 --out id.csv   # one task per dataset
"""

from ...results import ok_rows
from . import add_cluster_options, cluster, json_object_option


def register(sub):
    p = sub.add_parser("intrinsic-dim", help="intrinsic dimension by every scikit-dimension estimator (fast, one table)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("dataset", nargs="+", help="dataset names (see `rae-explore datasets`) or vector files; several "
                                              "run as independent tasks (in parallel with --workers)")
    p.add_argument("--estimators", nargs="+", default=["all"],
                   help="estimator names (default all: lPCA MLE TwoNN DANCo DANCoFit ESS FisherS CorrInt KNN MADA "
                        "MiND_ML MOM TLE GRIDE PH)")
    p.add_argument("--n-neighbors", type=int, help="neighbourhood of the local estimators (default: each one's)")
    p.add_argument("--budget", type=float, default=60.0,
                   help="per-estimator time budget in seconds; predicted-slower estimators are skipped "
                        "(default 60; 0 = no budget)")
    p.add_argument("--params", default="{}", help='JSON: estimator -> params, e.g. \'{"DANCo": {"D": 40}}\'')
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of the stochastic estimators")
    p.add_argument("--n-samples", type=int, help="rows to keep (generated size of synthetic sets)")
    p.add_argument("--metric", choices=["l2", "ip", "cosine"], help="override the dataset's metric")
    p.add_argument("--keep-duplicates", action="store_true", help="do not drop exact duplicate rows first")
    p.add_argument("--plain", action="store_true",
                   help="run plain scikit-dimension instead (the reference; slow on large sets)")
    p.add_argument("--out", help="write the table here (.csv or .json), atomically")
    p.add_argument("--pointwise", help="also write local (per-point) estimates here (.csv), atomically")
    p.add_argument("--recommend", action="store_true",
                   help="also print recommend_dim's table: ID estimates, autoencoder-loss knees, recall knee")
    p.add_argument("--target", type=float, default=0.9, help="--recommend: fraction of full top-k accuracy to keep")
    p.add_argument("--k", type=int, default=10, help="--recommend: k of the top-k accuracy")
    add_cluster_options(p)
    p.set_defaults(func=run)


def id_task(config):
    """One dataset's table as rows (a picklable grid task for several datasets)."""
    from ...data.datasets import load_dataset
    from ...intrinsic.estimate import estimate_id

    ds = load_dataset(config["dataset"], metric=config["metric"], seed=config["seed"],
                      n_samples=config["n_samples"]).prepared()
    table = estimate_id(ds.train, config["estimators"], n_neighbors=config["n_neighbors"], budget_s=config["budget_s"],
                        params=config["params"], random_state=config["seed"], fast=config["fast"],
                        deduplicate=config["deduplicate"])
    table.insert(0, "dataset", ds.name)
    table["n_rows"] = table.attrs["n"]
    return table.to_dict("records")


def _run_many(args, params, estimators):
    import pandas as pd

    from ...experiments.distributed import executor_for
    from ...experiments.tasks import run_tasks

    if args.pointwise or args.recommend:
        raise ValueError("--pointwise and --recommend take one dataset; run them per dataset")
    configs = [{"dataset": name, "metric": args.metric, "seed": args.seed, "n_samples": args.n_samples,
                "estimators": estimators, "n_neighbors": args.n_neighbors, "budget_s": args.budget or None,
                "params": params, "fast": not args.plain, "deduplicate": not args.keep_duplicates}
               for name in args.dataset]
    with cluster(args) as client:
        rows = run_tasks(id_task, configs, errors="record", executor=executor_for(client), verbose=args.verbose,
                         desc="intrinsic-dim")
    table = pd.DataFrame(rows)
    failed = table[table["status"] == "error"] if "error" in table else table.iloc[:0]
    ok = table.drop(failed.index)
    with pd.option_context("display.max_colwidth", 70, "display.width", 200):
        if len(ok):
            wide = ok.pivot_table(index="estimator", columns="dataset", values="dimension", sort=False)
            print(wide.to_string(float_format=lambda v: f"{v:.2f}"))
    for _, r in failed.iterrows():
        print(f"failed: {r['dataset']}: {r['error']}")
    if args.out:
        _write_table(table.drop(columns=["config_id"], errors="ignore"), args.out)
        print(f"wrote {len(table)} rows -> {args.out}")
    return 1 if len(failed) else 0


def _write_table(df, path, index=False):
    from pathlib import Path

    from ...atomic import atomic_write

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(f"output must end in .csv or .json, got {path.name!r}")
    with atomic_write(path, "w") as f:
        if suffix == ".csv":
            df.to_csv(f, index=index)
        else:
            f.write(df.to_json(orient="records", indent=1))


def run(args):
    import numpy as np
    import pandas as pd

    from ...data.datasets import load_dataset
    from ...intrinsic.estimate import estimate_id, local_id

    params = json_object_option(args.params, "--params", '\'{"DANCo": {"D": 40}}\'')
    if not all(isinstance(v, dict) for v in params.values()):
        raise ValueError(f"--params must be a JSON object estimator -> {{param: value}}, got {args.params!r}")
    if args.budget < 0:
        raise ValueError(f"--budget must be >= 0 (0 = no budget), got {args.budget}")
    for path in (args.out, args.pointwise):  # fail before the work, not after
        if path and not str(path).lower().endswith((".csv", ".json")):
            raise ValueError(f"output must end in .csv or .json, got {path!r}")
    estimators = "all" if [e.lower() for e in args.estimators] == ["all"] else args.estimators
    if len(args.dataset) > 1 or args.workers or args.scheduler:
        return _run_many(args, params, estimators)
    ds = load_dataset(args.dataset[0], metric=args.metric, seed=args.seed, n_samples=args.n_samples).prepared()
    X = np.asarray(ds.train)
    table = estimate_id(X, estimators, n_neighbors=args.n_neighbors, budget_s=args.budget or None, params=params,
                        random_state=args.seed, fast=not args.plain, deduplicate=not args.keep_duplicates,
                        verbose=args.verbose)
    a = table.attrs
    with pd.option_context("display.max_colwidth", 70, "display.width", 200):
        print(f"{ds.name}: {a['n']:,} distinct rows x {a['d']} ({a['n_duplicates']:,} duplicates dropped); "
              f"shared {a['k']}-NN search {a['neighbours_seconds']:.2f} s")
        cols = ["estimator", "dimension", "status", "seconds", "peak_mb"]
        print(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        notes = table[table["note"] != ""]
        for _, r in notes.iterrows():
            print(f"  {r['estimator']}: {r['note']}")
    if args.out:
        _write_table(table, args.out)
        print(f"wrote {len(table)} rows -> {args.out}")
    if args.pointwise:
        pw = local_id(X, n_neighbors=args.n_neighbors, random_state=args.seed, budget_s=args.budget or None,
                      deduplicate=not args.keep_duplicates)
        _write_table(pw, args.pointwise, index=True)
        print(f"wrote local estimates of {len(pw):,} points ({', '.join(pw.columns)}) -> {args.pointwise}")
    if args.recommend:
        from ...experiments.recommend import recommend_dim

        rec = recommend_dim(ds, target=args.target, k=args.k, estimators=(), random_state=args.seed,
                            verbose=args.verbose)
        ids = ok_rows(table)[["estimator", "dimension"]].rename(columns={"estimator": "method"})
        ids.insert(0, "view", "intrinsic dimension")
        side = pd.concat([ids, rec[["view", "method", "dimension"]]], ignore_index=True)
        print("\nsuggested dimension, by view:")
        print(side.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    return 0
