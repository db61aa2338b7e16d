"""Batch machinery: parameters, grids, run ids, reuse, failures, index, offline HTML, CLI.

The end-to-end tests execute a toy notebook (one plotly figure) under papermill in the venv's
``python3`` kernel, so they test papermill, nbconvert and the index for real in a few seconds.
"""

import concurrent.futures as cf
import io
import json
import re
import time
from pathlib import Path

import nbformat
import pytest

from rae_explore.experiments.executors import TimeBudget
from rae_explore.report import batch
from rae_explore.cli import main


def _toy_notebook(path, extra_source=""):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Toy report"),
        nbformat.v4.new_code_cell("n = 3\nfail = False\nlabel = 'a'\nsizes = [1, 2]",
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from rae_explore.report import plots\nimport plotly.graph_objects as go\n"
                                  "plots.init_notebook()"),
        nbformat.v4.new_code_cell("if fail:\n    raise RuntimeError('asked to fail')\n"
                                  "go.Figure(go.Scatter(x=list(range(n)), y=list(range(n))))" + extra_source),
        nbformat.v4.new_code_cell("go.Figure(go.Bar(x=sizes, y=sizes))"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def toy(tmp_path):
    return _toy_notebook(tmp_path / "nb" / "toy.ipynb")


# --------------------------------------------------------------------------- parameters
def test_expand_grid_is_the_cartesian_product_over_base_parameters():
    combos = batch.notebook_runs({"seed": 0, "dataset": "x"}, {"dataset": ["a", "b"], "k": [1, 2, 3]})
    assert len(combos) == 6
    assert {(c["dataset"], c["k"]) for c in combos} == {(d, k) for d in "ab" for k in (1, 2, 3)}
    assert all(c["seed"] == 0 for c in combos)
    assert batch.notebook_runs({"a": 1}) == [{"a": 1}]
    with pytest.raises(ValueError, match="non-empty list"):
        batch.notebook_runs({}, {"k": []})


def test_parse_values_read_yaml_scalars_and_lists():
    assert batch.parse_value("8") == 8
    assert batch.parse_value("0.5") == 0.5
    assert batch.parse_value("true") is True
    assert batch.parse_value("[4, 8]") == [4, 8]
    assert batch.parse_value("sift5k") == "sift5k"
    assert batch.parse_grid_values("sift5k,digits") == ["sift5k", "digits"]
    assert batch.parse_grid_values("[1e-3, 0.1]") == [1e-3, 0.1]
    assert batch.parse_grid_values("1,2") == [1, 2]


def test_load_params_file_flat_and_structured(tmp_path):
    flat = tmp_path / "flat.yaml"
    flat.write_text("dataset: digits\ndims: [4, 8]\n")
    assert batch.load_params_file(flat) == ({"dataset": "digits", "dims": [4, 8]}, {}, None)
    st = tmp_path / "st.yaml"
    st.write_text("notebooks: 03-recall-curves\nparameters: {seed: 1}\ngrid: {dataset: [sift5k, digits]}\n")
    assert batch.load_params_file(st) == ({"seed": 1}, {"dataset": ["sift5k", "digits"]}, ["03-recall-curves"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {dataset: sift5k}\n")
    with pytest.raises(ValueError, match="non-empty list"):
        batch.load_params_file(bad)
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text("parameters: {seed: 1}\nseed: 2\n")
    with pytest.raises(ValueError, match="unexpected keys"):
        batch.load_params_file(mixed)
    with pytest.raises(FileNotFoundError):
        batch.load_params_file(tmp_path / "none.yaml")


def test_run_id_is_deterministic_and_depends_on_parameters():
    a = batch.make_run_id("notebooks/03-recall-curves.ipynb", {"dataset": "sift5k", "k": 10})
    assert a == batch.make_run_id("03-recall-curves", {"k": 10, "dataset": "sift5k"})  # order-free
    assert a != batch.make_run_id("03-recall-curves", {"dataset": "sift5k", "k": 11})
    assert a != batch.make_run_id("02-encoder-spectrum", {"dataset": "sift5k", "k": 10})
    assert re.fullmatch(r"03-recall-curves--sift5k--[0-9a-f]{10}", a)
    assert batch.make_run_id("x", {"dataset": "../../etc/passwd"}).count("/") == 0


def test_notebook_parameters_and_resolution(toy, tmp_path):
    assert batch.notebook_parameters(toy) == {"n": 3, "fail": False, "label": "a", "sizes": [1, 2]}
    nb_dir = toy.parent
    _toy_notebook(nb_dir / "toy-two.ipynb")
    assert batch.resolve_notebooks(None, nb_dir) == sorted([nb_dir / "toy-two.ipynb", toy])
    assert batch.resolve_notebooks(["toy-t"], nb_dir) == [nb_dir / "toy-two.ipynb"]
    assert batch.resolve_notebooks(["toy"], nb_dir) == [toy]  # exact stem wins over prefix
    with pytest.raises(FileNotFoundError, match="available: toy"):
        batch.resolve_notebooks(["nope"], nb_dir)
    with pytest.raises(ValueError, match="ambiguous"):
        batch.resolve_notebooks(["to"], nb_dir)
    # a notebook whose metadata opts out of the default report runs only when named
    slow = nbformat.read(str(nb_dir / "toy-two.ipynb"), as_version=4)
    slow.metadata["rae_explore"] = {"default_report": False}
    nbformat.write(slow, str(nb_dir / "toy-two.ipynb"))
    assert batch.resolve_notebooks(None, nb_dir) == [toy]
    assert batch.resolve_notebooks(["toy-two"], nb_dir) == [nb_dir / "toy-two.ipynb"]
    noparams = nbformat.v4.new_notebook()
    noparams.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(noparams, str(tmp_path / "plain.ipynb"))
    with pytest.raises(ValueError, match="no cell tagged 'parameters'"):
        batch.notebook_parameters(tmp_path / "plain.ipynb")


def test_the_repository_notebooks_are_parameterised():
    paths = batch.resolve_notebooks()
    assert len(paths) >= 3
    for p in paths:
        params = batch.notebook_parameters(p)
        assert "dataset" in params and "seed" in params, p.name


def test_missing_kernel_fails_fast_with_the_fix(toy, tmp_path):
    with pytest.raises(batch.KernelNotFoundError, match="ipykernel install --sys-prefix --name no-such-kernel"):
        batch.run_notebook(toy, reports_dir=tmp_path / "r", kernel_name="no-such-kernel")
    assert not (tmp_path / "r").exists()


def test_bad_parameters_are_rejected_before_running(toy, tmp_path):
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['nn'\]"):
        batch.run_notebook(toy, {"nn": 3}, reports_dir=tmp_path)
    with pytest.raises(ValueError, match="expects a list"):
        batch.run_notebook(toy, {"sizes": 3}, reports_dir=tmp_path)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['zzz'\]"):
        batch.run_report([toy], {"zzz": 1}, reports_dir=tmp_path)
    assert not any(tmp_path.glob("*/run.json"))


# --------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_grid_run_keeps_failures_reuses_results_and_writes_index(toy, tmp_path):
    out = tmp_path / "reports"
    seen = []
    runs = batch.run_report([toy], {"n": 4}, {"fail": [False, True]}, reports_dir=out, progress=seen.append)
    assert [r.status for r in runs] == ["ok", "failed"] and seen == runs
    ok, bad = runs
    assert "RuntimeError: asked to fail" in bad.error
    for r in runs:  # executed notebook, HTML and run.json kept for both, nothing half-written left over
        assert r.ipynb.exists() and r.html.exists()
        files = sorted(p.name for p in r.ipynb.parent.iterdir())
        assert files == ["kernel.log", "run.json", "toy.html", "toy.ipynb"]
        saved = json.loads((r.ipynb.parent / "run.json").read_text())
        assert saved["status"] == r.status and saved["parameters"]["n"] == 4 and saved["overrides"]["n"] == 4
    assert ok.run_id != bad.run_id
    executed = nbformat.read(str(ok.ipynb), as_version=4)
    assert any("n = 4" in c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))

    # the HTML works offline: plotly.js from the reports folder's shared copy (not inlined), no
    # require.js, both figures present
    html = ok.html.read_text()
    shared = re.findall(r'<script src="\.\./(plotly-[^"]+\.min\.js)"></script>', html)
    assert len(shared) == 1 and (out / shared[0]).exists()
    assert html.count("* plotly.js v") == 0
    assert not re.search(r'<script[^>]*src="https?://[^"]*(plotly|require)', html)
    assert html.count('class="plotly-graph-div"') == 2
    assert "asked to fail" in bad.html.read_text()

    index = (out / "index.html").read_text()
    assert ok.run_id in index and bad.run_id in index
    assert "class=failed" in index and "asked to fail" in index
    assert f'href="{ok.run_id}/toy.html"' in index

    # same parameters again: reused, nothing executed
    again = batch.run_report([toy], {"n": 4}, {"fail": [False]}, reports_dir=out)
    assert again[0].reused and again[0].run_id == ok.run_id and again[0].finished == ok.finished
    # the failed one is not reused; force re-executes a finished one
    (ok.ipynb.parent / "resume-state.jsonl").write_text("{}")  # e.g. a grid's own results file
    forced = batch.run_notebook(toy, {"n": 4, "fail": False}, reports_dir=out, force=True)
    assert not forced.reused and forced.status == "ok" and forced.started >= ok.started
    assert not (ok.ipynb.parent / "resume-state.jsonl").exists()  # a forced run starts clean
    # editing the notebook invalidates the finished run
    _toy_notebook(toy, extra_source="\n# edited")
    edited = batch.run_notebook(toy, {"n": 4, "fail": False}, reports_dir=out, html=False)
    assert not edited.reused and edited.status == "ok" and not edited.html.exists()


@pytest.mark.slow
def test_cli_report_runs_lists_and_reports_failures(toy, tmp_path, capsys):
    out = tmp_path / "reports"
    assert main(["report", str(toy), "--list"]) == 0
    assert "sizes = [1, 2]" in capsys.readouterr().out
    code = main(["report", str(toy), "--out", str(out), "-p", "sizes", "[3, 4]", "--grid", "fail", "false,true"])
    text = capsys.readouterr().out
    assert code == 1
    assert text.count("[    ok]") == 1 and text.count("[failed]") == 1 and "2 run(s), 1 failed" in text
    params = tmp_path / "p.yaml"
    params.write_text("parameters: {sizes: [3, 4], fail: false}\n")
    assert main(["report", str(toy), "--out", str(out), "--params", str(params)]) == 0
    assert "[reused]" in capsys.readouterr().out
    assert main(["report", str(toy), "--out", str(out), "--kernel", "no-such-kernel"]) == 2
    assert "not installed" in capsys.readouterr().err


# --------------------------------------------------------------------------- time budget
def test_time_budget_runs_small_dimensions_first_and_lists_what_it_skipped():
    tasks = [{"method": m, "n_components": d} for m in ("pca", "rae") for d in (32, 4, 8)]
    seen, now = [], [0.0]

    def work(t):  # each task "takes" 3 s of a fake clock
        now[0] += 3.0
        return t["method"], t["n_components"]

    budget = TimeBudget(5, progress=lambda i, n: seen.append((i, n)), clock=lambda: now[0])
    out = list(budget.map(work, tasks))
    # sorted by dimension, stable in method order; the budget stops after the second task
    assert out == [("pca", 4), ("rae", 4)]
    assert [(t["method"], t["n_components"]) for t in budget.skipped] == [("pca", 8), ("rae", 8), ("pca", 32),
                                                                          ("rae", 32)]
    assert seen == [(1, 6), (2, 6)] and budget.done == 2
    assert "ran 2 of 6" in budget.summary() and "pca@8" in budget.summary()
    everything = TimeBudget(None)
    assert len(list(everything.map(lambda t: t, tasks))) == 6 and "skipped" not in everything.summary()
    with pytest.raises(ValueError, match="seconds must be > 0"):
        TimeBudget(0)


def test_time_budget_as_a_sweep_executor():
    from rae_explore.experiments.sweep import sweep

    budget = TimeBudget(60)
    rows = sweep(["pca", "rp"], [2, 4], "digits", ks=(1, 5), recalls=((1, 10),), executor=budget,
                 dataset_kwargs={"n_samples": 300})
    assert len(rows) == 4 and budget.done == 4 and not budget.skipped
    assert sorted(zip(rows.method, rows.n_components)) == [("pca", 2), ("pca", 4), ("rp", 2), ("rp", 4)]


def test_parallel_runs_start_with_the_longest_expected(tmp_path, monkeypatch):
    runs = (("01-a", 90.0, "ok", "2026-01-01T00:00:00"), ("01-a", 80.0, "ok", "2026-01-02T00:00:00"),
            ("02-b", 10.0, "ok", "2026-01-01T00:00:00"), ("03-c", 500.0, "failed", "2026-01-01T00:00:00"))
    for nb, dur, status, started in runs:
        r = batch.Run(f"{nb}--{dur}", nb, {}, {}, status=status, started=started, duration_s=dur,
                      directory=str(tmp_path / f"{nb}--{dur}"))
        (tmp_path / r.run_id).mkdir()
        r.save()
    # newest finished run per notebook; failed runs do not count
    assert batch._expected_durations(tmp_path) == {"01-a": 80.0, "02-b": 10.0}
    # without history, a notebook's own hint; history wins over the hint
    hinted = _toy_notebook(tmp_path / "nb" / "03-c.ipynb")
    nb = nbformat.read(str(hinted), as_version=4)
    nb.metadata["rae_explore"] = {"expected_s": 42}
    nbformat.write(nb, str(hinted))
    other = _toy_notebook(tmp_path / "nb" / "01-a.ipynb")
    nb = nbformat.read(str(other), as_version=4)
    nb.metadata["rae_explore"] = {"expected_s": 5}
    nbformat.write(nb, str(other))
    assert batch._expected_durations(tmp_path, [hinted, other]) == {"01-a": 80.0, "02-b": 10.0, "03-c": 42.0}

    # the order runs are started in: no estimate first (may be long), then longest expected first
    nb_dir = tmp_path / "nb"
    for stem in ("02-b", "04-d"):
        _toy_notebook(nb_dir / f"{stem}.ipynb")
    started = []

    def fake_run(p, over, _defaults=None, **kw):  # record the start, execute nothing
        started.append(p.stem)
        return batch.Run(batch.make_run_id(p, {**_defaults, **over}), p.stem, {}, {}, status="ok")

    class InlinePool:  # runs each submitted call at once, in submission order (= start order with enough workers)
        def __init__(self, *a, **kw):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *a, **kw):
            fut = cf.Future()
            fut.set_result(fn(*a, **kw))
            return fut

    monkeypatch.setattr(batch, "run_notebook", fake_run)
    monkeypatch.setattr(cf, "ProcessPoolExecutor", InlinePool)
    out = batch.run_report(None, reports_dir=tmp_path, notebooks_dir=nb_dir, jobs=2)
    assert started == ["04-d", "01-a", "03-c", "02-b"]  # none, 80 s (history over its 5 s hint), 42 s hint, 10 s
    assert [r.notebook for r in out] == ["01-a", "02-b", "03-c", "04-d"]  # results reported in plan order
    started.clear()
    batch.run_report(None, reports_dir=tmp_path, notebooks_dir=nb_dir, jobs=1)
    assert started == ["01-a", "02-b", "03-c", "04-d"]  # one at a time: plan order


# --------------------------------------------------------------------------- reuse keyed on the code
def _finished_run(toy, out, package_sha):
    """A finished run of ``toy`` as run_notebook leaves it, made without executing anything."""
    rid = batch.make_run_id(toy, batch.notebook_parameters(toy))
    run = batch.Run(rid, toy.stem, batch.notebook_parameters(toy), {}, status="ok", started="2026-01-01T00:00:00",
                    finished="2026-01-01T00:00:01", source_sha=batch._sha(toy), package_sha=package_sha,
                    directory=str(out / rid))
    (out / rid).mkdir(parents=True)
    nbformat.write(nbformat.read(str(toy), as_version=4), str(run.ipynb))
    (out / rid / "results.jsonl").write_text("{}")  # a file of the old run's own
    run.save()
    return run


@pytest.fixture
def fake_papermill(monkeypatch):
    """papermill.execute_notebook that copies the notebook to the output and counts its calls."""
    import papermill

    calls = []

    def execute(src, dst, **kw):
        calls.append(kw.get("parameters"))
        nbformat.write(nbformat.read(src, as_version=4), dst)

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    return calls


def test_package_source_sha_is_a_stable_hash_of_the_code():
    h = batch.package_source_sha()
    assert re.fullmatch(r"[0-9a-f]{64}", h) and h == batch.package_source_sha()


def test_a_finished_run_is_reused_only_while_the_package_source_is_unchanged(toy, tmp_path, monkeypatch,
                                                                             fake_papermill):
    out = tmp_path / "reports"
    old = _finished_run(toy, out, package_sha="code-v1")
    monkeypatch.setattr(batch, "package_source_sha", lambda: "code-v1")
    same = batch.run_notebook(toy, reports_dir=out, html=False)
    assert same.reused and same.finished == old.finished and fake_papermill == []

    monkeypatch.setattr(batch, "package_source_sha", lambda: "code-v2")  # a bug fixed in the package
    fixed = batch.run_notebook(toy, reports_dir=out, html=False)
    assert not fixed.reused and fixed.status == "ok" and len(fake_papermill) == 1
    assert json.loads((out / fixed.run_id / "run.json").read_text())["package_sha"] == "code-v2"
    assert not (out / fixed.run_id / "results.jsonl").exists()  # nothing of the older code survives
    assert batch.run_notebook(toy, reports_dir=out, html=False).reused  # and now it is reused
    assert len(fake_papermill) == 1

    forced = batch.run_notebook(toy, reports_dir=out, html=False, force=True)  # --force still recomputes
    assert not forced.reused and len(fake_papermill) == 2


def test_runs_without_a_package_hash_run_again(toy, tmp_path, fake_papermill):
    out = tmp_path / "reports"
    _finished_run(toy, out, package_sha="")  # run.json written before the hash existed
    assert not batch.run_notebook(toy, reports_dir=out, html=False).reused and len(fake_papermill) == 1


# --------------------------------------------------------------------------- live progress
def _fake_running_notebook(steps, pause=0.15):
    """A run_notebook that, instead of executing, writes what a running notebook leaves in its
    folder: run.json saying running, papermill's partial notebook, the kernel's progress.log."""

    def fake_run(p, over, _defaults=None, reports_dir=None, **kw):
        rid = batch.make_run_id(p, {**_defaults, **over})
        run_dir = reports_dir / rid
        run_dir.mkdir(parents=True, exist_ok=True)
        run = batch.Run(rid, p.stem, {**_defaults, **over}, over, status="running", directory=str(run_dir))
        run.save()
        for cells, bars in steps:
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell("x", metadata={"papermill": {"status": s}}) for s in cells]
            nbformat.write(nb, str(batch._partial_path(run_dir, p.stem)))
            with open(run_dir / batch.PROGRESS_FILE, "a") as f:
                f.write(bars)
            time.sleep(pause)
        run.status = "ok"
        run.save()
        return run

    return fake_run


STEPS = [(["completed", "running", "pending"], ""),
         (["completed", "completed", "running"], "9.1\topen\tsweep: 1/4 config [00:01<00:03]\n"),
         (["completed", "completed", "running"], "9.1\topen\tsweep: 2/4 config [00:02<00:02]\n")]


@pytest.fixture
def fast_live(monkeypatch):
    monkeypatch.setattr(batch, "LIVE_POLL_S", 0.02)
    monkeypatch.setattr(batch, "LOG_EVERY_S", 0.0)


def test_live_progress_prints_a_line_per_start_and_the_cell_and_loops(toy, tmp_path, monkeypatch, capsys,
                                                                      fast_live):
    monkeypatch.setattr(batch, "run_notebook", _fake_running_notebook(STEPS))
    runs = batch.run_report([toy], {}, {"n": [1, 2]}, reports_dir=tmp_path, progress=lambda r: print("DONE", r.run_id))
    text = capsys.readouterr().out
    assert text.startswith("2 run(s) of 1 notebook(s), 1 at a time")
    for r in runs:
        assert text.count(f"[ start] {r.run_id}") == 1
        assert text.index(f"[ start] {r.run_id}") < text.index(f"DONE {r.run_id}")
        assert re.search(rf"\[   run\] {r.run_id}  0:0\d  cell 2 of 3\n", text)
        assert re.search(rf"\[   run\] {r.run_id}  0:0\d  cell 3 of 3  sweep: 2/4 config \[00:02<00:02\]\n", text)
    assert "\x1b" not in text  # not a terminal: plain lines


def test_off_a_terminal_lines_are_throttled_per_notebook(toy, tmp_path, monkeypatch, capsys, fast_live):
    monkeypatch.setattr(batch, "LOG_EVERY_S", 60.0)
    monkeypatch.setattr(batch, "run_notebook", _fake_running_notebook(STEPS))
    batch.run_report([toy], reports_dir=tmp_path)
    text = capsys.readouterr().out
    assert "[ start]" in text and "[   run]" not in text  # nothing within 60 s of the start line


def test_quiet_prints_nothing(toy, tmp_path, monkeypatch, capsys, fast_live):
    monkeypatch.setattr(batch, "run_notebook", _fake_running_notebook(STEPS))
    runs = batch.run_report([toy], reports_dir=tmp_path, quiet=True)
    assert [r.status for r in runs] == ["ok"] and capsys.readouterr().out == ""


def test_on_a_terminal_the_lines_are_rewritten_in_place(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    run_dir = tmp_path / "nb--abc"
    run_dir.mkdir()
    batch.Run("nb--abc", "nb", {}, {}, status="running", directory=str(run_dir)).save()
    screen = Terminal()
    live = batch._LiveProgress([("nb--abc", "nb")], tmp_path, stream=screen)
    live.tick()
    assert screen.getvalue() == "[ start] nb--abc\n[   run] nb--abc  0:00  starting the kernel\n"
    (run_dir / batch.PROGRESS_FILE).write_text("1.1\topen\tknn: 1/3 block\n")
    live.tick()
    assert screen.getvalue().endswith("\x1b[1F\x1b[J[   run] nb--abc  0:00  starting the kernel  knn: 1/3 block\n")
    with live.paused():
        screen.write("[    ok] nb--abc\n")
    assert screen.getvalue().endswith("\x1b[1F\x1b[J[    ok] nb--abc\n")  # the block is cleared first
    live.finished("nb--abc")
    live.tick()
    assert screen.getvalue().endswith("[    ok] nb--abc\n")  # a finished run leaves the block


def test_cli_quiet_is_passed_on(toy, tmp_path, monkeypatch):
    seen = {}

    def fake_report(*a, **kw):
        seen.update(kw)
        return []

    monkeypatch.setattr(batch, "run_report", fake_report)
    assert main(["report", str(toy), "--out", str(tmp_path), "--quiet"]) == 0 and seen["quiet"] is True
    assert main(["report", str(toy), "--out", str(tmp_path)]) == 0 and seen["quiet"] is False


# --------------------------------------------------------------------------- index
def _run_with_headline(out, notebook, dataset, started, **head):
    from rae_explore.report import headline

    rid = f"{notebook}--{dataset}--0123456789"
    r = batch.Run(rid, notebook, {"dataset": dataset, "seed": 0}, {"dataset": dataset}, status="ok", started=started,
                  duration_s=12.5, directory=str(out / rid))
    (out / rid).mkdir(parents=True)
    r.save()
    if head:
        headline.record(r.directory, **head)
    return r


def test_index_shows_headlines_compares_grid_runs_and_lists_what_was_skipped(tmp_path):
    out = tmp_path / "reports"
    for i, ds in enumerate(("sift5k", "digits")):
        _run_with_headline(out, "02-id", ds, f"2026-01-01T00:00:0{i}", recommended_dim=24 + i,
                           intrinsic_dimension={"MLE": 17.234, "TwoNN": 15.0},
                           best_by_dim={"4": ["pca", 0.31 + i / 10], "16": ["rae", 0.7], "8": ["rae", 0.5]},
                           best_pipeline={"factory": "IVF256,PQ16", "qps": 12345.6}, skipped=["rae@32", "umap@64"][:2 * i])
    _run_with_headline(out, "03-alone", "digits", "2026-01-02T00:00:00", recommended_dim=8)
    path = batch.write_index(out)
    page = path.read_text()
    # headline results, per run, whatever the keys
    assert "<b>recommended dim</b>: 24" in page and "<b>recommended dim</b>: 25" in page
    assert "<b>best by dim</b>: 4: pca 0.31, 8: rae 0.5, 16: rae 0.7" in page  # dimensions in numeric order
    assert "MLE: 17.2, TwoNN: 15" in page and "qps: 12,346" in page
    # one comparison figure for the grid (two runs of 02-id), none for a notebook run once
    assert page.count('class="plotly-graph-div"') == 1 and "02-id: best by dim across 2 runs" in page
    assert '"name":"dataset=sift5k"' in page and '"name":"dataset=digits"' in page
    # plotly.js is shared, loaded by a relative path, not inlined
    js = re.findall(r'<script src="(plotly-[^"]+\.min\.js)"></script>', page)
    assert len(js) == 1 and (out / js[0]).stat().st_size > 1_000_000
    assert len(page) < 100_000 and "* plotly.js v" not in page
    # what a budget skipped is listed
    assert "Skipped by a time budget" in page and "02-id--digits--0123456789</code></a>: rae@32, umap@64" in page
    assert 'skipped by a budget: <a href="#skipped">2</a>' in page


def test_index_without_comparable_runs_loads_no_plotly(tmp_path):
    _run_with_headline(tmp_path, "03-alone", "digits", "2026-01-02T00:00:00", recommended_dim=8)
    _run_with_headline(tmp_path, "04-plain", "digits", "2026-01-02T00:00:00")
    page = batch.write_index(tmp_path).read_text()
    assert "<script src=" not in page and "Runs compared" not in page and "Skipped by" not in page
    assert "<b>recommended dim</b>: 8" in page


@pytest.mark.slow
def test_a_grid_of_runs_on_a_dask_local_cluster(toy, tmp_path):
    from rae_explore.experiments.distributed import dask_client

    with dask_client(workers=2, quiet=True) as client:
        runs = batch.run_report([toy], {}, {"n": [2, 5]}, reports_dir=tmp_path / "r", client=client, quiet=True)
    assert [r.status for r in runs] == ["ok", "ok"]
    assert [r.parameters["n"] for r in runs] == [2, 5]  # plan order, whatever finished first
    assert all(Path(r.html).exists() for r in runs)
    assert (tmp_path / "r" / "index.html").read_text().count("toy--") >= 2
