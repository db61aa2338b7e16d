"""Graph-index build time on compressed vectors (the CCST claim's shape), on the largest built-in set.

CCST ("transformer compression with INRP loss") reports that compressed vectors make HNSW and
NSG indexing 2-4x faster at equal recall. Here: minilm-wordnet (9,000 base x 384, 1,000
queries, cosine), reduced by PCA and RAE to d/2 and d/4, then ``HNSW32`` (and ``NSG32`` in the
full run) built with one faiss thread. For each compressed variant:

- build time (train + add, median of 3 builds on the same reduced vectors) against the
  uncompressed index: ratio < 1 is faster (CCST: 0.25-0.5x);
- 1-R@1 and 10-R@10 at a fixed ``efSearch=64`` (NSG: ``search_L=64``), ground truth exact in the
  original space, against the uncompressed index's recall (ratio 1 = no loss);
- 10-R@10 after re-ranking a shortlist of 100 with the original vectors.

The reducer's fit time is reported next to it (not in the build time: it is paid once per
reducer, not per index). Builds are interleaved across variants (baseline, pca-192, ..., then again)
so that load from other jobs falls on all of them alike. ``quick=True``: 3,000 rows, PCA only,
HNSW only.
"""

import statistics

DATASET = "minilm-wordnet"
EF = 64


def _variants(quick):
    if quick:
        return [("pca", 0.5), ("pca", 0.25)]
    return [("pca", 0.5), ("pca", 0.25), ("rae", 0.5), ("rae", 0.25)]


def _build_time(ds, index, reduction, reducer, n_components):
    from rae_explore.index import build_pipeline

    if reduction is not None:  # a FittedReduction carries its reducer and dimension
        reducer, n_components = reduction, None
    pipe = build_pipeline(ds, index, reducer, n_components=n_components, n_threads=1)
    return pipe.timings_["train_time_s"] + pipe.timings_["add_time_s"]


def run(quick=False):
    from rae_explore.data import load_dataset
    from rae_explore.index import evaluate_pipeline
    from rae_explore.index.pipeline import fit_reduction

    ds = load_dataset(DATASET, seed=0, n_samples=3000 if quick else None).with_ground_truth(10)
    ds = ds.prepared()  # cosine: reducers see unit vectors, as in the pipelines
    xb = ds.xb
    indexes = {"HNSW32": {"efSearch": EF}} if quick else {"HNSW32": {"efSearch": EF}, "NSG32": {"search_L": EF}}
    repeat = 3  # builds per variant and index (cheap in quick mode: 2,700 vectors)
    reductions = {}
    for red, frac in _variants(quick):
        nc = int(ds.d * frac)
        reductions[(red, nc)] = fit_reduction(xb, None, red, nc, {}, 0, ds.metric)
    variants = {"uncompressed": (None, None, None)}
    variants.update({f"{red}-{nc}": (reduction, red, nc) for (red, nc), reduction in reductions.items()})
    out = []
    for index, sp in indexes.items():
        # recall once per variant (its build is the first build-time sample), then repeat - 1 more builds,
        # interleaved across variants so that noise from other jobs on the machine hits all of them alike
        rows, times = {}, {v: [] for v in variants}
        for v, (reduction, red, nc) in variants.items():
            rows[v] = evaluate_pipeline(ds, index, reduction if reduction is not None else red,
                                        n_components=None if reduction is not None else nc, search_params=sp,
                                        recalls=[(1, 1), (10, 10)], rerank_k=100, n_threads=1, random_state=0,
                                        n_single=50)
            times[v].append(rows[v]["build_time_s"])
        for _ in range(repeat - 1):
            for v, (reduction, red, nc) in variants.items():
                times[v].append(_build_time(ds, index, reduction, red, nc))
        build = {v: statistics.median(t) for v, t in times.items()}
        base = rows["uncompressed"]
        tag = f"{index} {DATASET} {ds.nb:,}x{ds.d}"
        out.append({"name": f"{tag}: build, uncompressed", "value": build["uncompressed"], "unit": "s",
                    "note": f"1-R@1={base['1-R@1']:.3f} 10-R@10={base['10-R@10']:.3f} at {base['search_params']}, "
                            f"{base['qps']:.0f} QPS, faiss threads=1, median of {repeat} interleaved builds"})
        for v, (reduction, red, nc) in variants.items():
            if reduction is None:
                continue
            row = rows[v]
            out.append({"name": f"{tag}: build time, {v} vs uncompressed", "value": build[v], "unit": "s",
                        "baseline": build["uncompressed"], "ratio": build[v] / build["uncompressed"],
                        "target": "<= 0.5x (CCST: 2-4x faster)",
                        "note": f"builds {', '.join(f'{t:.3g}' for t in times[v])} s; reducer fit "
                                f"{reduction['fit_time_s']:.2f} s + reduce base {reduction['reduce_time_s']:.2f} s "
                                f"(not in the build time); index {row['index_bytes'] / 2**20:.1f} MB vs "
                                f"{base['index_bytes'] / 2**20:.1f} MB"})
            for col in ("1-R@1", "10-R@10"):
                out.append({"name": f"{tag}: {col} at {row['search_params']}, {v}", "value": row[col], "unit": "",
                            "baseline": base[col], "ratio": row[col] / base[col],
                            "target": "recall ratio (1 = no loss)"})
            out.append({"name": f"{tag}: 10-R@10 re-ranked (shortlist 100), {v}", "value": row["rerank_10-R@10"],
                        "unit": "", "baseline": base["10-R@10"], "ratio": row["rerank_10-R@10"] / base["10-R@10"],
                        "target": "recall ratio (1 = no loss)",
                        "note": f"re-ranking keeps the original vectors: +{ds.nb * ds.d * 4 / 2**20:.1f} MB"})
    return out
