"""Run the benchmarks: ``python -m benchmarks [--quick] [--only NAME ...] [--out results.json]``."""

import argparse
import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

import benchmarks


def discover():
    """Names of the ``bench_*`` modules, sorted."""
    return sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument("--only", nargs="*", help="bench module names (e.g. bench_knn)")
    p.add_argument("--out", help="also write the results as JSON here")
    args = p.parse_args(argv)
    names = args.only or discover()
    results = []
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        t0 = time.perf_counter()
        rows = mod.run(quick=args.quick)
        print(f"\n== {name} ({time.perf_counter() - t0:.1f} s)")
        for r in rows:
            extra = ""
            if r.get("ratio") is not None:
                extra = f"  baseline {r['baseline']:.4g} {r['unit']}  ratio {r['ratio']:.3g}x  target {r.get('target', '')}"
            print(f"  {r['name']:<55} {r['value']:>10.4g} {r['unit']:<6}{extra}")
            if r.get("note"):
                print(f"      {r['note']}")
            results.append(dict(r, bench=name))
    if args.out:
        meta = {"python": sys.version.split()[0], "machine": platform.machine(), "quick": args.quick}
        Path(args.out).write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
