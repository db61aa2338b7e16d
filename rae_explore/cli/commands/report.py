"""``rae-explore report``: run the notebooks with papermill and export offline HTML reports.

Examples::

    rae-explore report                                   # every notebook, default parameters
    rae-explore report 03 -p dataset digits -p dims '[4, 8, 16]'
    rae-explore report --grid dataset sift5k,digits      # each notebook on each dataset
    rae-explore report --params my.yaml --force
    rae-explore report --list                            # notebooks and their parameters
"""


from . import add_cluster_options, cluster


def register(sub):
    p = sub.add_parser("report", help="run the notebooks (papermill) and write offline HTML reports",
                       description="Run notebooks with papermill into reports/<run-id>/ (.ipynb + an offline .html "
                                   "page) and refresh reports/index.html. Finished runs with the same "
                                   "parameters and the same package code are reused.")
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="notebook names, unique prefixes (e.g. 03) or paths (default: all of notebooks/)")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="set a parameter; VALUE is read as YAML (8, 0.5, true, '[4, 8]'); repeatable")
    p.add_argument("-f", "--params", metavar="YAML",
                   help="YAML file of parameters (flat, or with parameters:/grid:/notebooks: keys)")
    p.add_argument("-g", "--grid", nargs=2, action="append", default=[], metavar=("NAME", "VALUES"),
                   help="run every value: a YAML list ('[sift5k, digits]') or a,b,c; repeatable (Cartesian product)")
    p.add_argument("--force", action="store_true", help="re-execute runs that already finished")
    p.add_argument("--kernel", default=None, help="Jupyter kernel name (default python3)")
    p.add_argument("--out", default=None, help="reports directory (default: the repository's reports/)")
    p.add_argument("--timeout", type=float, default=None, help="per-cell time limit in seconds")
    p.add_argument("--no-html", action="store_true", help="skip the HTML export")
    p.add_argument("--standalone", action="store_true",
                   help="inline plotly.js in each HTML page (~5 MB each, to mail one page alone); by default "
                        "the pages share one plotly-<version>.min.js in the reports directory")
    p.add_argument("-j", "--jobs", type=int, default=2,
                   help="notebooks run at the same time, each with cpu_count/jobs threads (default 2)")
    add_cluster_options(p)
    p.add_argument("--list", action="store_true", help="list the notebooks and their parameters, run nothing")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no live progress (the line per started notebook and its cell and loops); for CI logs")
    p.set_defaults(func=run)


def run(args):
    import sys

    from ...report import batch

    if args.list:
        for path in batch.resolve_notebooks(args.notebooks or None):
            print(path.stem)
            for k, v in batch.notebook_parameters(path).items():
                print(f"    {k} = {v!r}")
        return 0

    params, grid, notebooks = {}, {}, None
    if args.params:
        params, grid, notebooks = batch.load_params_file(args.params)
    for name, value in args.parameter:
        params[name] = batch.parse_value(value)
    for name, values in args.grid:
        grid[name] = batch.parse_grid_values(values)
    notebooks = args.notebooks or notebooks

    def progress(r):
        tag = "reused" if r.reused else r.status
        where = r.html if r.html.exists() else r.ipynb
        line = f"[{tag:>6}] {r.run_id}  {r.duration_s:6.1f} s  {where}"
        if r.status != "ok":
            line += f"\n         {r.error}"
        print(line, flush=True)

    try:
        with cluster(args) as client:
            runs = batch.run_report(notebooks, params, grid, reports_dir=args.out,
                                    kernel_name=args.kernel or batch.KERNEL_NAME, force=args.force,
                                    timeout=args.timeout, html=not args.no_html, standalone=args.standalone,
                                    verbose=args.verbose, progress=progress, jobs=args.jobs, quiet=args.quiet,
                                    client=client)
    except batch.KernelNotFoundError as e:
        print(f"rae-explore report: error: {e}", file=sys.stderr)
        return 2
    index = batch.write_index(args.out)
    failed = [r for r in runs if r.status != "ok"]
    print(f"{len(runs)} run(s), {len(failed)} failed; index: {index}")
    return 1 if failed else 0
