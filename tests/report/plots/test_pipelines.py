"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""


import pytest
from sklearn.decomposition import PCA

from rae_explore.index import (build_speedups, paper_table,
                               sweep_pipeline)


def test_pipeline_figures_carry_the_grid_in_plotly_controls(small):
    from rae_explore.report import plots

    rows = (sweep_pipeline(small, "IVF8,Flat", n_single=1, recalls=[(1, 1), (10, 10)], rerank_k=50)
            + sweep_pipeline(small, "IVF8,Flat", PCA(), n_components=8, n_single=1, recalls=[(1, 1), (10, 10)],
                             rerank_k=50)
            + sweep_pipeline(small, "Flat", PCA(), n_components=8, n_single=1, recalls=[(1, 1), (10, 10)]))
    fig = plots.pipeline_recall_qps(rows)
    menu = fig.layout.updatemenus[0]
    labels = [b.label for b in menu.buttons]
    assert len(labels) == 4 and any("re-ranked" in lab for lab in labels)
    # 3 pipelines x (frontier + dominated) per plain metric, 2 pipelines with re-ranking per rerank metric
    assert len(fig.data) == 2 * (3 + 3 + 2 + 2)
    for b in menu.buttons:  # each button shows one metric's traces, nothing else
        vis = b.args[0]["visible"]
        assert 4 <= sum(vis) <= 6
    frontier = [t for t in fig.data if t.showlegend is not False and t.visible]
    assert {t.name for t in frontier} == {"none-32 IVF8,Flat", "pca-8 IVF8,Flat", "pca-8 Flat"}
    size = plots.pipeline_size_recall(rows)
    assert len(size.layout.updatemenus[0].buttons) == 4
    build = plots.pipeline_build_time(rows)
    ivf_pca = [t for t in build.data if t.name == "pca-8" and t.visible][0]
    sp = build_speedups(rows)
    expect = sp[sp["pipeline"] == "pca-8 IVF8,Flat"]["speedup"].iloc[0]
    assert ivf_pca.customdata[list(ivf_pca.x).index("IVF8,Flat")] == pytest.approx(expect)
    tab = plots.pipeline_table(paper_table(rows))
    assert [b.label for b in tab.layout.updatemenus[0].buttons] == ["index: all", "index: IVF8,Flat", "index: Flat"]
    assert "1-R@1" in " ".join(tab.data[0].header.values)


@pytest.mark.filterwarnings("ignore:'PQ.x4np'")  # 600 rows for 16 codewords: faiss's advice, not a fault here
def test_lattice_against_pq_at_equal_bits(small):
    from rae_explore.index.lattice import evaluate_lattice
    from rae_explore.index.measure import evaluate_pipeline
    from rae_explore.index.pipeline import fit_reduction
    from rae_explore.report.plots import pipelines as pp

    assert (pp.code_bits("Lattice32"), pp.code_bits("PQ8x4"), pp.code_bits("IVF64,PQ16"), pp.code_bits("HNSW32"),
            pp.code_bits("IVF64,PQ32x4np")) == (32, 32, 128, None, 128)
    red = fit_reduction(small.xb, None, "pca", 8, None, 0)
    rec = [(1, 1), (1, 10), (10, 10)]
    rows = ([evaluate_lattice(small, b, red, recalls=rec, n_single=1) for b in (16, 32)]
            + [evaluate_pipeline(small, f"PQ{b // 4}x4np", red, recalls=rec, n_single=1) for b in (16, 32)]
            + [evaluate_pipeline(small, "Flat", red, recalls=rec, n_single=1)])
    tab = pp.lattice_comparison(rows)
    assert list(zip(tab["code"], tab["bits"])) == [("PQ", 16), ("lattice", 16), ("PQ", 32), ("lattice", 32)]
    lat16 = tab[(tab["code"] == "lattice") & (tab["bits"] == 16)].iloc[0]
    assert lat16["1-R@10"] == pytest.approx(rows[0]["1-R@10"]) and lat16["pipeline"] == "pca-8 Lattice16"
    fig = pp.lattice_recall_bits(rows)
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["recall: 1-recall@1", "recall: 1-recall@10",
                                                                   "recall: 10-recall@10"]
    shown = [t for t in fig.data if t.visible is not False]
    assert {t.name for t in shown} == {"pca-8 + lattice", "pca-8 + PQ"}
    assert {t.line.dash for t in shown} == {"solid", "dash"}
    with pytest.raises(ValueError, match="no lattice or PQ rows"):
        pp.lattice_recall_bits(rows[-1:])
