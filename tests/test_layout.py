"""The package's layout rules: a light bare import, arrows that point down, no reaching into private names."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import rae_explore

PKG = Path(rae_explore.__file__).parent

# Subpackages bottom to top: a module may import its own subpackage, the top-level helper modules
# (paths, validation, threads, atomic, grid, results, _imports) and the subpackages listed for it.
ALLOWED = {
    "data": {"neighbors"},  # Dataset.with_ground_truth runs the exact search (lazily imported)
    "neighbors": set(),
    "reducers": {"data", "neighbors"},
    "intrinsic": {"data", "neighbors", "reducers"},
    "index": {"data", "neighbors", "reducers"},
    "experiments": {"data", "neighbors", "reducers", "intrinsic", "index"},
    "report": {"data", "neighbors", "reducers", "intrinsic", "index", "experiments"},
    "cli": {"data", "neighbors", "reducers", "intrinsic", "index", "experiments", "report"},
}
HELPERS = {"paths", "validation", "vectors", "threads", "atomic", "grid", "results", "progress", "_imports"}
HEAVY = ("sklearn", "torch", "faiss", "plotly", "pandas", "scipy", "papermill", "umap", "skdim")


def _imports(path):
    """(module imported, names) for every ``from ... import`` of the package in ``path``, resolved."""
    rel = path.relative_to(PKG.parent).with_suffix("").parts
    pkg = rel[:-1] if rel[-1] != "__init__" else rel[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg[: len(pkg) - node.level + 1])
                mod = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "rae_explore":
                mod = node.module.split(".")
            else:
                continue
            out.append((mod, [a.name for a in node.names]))
    return out


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_bare_import_loads_no_heavy_dependency():
    code = f"import sys, json, rae_explore; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_public_names_load_on_first_use():
    code = ("import sys, rae_explore as r; assert 'sklearn' not in sys.modules; f = r.make_reducer; "
            "assert 'sklearn' in sys.modules and 'plotly' not in sys.modules; print(sorted(r.REDUCERS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'pca'" in out and "'rae'" in out
    for name in rae_explore.__all__:
        assert getattr(rae_explore, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        rae_explore.nope  # noqa: B018


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down_and_never_into_another_subpackages_private_names(path):
    rel = path.relative_to(PKG).parts
    own = rel[0] if len(rel) > 1 else None
    for mod, names in _imports(path):
        assert mod[0] == "rae_explore", mod
        target = mod[1] if len(mod) > 1 else None
        if own is None or target is None or target in HELPERS or target == own:
            pass
        else:
            assert target in ALLOWED[own], f"{path.relative_to(PKG)} imports rae_explore.{target}: arrows point down"
        if target != own:
            private = [n for n in names if n.startswith("_") and n != "__version__"]
            assert not private, f"{path.relative_to(PKG)} imports private {private} from {'.'.join(mod)}"


def test_every_module_opens_with_a_docstring():
    missing = [str(p.relative_to(PKG)) for p in _modules() if ast.get_docstring(ast.parse(p.read_text())) is None]
    assert not missing, missing


# Test files that cover a whole folder or the project rather than one module.
_CROSS_CUTTING = {"test_layout.py", "test_packaging.py", "test_gpu.py", "test_browser.py", "test_notebooks.py",
                  "test_plots.py", "test_pipeline_command.py", "test_bad_input.py"}


def test_tests_mirror_the_package():
    tests = Path(__file__).parent
    strays = []
    for f in sorted(tests.rglob("test_*.py")):
        rel = f.relative_to(tests)
        folder = PKG.joinpath(*rel.parts[:-1])
        name = f.stem.removeprefix("test_")
        if not folder.is_dir() or (f.name not in _CROSS_CUTTING and not (folder / f"{name}.py").exists()
                                   and not (folder / name).is_dir()):
            strays.append(str(rel))
    assert not strays, f"tests that mirror no module of rae_explore: {strays}"
