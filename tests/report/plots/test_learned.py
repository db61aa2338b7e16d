"""Notebook 05's figures and the paper's-claims check, on hand-made histories and pipeline rows."""

import numpy as np
import pandas as pd
import pytest

from rae_explore.report.plots import learned


def _rows(recalls):
    """Pipeline rows: {reducer: {index: best recall}}, with a worse second search setting each."""
    out = []
    for red, by_index in recalls.items():
        for ix, r in by_index.items():
            for v in (r, r - 0.2):
                out.append({"reducer": red, "index": ix, "10-R@10": v, "status": "ok"})
    out.append({"reducer": "vanilla_ae", "index": "Flat", "10-R@10": None, "status": "error"})
    return pd.DataFrame(out)


def test_claims_hold_on_the_papers_pattern():
    rows = _rows({"none": {"Flat": 1.0, "HNSW32": 0.95},
                  "vanilla_ae": {"Flat": 0.6, "HNSW32": 0.55}, "dcec": {"Flat": 0.58, "HNSW32": 0.5},
                  "hyperae": {"Flat": 0.7, "HNSW32": 0.65}, "nrae": {"Flat": 0.6, "HNSW32": 0.55}})
    table, claims, text = learned.paper_claims(rows)
    assert [c["holds"] for c in claims] == [True, True, True]
    assert table.loc["Flat", "hyperae"] == pytest.approx(0.7)  # the best setting, not the worse one
    assert list(table["best_ae"]) == ["hyperae", "hyperae"]
    assert text.count("**holds**") == 3 and "10-R@10" in text


def test_claims_fail_when_the_numbers_say_so():
    rows = _rows({"none": {"Flat": 0.5}, "vanilla_ae": {"Flat": 0.6}, "dcec": {"Flat": 0.4},
                  "hyperae": {"Flat": 0.45}, "nrae": {"Flat": 0.7}})
    _, claims, text = learned.paper_claims(rows)
    assert [c["holds"] for c in claims] == [False, False, False]
    assert "nrae with Flat (+0.200)" in claims[0]["evidence"]
    assert text.count("**does not hold**") == 3
    _, claims, _ = learned.paper_claims(rows, methods=["vanilla_ae"])
    assert claims[1]["holds"] is None and claims[2]["holds"] is None
    with pytest.raises(ValueError, match="needs the 'none' pipelines"):
        learned.paper_claims(rows[rows.reducer != "none"])
    with pytest.raises(ValueError, match="column '1-R@1' not in the rows"):
        learned.paper_claims(rows, metric="1-R@1")


def test_training_curves_and_summary():
    from rae_explore.reducers.neural.vanilla import VanillaAE

    hist = {"vanilla_ae": [{"epoch": 1, "loss": 1.0, "val_loss": 1.1}, {"epoch": 2, "loss": 0.5, "val_loss": 0.6}],
            "dcec": [{"loss": 1.0, "phase": "pretrain"}, {"loss": 0.4, "kl": 0.2, "entropy": 1.5, "phase": "cluster"}]}
    fig = learned.training_curves(hist)
    names = [t.name for t in fig.data]
    # one trace per method and curve present in some history (no "rec": none has it)
    assert names.count("vanilla_ae") == 4 and names.count("dcec") == 4
    labels = [b["label"] for b in fig.layout.updatemenus[0].buttons]
    assert len(labels) == 4 and "training loss" in labels[0] and "KL" in labels[2]
    first = [t for t in fig.data if t.visible is not False]
    assert len(first) == 2 and list(first[0].y) == [1.0, 0.5]
    kl = [t for t in fig.data if t.name == "dcec"][2]  # the "kl" group: NaN before the clustering phase
    assert np.isnan(kl.y[0]) and kl.y[1] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no histories"):
        learned.training_curves({})
    X = np.random.default_rng(0).standard_normal((60, 6)).astype(np.float32)
    ae = VanillaAE(2, max_epochs=3, hidden=8, device="cpu", random_state=0).fit(X)
    s = learned.training_summary({"vanilla_ae": ae})
    assert s.loc[0, "epochs"] == 3 and s.loc[0, "steps"] == ae.n_iter_ and s.loc[0, "device"] == "cpu"


def test_summary_of_reducers_without_epochs_or_device():
    """NPP records mining rounds (step, loss, seconds) and has no device_: the summary still has its row."""
    from types import SimpleNamespace

    npp = SimpleNamespace(history_=[{"step": 100, "loss": 0.5, "seconds": 1.5}, {"step": 200, "loss": 0.3,
                                                                                   "seconds": 2.5}])
    cat = SimpleNamespace(history_=[{"epoch": 1, "loss": 0.2, "triplet": 0.1, "koleo": -2.0, "epoch_seconds": 1.0}],
                          n_iter_=70, device_="cpu")
    tab = learned.training_summary({"npp": npp, "catalyzer": cat}).set_index("method")
    assert tab.loc["npp", "steps"] == 200 and tab.loc["npp", "train_s"] == pytest.approx(2.5)
    assert tab.loc["catalyzer", "steps"] == 70 and tab.loc["catalyzer", "loss"] == pytest.approx(0.2)
    fig = learned.training_curves({m: r.history_ for m, r in {"npp": npp, "catalyzer": cat}.items()})
    labels = [b["label"] for b in fig.layout.updatemenus[0].buttons]
    assert labels == ["curve: training loss", "curve: Catalyzer: triplet term", "curve: Catalyzer: KoLeo term"]
