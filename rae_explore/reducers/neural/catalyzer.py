"""The Catalyzer: a small network trained to spread vectors for similarity search.

Sablayrolles, Douze, Schmid, Jégou, "Spreading vectors for similarity search" (ICLR 2019;
reference code github.com/facebookresearch/spreadingvectors, read, not copied). The network

    f(x) = normalize(W_3 ReLU(BN(W_2 ReLU(BN(W_1 x̃)))))      (d -> d_int -> d_int -> d_out)

maps the (standardised, :mod:`.base`) input to the unit sphere, where a lattice quantizer
(:mod:`rae_explore.index.lattice`) or any faiss index then works. It is trained on

    L = L_triplet + λ · L_KoLeo                                                   (paper, Eq. 4)

- ``L_triplet = mean_i max(0, ||f(x_i) - f(x_p)|| - ||f(x_i) - f(x_n)||)``: the positive ``p``
  is drawn, once per epoch, uniformly among the ``rank_positive`` exact nearest neighbours of
  ``x_i`` in the input space (itself excluded; exact faiss search, :mod:`rae_explore.neighbors.knn`),
  the negative ``n`` is the ``rank_negative``-th nearest neighbour of ``f(x_i)`` among the
  training codes, recomputed before every epoch (hard but not too hard: the paper's choice):
  exact up to 20,000 training rows, above that from a faiss IVF index (the search is O(n²) and
  dominated the fit at 100,000 rows; the reference's CPU path is approximate too, HNSW; the IVF
  negative is about the asked rank, :data:`IVF_NPROBE`);
- ``L_KoLeo`` (:func:`~rae_explore.reducers.neural.losses.koleo_loss`) on the anchors' codes of
  each batch, weight λ = ``lambda_uniform``: spreads the codes over the sphere.

As in the reference, anchors, positives and negatives go through the network as three
batches (BatchNorm normalises each with its own statistics, and updates its running statistics
three times a step). This costs accuracy against one pass over the three concatenated
(mixed-statistics) batches: sift5k -> 32 with the defaults, top-10 0.393 (seeds 0-4: 0.389-0.400)
against 0.409 (0.406-0.413), with steps about 1.4x dearer; it is kept because it is the
reference's training. Optimisation as in the reference:
one SGD optimiser with momentum 0.9 and a stepped learning rate set per epoch (the trainer's
``lr_schedule``), the epochs split into equal stages with ``lr * lr_steps[s]`` (the reference's
``--lr_schedule 0.1,0.1,0.05,0.01`` is ``lr=0.1, lr_steps=(1, 1, 0.5, 0.1)``). ``preset="paper"``
sets the reference's size: ``d_int = 1024``, batch 64, 160 epochs, that schedule. The defaults
(``d_int = 256``, the reference's batch of 64, 8 epochs up to 50,000 rows and down to 4 from
100,000, :func:`catalyzer_epochs`) fit sift5k (4,500 x 128 -> 32) in 12 CPU-s and minilm-wordnet
(9,000 x 384 -> 96) in 20-23 CPU-s (one torch thread), and 100,000 x 128 -> 32 in 170-180 CPU-s
(exact positives 61, negatives 51, steps 58; peak RSS 0.8 GB; top-10 0.548), measured on 2
cores shared with other jobs (``benchmarks/bench_catalyzer.py``); on the idle machine: 11.1 s,
15.7 s and 128 s wall (0.85 GB). ``self_positive=True`` with
``negatives="hnsw"`` trains as the reference code does on CPU: over seeds 0-9 on sift5k its
1-R@10 after a lattice code is within 1 point of the reference's at 16, 32 and 64 bits (-1.0,
+0.6, -0.1 points; a seed's own spread is about 2 points), an epoch in 0.88-0.91 of the
reference's time beside it.

>>> cat = Catalyzer(32, random_state=0).fit(xb)        # doctest: +SKIP
>>> Z = cat.transform(xq)                               # float32 (nq, 32), unit rows
"""

import functools
import logging
import math
import warnings

import numpy as np

from ...threads import limit_threads
from ...validation import check_int
from .base import NeuralReducer, check_number
from .losses import koleo_loss
from .training import fit_torch

logger = logging.getLogger(__name__)

PRESETS = {
    # the reference's train.py defaults: --dint 1024 --batch_size 64 --epochs 160 --lr_schedule 0.1,0.1,0.05,0.01
    "paper": {"hidden": 1024, "batch_size": 64, "max_epochs": 160, "lr": 0.1, "lr_steps": (1.0, 1.0, 0.5, 0.1)},
}


def _torch():
    import torch

    return torch


@functools.cache
def _net_class():
    """The torch module class, built on first use (``import rae_explore.reducers`` must not import torch)."""
    torch = _torch()
    nn = torch.nn

    class CatalyzerNet(nn.Module):
        """Standardisation buffers + the Catalyzer's three layers + L2 normalisation."""

        def __init__(self, n_features, n_components, hidden, normalize_input=False):
            super().__init__()
            self.register_buffer("mean", torch.zeros(n_features))
            self.register_buffer("scale", torch.ones(()))
            self.normalize_input = bool(normalize_input)
            self.net = nn.Sequential(
                nn.Linear(n_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                nn.Linear(hidden, n_components),
            )

        def prep(self, x):
            """Raw (batch, d) -> standardised input."""
            if self.normalize_input:
                x = nn.functional.normalize(x, dim=1)
            return (x - self.mean) / self.scale

        def encode_std(self, xs):
            """Unit-norm codes (batch, m) of standardised inputs."""
            return nn.functional.normalize(self.net(xs), dim=1)

        def encode(self, x):
            """Unit-norm codes (batch, m) of raw inputs (batch, d)."""
            return self.encode_std(self.prep(x))

        def forward(self, x):
            return self.encode(x)

    CatalyzerNet.__module__, CatalyzerNet.__qualname__ = __name__, "CatalyzerNet"
    globals()["CatalyzerNet"] = CatalyzerNet  # pickle finds it here (or through __getattr__ in a fresh process)
    return CatalyzerNet


def __getattr__(name):
    """``CatalyzerNet`` on first use (so that unpickling a fitted Catalyzer works in a new process)."""
    if name == "CatalyzerNet":
        return _net_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def catalyzer_net(n_features, n_components, hidden, normalize_input=False):
    """The untrained Catalyzer network (``encode``: raw (batch, d) -> unit (batch, m))."""
    return _net_class()(n_features, n_components, hidden, normalize_input)


def triplet_positives(X, rank_positive, include_self=False):
    """Ids (n, rank_positive) of each row's exact nearest rows of ``X`` (n, d), nearest first.

    ``include_self=False``: the nearest *other* rows. True: the row itself counts among them (it
    is its own nearest, so the list is itself and its ``rank_positive - 1`` nearest others), as
    the reference code's ground truth does.
    """
    from ...neighbors.knn import knn_search

    return knn_search(X, X, rank_positive, "l2", exclude_self=not include_self)[1]


#: ``negatives="auto"`` searches exactly up to this many training rows, with an IVF index above.
EXACT_NEGATIVES_MAX_ROWS = 20_000
#: The IVF search of the negatives: ``2 sqrt(n)`` lists trained on 32 codes each in 10 k-means
#: iterations, 32 lists probed. Measured on 100,000 codes of 32 dimensions (one thread, 2 shared cores):
#: the negative found is the exact 53rd neighbour (median; 90% within rank 59) for rank 50, in 14
#: CPU-s; the earlier ``4 sqrt(n)`` lists, 64 codes each, 25 iterations, 16 probes took as long and gave the
#: 70th (90%: 87th), too easy a negative; the reference's HNSW32 (efSearch 64), 44 CPU-s, the 49th.
IVF_POINTS_PER_LIST = 32
IVF_KMEANS_ITERATIONS = 10
IVF_NPROBE = 32
NEGATIVE_SEARCHES = ("auto", "exact", "ivf", "hnsw")


def triplet_negatives(codes, rank_negative, search="exact", random_state=0):
    """Id (n,) of each code's ``rank_negative``-th nearest other code (L2), the Catalyzer's negative.

    Parameters
    ----------
    codes : ndarray, float32, shape (n, m)
    rank_negative : int, ``1 <= rank_negative <= n - 1``
    search : {"exact", "ivf", "hnsw"}
        ``"exact"``: faiss brute force (:func:`rae_explore.neighbors.knn.knn_search`), O(n²).
        ``"hnsw"``: the reference's CPU path, for comparisons with it: a faiss ``HNSW32`` graph
        searched with ``efSearch = 64`` for ``rank_negative`` results with the row itself among
        them (so the negative is about the ``rank_negative - 1``-th other code). Slower than
        exact at 100,000 x 32 on 2 cores (measured), so never chosen by ``"auto"``.
        ``"ivf"``: a faiss ``IndexIVFFlat`` with ``2 sqrt(n)`` lists trained on a sample,
        ``nprobe = 32`` (:data:`IVF_NPROBE`): an approximate rank (a little deeper than asked:
        median 53 for 50 at 100,000 codes), as the reference's CPU path (HNSW32, efSearch 64)
        is approximate; a row for which fewer than ``rank_negative + 1`` codes were found takes
        the farthest one found.
    random_state : int
        Seeds the IVF training sample.
    """
    if search == "exact":
        from ...neighbors.knn import knn_search

        return knn_search(codes, codes, rank_negative, "l2", exclude_self=True)[1][:, -1]
    if search not in ("ivf", "hnsw"):
        raise ValueError(f"search must be 'exact', 'ivf' or 'hnsw', got {search!r}")
    import faiss

    if search == "hnsw":
        index = faiss.IndexHNSWFlat(codes.shape[1], 32)
        index.add(np.ascontiguousarray(codes, dtype=np.float32))
        index.hnsw.efSearch = 64
        I = index.search(np.ascontiguousarray(codes, dtype=np.float32), rank_negative)[1]
        found = (I >= 0).sum(axis=1)
        return I[np.arange(len(I)), np.maximum(found - 1, 0)].astype(np.int64)

    n, m = codes.shape
    nlist = max(1, min(int(2 * math.sqrt(n)), n // IVF_POINTS_PER_LIST))
    rng = np.random.default_rng(random_state)
    sample = codes[np.sort(rng.choice(n, min(n, IVF_POINTS_PER_LIST * nlist), replace=False))]
    quantizer = faiss.IndexFlatL2(m)
    index = faiss.IndexIVFFlat(quantizer, m, nlist)
    index.cp.seed = int(rng.integers(2**31))
    index.cp.niter = IVF_KMEANS_ITERATIONS  # coarse cells only sort the codes for the search: a rough k-means will do
    index.cp.min_points_per_centroid = 1  # a sample of 32 per list: faiss need not warn
    index.train(sample)
    index.add(codes)
    index.nprobe = min(IVF_NPROBE, nlist)
    _, I = index.search(codes, rank_negative + 1)
    found = (I >= 0).sum(axis=1)
    # the self match is (nearly always) rank 0; the rank_negative-th other code is column rank_negative
    own = I[:, 0] == np.arange(n)
    col = np.where(own, rank_negative, rank_negative - 1)
    col = np.minimum(col, found - 1)
    return I[np.arange(n), col].astype(np.int64)


#: ``max_epochs="auto"``: as many epochs as draw about this many triplets, within ``AUTO_EPOCHS``.
AUTO_TRIPLETS = 400_000
AUTO_EPOCHS = (4, 8)


def catalyzer_epochs(n_train):
    """``max_epochs="auto"``: ``ceil(AUTO_TRIPLETS / n_train)`` clipped to [4, 8] (8 up to 50,000 rows, 4 from 100,000).

    At least 4, so that each of the default schedule's 4 learning-rate stages has an epoch.
    Measured at 100,000 x 128 -> 32 (generated, 2 shared cores): 4 epochs, 170-180 CPU-s and
    top-10 0.548; 8 epochs, 272 CPU-s (311 s wall at load average 1-2) and top-10 0.560.
    """
    lo, hi = AUTO_EPOCHS
    return min(hi, max(lo, math.ceil(AUTO_TRIPLETS / max(int(n_train), 1))))


def _stages(max_epochs, n_steps):
    """Epochs of each learning-rate stage: ``max_epochs`` split as evenly as possible, empty stages dropped."""
    sizes = [len(a) for a in np.array_split(np.arange(max_epochs), n_steps)]
    return [(s, e) for s, e in enumerate(sizes) if e > 0]


class Catalyzer(NeuralReducer):
    """The Catalyzer (registered as ``"catalyzer"``): triplet + KoLeo training, unit-norm codes.

    Parameters
    ----------
    n_components : int
        Output dimension d_out, ``1 <= d_out <= n_features``.
    hidden : int
        Width d_int of the two hidden layers.
    lambda_uniform : float >= 0
        Weight λ of the KoLeo term (the reference's default 0.05).
    rank_positive : int
        Positives are drawn among this many exact input-space neighbours (10).
    rank_negative : int
        The negative is this rank's neighbour in the current output space (50);
        ``rank_positive <= rank_negative <= n - 1``.
    normalize_input : bool
        L2-normalise the input rows first (cosine data).
    self_positive : bool
        False (the issue's rule): positives are drawn among the ``rank_positive`` nearest *other*
        rows. True: among the row itself and its ``rank_positive - 1`` nearest others, as the
        reference code's ground truth includes the query (a triplet whose positive is the
        anchor has zero loss, so the triplet term weighs about 1/rank_positive less).
    negatives : {"auto", "exact", "ivf", "hnsw"}
        How each epoch's output-space neighbours are searched (:func:`triplet_negatives`):
        ``"auto"`` is exact up to ``EXACT_NEGATIVES_MAX_ROWS`` (20,000) training rows, IVF above;
        ``"hnsw"`` is the reference code's CPU search (for comparisons with it).
    preset : None or "paper"
        ``"paper"`` replaces ``hidden``, ``batch_size``, ``max_epochs``, ``lr`` and ``lr_steps``
        with the reference's (1024, 64, 160, 0.1, (1, 1, 0.5, 0.1)).
    max_epochs : int or "auto"
        ``"auto"`` (the default): 8 epochs up to 50,000 training rows, fewer above, down to 4
        from 100,000 rows (:func:`catalyzer_epochs`: about 400,000 triplets), so that a large
        set fits within minutes on 2 CPU cores.
    batch_size : int
    lr : float
        SGD learning rate (momentum 0.9) of the first stage.
    lr_steps : tuple of float
        Multipliers of ``lr``, one per stage; the epochs are split evenly between stages.
    weight_decay : float
    device : {"auto", "cpu", "cuda", "cuda:N"}
    random_state : int, Generator or None
        One seed for the weights, the batch order and the positives drawn: the same int gives
        the same codes on CPU.
    verbose : bool
        tqdm progress over steps.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (``encode``).
    positives_ : int64 (n_samples, rank_positive)
        Exact input-space neighbours of every training row (self excluded unless ``self_positive``).
    negatives_ : int64 (n_samples,)
        The negatives of the last epoch.
    history_ : list of dict
        Per epoch: ``epoch``, ``step``, ``loss``, ``triplet``, ``koleo``, ``offending`` (share of
        triplets with a positive loss), ``negatives_changed`` (share of rows whose negative
        changed since the previous epoch), ``lr``, ``seconds``, ``epoch_seconds``.
    n_iter_, device_, training_params_, n_features_in_
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.
    """

    method = "catalyzer"

    def __init__(self, n_components=2, *, hidden=256, lambda_uniform=0.05, rank_positive=10, rank_negative=50,
                 normalize_input=False, self_positive=False, negatives="auto", preset=None, max_epochs="auto",
                 batch_size=64, lr=0.1, lr_steps=(1.0, 1.0, 0.5, 0.1), weight_decay=0.0, device="auto",
                 random_state=None, verbose=False):
        self.n_components = n_components
        self.hidden = hidden
        self.lambda_uniform = lambda_uniform
        self.rank_positive = rank_positive
        self.rank_negative = rank_negative
        self.normalize_input = normalize_input
        self.self_positive = self_positive
        self.negatives = negatives
        self.preset = preset
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_steps = lr_steps
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -------------------------------------------------------------------------------- checks
    def _check_common_params(self, n, d):
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"preset must be None or one of {sorted(PRESETS)}, got {self.preset!r}")
        p = self._training_params()
        check_int(p["hidden"], "hidden", low=1)
        if p["max_epochs"] != "auto":
            check_int(p["max_epochs"], "max_epochs", low=1, what="a positive integer or 'auto'")
        check_int(p["batch_size"], "batch_size", low=2, what="an integer >= 2 (KoLeo needs pairs in a batch)")
        check_number(p["lr"], "lr", low=0, low_open=True)
        steps = p["lr_steps"]
        if isinstance(steps, (str, bytes)) or not hasattr(steps, "__len__") or len(steps) == 0:
            raise ValueError(f"lr_steps must be a non-empty sequence of positive multipliers of lr, got {steps!r}")
        for i, s in enumerate(steps):
            check_number(s, f"lr_steps[{i}]", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_number(self.lambda_uniform, "lambda_uniform", low=0)
        if self.negatives not in NEGATIVE_SEARCHES:
            raise ValueError(f"negatives must be one of {NEGATIVE_SEARCHES}, got {self.negatives!r}")
        for name in ("normalize_input", "self_positive", "verbose"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _check_method_params(self, n, d):
        kp = check_int(self.rank_positive, "rank_positive", low=1)
        kn = check_int(self.rank_negative, "rank_negative", low=1)
        if kp > kn:
            raise ValueError(f"rank_positive={kp} must be <= rank_negative={kn}: negatives are drawn farther out than "
                             "positives")

    def _ranks(self, n):
        """(rank_positive, rank_negative) usable with ``n`` training rows: at most ``n - 1``, with a warning."""
        kp, kn = int(self.rank_positive), int(self.rank_negative)
        if kn > n - 1:
            warnings.warn(f"rank_negative={kn} is larger than the {n} training rows allow (each has {n - 1} other "
                          f"rows); using rank_negative={n - 1} and rank_positive={min(kp, n - 1)}. Pass smaller ranks "
                          "or more rows to choose them yourself", UserWarning, stacklevel=4)
        return min(kp, n - 1), min(kn, n - 1)

    def _training_params(self):
        params = {"hidden": self.hidden, "batch_size": self.batch_size, "max_epochs": self.max_epochs,
                  "lr": self.lr, "lr_steps": self.lr_steps, "patience": None, "validation_fraction": 0.0}
        if self.preset is not None:
            params.update(PRESETS[self.preset])
        return params

    def _auto_epochs(self, n_train):
        """``max_epochs="auto"``: :func:`catalyzer_epochs` (by triplets drawn), not the autoencoders' rule."""
        return catalyzer_epochs(n_train)

    # -------------------------------------------------------------------------------- fit
    def _make_module(self, d):
        return catalyzer_net(d, int(self.n_components), int(self._training_params()["hidden"]),
                             bool(self.normalize_input))

    def _encode_rows(self, module, source, rows):
        """Codes (len(rows), m), float32 numpy, of training rows ``rows`` in eval mode (BatchNorm's running stats)."""
        torch = _torch()
        out = np.empty((len(rows), int(self.n_components)), np.float32)
        was_training = module.training
        module.eval()
        with torch.no_grad():
            a = 0
            for r, xb in source.blocks(rows, 4096):
                out[a:a + len(r)] = module.encode(xb).cpu().numpy()
                a += len(r)
        module.train(was_training)
        return out

    def _train(self, module, source, train_rows, val_rows, seed, dev, params):
        torch = _torch()
        X = source.data.cpu().numpy() if source.on_device else source.data
        n = len(train_rows)
        kp, kn = self._ranks(n)
        prep = np.ascontiguousarray(X[train_rows], dtype=np.float32)
        if self.normalize_input:
            from ...vectors import l2_normalize

            prep = l2_normalize(prep, "X")
        # positives: exact input-space neighbours (the standardisation shifts and scales, changing no neighbour)
        positives = np.zeros((source.n, kp), np.int64)
        with limit_threads(faiss="idle"):
            positives[train_rows] = train_rows[triplet_positives(prep, kp, include_self=bool(self.self_positive))]
        self.positives_ = positives
        pos_t = torch.zeros(source.n, dtype=torch.long)
        neg_t = torch.zeros(source.n, dtype=torch.long)
        rng = np.random.default_rng((seed + 1) % 2**63)
        bs = min(int(params["batch_size"]), n)
        per_epoch = math.ceil(n / bs)
        lam = float(self.lambda_uniform)
        state = {"neg": None, "changed": float("nan")}
        search = self.negatives
        if search == "auto":
            search = "exact" if n <= EXACT_NEGATIVES_MAX_ROWS else "ivf"
        self.negative_search_ = search

        def new_epoch(step, model):
            if step % per_epoch:
                return False
            # before every epoch: a positive rank per row, and negatives in the current output space
            ranks = rng.integers(kp, size=n)
            pos_t[train_rows] = torch.as_tensor(positives[train_rows, ranks])
            codes = self._encode_rows(model, source, train_rows)
            with limit_threads(faiss="idle"):  # busy cores: a 2-thread search waits for its descheduled peer
                neg = train_rows[triplet_negatives(codes, kn, search, random_state=int(rng.integers(2**31)))]
            state["changed"] = float("nan") if state["neg"] is None else float((neg != state["neg"]).mean())
            state["neg"] = neg
            neg_t[train_rows] = torch.as_tensor(neg)
            return False

        def loss_fn(model, xb, rows):
            B = len(rows)
            # three forward passes, as the reference: BatchNorm sees anchors, positives and negatives apart
            a = model.encode(xb)
            if B < 2:  # BatchNorm needs two rows: a last batch of one row goes with its triplet
                z = model.encode(torch.cat([xb, source.take(pos_t[rows]), source.take(neg_t[rows])]))
                a, p, q = z[:1], z[1:2], z[2:]
            else:
                p, q = model.encode(source.take(pos_t[rows])), model.encode(source.take(neg_t[rows]))
            per_row = torch.relu(torch.nn.functional.pairwise_distance(a, p)
                                 - torch.nn.functional.pairwise_distance(a, q))
            triplet = per_row.mean()
            parts = {"triplet": float(triplet.detach()), "offending": float((per_row.detach() > 0).float().mean())}
            if B < 2:  # a last batch of one row has no pair for KoLeo
                return triplet, dict(parts, koleo=0.0)
            koleo = koleo_loss(a)
            parts["koleo"] = float(koleo.detach())
            return triplet + lam * koleo, parts

        def callback(epoch, model):
            return {"negatives_changed": state["changed"]}

        max_epochs = int(params["max_epochs"])
        stage_of = np.concatenate([np.full(e, s) for s, e in _stages(max_epochs, len(params["lr_steps"]))])
        lrs = [float(params["lr"]) * float(params["lr_steps"][st]) for st in stage_of]
        history = fit_torch(module, loss_fn, source, max_epochs=max_epochs, batch_size=bs, lr=lrs[0], optimizer="sgd",
                            weight_decay=float(self.weight_decay), scheduler=None, lr_schedule=lrs.__getitem__,
                            rows=train_rows, random_state=seed, device=dev, callback=callback, verbose=self.verbose,
                            desc="Catalyzer", pass_rows=True, on_step=new_epoch)
        self.negatives_ = state["neg"] if state["neg"] is not None else np.zeros(0, np.int64)
        return history

    def inverse_transform(self, Z):
        """Not available: the Catalyzer has no decoder."""
        raise NotImplementedError("the Catalyzer has no decoder (it is trained for search, not reconstruction)")


__all__ = ["AUTO_EPOCHS", "AUTO_TRIPLETS", "EXACT_NEGATIVES_MAX_ROWS", "IVF_KMEANS_ITERATIONS", "IVF_NPROBE",
           "IVF_POINTS_PER_LIST", "NEGATIVE_SEARCHES", "PRESETS", "Catalyzer", "catalyzer_epochs", "catalyzer_net",
           "triplet_negatives", "triplet_positives"]
