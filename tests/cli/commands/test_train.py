"""``rae-explore train`` / ``baseline``: the reference's flags in, the reference's JSON keys out."""

import json

import pytest

from rae_explore.cli import main


def _json(path):
    return json.loads(path.read_text())


def test_train_writes_the_reference_keys(tmp_path, capsys):
    out = tmp_path / "rae.json"
    rc = main(["train", "--dataset", "digits", "--output_dim", "16", "--distance_metric", "euclidean",
               "--weight_decay", "1e-7", "--optimizer", "Adam", "--lr", "1e-3", "--steps", "60",
               "--batch_size", "128", "--topk_eval", "[1,5,10]", "--seed", "0", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    res = _json(out)
    assert set(res) == {"args", "final_train_accuracy", "final_val_accuracy"}
    assert set(res["final_val_accuracy"]) == {"top1", "top5", "top10"}
    assert set(res["final_train_accuracy"]) == {"top1", "top5", "top10"}
    assert all(0 < v <= 1 for v in res["final_val_accuracy"].values())
    assert res["args"]["weight_decay"] == 1e-7 and res["args"]["output_dim"] == 16
    assert "digits" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["rae.json"]  # atomic: no temporary left


def test_train_default_location_and_closed_form(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "digits", "--output_dim", "8", "--solver", "closed_form",
                 "--save_last_model", "true"]) == 0
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["checkpoints/digits_all/8d_cosine_Adam_0.0_normalizeFalse_model.npz",
                     "checkpoints/digits_all/8d_cosine_Adam_0.0_normalizeFalse_results.json"]


@pytest.mark.parametrize("method", ["PCA", "RP", "LPP", "ISOMAP", "MDS"])
def test_baseline_methods(tmp_path, method):
    out = tmp_path / f"{method}.json"
    assert main(["baseline", "--method", method, "--dataset", "digits", "--num_samples", "400", "--output_dim", "8",
                 "--topk_eval", "[1,10]", "--out", str(out)]) == 0
    res = _json(out)
    assert list(res) == ["args", "method", "train_time", "inference_time", "train", "val"]
    assert res["method"] == method and res["train_time"] >= 0
    assert set(res["val"]) == {"top1", "top10"} and 0 <= res["val"]["top10"] <= 1


def test_baseline_lpp_reference_compat_flag_changes_the_result(tmp_path):
    vals = []
    for flag in ("false", "true"):
        out = tmp_path / f"lpp_{flag}.json"
        assert main(["baseline", "--method", "LPP", "--dataset", "digits", "--output_dim", "8", "--distance_metric",
                     "euclidean", "--lpp_reference_compat", flag, "--out", str(out)]) == 0
        vals.append(_json(out)["val"])
    assert vals[0] != vals[1]


def test_user_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--dataset", "digits", "--hidden_dims", "[512]", "--out", str(tmp_path / "x.json")]) == 2
    assert "only the linear RAE" in capsys.readouterr().err
    assert main(["train", "--dataset_type", "CelebA", "--data_path", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "CelebA/CLIP(VIT)/raw_embeddings_withname.pkl" in err and "Traceback" not in err
    assert main(["baseline", "--dataset_type", "imdb", "--embedding_model_type", "bert", "--data_path",
                 str(tmp_path)]) == 2
    assert "known combinations" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--topk_eval", "[1,x]"]) == 2
    assert "list of integers" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse's own usage error
        main(["baseline", "--method", "TSNE", "--dataset", "digits"])
    assert exc.value.code == 2 and "invalid choice: 'TSNE'" in capsys.readouterr().err


def test_sift1b_layout_given_queries(tmp_path):
    """SIFT1B flags: train on the first learn rows, queries from queries.bvecs, base = first num_base_samples."""
    import numpy as np

    from rae_explore.data.formats import write_vecs

    rng = np.random.default_rng(0)
    (tmp_path / "SIFT1B").mkdir()
    write_vecs(tmp_path / "SIFT1B" / "learn.bvecs", rng.integers(0, 192, (400, 128), dtype=np.uint8))
    write_vecs(tmp_path / "SIFT1B" / "queries.bvecs", rng.integers(0, 192, (30, 128), dtype=np.uint8))
    common = ["--dataset_type", "SIFT1B", "--data_path", str(tmp_path), "--num_train_samples", "200",
              "--num_val_samples", "20", "--num_base_samples", "300", "--output_dim", "16", "--topk_eval", "[1,10]"]
    assert main(["train", *common, "--steps", "20", "--device", "cpu", "--out", str(tmp_path / "t.json")]) == 0
    res = _json(tmp_path / "t.json")
    assert res["final_train_accuracy"] is None and set(res["final_val_accuracy"]) == {"top1", "top10"}
    assert main(["baseline", "--method", "PCA", *common, "--out", str(tmp_path / "b.json")]) == 0
    assert list(_json(tmp_path / "b.json")) == ["args", "method", "train_time", "inference_time", "val"]


def test_sweep_command_writes_and_resumes(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "s.csv"
    argv = ["sweep", "digits", "--methods", "pca", "rae", "--dims", "4", "8", "--ks", "1", "10",
            "--params", '{"rae": {"solver": "closed_form"}}', "--out", str(out)]
    assert main(argv) == 0
    df = pd.read_csv(out)
    assert len(df) == 4 and set(df["method"]) == {"pca", "rae"} and "top_k@10" in df
    assert main(argv) == 0 and len(pd.read_csv(out)) == 4  # resumed: nothing new
    capsys.readouterr()
    assert main(["sweep", "digits", "--methods", "pca", "--dims", "4", "--params", "[1]", "--out", str(out)]) == 2
    assert "JSON object" in capsys.readouterr().err


def test_sweep_command_records_a_failing_configuration_and_goes_on(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "s.csv"
    argv = ["sweep", "digits", "--methods", "pca", "--dims", "4", "100", "--ks", "1", "--out", str(out)]
    assert main(argv) == 1
    printed = capsys.readouterr().out
    assert "failed: pca n_components=100" in printed and "1 failed" in printed
    df = pd.read_csv(out)
    assert list(df["status"]) == ["ok", "error"] and df.loc[0, "n_components"] == 4
    assert main(argv + ["--errors", "raise"]) == 2  # the failed one is retried, and now stops the run
    assert "n_components" in capsys.readouterr().err


def test_baseline_split_reference_gives_the_reference_pca_numbers(tmp_path):
    """--split reference: the reference's baselines.py pipeline, re-derived (random.shuffle split, sklearn PCA,
    brute-force k-NN), gives the same top-k accuracies to the fourth digit."""
    import random

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    out = tmp_path / "pca.json"
    assert main(["baseline", "--method", "PCA", "--dataset", "digits", "--num_samples", "1000", "--output_dim", "8",
                 "--distance_metric", "euclidean", "--topk_eval", "[1,10]", "--seed", "42", "--split", "reference",
                 "--out", str(out)]) == 0
    ours = _json(out)["val"]

    X = load_digits().data.astype(np.float32)[:1000]
    state = random.getstate()
    random.seed(42)
    ids = list(range(1000))
    random.shuffle(ids)
    random.setstate(state)
    xb, xq = X[ids[:900]], X[ids[900:]]
    red = PCA(8, random_state=42).fit(xb)
    zb, zq = red.transform(xb), red.transform(xq)

    def knn(q, b, k):
        d = ((q[:, None, :].astype(np.float64) - b[None].astype(np.float64)) ** 2).sum(-1)
        return np.argsort(d, axis=1, kind="stable")[:, :k]

    for k in (1, 10):
        a, b = knn(xq, xb, k), knn(zq, zb, k)
        ref = np.mean([len(set(r) & set(s)) / k for r, s in zip(a, b)])
        assert ours[f"top{k}"] == pytest.approx(ref, abs=1e-4)
