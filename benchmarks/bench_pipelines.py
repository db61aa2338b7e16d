"""Graph-index build time on compressed vectors (the CCST claim's shape), on the largest built-in set.

CCST ("transformer compression with INRP loss") reports that compressed vectors make HNSW and
NSG indexing 2-4x faster at equal recall. Here: minilm-wordnet (9,000 base x 384, 1,000
queries, cosine), reduced by PCA and RAE to d/2 and d/4, then ``HNSW32`` (and ``NSG32`` in the
full run) built with one faiss thread. For each compressed variant:

- build time (train + add, median of ``repeat`` builds on the same reduced vectors) against the
  uncompressed index: ratio < 1 is faster (CCST: 0.25-0.5x);
- 1-R@1 and 10-R@10 at a fixed ``efSearch=64`` (NSG: ``search_L=64``), ground truth exact in the
  original space, against the uncompressed index's recall (ratio 1 = no loss);
- 10-R@10 after re-ranking a shortlist of 100 with the original vectors.

The reducer's fit time is reported next to it (not in the build time: it is paid once per
reducer, not per index). ``quick=True``: 3,000 rows, PCA only, HNSW only, one build.
"""

import statistics

DATASET = "minilm-wordnet"
EF = 64


def _variants(quick):
    if quick:
        return [("pca", 0.5), ("pca", 0.25)]
    return [("pca", 0.5), ("pca", 0.25), ("rae", 0.5), ("rae", 0.25)]


def _measure(ds, index, reduction, reducer, n_components, repeat, search_params):
    from rae_explore import pipelines as pl

    builds, row = [], None
    for _ in range(repeat):
        row = pl.evaluate_pipeline(ds, index, reducer, n_components=n_components, search_params=search_params,
                                   recalls=[(1, 1), (10, 10)], rerank_k=100, n_threads=1, random_state=0,
                                   n_single=50, _reduction=reduction)
        builds.append(row["build_time_s"])
    row["build_time_s"] = statistics.median(builds)
    return row


def run(quick=False):
    from rae_explore import pipelines as pl
    from rae_explore.datasets import load_dataset

    ds = load_dataset(DATASET, seed=0, n_samples=3000 if quick else None).with_ground_truth(10)
    xb = pl._normalized(ds.xb)  # cosine: reducers see unit vectors, as in the pipelines
    indexes = {"HNSW32": {"efSearch": EF}} if quick else {"HNSW32": {"efSearch": EF}, "NSG32": {"search_L": EF}}
    repeat = 1 if quick else 3
    reductions = {}
    for red, frac in _variants(quick):
        nc = int(ds.d * frac)
        reductions[(red, nc)] = pl.fit_reduction(xb, None, red, nc, {}, 0, ds.metric)
    out = []
    for index, sp in indexes.items():
        rep = repeat if index.startswith("HNSW") else 1  # NSG builds are slow: one build
        base = _measure(ds, index, None, None, None, rep, sp)
        tag = f"{index} {DATASET} {ds.nb:,}x{ds.d}"
        out.append({"name": f"{tag}: build, uncompressed", "value": base["build_time_s"], "unit": "s",
                    "note": f"1-R@1={base['1-R@1']:.3f} 10-R@10={base['10-R@10']:.3f} at {base['search_params']}, "
                            f"{base['qps']:.0f} QPS, faiss threads=1, median of {rep}"})
        for (red, nc), reduction in reductions.items():
            row = _measure(ds, index, reduction, red, nc, rep, sp)
            v = f"{red}-{nc}"
            out.append({"name": f"{tag}: build time, {v} vs uncompressed", "value": row["build_time_s"], "unit": "s",
                        "baseline": base["build_time_s"], "ratio": row["build_time_s"] / base["build_time_s"],
                        "target": "<= 0.5x (CCST: 2-4x faster)",
                        "note": f"reducer fit {reduction['fit_time_s']:.2f} s + reduce base "
                                f"{reduction['reduce_time_s']:.2f} s (not in the build time); index "
                                f"{row['index_bytes'] / 2**20:.1f} MB vs {base['index_bytes'] / 2**20:.1f} MB"})
            for col in ("1-R@1", "10-R@10"):
                out.append({"name": f"{tag}: {col} at {row['search_params']}, {v}", "value": row[col], "unit": "",
                            "baseline": base[col], "ratio": row[col] / base[col],
                            "target": "recall ratio (1 = no loss)"})
            out.append({"name": f"{tag}: 10-R@10 re-ranked (shortlist 100), {v}", "value": row["rerank_10-R@10"],
                        "unit": "", "baseline": base["10-R@10"], "ratio": row["rerank_10-R@10"] / base["10-R@10"],
                        "target": "recall ratio (1 = no loss)",
                        "note": f"re-ranking keeps the original vectors: +{ds.nb * ds.d * 4 / 2**20:.1f} MB"})
    return out
