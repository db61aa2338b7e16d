"""Project locations, computed from the package location (no side effects at import).

``DATA_DIR`` and ``REPORTS_DIR`` can be moved with the environment variables
``RAE_EXPLORE_DATA`` and ``RAE_EXPLORE_REPORTS``.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RAE_EXPLORE_DATA", ROOT / "data"))
REPORTS_DIR = Path(os.environ.get("RAE_EXPLORE_REPORTS", ROOT / "reports"))
NOTEBOOKS_DIR = ROOT / "notebooks"
