"""``rae-explore ground-truth``: exact k-NN of a dataset's queries, written as ``.ivecs``."""


def register(sub):
    p = sub.add_parser("ground-truth", help="exact k-NN ids of a dataset's queries (faiss, blocked)")
    p.add_argument("dataset", help="dataset name (see `rae-explore datasets`) or vector file")
    p.add_argument("--k", type=int, default=100, help="neighbours per query (default 100)")
    p.add_argument("--metric", choices=["l2", "ip", "cosine"], help="override the dataset's metric")
    p.add_argument("--seed", type=int, default=0, help="seed of the base/query split")
    p.add_argument("--out", required=True, help="output .ivecs file (written atomically)")
    p.add_argument("--data-dir", help="data root (default: the repository's data/)")
    p.set_defaults(func=run)


def run(args):
    from ...data.datasets import load_dataset
    from ...data.formats import write_vecs

    ds = load_dataset(args.dataset, args.data_dir, metric=args.metric, seed=args.seed)
    ds = ds.with_ground_truth(args.k, verbose=args.verbose)
    write_vecs(args.out, ds.gt.astype("int32"), fmt=".ivecs")
    print(f"{ds}: wrote {ds.gt.shape} ids to {args.out}")
    return 0
