"""Hostile input across the entry points: nothing crashes, hangs, lies or overwrites (issue 16).

Each case asserts the exact kind of error and a message that names the problem; every write path
checks that nothing finished was lost (the file is unchanged, or keeps every finished row).
Cases that would end the process if a check regressed (faiss aborts, segfaults, hangs) run in a
subprocess, so that a regression fails the test instead of killing pytest.
"""

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rae_explore.cli import main
from rae_explore.data import formats
from rae_explore.results import IncompleteRowsWarning, read_rows, write_rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, timeout=60):
    """Run Python ``code`` in a fresh interpreter; (returncode, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       timeout=timeout, cwd=REPO, check=False)
    return p.returncode, p.stdout, p.stderr


def _crash_when(config):
    """A task that kills its own process (as a faiss segfault would) when the config says so."""
    if config["crash"]:
        signal.raise_signal(signal.SIGSEGV)
    return {"x": config["x"], "y": config["x"] ** 2}


# --------------------------------------------------------------------------- faiss: strings and parameters
# Each of these ends the process (signal 6, 8, 11) or never returns if faiss sees it; all are refused
# before, with a ValueError naming the part. Built and searched end to end, in one subprocess.
CRASHERS = ["PQ4x0", "IVF4,PQ4x0", "HNSW0", "HNSW1", "IVF4_HNSW1,Flat", "NSG0", "NSG4", "HNSW0_PQ4", "RR0,Flat",
            "OPQ4_0,PQ4", "RQ2x0", "IVF0,Flat", "PQ0"]
BAD_SEARCH = [("HNSW8", {"efSearch": 0}), ("HNSW8", {"efSearch": -5}), ("IVF4,Flat", {"nprobe": 0}),
              ("IVF4,Flat", {"nprobe": 64}), ("IVF4,Flat,RFlat", {"k_factor_rf": 0}), ("IVF4,Flat", {"nprobe": 1.5})]


@pytest.fixture(scope="module")
def faiss_outcomes():
    code = f"""
        import json, numpy as np
        from rae_explore.index import IndexPipeline
        x = np.random.default_rng(0).standard_normal((300, 16)).astype("float32")
        out = {{}}
        for s, sp in [(s, None) for s in {CRASHERS!r}] + {BAD_SEARCH!r}:
            key = s + " " + json.dumps(sp)
            try:
                IndexPipeline(s, search_params=sp, min_points_per_centroid=1).fit(x).search(x[:3], 2)
                out[key] = ["no error", ""]
            except Exception as e:
                out[key] = [type(e).__name__, str(e)]
        print(json.dumps(out))
    """
    rc, stdout, stderr = _run(code, timeout=120)
    assert rc == 0, f"the process ended with {rc} (a signal is negative): {stderr[-2000:]}"
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("s", CRASHERS)
def test_factory_strings_faiss_crashes_on_are_refused_before_it_sees_them(faiss_outcomes, s):
    kind, msg = faiss_outcomes[s + " null"]
    assert kind == "ValueError" and repr(s) in msg and "must be" in msg and "Fix:" in msg, (kind, msg)


@pytest.mark.parametrize("s, sp", BAD_SEARCH, ids=[f"{s}-{sp}" for s, sp in BAD_SEARCH])
def test_search_parameters_out_of_range_are_refused_not_rows_marked_ok(faiss_outcomes, s, sp):
    kind, msg = faiss_outcomes[s + " " + json.dumps(sp)]
    name = next(iter(sp))
    assert kind == ("TypeError" if sp.get("nprobe") == 1.5 else "ValueError") and name in msg, (kind, msg)


def test_pipeline_grid_refuses_bad_strings_and_sweeps_before_any_work():
    from rae_explore.experiments.pipeline_grid import pipeline_configs

    with pytest.raises(ValueError, match=r"'HNSW1'.*M \(neighbours per node\) = 1"):
        pipeline_configs("digits", [None], [], ["Flat", "HNSW1"])
    with pytest.raises(ValueError, match="sweep: efSearch .* got 0"):
        pipeline_configs("digits", [None], [], ["HNSW8"], sweep={"efSearch": [16, 0]})
    with pytest.raises(TypeError, match="search_params: nprobe must be a number, got 'x'"):
        pipeline_configs("digits", [None], [], ["IVF4,Flat"], search_params={"nprobe": "x"})


def test_a_task_that_kills_its_process_becomes_an_error_row_and_the_grid_goes_on():
    from rae_explore.experiments.executors import ChildProcess
    from rae_explore.experiments.pipeline_grid import crash_rows

    configs = [{"config_id": f"c{x}", "x": x, "crash": x == 2} for x in (1, 2, 3)]
    ex = ChildProcess(crash_rows)
    out = list(ex.map(_crash_when, configs))  # run_grid's executor (run_tasks + run_grid: test_pipeline_grid)
    assert out[0] == {"x": 1, "y": 1} and out[2] == {"x": 3, "y": 9} and ex.crashes == 1
    (row,) = out[1]
    assert row["status"] == "error" and row["config_id"] == "c2" and row["x"] == 2
    assert row["error"].startswith("TaskCrashed: the task's process died with signal SIGSEGV (11)")


# --------------------------------------------------------------------------- results files
def _results(path, rows):
    write_rows(rows, path)
    return path.read_bytes()


def test_two_writers_of_one_results_file_at_once_lose_nothing(tmp_path):
    path = tmp_path / "r.jsonl"
    code = """
        import sys, time
        from rae_explore import results
        start, path, t0 = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
        if len(sys.argv) > 4:  # the control: without the lock
            import contextlib
            results.results_lock = lambda path: contextlib.nullcontext()
        time.sleep(max(0.0, t0 - time.time()))  # both start writing together, after their imports
        rows = []
        for x in range(start, start + 40):
            rows.append({"config_id": f"c{x}", "status": "ok", "x": x})
            results.write_rows(rows, path)  # what run_tasks does after every finished config
    """
    import time

    def run(*extra):
        path.unlink(missing_ok=True)
        t0 = str(time.time() + 2.0)
        procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(s), str(path), t0, *extra],
                                  cwd=REPO) for s in (0, 100)]
        assert [p.wait(timeout=60) for p in procs] == [0, 0]
        return sorted(r["x"] for r in read_rows(path))

    assert run() == list(range(40)) + list(range(100, 140))


def test_an_unrelated_csv_given_as_results_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("item,price\napple,0.5\npear,0.75\n")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"not a results file of this kind: it has no column\(s\) config_id, status"):
        write_rows([{"config_id": "a", "status": "ok", "v": 1}], path)
    assert path.read_bytes() == before


def test_a_results_file_of_another_layout_is_refused(tmp_path):
    path = tmp_path / "other.jsonl"
    path.write_text('{"config_id": "a", "value": 1}\n')
    with pytest.raises(ValueError, match=r"no column\(s\) status"):
        read_rows(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="line 1: not a results file"):
        read_rows(path)


def test_a_corrupt_parquet_results_file_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "r.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(ValueError, match="cannot be read as a .parquet results file"):
        write_rows([{"config_id": "a", "status": "ok"}], path)
    assert path.read_bytes() == b"PAR1 this is not parquet"


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_truncated_results_file_loses_only_its_half_row_with_a_warning(tmp_path, suffix):
    path = tmp_path / f"r{suffix}"
    data = _results(path, [{"config_id": f"c{i}", "status": "ok", "value": 1.25 + i} for i in range(3)])
    path.write_bytes(data[:-4])  # cut inside the last row
    with pytest.warns(IncompleteRowsWarning, match="dropped 1 incomplete row"):
        rows = read_rows(path)
    assert [r["config_id"] for r in rows] == ["c0", "c1"] and rows[1]["value"] == 2.25


def test_rows_without_id_or_status_are_dropped_with_a_warning(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"config_id": "a", "status": "ok"}\n{"config_id": "b"}\n')
    with pytest.warns(IncompleteRowsWarning, match=r"row 2 \(no status\)"):
        assert [r["config_id"] for r in read_rows(path)] == ["a"]


def test_resume_recomputes_only_the_rows_a_truncation_lost(tmp_path):
    from rae_explore.experiments.tasks import run_tasks

    path = tmp_path / "r.jsonl"
    configs = [{"x": i, "crash": False} for i in range(3)]
    data = _results(path, run_tasks(_crash_when, configs))
    path.write_bytes(data[:-5])
    seen = []
    with pytest.warns(IncompleteRowsWarning):
        rows = run_tasks(lambda c: seen.append(c["x"]) or _crash_when(c), configs, path)
    assert seen == [2] and sorted(r["y"] for r in rows) == [0, 1, 4]


def test_rewriting_results_keeps_rows_another_writer_added(tmp_path):
    path = tmp_path / "r.jsonl"
    write_rows([{"config_id": "mine", "status": "ok"}], path)
    write_rows([{"config_id": "theirs", "status": "ok"}], path)  # another process, same file
    write_rows([{"config_id": "mine", "status": "ok", "v": 2}], path)
    assert sorted((r["config_id"], r.get("v")) for r in read_rows(path)) == [("mine", 2), ("theirs", None)]


# --------------------------------------------------------------------------- loaders
def _fvecs(path, x, bad_row=None, bad_dim=7):
    formats.write_vecs(path, x)
    if bad_row is not None:
        raw = bytearray(path.read_bytes())
        rec = 4 + 4 * x.shape[1]
        raw[bad_row * rec: bad_row * rec + 4] = np.int32(bad_dim).tobytes()
        path.write_bytes(bytes(raw))
    return path


def test_fvecs_with_one_bad_header_anywhere_is_refused_at_open(tmp_path):
    path = _fvecs(tmp_path / "x.fvecs", np.ones((50, 4), np.float32), bad_row=37)
    with pytest.raises(ValueError, match="record 37 has dimension header 7 but the first record has 4"):
        formats.mmap_vecs(path)


def test_fvecs_headers_of_rows_read_from_a_large_map_are_checked(tmp_path, monkeypatch):
    path = _fvecs(tmp_path / "x.fvecs", np.ones((50, 4), np.float32), bad_row=37)
    monkeypatch.setattr(formats, "_FULL_CHECK_BYTES", 0)  # as for a file of many GB: only a sample at open
    monkeypatch.setattr(formats, "_HEADER_SAMPLE", 2)
    x = formats.mmap_vecs(path)
    assert x[:30].shape == (30, 4) and x[[1, 40]].shape == (2, 4)
    for key in (slice(30, 40), [3, 37], 37, np.arange(50) > 36):
        with pytest.raises(ValueError, match="record 37 has dimension header 7"):
            x[key]
    with pytest.raises(ValueError, match="record 37 has dimension header 7"):
        formats.read_vecs(path, 30, 40)


@pytest.mark.parametrize("cut, match", [(3, "truncated or corrupt"), (None, "first record header says dimension 0")])
def test_truncated_or_headerless_vecs_are_refused(tmp_path, cut, match):
    path = _fvecs(tmp_path / "x.fvecs", np.ones((5, 4), np.float32), bad_row=None if cut else 0, bad_dim=0)
    if cut:
        path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(ValueError, match=match):
        formats.mmap_vecs(path)


@pytest.mark.parametrize("ids, match", [(5, r"ids of 'train' rows in \[0, nb=5\).*ids from 0 to 5, first bad at test row 1"),
                                        (-1, r"ids from -1 to")])
def test_hdf5_neighbour_ids_outside_the_base_are_refused(tmp_path, ids, match):
    path = tmp_path / "a.hdf5"
    nbr = np.zeros((3, 2), np.int64)
    nbr[1, 1] = ids
    formats.write_ann_hdf5(path, np.ones((5, 4)), np.ones((3, 4)), neighbors=nbr)
    with pytest.raises(ValueError, match=match):
        formats.read_ann_hdf5(path)


def test_hdf5_complex_vectors_are_refused_with_file_and_dtype(tmp_path):
    import h5py

    path = tmp_path / "c.hdf5"
    with h5py.File(path, "w") as f:
        f["train"] = np.ones((5, 4), np.complex64)
        f["test"] = np.ones((2, 4), np.float32)
    with pytest.raises(TypeError, match=r"c.hdf5: the dataset 'train' holds complex numbers \(dtype complex64\)"):
        formats.read_ann_hdf5(path)


@pytest.mark.parametrize("arr, match", [(np.ones((3, 2), np.complex128), r"complex numbers \(dtype complex128\)"),
                                        (np.array([["a", "b"]]), "holds strings"),
                                        (np.array([[1, None]], dtype=object), r"Python objects \(dtype object\)")])
def test_npy_that_is_not_real_numbers_is_refused_naming_file_and_dtype(tmp_path, arr, match):
    path = tmp_path / "x.npy"
    np.save(path, arr, allow_pickle=True)
    with pytest.raises(TypeError, match=match) as e:
        formats.load_vectors(path)
    assert "x.npy" in str(e.value) and "allow_pickle" not in str(e.value)


@pytest.mark.parametrize("name, data, match", [("x.npy", b"garbage, not numpy" * 4, "not a .npy file"),
                                               ("x.npz", b"garbage, not a zip", r"not a .npz \(zip\) file"),
                                               ("x.npy", None, "damaged .npy file")])
def test_garbage_numpy_files_get_a_clear_message_not_the_allow_pickle_hint(tmp_path, name, data, match):
    path = tmp_path / name
    if data is None:  # a truncated .npy
        np.save(path, np.ones((100, 8), np.float32))
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(data)
    with pytest.raises(ValueError, match=match) as e:
        formats.load_vectors(path, mmap=False)
    assert "allow_pickle" not in str(e.value) and "pickle" not in str(e.value)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_pickles_of_every_protocol_are_accepted(tmp_path, protocol):
    obj = {"embeddings": np.arange(6, dtype=np.float32).reshape(3, 2), "n": np.int64(3), "b": b"\x00\xff"}
    back = formats.loads_pickle(pickle.dumps(obj, protocol=protocol))
    np.testing.assert_array_equal(back["embeddings"], obj["embeddings"])
    assert back["n"] == 3 and back["b"] == b"\x00\xff"


@pytest.mark.parametrize("payload, match", [
    (b"cos\nsystem\n(S'echo pwned'\ntR.", "refusing to load os.system"),
    (b"cbuiltins\neval\n(S'1+1'\ntR.", "refusing to load builtins.eval"),
    (b"c_codecs\nencode\n(S'x'\nS'rot13'\ntR.", "only the latin1 encoding"),
    (b"c_codecs\nencode\n(I1\nS'latin1'\ntR.", "only the latin1 encoding"),
])
def test_pickles_with_callables_are_still_refused(payload, match):
    with pytest.raises(pickle.UnpicklingError, match=match):
        formats.loads_pickle(payload)


def test_complex_pickle_is_refused_when_loaded_as_vectors(tmp_path):
    path = tmp_path / "c.pkl"
    path.write_bytes(pickle.dumps({"embeddings": np.ones((3, 2), np.complex64)}))
    with pytest.raises(TypeError, match=r"c.pkl: the array holds complex numbers \(dtype complex64\)"):
        formats.load_vectors(path)


def test_nan_rows_are_named_by_their_row_in_the_users_file(tmp_path):
    from rae_explore.data.datasets import load_dataset

    x = np.random.default_rng(0).standard_normal((60, 4)).astype(np.float32)
    x[[7, 42]] = np.nan
    path = tmp_path / "x.npy"
    np.save(path, x)
    with pytest.raises(ValueError, match=r"2 row\(s\) of the input hold NaN or inf, first at row 7 of the file "
                                         r"\(rows \[7, 42\]"):
        load_dataset(str(path), seed=3)


def test_failed_vector_writes_leave_the_old_file(tmp_path):
    path = _fvecs(tmp_path / "x.ivecs", np.ones((2, 3), np.int32))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="holds non-integer floats"):
        formats.write_vecs(path, np.full((2, 3), 0.5))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.ivecs"]


# --------------------------------------------------------------------------- command line
def _cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err, command):
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith(f"rae-explore {command}: error: ")]
    assert len(lines) == 1, err
    return lines[0]


def test_cli_refuses_an_unrelated_csv_as_sweep_out_and_leaves_it(tmp_path, capsys):
    path = tmp_path / "prices.csv"
    path.write_text("item,price\napple,0.5\n")
    code, err = _cli(["sweep", "digits", "--methods", "pca", "--dims", "4", "--out", str(path)], capsys)
    assert code == 2 and "no column(s) config_id, status" in _one_line_error(err, "sweep")
    assert path.read_text() == "item,price\napple,0.5\n"


def test_cli_ground_truth_refuses_to_replace_its_input(tmp_path, capsys):
    path = _fvecs(tmp_path / "x.fvecs", np.random.default_rng(0).standard_normal((40, 4)).astype(np.float32))
    before = path.read_bytes()
    code, err = _cli(["ground-truth", str(path), "--k", "2", "--out", str(path)], capsys)
    assert code == 2 and "is the input file" in _one_line_error(err, "ground-truth")
    assert path.read_bytes() == before


@pytest.mark.parametrize("out, match", [
    ("/sys/rae-explore-test/out.csv", "cannot write in the folder"),
    ("x" * 250 + ".csv", "passes this file system's limit of 255. Use a name of at most 241 bytes"),
    ("bad-\udcff.csv", "is not a valid UTF-8 path"),
    (".", "is a folder"),
])
def test_cli_checks_the_output_before_any_work(tmp_path, capsys, monkeypatch, out, match):
    if out.startswith("/sys") and os.access("/sys", os.W_OK) and not os.path.isdir("/sys/kernel"):
        pytest.skip("no read-only /sys here")
    monkeypatch.chdir(tmp_path)
    code, err = _cli(["sweep", "no-such-dataset-so-any-work-would-fail", "--methods", "pca", "--dims", "4",
                      "--out", out], capsys)
    assert code == 2 and match in _one_line_error(err, "sweep")
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.parametrize("argv, match", [
    (["--index", "HNSW1"], "'HNSW1' has M (neighbours per node) = 1"),
    (["--index", "HNSW8", "--search-params", "efSearch=0"], "efSearch (HNSW candidate list size per query) must be >= 1"),
    (["--index", "Flat", "PQ4x0"], "'PQ4x0' has bits per code = 0"),
])
def test_cli_pipeline_run_refuses_bad_faiss_input_in_one_line(tmp_path, capsys, argv, match):
    out = tmp_path / "p.jsonl"
    code, err = _cli(["pipeline", "run", "digits", "--out", str(out)] + argv, capsys)
    line = _one_line_error(err, "pipeline run")
    assert code == 2 and match in line and not out.exists()


def test_cli_garbage_dataset_file_is_one_line_and_no_pickle_hint(tmp_path, capsys):
    path = tmp_path / "x.npy"
    path.write_bytes(b"not numpy at all")
    code, err = _cli(["ground-truth", str(path), "--out", str(tmp_path / "gt.ivecs")], capsys)
    line = _one_line_error(err, "ground-truth")
    assert code == 2 and "not a .npy file" in line and "allow_pickle" not in line


def test_cli_verbose_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset"):
        main(["-v", "ground-truth", "nope", "--out", str(tmp_path / "gt.ivecs")])


def test_cli_in_a_real_process_exits_2_with_one_line(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY garbage")
    rc, _out, err = _run(f"""
        import sys
        from rae_explore.cli import main
        sys.exit(main(["ground-truth", {str(tmp_path / 'x.npy')!r}, "--out", {str(tmp_path / 'gt.ivecs')!r}]))
    """)
    assert rc == 2 and err.startswith("rae-explore ground-truth: error: ") and "damaged .npy file" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and sorted(os.listdir(tmp_path)) == ["x.npy"]


def test_a_results_file_of_the_other_grid_is_refused(tmp_path):
    from rae_explore.experiments.pipeline_grid import pipeline_configs, run_grid

    path = tmp_path / "sweep.csv"
    write_rows([{"config_id": "a", "status": "ok", "method": "pca", "top_k@1": 0.5}], path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"not a results file of this kind: it has no column\(s\) index"):
        run_grid(pipeline_configs("digits", [None], [], ["Flat"]), path)
    assert path.read_bytes() == before


def test_garbage_hdf5_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "g.hdf5"
    path.write_bytes(b"not hdf5" * 10)
    with pytest.raises(ValueError, match=r"g.hdf5 is not a readable HDF5 file \(.*signature"):
        formats.read_ann_hdf5(path)


# --------------------------------------------------------------------------- reducers, k-NN, sweeps, reports
def _x(n=20, d=4, nan_row=None):
    x = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    if nan_row is not None:
        x[nan_row, 1] = np.nan
    return x


@pytest.mark.parametrize("call, kind, match", [
    (lambda kn: kn.knn_search(_x()[:2], _x(), 30), ValueError, r"k=30 is larger than the number of base vectors \(20\)"),
    (lambda kn: kn.knn_search(_x()[:2, :3], _x(), 3), ValueError, "dimension mismatch: xq has 3 columns but xb has 4"),
    (lambda kn: kn.knn_search(_x()[:2], _x(nan_row=5), 3), ValueError, "xb contains NaN or inf in 1 row.*first at row 5"),
    (lambda kn: kn.knn_search(_x()[:2], _x(), 3, metric="hamming"), ValueError, "metric must be one of"),
    (lambda kn: kn.knn_search(_x()[:2], _x(), 2.5), TypeError, "k must be an integer"),
])
def test_knn_refuses_bad_input_naming_it(call, kind, match):
    from rae_explore.neighbors import knn

    with pytest.raises(kind, match=match):
        call(knn)


@pytest.mark.parametrize("name, params, x, match", [
    ("pcaa", {}, _x(), "unknown reducer 'pcaa'; known reducers: .*pca"),
    ("pca", {"n_components": 10}, _x(), "n_components=10 is larger than the input dimension n_features=4"),
    ("pca", {}, _x(nan_row=5), "X contains NaN or inf in 1 row.*first at row 5"),
    ("pca", {}, _x().astype(np.complex64), "Complex data not supported"),
    ("rp", {"n_components": 0}, _x(), "n_components must be an integer >= 1, got 0"),
    ("rae", {"alpha": -1}, _x(), "alpha must be a finite number >= 0, got -1"),
])
def test_reducers_refuse_bad_input_naming_it(name, params, x, match):
    from rae_explore.reducers import make_reducer

    with pytest.raises(ValueError, match=match):
        make_reducer(name, **dict({"n_components": 2}, **params)).fit(x)


def test_a_sweep_records_a_failing_configuration_and_keeps_the_finished_ones(tmp_path):
    from rae_explore.experiments.sweep import sweep

    path = tmp_path / "s.jsonl"
    df = sweep({"pca": {}, "rp": {"kind": "nope"}}, [4], "digits", ks=[1], recalls=[(1, 1)],
               dataset_kwargs={"n_samples": 200}, results_path=path, errors="record")
    assert sorted(df["status"]) == ["error", "ok"] and "kind" in df[df["status"] == "error"]["error"].iloc[0]
    assert sorted(r["status"] for r in read_rows(path)) == ["error", "ok"]


def test_cli_report_with_an_unknown_notebook_is_one_line(tmp_path, capsys):
    code, err = _cli(["report", "99-nope", "--out", str(tmp_path / "reports")], capsys)
    assert code == 2 and "99-nope" in _one_line_error(err, "report")


@pytest.mark.parametrize("value, match", [("efSearch=abc", "search parameter 'efSearch' needs a number, got 'abc'"),
                                          ("efSearch", "must look like name=value")])
def test_cli_search_parameter_that_is_not_a_number_is_named(tmp_path, capsys, value, match):
    with pytest.raises(SystemExit) as e:
        main(["pipeline", "run", "digits", "--out", str(tmp_path / "p.jsonl"), "--search-params", value])
    err = capsys.readouterr().err
    assert e.value.code == 2 and match in err and "rae-explore pipeline run: error:" in err and "Traceback" not in err


def test_a_failed_hdf5_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.hdf5"
    formats.write_ann_hdf5(path, np.ones((5, 4)), np.ones((2, 4)))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="could not convert string to float"):
        formats.write_ann_hdf5(path, np.ones((5, 4)), np.array([["a", "b"]]))
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.hdf5"]
