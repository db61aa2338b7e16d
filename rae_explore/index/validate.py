"""Checks of faiss index factory strings and search parameters, before faiss sees them.

faiss's C++ code trusts the numbers it is given: a zero or a one where it needs more does not
raise, it ends the process or never returns. Measured on faiss-cpu 1.x (d=16, 2,000 vectors):

====================  ===============================================  ================
part                  what faiss does                                  we require
====================  ===============================================  ================
``PQ4x0``             floating-point exception (signal 8)              bits in [1, 16]
``HNSW0`` / ``HNSW1``  assertion abort (signal 6) / segfault (11)       M >= 2
``IVF4_HNSW1``        segfault                                          M >= 2
``NSG0`` .. ``NSG4``  the build never returns                          R >= 5
``RR0``, ``RQ2x0``    segfault                                          >= 1
``OPQ4_0``            floating-point exception                          >= 1
``efSearch=0``/``-5``  rows "ok" with recall ~ 0 (searches nothing)      >= 1
``nprobe=0``          RuntimeError; ``nprobe > nlist`` clamped silently  [1, nlist]
====================  ===============================================  ================

:func:`check_index_factory` reads the string part by part (the parts faiss's ``index_factory``
knows: transforms ``PCA``/``OPQ``/``RR``/``ITQ``/``Pad``, coarse quantizers ``IVF``/``IMI``,
``HNSW``/``NSG`` graphs with their storage, ``PQ``/``SQ``/``RQ``/``LSQ`` codes, ``Refine(...)``),
checks each number against its range and, with the dimension ``d``, that a product quantizer's
``M`` divides the dimension it sees (after any transform). Parts it does not know are left to
faiss, which rejects what it cannot parse with a ``RuntimeError`` (turned into a ``ValueError``
by :func:`rae_explore.index.factory.make_index`). :func:`check_search_params` does the same for
search parameters. Both raise ``ValueError`` (``TypeError`` for a value of the wrong type) naming
the string, the part, the value and a fix.
"""

import math
import numbers
import re

#: Smallest NSG out-degree R: below 5 faiss's NSG build does not return (R = 0..4 measured).
NSG_MIN_R = 5
#: Smallest HNSW M: below 2 faiss aborts or segfaults while building.
HNSW_MIN_M = 2
#: Largest bits per PQ code faiss trains (its k-means over 2**bits centroids).
PQ_MAX_BITS = 16

#: Search parameters we know: (kind, smallest value, what it is).
SEARCH_PARAMS = {
    "nprobe": ("int", 1, "IVF lists visited per query, in [1, nlist]"),
    "efSearch": ("int", 1, "HNSW candidate list size per query"),
    "quantizer_efSearch": ("int", 1, "efSearch of an IVF's HNSW coarse quantizer"),
    "search_L": ("int", 1, "NSG candidate list size per query"),
    "k_factor_rf": ("float", 1, "refine shortlist size as a multiple of k"),
    "k_factor": ("float", 1, "refine shortlist size as a multiple of k"),
    "max_codes": ("int", 0, "IVF codes visited per query (0 = no limit)"),
    "ht": ("int", 0, "Hamming threshold of polysemous PQ filtering"),
}

_EXAMPLE = '"Flat", "HNSW32", "NSG32", "IVF256,Flat", "IVF256,PQ16", "OPQ16_64,IVF256,PQ16", "IVF1024,SQ8"'


def _split_top(s):
    """Split on commas outside parentheses: ``"IVF64(PQ4),Flat"`` -> ``["IVF64(PQ4)", "Flat"]``."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"index_factory {s!r} has an unmatched ')'; examples: {_EXAMPLE}")
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth:
        raise ValueError(f"index_factory {s!r} has an unmatched '('; examples: {_EXAMPLE}")
    return parts + [cur]


def _divisors(d):
    return [m for m in range(1, d + 1) if d % m == 0]


class _Checker:
    """Checks the numbers of one factory string, tracking the dimension through transforms."""

    def __init__(self, s, d):
        self.s, self.d = s, d

    def need(self, part, what, value, low, high=None, why="", fix=""):
        value = int(value)
        if value < low or (high is not None and value > high):
            rng = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise ValueError(
                f"index_factory {self.s!r}: part {part!r} has {what} = {value}, but {what} must be {rng}"
                + (f" ({why})" if why else "") + f". Fix: {fix or f'use a value {rng}'}")

    def divides(self, part, m, d, what="M"):
        if d is not None and d % m:
            raise ValueError(
                f"index_factory {self.s!r}: part {part!r} splits the {d}-d vectors into {what}={m} sub-vectors, "
                f"so {d} must be a multiple of {what}. Fix: use {what} in {_divisors(d)}, or a dimension "
                f"(n_components) that is a multiple of {m}")

    def pq(self, part, m, bits):
        self.need(part, "M (sub-quantizers)", m, 1, fix="e.g. PQ16")
        if bits is not None:
            self.need(part, "bits per code", bits, 1, PQ_MAX_BITS,
                      why="0 bits crashes faiss with a floating-point exception", fix="PQ<M>x4 or PQ<M>x8")
        self.divides(part, int(m), self.d)

    def part(self, p):
        """Check one part; return the dimension after it."""
        d = self.d
        if m := re.fullmatch(r"PCAW?R?(\d+)", p):
            n = int(m.group(1))
            self.need(p, "output dimension", n, 1, d, why="PCA keeps at most the input dimension",
                      fix=f"PCA<n> with 1 <= n <= {d if d is not None else 'd'}")
            return n
        if m := re.fullmatch(r"(RR|ITQ)(\d+)", p):
            n = int(m.group(2))
            self.need(p, "output dimension", n, 1, why="0 crashes faiss", fix=f"{m.group(1)}<n> with n >= 1")
            return n
        if m := re.fullmatch(r"Pad(\d+)", p):
            n = int(m.group(1))
            self.need(p, "padded dimension", n, d or 1, why="padding cannot shrink the vectors")
            return n
        if m := re.fullmatch(r"OPQ(\d+)(?:_(\d+))?", p):
            M, out = int(m.group(1)), m.group(2)
            self.need(p, "M (sub-spaces)", M, 1, why="0 sub-spaces crashes faiss", fix="e.g. OPQ16_64")
            if out is not None:
                self.need(p, "output dimension", out, 1, why="0 crashes faiss with a floating-point exception",
                          fix=f"OPQ{M}_<n> with n a multiple of {M}")
                self.divides(p, M, int(out))
                return int(out)
            self.divides(p, M, d)
            return d
        if m := re.fullmatch(r"IVF(\d+)(?:_(HNSW|NSG)(\d+))?(?:\((.*)\))?(?:_.*)?", p):
            self.need(p, "nlist (inverted lists)", m.group(1), 1, fix="e.g. IVF256")
            if m.group(2) == "HNSW":
                self.need(p, "HNSW M of the coarse quantizer", m.group(3), HNSW_MIN_M,
                          why="M < 2 crashes faiss", fix="e.g. IVF256_HNSW32")
            elif m.group(2) == "NSG":
                self.need(p, "NSG R of the coarse quantizer", m.group(3), NSG_MIN_R,
                          why="a smaller R never finishes building", fix="e.g. IVF256_NSG32")
            if m.group(4):
                _Checker(self.s, d).string(m.group(4))
            return d
        if m := re.fullmatch(r"IMI(\d+)x(\d+)", p):
            self.need(p, "number of sub-quantizers", m.group(1), 1, fix="e.g. IMI2x8")
            self.need(p, "bits per sub-quantizer", m.group(2), 1, PQ_MAX_BITS, fix="e.g. IMI2x8")
            self.divides(p, int(m.group(1)), d, what="the IMI's sub-quantizer count")
            return d
        if m := re.fullmatch(r"(HNSW|NSG)(\d+)(?:_(.+))?", p):
            kind, n, storage = m.group(1), int(m.group(2)), m.group(3)
            if kind == "HNSW":
                self.need(p, "M (neighbours per node)", n, HNSW_MIN_M,
                          why="M = 0 aborts and M = 1 segfaults faiss", fix="e.g. HNSW32")
            else:
                self.need(p, "R (out-degree)", n, NSG_MIN_R,
                          why=f"R < {NSG_MIN_R} makes faiss's NSG build run forever", fix="e.g. NSG32")
            if storage:
                self.part(storage)
            return d
        if m := re.fullmatch(r"PQ(\d+)(?:x(\d+))?(fs|fsr|np)?", p):
            self.pq(p, m.group(1), m.group(2))
            return d
        if m := re.fullmatch(r"(?:P?RQ|P?LSQ|Residual)(\d+)(?:x(\d+))*.*", p):
            for n in re.findall(r"\d+", p.split("_")[0]):
                self.need(p, "each number", n, 1, why="0 crashes faiss or cannot be parsed", fix="e.g. RQ4x8")
            return d
        if m := re.fullmatch(r"Refine\((.*)\)", p):
            _Checker(self.s, d).string(m.group(1))
            return d
        return d  # Flat, SQ8, LSH, L2norm, IDMap, RFlat, ...: faiss parses them or refuses them

    def string(self, s):
        for p in _split_top(s):
            p = p.strip()
            if not p:
                raise ValueError(f"index_factory {self.s!r} has an empty part (two commas in a row or a "
                                 f"trailing comma); examples: {_EXAMPLE}")
            self.d = self.part(p)


def check_index_factory(index_factory, d=None):
    """Check a faiss ``index_factory`` string's parts and numbers; return it unchanged.

    Parameters
    ----------
    index_factory : str
    d : int, optional
        The dimension the index will be built on; with it, also checks that each product
        quantizer's ``M`` divides the dimension it sees and that ``PCA<n>`` has ``n <= d``.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        Not a non-empty string.
    ValueError
        A number out of range (naming the part, the value, the range and why), an ``M`` that does
        not divide the dimension (listing those that do), unbalanced parentheses, an empty part.

    Examples
    --------
    >>> check_index_factory("IVF256,PQ16", d=64)
    'IVF256,PQ16'
    """
    if not isinstance(index_factory, str) or not index_factory.strip():
        raise TypeError(f"index_factory must be a non-empty faiss index_factory string such as {_EXAMPLE}; "
                        f"got {index_factory!r}")
    if d is not None:
        d = int(d)
    _Checker(index_factory, d).string(index_factory)
    return index_factory


def check_search_params(params, nlist=None, where="search_params"):
    """Check search parameters ``{name: value}`` against their ranges; return them with ints as ints.

    Parameters
    ----------
    params : dict or None
    nlist : int, optional
        The IVF's number of lists: ``nprobe`` must not exceed it (faiss would clamp it silently
        while rows record the value asked for).
    where : str
        What the parameters are, for messages (``"search_params"``, ``"sweep"``).

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        Not a dict, a non-string name, a value that is not a number (bools included), a float
        where an integer is needed.
    ValueError
        A value below its minimum (``efSearch=0`` would search nothing and give recall 0 in a row
        marked ok), or ``nprobe > nlist``.
    """
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise TypeError(f"{where} must be a dict {{name: value}} such as {{'nprobe': 16}}, got {params!r}")
    out = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: parameter names must be strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
            raise TypeError(f"{where}: {name} must be a number, got {value!r}")
        spec = SEARCH_PARAMS.get(name)
        if spec is None:
            out[name] = value
            continue
        kind, low, what = spec
        if kind == "int":
            if float(value) != int(value):
                raise TypeError(f"{where}: {name} ({what}) must be an integer, got {value!r}")
            value = int(value)
        if value < low:
            raise ValueError(f"{where}: {name} ({what}) must be >= {low}, got {value!r}"
                             + ("; 0 or less searches nothing (recall 0)" if low == 1 and kind == "int" else "")
                             + f". Fix: {name}={max(low, 16) if kind == 'int' else 2}")
        if name == "nprobe" and nlist is not None and value > nlist:
            raise ValueError(f"{where}: nprobe={value} is larger than the index's nlist={nlist}; faiss would "
                             f"visit only {nlist} lists. Fix: nprobe <= {nlist}")
        out[name] = value
    return out
