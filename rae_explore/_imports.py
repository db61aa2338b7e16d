"""Imports of heavy third-party packages that need care (used where they are needed)."""

import warnings


def import_skdim():
    """Import scikit-dimension without its global ``warnings.filterwarnings("ignore")``.

    ``skdim.id._FisherS`` silences *all* warnings of the process when imported; the filters are
    restored here so that warnings elsewhere (ours included) keep working.
    """
    saved = list(warnings.filters)
    try:
        import skdim
        import skdim.id  # noqa: F401
    except ImportError as e:  # pragma: no cover - a core dependency
        raise ImportError("scikit-dimension is needed: pip install scikit-dimension==0.5.0") from e
    finally:
        warnings.filters[:] = saved
    return skdim
