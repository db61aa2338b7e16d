"""``rae-explore datasets``: list the registered datasets with shape, metric, source and licence."""


def register(sub):
    p = sub.add_parser("datasets", help="list the datasets that load by name")
    p.add_argument("--all", action="store_true", help="also list datasets that need a download")
    p.set_defaults(func=run)


def run(args):
    from ...data.datasets import DATASETS

    rows = [i for _, i in sorted(DATASETS.items()) if args.all or i.builtin]
    print(f"{'name':<22} {'shape':<36} {'metric':<7} {'built-in':<8} source; licence")
    for i in rows:
        print(f"{i.name:<22} {i.shape:<36} {i.metric:<7} {'yes' if i.builtin else 'no':<8} {i.source}; {i.licence}")
    if not args.all:
        print("\n(--all also lists the RAE paper's datasets, which need a download)")
    return 0
