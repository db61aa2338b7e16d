"""faiss index pipelines: exact baselines, sizes, identity reducers, re-ranking, sweeps, errors, grids."""



from rae_explore.cli import main
from rae_explore.index import (load_results)


def test_cli_pipeline_run_and_table(tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    argv = ["pipeline", "run", "digits", "--reducers", "none", "pca", "--dims", "16", "--index", "Flat",
            "IVF16,Flat", "--sweep", "--n-single", "2", "--out", str(out)]
    assert main(argv) == 0
    df = load_results(out)
    assert set(df["pipeline"]) == {"none-64 Flat", "none-64 IVF16,Flat", "pca-16 Flat", "pca-16 IVF16,Flat"}
    assert sorted(df[df["pipeline"] == "pca-16 IVF16,Flat"]["nprobe"]) == [1, 2, 4, 8, 16]
    capsys.readouterr()
    assert main(["pipeline", "table", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pca-16 IVF16,Flat" in printed and "nprobe=16" in printed and "1-R@1" in printed
    assert main(["pipeline", "run", "digits", "--index", "IVF,Flatt", "--out", str(tmp_path / "x.jsonl"),
                 "--errors", "raise"]) == 2
    assert "cannot parse" in capsys.readouterr().err


def test_cli_pipeline_lattice_next_to_pq(tmp_path, capsys):
    out = tmp_path / "lat.jsonl"
    argv = ["pipeline", "run", "digits", "--reducers", "pca", "--dims", "16", "--index", "Lattice32", "Flat",
            "--n-single", "2", "--no-isolate", "--out", str(out)]
    assert main(argv) == 0
    df = load_results(out).set_index("pipeline")
    assert set(df.index) == {"pca-16 Lattice32", "pca-16 Flat"}
    assert df.loc["pca-16 Lattice32", "index_bytes"] < df.loc["pca-16 Flat", "index_bytes"]
    assert df.loc["pca-16 Lattice32", "1-R@10"] <= df.loc["pca-16 Flat", "1-R@10"]
    capsys.readouterr()
    assert main(["pipeline", "table", str(out)]) == 0
    assert "pca-16 Lattice32" in capsys.readouterr().out
