"""``rae-explore pipeline``: faiss index pipelines on compressed vectors.

``rae-explore pipeline run DATASET --reducers none pca rae --dims 0.5 0.25 --index Flat HNSW32
"IVF256,PQ16" --out results.jsonl`` evaluates the grid reducers x dims x indexes (resuming a
previous run of the same file), and ``rae-explore pipeline table results.jsonl`` prints the
autoencoder paper's table from it. Learned compressors are reducers like any other
(``--reducers catalyzer ccst``), and ``LatticeB`` next to the index strings codes the reduced,
L2-normalised vectors on a Zn lattice of B bits, the spreading-vectors pairing: ``--reducers
catalyzer pca --dims 32 --index Lattice64 PQ8`` sets "catalyzer + lattice" beside "PCA + PQ" at
64 bits.
"""

from . import add_cluster_options, cluster, json_object_option


def _kv(text):
    """``nprobe=16`` -> ("nprobe", 16); argparse says what is wrong otherwise."""
    import argparse

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"search parameter {text!r} must look like name=value, e.g. nprobe=16")
    k, v = text.split("=", 1)
    try:
        v = int(v)
    except ValueError:
        try:
            v = float(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"search parameter {k.strip()!r} needs a number, got {v!r}; "
                                             "e.g. efSearch=64") from None
    return k.strip(), v


def _dim(text):
    """A dimension (``64``) or a fraction of d (``0.5``)."""
    return float(text) if "." in text else int(text)


def register(sub):
    p = sub.add_parser("pipeline", help="faiss index pipelines on reduced vectors (paper table, recall vs QPS)")
    psub = p.add_subparsers(dest="pipeline_command", metavar="ACTION")
    psub.required = True

    r = psub.add_parser("run", help="evaluate reducers x dims x index strings; resumable, written atomically")
    r.add_argument("dataset", help="dataset name (see `rae-explore datasets`)")
    r.add_argument("--reducers", nargs="+", default=["none"],
                   help="reducer names (e.g. pca rae catalyzer ccst); 'none' = original vectors")
    r.add_argument("--dims", nargs="*", type=_dim, default=[],
                   help="reduced dimensions; a float in (0, 1] is a fraction of d (0.5 = d/2)")
    r.add_argument("--index", nargs="+", default=["Flat"],
                   help='faiss index_factory strings, e.g. HNSW32 "IVF256,PQ16"; LatticeB = a Zn lattice code of B bits '
                        '(e.g. Lattice64, next to PQ8 at the same 64 bits)')
    r.add_argument("--search-params", nargs="*", type=_kv, default=[], metavar="NAME=VALUE",
                   help="search parameters for every index, e.g. nprobe=16 (faiss defaults otherwise)")
    r.add_argument("--sweep", action="store_true", help="sweep the default search parameters (recall vs QPS)")
    r.add_argument("--rerank-k", type=int, help="also re-rank a shortlist of this size with the original vectors")
    r.add_argument("--reducer-params", default="{}", help='JSON {reducer: {param: value}}, e.g. \'{"rae": {"steps": 500}}\'')
    r.add_argument("--threads", type=int, default=1, help="faiss OpenMP threads (recorded in every row; default 1)")
    r.add_argument("--seed", type=int, default=0, help="seed of the data split and the reducers")
    r.add_argument("--n-samples", type=int, help="rows to keep before the base/query split")
    r.add_argument("--n-single", type=int, default=100, help="queries timed one by one (default 100)")
    r.add_argument("--errors", choices=["record", "raise"], default="record",
                   help="record a failing config as an error row and go on (default), or stop")
    r.add_argument("--no-resume", action="store_true", help="recompute configs already in --out")
    r.add_argument("--no-isolate", action="store_true",
                   help="run configs in this process (default: in a child process, so that a crash in faiss "
                        "becomes an error row and the grid goes on)")
    r.add_argument("--config-timeout", type=float, metavar="SECONDS",
                   help="stop a config running longer than this and record it as an error (default: no limit)")
    add_cluster_options(r)
    r.add_argument("--out", required=True, help="results file (.jsonl), rewritten atomically after each config")
    r.set_defaults(func=run)

    t = psub.add_parser("table", help="print the paper-style table of a results file")
    t.add_argument("results", help="a .jsonl written by `pipeline run`")
    t.add_argument("--rerank", action="store_true", help="show the re-ranked recalls")
    t.set_defaults(func=table)


def run(args):
    from ...experiments.pipeline_grid import pipeline_configs, run_grid

    reducer_params = json_object_option(args.reducer_params, "--reducer-params", '\'{"rae": {"alpha": 1e-6}}\'')
    reducers = [None if r.lower() == "none" else r for r in args.reducers]
    dataset_params = {"seed": args.seed}
    if args.n_samples:
        dataset_params["n_samples"] = args.n_samples
    configs = pipeline_configs(args.dataset, reducers, args.dims, args.index, dataset_params=dataset_params,
                          reducer_params=reducer_params, search_params=dict(args.search_params) or None,
                          sweep="auto" if args.sweep else None, rerank_k=args.rerank_k, n_threads=args.threads,
                          random_state=args.seed, n_single=args.n_single)
    from ...experiments.distributed import executor_for

    # on Dask, each worker is the isolation: a config that crashes its worker becomes an error row
    with cluster(args) as client:
        df = run_grid(configs, args.out, resume=not args.no_resume, errors=args.errors, isolate=not args.no_isolate,
                      timeout_s=args.config_timeout, executor=executor_for(client), verbose=args.verbose)
    n_err = int((df["status"] == "error").sum()) if "status" in df else 0
    print(f"{len(configs)} configs, {len(df)} rows in {args.out}" + (f"; {n_err} failed (see the error column)"
                                                                       if n_err else ""))
    return 1 if n_err else 0


def table(args):
    import pandas as pd

    from ...index.summaries import load_results, paper_table

    df = load_results(args.results)
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200,
                           "display.float_format", "{:.4g}".format):
        print(paper_table(df, rerank=args.rerank).to_string(index=False))
    return 0
