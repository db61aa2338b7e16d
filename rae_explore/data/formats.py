"""Vector file formats: path in, array out.

- TEXMEX ``.fvecs`` / ``.ivecs`` / ``.bvecs`` (per record: little-endian int32 dimension ``d``,
  then ``d`` float32 / int32 / uint8 values): read, write, memory-map, iterate in blocks.
- ``.npy`` / ``.npz`` (key ``embeddings`` by default).
- Pickles of the RAE paper's layouts, through a restricted unpickler (pickles are untrusted).
- HDF5 in the ann-benchmarks layout (``train``, ``test``, ``neighbors``, ``distances``,
  attribute ``distance``).

Files are written atomically (:mod:`rae_explore.atomic`), so an interrupted write never leaves a
truncated file behind.

Loaders check what they read: every record header of the vecs rows handed out (:class:`VecsMap`),
HDF5 neighbour ids in ``[0, nb)``, real numeric dtypes only (:func:`check_real`: complex, object
and string arrays are refused naming the file and the dtype), numpy files by their signature (a
garbage ``.npy`` is "not a .npy file", never numpy's hint to allow pickles), and pickles through
a restricted unpickler that accepts what numpy writes at every protocol and refuses callables.
"""

import io
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write  # noqa: F401 -- atomic_write re-exported (formats.atomic_write)

logger = logging.getLogger(__name__)

VECS_DTYPES = {".fvecs": np.dtype("<f4"), ".ivecs": np.dtype("<i4"), ".bvecs": np.dtype("u1")}

# How many record headers `mmap_vecs` checks when opening a large file (evenly spaced, first and last
# included); files up to `_FULL_CHECK_BYTES` have every header checked at once (one sequential read).
_HEADER_SAMPLE = 1024
_FULL_CHECK_BYTES = 256 << 20


def _require(path, hint=""):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}" + (f"; {hint}" if hint else ""))
    return path


# --------------------------------------------------------------------------- TEXMEX *vecs
def _vecs_dtype(path, fmt=None):
    ext = fmt if fmt is not None else Path(path).suffix.lower()
    ext = ext if ext.startswith(".") else "." + ext
    if ext not in VECS_DTYPES:
        raise ValueError(f"unknown vecs format {ext!r} for {path}; expected one of {sorted(VECS_DTYPES)}")
    return VECS_DTYPES[ext]


def vecs_layout(path, fmt=None):
    """Return ``(n, d, dtype)`` of a TEXMEX file from its size and first header, reading 4 bytes.

    Raises
    ------
    ValueError
        If the file is empty, its first header is not a positive dimension, or its size is not a
        whole number of records (a truncated download or copy).
    """
    path = _require(path)
    dtype = _vecs_dtype(path, fmt)
    size = path.stat().st_size
    if size < 4:
        raise ValueError(f"{path} is empty or shorter than one record header ({size} bytes)")
    with open(path, "rb") as f:
        d = int(np.frombuffer(f.read(4), dtype="<i4")[0])
    if d <= 0 or d > 1 << 20:
        raise ValueError(f"{path}: first record header says dimension {d}; this is not a {path.suffix} file")
    record = 4 + d * dtype.itemsize
    if size % record:
        raise ValueError(
            f"{path} is truncated or corrupt: {size} bytes is not a whole number of {record}-byte records "
            f"(d={d}, {dtype.name}); {size // record} complete records then {size % record} stray bytes. "
            "Re-download or re-copy the file, or read the complete part with read_vecs(path, stop=n)"
        )
    return size // record, d, dtype


def _record_dtype(d, dtype):
    return np.dtype([("dim", "<i4"), ("vec", dtype, (d,))])


def _check_headers(path, dims, d, first_row=0):
    bad = np.flatnonzero(dims != d)
    if bad.size:
        row = first_row + int(bad[0])
        raise ValueError(
            f"{path}: record {row} has dimension header {int(dims[bad[0]])} but the first record has {d}; "
            "every record of a vecs file must have the same dimension (mixed or corrupt file)"
        )


class VecsMap(np.memmap):
    """The ``(n, d)`` memory map of a vecs file that checks the record headers of the rows it hands out.

    Indexing rows (``x[i]``, ``x[a:b]``, ``x[ids]``, ``x[mask]``) checks the dimension headers of
    those records and raises ``ValueError`` naming the first bad record; the result is a plain
    ``np.memmap`` view or an in-memory array. Converting the whole map at once
    (``np.asarray(x)``) does not go through this check: slice it instead.
    """

    def __getitem__(self, key):
        out = np.memmap.__getitem__(self, key)
        dims = getattr(self, "_dims", None)
        if dims is not None:
            rows = key[0] if isinstance(key, tuple) and key else key
            if rows is not Ellipsis:
                got = np.asarray(dims[rows]).reshape(-1)
                bad = np.flatnonzero(got != self._d)
                if bad.size:
                    if isinstance(rows, slice):
                        row = range(len(dims))[rows][int(bad[0])]
                    elif np.ndim(rows) == 0:
                        row = int(rows)
                    else:
                        arr = np.asarray(rows)
                        row = int(np.flatnonzero(arr)[bad[0]] if arr.dtype == bool else arr.reshape(-1)[bad[0]])
                    _check_headers(self._path, got[bad[:1]], self._d, first_row=row)
        if isinstance(out, np.memmap):  # a slice stays a memory map; a copy (fancy index) is a plain array
            return out.view(np.memmap) if getattr(out, "_mmap", None) is not None else out.view(np.ndarray)
        return out

    def __array_finalize__(self, obj):
        super().__array_finalize__(obj)
        self._dims = None  # views and slices are plain: only the map itself checks


def mmap_vecs(path, fmt=None):
    """Memory-map a ``.fvecs``/``.ivecs``/``.bvecs`` file as an ``(n, d)`` array without reading it.

    Slicing rows ``[a:b]`` of the result reads only those records from disk, and checks their
    record headers (:class:`VecsMap`). Opening checks the file size and every record header of a
    file up to 256 MiB, or a sample of 1,024 evenly spaced headers (first and last included) of
    a larger one; :func:`iter_vecs` and :func:`read_vecs` check every header they read.

    Parameters
    ----------
    path : str or Path
    fmt : {".fvecs", ".ivecs", ".bvecs"}, optional
        Overrides the extension.

    Returns
    -------
    ndarray view of an ``np.memmap``, shape (n, d), dtype float32 / int32 / uint8 (not contiguous:
    every row is preceded by its 4-byte header; copy a slice with ``np.array(x[a:b])``).
    """
    n, d, dtype = vecs_layout(path, fmt)
    rec = np.memmap(path, dtype=_record_dtype(d, dtype), mode="r", shape=(n,))
    if Path(path).stat().st_size <= _FULL_CHECK_BYTES:
        sample = np.arange(n)
    else:
        sample = np.unique(np.linspace(0, n - 1, num=min(n, _HEADER_SAMPLE)).astype(np.int64))
    dims = np.asarray(rec["dim"][sample])
    bad = np.flatnonzero(dims != d)
    if bad.size:
        _check_headers(path, dims[bad[:1]], d, first_row=int(sample[bad[0]]))
    out = rec["vec"].view(VecsMap)
    out._dims, out._d, out._path = rec["dim"], d, Path(path)
    return out


def read_vecs(path, start=0, stop=None, fmt=None):
    """Read records ``[start, stop)`` of a vecs file into memory, checking their headers.

    Returns
    -------
    ndarray, shape (stop - start, d), dtype float32 / int32 / uint8, C-contiguous.
    """
    n, d, dtype = vecs_layout(path, fmt)
    stop = n if stop is None else min(int(stop), n)
    if not 0 <= start <= stop:
        raise ValueError(f"read_vecs: need 0 <= start <= stop <= {n}, got start={start}, stop={stop}")
    rec = np.memmap(path, dtype=_record_dtype(d, dtype), mode="r", shape=(n,))[start:stop]
    _check_headers(path, np.asarray(rec["dim"]), d, first_row=start)
    return np.ascontiguousarray(rec["vec"])


def iter_vecs(path, block_size=65536, start=0, stop=None, fmt=None):
    """Yield ``(offset, block)`` over records ``[start, stop)``; the last partial block is included.

    Each block is an in-memory C-contiguous array of at most ``block_size`` rows, so memory use
    stays at one block whatever the file size.
    """
    n, _, _ = vecs_layout(path, fmt)
    stop = n if stop is None else min(int(stop), n)
    for a in range(start, stop, block_size):
        yield a, read_vecs(path, a, min(a + block_size, stop), fmt)


def write_vecs(path, x, fmt=None):
    """Write a 2-d array as ``.fvecs``/``.ivecs``/``.bvecs`` (chosen by extension), atomically.

    Raises
    ------
    ValueError
        If ``x`` is not 2-d, or its values do not fit the format (e.g. 300 in a ``.bvecs``).
    """
    dtype = _vecs_dtype(path, fmt)
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"write_vecs: x must be 2-d (n, d), got shape {x.shape}")
    if dtype.kind in "iu" and x.dtype.kind == "f" and not np.array_equal(x, np.round(x)):
        raise ValueError(f"write_vecs: {Path(path).suffix} stores integers but x holds non-integer floats")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if x.size and (x.min() < info.min or x.max() > info.max):
            raise ValueError(f"write_vecs: values outside [{info.min}, {info.max}] cannot be stored as {dtype.name}")
    n, d = x.shape
    rec = np.empty(n, dtype=_record_dtype(d, dtype))
    rec["dim"] = d
    rec["vec"] = x
    with atomic_write(path) as f:
        f.write(rec.tobytes())


# --------------------------------------------------------------------------- numpy files
def check_real(x, path, what="array"):
    """Raise ``TypeError`` unless ``x`` holds real numbers (bool, int, uint or float), naming the file and dtype."""
    dtype = np.asarray(x).dtype if not hasattr(x, "dtype") else x.dtype
    if dtype.kind not in "biuf":
        kind = {"c": "complex numbers", "O": "Python objects", "U": "strings", "S": "bytes", "V": "records",
                "M": "dates", "m": "time deltas"}.get(dtype.kind, "non-numbers")
        fix = ("keep the real part (np.real) or the modulus (np.abs) and save that" if dtype.kind == "c"
               else "save the vectors as a float32 array")
        raise TypeError(f"{path}: the {what} holds {kind} (dtype {dtype}), not real numbers; {fix}")
    return x


def _check_magic(path, magic, what):
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if head != magic:
        raise ValueError(f"{path} is not a {what} file (it does not start with the {what} signature "
                         f"{magic!r}; first bytes {head[:8]!r}); the file is corrupt, truncated or mislabelled: "
                         "re-download it or save it again with numpy")


def load_npy(path, mmap=True):
    """Load a ``.npy`` array, memory-mapped by default (nothing is read until sliced).

    Raises
    ------
    ValueError
        Not a ``.npy`` file, or a truncated one (never numpy's hint to load pickles).
    TypeError
        The array does not hold real numbers (complex, objects, strings), naming the dtype.
    """
    path = _require(path)
    _check_magic(path, b"\x93NUMPY", ".npy")
    try:
        x = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e) or "Object arrays" in str(e) or "Python objects" in str(e):
            raise TypeError(f"{path}: the array holds Python objects (dtype object), not real numbers; save the "
                            "vectors as a float32 array") from None
        raise ValueError(f"{path} is a damaged .npy file ({e}); re-download it or save it again") from None
    except (EOFError, OSError) as e:
        raise ValueError(f"{path} is a damaged .npy file ({type(e).__name__}: {e}); re-download it or save it "
                         "again") from None
    return check_real(x, path)


def load_npz(path, key="embeddings"):
    """Load one array from a ``.npz`` archive (``allow_pickle=False``).

    Raises
    ------
    KeyError
        Naming the keys the archive does hold.
    """
    path = _require(path)
    _check_magic(path, b"PK", ".npz (zip)")
    try:
        with np.load(path, allow_pickle=False) as z:
            if key not in z.files:
                raise KeyError(f"{path} has no array {key!r}; it holds {z.files}")
            x = z[key]
    except ValueError as e:
        if "pickle" in str(e) or "Object arrays" in str(e):
            raise TypeError(f"{path}: array {key!r} holds Python objects (dtype object), not real numbers; save "
                            "the vectors as a float32 array") from None
        raise ValueError(f"{path} is a damaged .npz file ({e}); re-download it or save it again") from None
    except (EOFError, OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path} is a damaged .npz file ({type(e).__name__}: {e}); re-download it or save it "
                         "again") from None
    return check_real(x, path, f"array {key!r}")


def save_npz(path, **arrays):
    """Write arrays to a compressed ``.npz`` atomically."""
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)


# --------------------------------------------------------------------------- pickles
_SAFE_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"),
    ("builtins", "complex"),
}


def _latin1_encode(text, encoding="latin1"):
    """What pickle protocols 0-2 call to rebuild ``bytes`` (``_codecs.encode(str, "latin1")``), and nothing else."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r}) in a pickle: "
                                     "only the latin1 encoding of a string (how protocols 0-2 store bytes) is allowed")
    return text.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that builds only numpy arrays/scalars, lists, dicts, tuples, numbers and strings.

    Any other global (a callable, a class, ``os.system``...) raises ``pickle.UnpicklingError``:
    a pickle can run arbitrary code when loaded, and embedding files are downloaded from others.
    """

    def find_class(self, module, name):
        if (module, name) in (("_codecs", "encode"), ("codecs", "encode")):
            return _latin1_encode  # protocols 0-2 store bytes (numpy's array data) this way
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load {module}.{name} from a pickle: only numpy arrays, lists, dicts, tuples, "
            "numbers and strings are allowed. If you trust this file, convert it once to .npz with "
            "numpy and load that instead"
        )


def load_pickle(path):
    """Load a pickle with :class:`RestrictedUnpickler`.

    Raises
    ------
    pickle.UnpicklingError
        If the pickle references anything but the allowed types.
    """
    with open(_require(path), "rb") as f:
        return RestrictedUnpickler(f).load()


def loads_pickle(data: bytes):
    """:func:`load_pickle` for bytes already in memory."""
    return RestrictedUnpickler(io.BytesIO(data)).load()


# --------------------------------------------------------------------------- HDF5 (ann-benchmarks)
ANN_DISTANCES = {"euclidean": "l2", "angular": "cosine", "dot": "ip", "ip": "ip", "cosine": "cosine", "l2": "l2"}


def _h5py():
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is a core dependency
        raise ImportError("reading HDF5 needs h5py: pip install h5py") from e
    return h5py


def read_ann_hdf5(path, n_base=None):
    """Read an ann-benchmarks HDF5 file.

    Returns
    -------
    dict with ``train`` (nb, d) float32 (first ``n_base`` rows if given), ``test`` (nq, d) float32,
    ``neighbors`` (nq, k) int64 or None, ``distances`` (nq, k) float32 or None, ``metric``
    ("l2", "cosine" or "ip", from the ``distance`` attribute).
    """
    h5py = _h5py()
    path = _require(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:  # h5py says "Unable to synchronously open file (file signature not found)"
        raise ValueError(f"{path} is not a readable HDF5 file ({e}); it is corrupt, truncated or mislabelled: "
                         "re-download it") from None
    with f:
        for key in ("train", "test"):
            if key not in f:
                raise KeyError(f"{path} is not in the ann-benchmarks layout: no dataset {key!r} (has {list(f)})")
        distance = f.attrs.get("distance", "euclidean")
        distance = distance.decode() if isinstance(distance, bytes) else str(distance)
        if distance not in ANN_DISTANCES:
            raise ValueError(f"{path}: distance {distance!r} is not supported; expected one of {sorted(ANN_DISTANCES)}")
        for key in ("train", "test", "neighbors", "distances"):
            if key in f:
                check_real(f[key], path, f"dataset {key!r}")
        nb = int(f["train"].shape[0])
        train = f["train"][: n_base] if n_base else f["train"][:]
        if "neighbors" in f:
            nbr = np.asarray(f["neighbors"][:])
            if nbr.dtype.kind == "f" and not np.array_equal(nbr, np.round(nbr)):
                raise ValueError(f"{path}: dataset 'neighbors' holds non-integer values; it must hold row ids "
                                 "of 'train'")
            bad = np.flatnonzero(((nbr < 0) | (nbr >= nb)).any(axis=1)) if nbr.ndim == 2 else np.array([0])
            if bad.size or nbr.ndim != 2 or nbr.shape[0] != f["test"].shape[0]:
                row = int(bad[0]) if bad.size else 0
                raise ValueError(
                    f"{path}: dataset 'neighbors' must hold, for each of the {f['test'].shape[0]} test vectors, ids "
                    f"of 'train' rows in [0, nb={nb}); got shape {nbr.shape}"
                    + (f", ids from {int(nbr.min())} to {int(nbr.max())}, first bad at test row {row}" if nbr.size
                       else "")
                    + ". The file is corrupt or its neighbours index another base: drop 'neighbors' to have them "
                    "recomputed")
        out = {
            "train": np.ascontiguousarray(train, dtype=np.float32),
            "test": np.ascontiguousarray(f["test"][:], dtype=np.float32),
            "neighbors": np.asarray(f["neighbors"][:], dtype=np.int64) if "neighbors" in f else None,
            "distances": np.asarray(f["distances"][:], dtype=np.float32) if "distances" in f else None,
            "metric": ANN_DISTANCES[distance],
        }
    if n_base and out["neighbors"] is not None:
        out["neighbors"] = out["distances"] = None  # computed on the full base: no longer valid
    return out


def write_ann_hdf5(path, train, test, neighbors=None, distances=None, distance="euclidean"):
    """Write arrays in the ann-benchmarks HDF5 layout, atomically."""
    h5py = _h5py()
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["distance"] = distance
            f.create_dataset("train", data=np.asarray(train, dtype=np.float32))
            f.create_dataset("test", data=np.asarray(test, dtype=np.float32))
            if neighbors is not None:
                f.create_dataset("neighbors", data=np.asarray(neighbors, dtype=np.int32))
            if distances is not None:
                f.create_dataset("distances", data=np.asarray(distances, dtype=np.float32))


# --------------------------------------------------------------------------- any vector file
def load_vectors(path, key="embeddings", mmap=True):
    """Load an ``(n, d)`` matrix from any supported file, choosing by extension.

    ``.fvecs/.ivecs/.bvecs`` and ``.npy`` are memory-mapped when ``mmap`` is True; ``.npz`` uses
    ``key``; ``.h5/.hdf5`` returns the ``train`` matrix; ``.pkl`` must hold an array or a dict
    with ``key``.
    """
    path = _require(path)
    ext = path.suffix.lower()
    if ext in VECS_DTYPES:
        return mmap_vecs(path) if mmap else read_vecs(path)
    if ext == ".npy":
        return load_npy(path, mmap=mmap)
    if ext == ".npz":
        return load_npz(path, key)
    if ext in (".h5", ".hdf5"):
        return read_ann_hdf5(path)["train"]
    if ext in (".pkl", ".pickle"):
        obj = load_pickle(path)
        if isinstance(obj, dict):
            if key not in obj:
                raise KeyError(f"{path} holds a dict without key {key!r}; keys: {list(obj)[:10]}")
            obj = obj[key]
        return check_real(np.asarray(obj), path)
    raise ValueError(
        f"unsupported vector file {path.name!r}; expected .fvecs/.ivecs/.bvecs/.npy/.npz/.h5/.hdf5/.pkl"
    )
