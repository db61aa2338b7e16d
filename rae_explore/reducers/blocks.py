"""Transform a base of any size in row blocks, into memory or straight into a memory-mapped file.

:func:`transform_blocks` applies a fitted reducer ``block_rows`` rows at a time, so a
memory-mapped base is read once and never converted whole. With ``out`` the reduced vectors
go to a ``.npy`` (a numpy memory map, ``float32``) or ``.fvecs`` file written block by block
(atomically: an interrupted run leaves no partial file) and are returned memory-mapped.
"""

from pathlib import Path

import numpy as np

from ..validation import check_2d, check_positive_int

DEFAULT_BLOCK_ROWS = 262144


def transform_blocks(reducer, X, block_rows=DEFAULT_BLOCK_ROWS, *, out=None, verbose=False):
    """``reducer.transform(X)`` over row blocks; into memory, or into the file ``out``.

    Parameters
    ----------
    reducer : fitted reducer
        Anything with ``transform`` returning ``(rows, m)``.
    X : array-like, shape (n, d)
        May be a memory map (read one block at a time).
    block_rows : int
    out : path, optional
        ``.npy`` or ``.fvecs``: write the reduced vectors there (float32) and return them
        memory-mapped (read-only).
    verbose : bool
        tqdm progress over blocks.

    Returns
    -------
    ndarray, float32, shape (n, m)
    """
    from ..atomic import atomic_path
    from ..neighbors.knn import release_pages
    from ..progress import progress_bar

    X = X if hasattr(X, "ndim") else np.asarray(X)
    check_2d(X, "X")
    block_rows = check_positive_int(block_rows, "block_rows")
    n = X.shape[0]
    starts = progress_bar(range(0, n, block_rows), desc="transform", unit="block", disable=not verbose)
    if out is not None:
        out = Path(out)
        if out.suffix not in (".npy", ".fvecs"):
            raise ValueError(f"out must end in .npy or .fvecs, got {out.name!r}")
    first = np.asarray(reducer.transform(X[:min(block_rows, n)]), dtype=np.float32)
    release_pages(X)
    m = first.shape[1]

    def reduced_blocks():
        """``(start, float32 block)`` over the rows, the base's pages released after each."""
        for a in starts:
            yield a, first if a == 0 else np.asarray(reducer.transform(X[a:a + block_rows]), dtype=np.float32)
            release_pages(X)

    if out is None:  # filled in place: no list of blocks and no concatenated copy of it
        Z = np.empty((n, m), dtype=np.float32)
        for a, Zb in reduced_blocks():
            Z[a:a + block_rows] = Zb
        return Z
    with atomic_path(out) as tmp:
        if out.suffix == ".npy":
            Z = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, m))
            for a, Zb in reduced_blocks():
                Z[a:a + block_rows] = Zb
            Z.flush()
            del Z
        else:
            rec = np.dtype([("dim", "<i4"), ("vec", "<f4", (m,))])
            with open(tmp, "wb") as f:
                for _, Zb in reduced_blocks():
                    block = np.empty(len(Zb), dtype=rec)
                    block["dim"], block["vec"] = m, Zb
                    f.write(block.tobytes())
    if out.suffix == ".npy":
        return np.load(out, mmap_mode="r")
    return np.memmap(out, dtype=np.dtype([("dim", "<i4"), ("vec", "<f4", (m,))]), mode="r")["vec"]
