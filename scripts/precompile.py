"""Byte-compile what the report and the tests import, in two processes at once.

``make`` installs with ``pip --no-compile`` (pip compiles all ~16,000 files of the environment,
one at a time, which took half of the install). Importing a module writes its bytecode, so this
script imports the modules the notebooks, the report and the tests use, split over two processes,
with bytecode writing switched on even where ``PYTHONDONTWRITEBYTECODE`` is set. Modules that are
never imported stay uncompiled and are compiled in memory if one ever is.
"""

import os
import subprocess
import sys

GROUPS = [
    # numerical side: torch and the estimators, then every rae_explore module (imports all of it)
    "torch faiss numpy scipy.sparse.linalg scipy.spatial scipy.stats sklearn.decomposition sklearn.manifold "
    "sklearn.neighbors sklearn.random_projection sklearn.utils.estimator_checks umap skdim kneed geoopt filelock",
    # notebook side: Jupyter, papermill, nbconvert, plotly, pandas, and the test tools
    "pandas pyarrow.parquet h5py plotly.graph_objects plotly.io plotly.subplots plotly.express ipywidgets tqdm.auto "
    "papermill nbconvert nbformat ipykernel.kernelapp jupyter_client.manager IPython pytest selenium.webdriver "
    "distributed",
]

CHILD = """
import importlib, pkgutil, sys
for name in sys.argv[1].split():
    importlib.import_module(name)
if sys.argv[2] == "1":
    import rae_explore
    for m in pkgutil.walk_packages(rae_explore.__path__, "rae_explore."):
        importlib.import_module(m.name)
"""


def main():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, group, "1" if i == 0 else "0"], env=env)
             for i, group in enumerate(GROUPS)]
    codes = [p.wait() for p in procs]
    if any(codes):
        sys.exit(f"precompile: an import failed (exit codes {codes}); the environment is incomplete")


if __name__ == "__main__":
    main()
