"""Reports: notebooks run by papermill (:mod:`.batch`), offline HTML (:mod:`.html`), live widgets
(:mod:`.widgets`) and the figures (:mod:`.plots`, one module per notebook)."""

from .batch import run_notebook, run_report
from .html import export_html, write_index

__all__ = ["run_notebook", "run_report", "export_html", "write_index"]
