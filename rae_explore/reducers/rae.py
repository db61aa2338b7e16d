"""RAE: the linear autoencoder with a Frobenius penalty of the RAE paper (KDD 2026).

"RAE: A Neural Network Dimensionality Reduction Method for Nearest Neighbors Preservation in
Vector Search" (Zhang & Zhao). Encoder ``z = W_e x + b_e`` (d -> m), decoder
``x_hat = W_d z + b_d`` (m -> d), trained on

    loss = MSE(x, x_hat) + penalty,      MSE = mean over all n*d elements (torch ``MSELoss``),

with the penalty applied, as in the reference code (github.com/explorerZH/RAE-KDD2026), as the
optimiser's *coupled* weight decay ``alpha`` (``--weight_decay``): Adam/SGD add ``alpha * theta``
to the gradient of each decayed parameter, i.e. the objective carries ``(alpha / 2) ||theta||^2``.

Two choices the reference makes silently are parameters here:

- ``penalty="all"`` (the reference: weight decay on every parameter, decoder and biases
  included) or ``penalty="encoder"`` (Eq. 7 as written: only ``||W_e||_F^2``);
- ``bias=True`` (the reference: ``nn.Linear`` layers) or ``bias=False``.

Closed form (``penalty="all"``, ``bias=False``; Kunin et al. 2019, "Loss landscapes of
regularized linear autoencoders"). Multiply the objective by ``n d``:
``||X - X W_e^T W_d^T||^2 + lam (||W_e||^2 + ||W_d||^2)`` with ``lam = n d alpha / 2``. Since
``min_{W_d W_e = M} ||W_e||^2 + ||W_d||^2 = 2 ||M||_*``, the optimum is
``M = Q_m diag(t) Q_m^T`` with ``Q_m`` the top-m right singular vectors of ``X`` (uncentred; the
eigenvectors of ``X^T X``), and per component ``t_i = max(0, 1 - lam / sigma_i^2)`` where
``sigma_i^2`` are the eigenvalues of ``X^T X``; equivalently ``t_i = max(0, 1 - d alpha / (2 s_i))``
with ``s_i = sigma_i^2 / n``. The factors are balanced:
``W_e = R diag(sqrt(t)) Q_m^T``, ``W_d = W_e^T`` for any rotation ``R``. So the encoder's singular
values are ``sqrt(t_i)``: PCA directions with per-component shrinkage, a condition number
``sqrt(t_1 / t_m)`` that grows with ``alpha``.

With ``bias=True`` (the reference decays the biases too) the closed form takes the weights of
the centred data and the exact optimal biases for them: ``b_e = W_d^T b_d`` (small, so
the latent codes are *not* centred, which matters under cosine similarity) and
``b_d = ((1 + alpha d/2) I + W_d W_d^T)^{-1} (I - W_d W_e) mean``. The joint optimum differs
from this by a rank-one term along the mean, of relative size ``||mean||^2`` against 1 in units
of the shrinkage: negligible for the paper's ``alpha`` (1e-9 .. 1e-6), not for a large ``alpha``
on data far from the origin (then use ``bias=False`` on centred data, or ``init="closed_form"``
followed by Adam steps).

``penalty="encoder"`` has **no minimiser** for ``alpha > 0``: scaling ``W_e -> c W_e`` and
``W_d -> W_d / c`` leaves the reconstruction unchanged while the penalty ``c^2 ||W_e||^2`` goes to
0 as ``c -> 0``. The infimum is the unpenalised (PCA) error, never attained: gradient training
keeps shrinking the encoder and growing the decoder, the longer it runs the further. What it
returns depends on ``steps``, ``lr`` and the optimiser, not only on ``alpha``. (``history_``
records ``encoder_norm`` and ``decoder_norm`` per epoch so notebooks can show the drift.)
"""

import logging
import math

import numpy as np
from sklearn.utils.metaestimators import available_if

from ..threads import limit_threads
from ..validation import check_positive_int
from ..vectors import l2_normalize
from .base import LinearReducer
from .linear import principal_axes
from .moments import Moments, check_moments_fit, moments

logger = logging.getLogger(__name__)

PENALTIES = ("encoder", "all")
SOLVERS = ("adam", "closed_form")
PRESETS = (None, "reference")


def closed_form_rae(X, n_components, alpha, *, bias=True):
    """Optimum of the ``penalty="all"`` RAE objective (see the module docstring).

    Parameters
    ----------
    X : ndarray, shape (n, d), or :class:`~rae_explore.reducers.moments.Moments`
        The data (read in row blocks, never copied whole to float64), or its accumulated moments.
    n_components : int
    alpha : float
        The weight decay (the objective carries ``alpha/2 * ||theta||^2``; the MSE averages
        the n*d elements).
    bias : bool
        With biases: the weights come from the *centred* data and the biases are the exact
        optimum for those weights (see below).

    Returns
    -------
    W_e : float64 (m, d)
        Encoder weight ``diag(sqrt(t)) Q_m^T``; the decoder weight is ``W_e.T``.
    b_e : float64 (m,)
        Encoder bias (zeros if ``not bias``).
    b_d : float64 (d,)
        Decoder bias (zeros if ``not bias``).
    shrink : float64 (m,)
        ``t_i`` in ``[0, 1]``; the encoder's singular values are ``sqrt(t_i)``.

    Notes
    -----
    With ``bias=False`` this is the exact global minimiser. With biases, only the combination
    ``c = W_d b_e + b_d`` matters to the reconstruction; setting the gradients of the decayed
    biases to zero gives ``b_e = W_d^T b_d`` and ``b_d = ((1 + alpha d / 2) I + W_d W_d^T)^{-1}
    (I - W_d W_e) mean``: the encoder bias is small (about ``sqrt(t)(1 - t)/(1 + t)`` times the
    mean's coordinates on the kept axes, zero when ``t = 1``) and the decoder bias carries the
    part of the mean outside the kept subspace. The weights are those of the centred data; the exact joint optimum
    differs from them by a rank-one term along the mean whose size is
    ``n d alpha / 2 * ||mean||^2`` against the scatter ``X_c^T X_c`` — negligible for the
    ``alpha`` of the paper, not for large ``alpha`` on data far from the origin.
    """
    mom = X if isinstance(X, Moments) else moments(X)
    n, d = mom.n, mom.d
    # right singular vectors of the (centred if bias) data, largest-magnitude entry positive
    Qt, s2, _ = principal_axes(mom, n_components, center=bias)
    mean = mom.mean
    lam = n * d * alpha / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(s2 > lam, 1.0 - lam / np.where(s2 > 0, s2, 1.0), 0.0)
    W = np.sqrt(t)[:, None] * Qt
    if not bias:
        return W, np.zeros(n_components), np.zeros(d), t
    # optimal decayed biases for these weights (W_d = W.T)
    r = mean - W.T @ (W @ mean)
    b_d = np.linalg.solve((1.0 + alpha * d / 2.0) * np.eye(d) + W.T @ W, r)
    return W, W @ b_d, b_d, t


# Below this many multiply-adds per matmul (batch * d * m) a step is dominated by Python and
# thread hand-offs: one intra-op thread is as fast on an idle machine and many times faster on a
# loaded one (measured on 2 cores: batch 128, 128 -> 64: 0.38 ms/step either way idle, 0.5 vs
# 4.5 ms under load).
_SMALL_STEP = 1 << 20


def _module(d, m, bias):
    import torch

    class _LinearAE(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Linear(d, m, bias=bias)
            self.decoder = torch.nn.Linear(m, d, bias=bias)

        def forward(self, x):
            return self.decoder(self.encoder(x))

    return _LinearAE()


class RAE(LinearReducer):
    """Linear autoencoder with a Frobenius (weight-decay) penalty, trained with torch.

    Parameters
    ----------
    n_components : int
        Reduced dimension m (the reference's ``--output_dim``).
    alpha : float
        Penalty weight lambda, the reference's ``--weight_decay``: coupled weight decay, i.e. a
        ``(alpha/2) ||theta||^2`` term next to a mean-over-elements MSE.
    penalty : {"all", "encoder"}
        ``"all"``: decay every parameter (the reference's behaviour; has a minimiser, see
        :func:`closed_form_rae`). ``"encoder"``: decay only ``W_e`` (Eq. 7 as written; **no
        minimiser**, the result depends on the training budget — see the module docstring).
    bias : bool
        Biases in encoder and decoder (the reference has them).
    solver : {"adam", "closed_form"}
        ``"adam"``: gradient training with ``optimizer``. ``"closed_form"``: the exact optimum
        for ``penalty="all"`` (raises for ``"encoder"``); ``optimizer``, ``steps``, ... are unused.
    optimizer : {"adam", "adamw", "sgd"}
        AdamW's weight decay is *decoupled* (not a gradient term): the closed form does not
        describe it. SGD uses momentum 0.9 (the reference's SGD has none).
    steps : int
        Optimiser steps (the reference's ``--steps``; 3000).
    lr : float
        Peak learning rate (1e-3), cosine-annealed to 0 over ``steps``.
    batch_size : int
        Rows per step (128). ``batch_size >= n`` gives full-batch steps.
    init : {"auto", "random", "closed_form"}
        ``"random"``: torch's default ``nn.Linear`` initialisation (seeded). ``"closed_form"``:
        start from the ``penalty="all"`` optimum (a warm start; for ``penalty="all"`` training
        then only has to stay there, so few steps suffice). ``"auto"`` (default):
        ``"closed_form"``, or ``"random"`` under ``preset="reference"``. 3,000 Adam steps from a
        random start do not converge on real sets (top-10 0.626 against PCA's 0.656 on a text
        set), so the default starts at the optimum.
    preset : {None, "reference"}
        ``"reference"``: the configuration of the reference code (github.com/explorerZH/RAE-KDD2026,
        ``train.py``): a random start (``init="auto"`` resolves to ``"random"``), with the other
        parameters at their defaults (Adam, lr 1e-3, batch 128, 3,000 steps, biases, decay on every
        parameter). An explicit ``init`` wins over the preset.
    normalize : bool
        L2-normalise every row in ``fit`` and ``transform`` (for cosine similarity: the model is
        trained and applied on the same unit vectors). :func:`rae_explore.experiments.evaluate.evaluate`
        already passes unit vectors under ``metric="cosine"``.
    monitor_k : int or None
        If set, log ``top_k@monitor_k`` per epoch in ``history_``: the k-NN overlap of up to
        ``monitor_queries`` training rows (self excluded), original vs reduced space, both
        Euclidean (on the normalised rows if ``normalize``).
    monitor_queries : int
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``.
    random_state : int or None
        Seeds the initialisation, the batch order and the ``monitor_k`` queries: an int makes
        training reproducible; None (as in scikit-learn) draws fresh randomness on every fit.
    verbose : bool
        tqdm progress bar over steps.

    Attributes
    ----------
    components_ : float32 (n_components, n_features)
        Encoder weight ``W_e``.
    intercept_ : float32 (n_components,)
        Encoder bias ``b_e`` (zeros without bias).
    mean_ : float32 (n_features,)
        Zeros (the map is ``x @ W_e.T + b_e``).
    decoder_ : float32 (n_features, n_components)
        Decoder weight ``W_d``.
    decoder_intercept_ : float32 (n_features,)
        Decoder bias ``b_d``.
    singular_values_ : float64 (n_components,)
        Singular values of ``W_e``, descending.
    condition_number_ : float
        ``singular_values_[0] / singular_values_[-1]``.
    decoder_singular_values_ : float64 (n_components,)
    shrinkage_ : float64 (n_components,)
        The closed-form ``t_i`` (only with ``solver="closed_form"``).
    history_ : list of dict
        One per epoch: ``epoch``, ``step``, ``loss`` (training MSE averaged over the epoch's
        batches), ``penalty`` (``alpha/2 * ||decayed params||^2`` at the epoch's end; the
        objective is ``loss + penalty``), ``lr``, ``seconds``, ``encoder_norm``,
        ``decoder_norm`` (Frobenius) and ``top_k@k`` if ``monitor_k``. Empty for the closed form.
    init_ : str
        The start used by the Adam solver (``"random"`` or ``"closed_form"``; ``init="auto"`` resolved).
    n_iter_ : int
        Optimiser steps taken.
    device_ : str

    Examples
    --------
    >>> rae = RAE(64, alpha=1e-7, random_state=0).fit(X)          # doctest: +SKIP
    >>> Z = rae.transform(X); rae.condition_number_                # doctest: +SKIP
    """

    def __init__(self, n_components=2, *, alpha=0.0, penalty="all", bias=True, solver="adam", optimizer="adam",
                 steps=3000, lr=1e-3, batch_size=128, init="auto", preset=None, normalize=False, monitor_k=None,
                 monitor_queries=500, device="auto", random_state=None, verbose=False):
        self.n_components = n_components
        self.alpha = alpha
        self.penalty = penalty
        self.bias = bias
        self.solver = solver
        self.optimizer = optimizer
        self.steps = steps
        self.lr = lr
        self.batch_size = batch_size
        self.init = init
        self.preset = preset
        self.normalize = normalize
        self.monitor_k = monitor_k
        self.monitor_queries = monitor_queries
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -------------------------------------------------------------------------------- checks
    def _check_params(self):
        if self.penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {self.penalty!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.init not in ("auto", "random", "closed_form"):
            raise ValueError(f"init must be 'auto', 'random' or 'closed_form', got {self.init!r}")
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {PRESETS}, got {self.preset!r}")
        if not (isinstance(self.alpha, (int, float, np.floating)) and math.isfinite(self.alpha) and self.alpha >= 0):
            raise ValueError(f"alpha must be a finite number >= 0, got {self.alpha!r}")
        if self.solver == "closed_form" and self.penalty == "encoder" and self.alpha > 0:
            raise ValueError(
                "solver='closed_form' needs penalty='all': with penalty='encoder' and alpha > 0 the objective has no "
                "minimiser (shrink W_e, grow W_d). Use penalty='all' or solver='adam'."
            )
        if self.solver == "adam":
            from .neural.training import OPTIMIZERS

            if str(self.optimizer).lower() not in OPTIMIZERS:
                raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
            for name in ("steps", "batch_size"):
                check_positive_int(getattr(self, name), name)
            if not (self.lr > 0):
                raise ValueError(f"lr must be > 0, got {self.lr!r}")

    def preprocess(self, X):
        """What the autoencoder sees of ``X``: its rows L2-normalised if ``normalize``, else ``X`` itself.

        ``fit`` and ``transform`` apply it to their input; so should code that compares the
        model's input with its output (e.g. a reconstruction error).

        Parameters
        ----------
        X : ndarray, float, shape (n, d)

        Returns
        -------
        ndarray, shape (n, d)
            ``X`` unchanged if ``normalize`` is False, else float32 unit rows.

        Raises
        ------
        ValueError
            ``normalize=True`` and a row is the zero vector.
        """
        return l2_normalize(X, "X") if self.normalize else X

    # -------------------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Train the autoencoder on ``X`` (float32-convertible, shape (n, d)); returns ``self``."""
        X = self._check_fit_X(X)
        self._check_params()
        X = self.preprocess(X)
        if self.solver == "closed_form":
            return self._fit_closed_form(X)
        return self._fit_adam(X)

    @available_if(lambda self: self.solver == "closed_form")
    def partial_fit(self, X, y=None):
        """``solver="closed_form"`` only (absent otherwise): add the rows of ``X`` to the running moments and re-solve.

        The closed form depends on the data only through ``n``, the mean and the scatter, so
        consecutive blocks of a base too large for memory give, after the last one, the model
        ``fit`` gives on all rows (up to float rounding). ``moments_`` holds the sums.
        """
        prev = getattr(self, "n_features_in_", None)
        X = self._check_fit_X(X, min_samples=1)
        if prev is not None and prev != X.shape[1]:
            self.n_features_in_ = prev
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting {prev} features as "
                             "input: partial_fit blocks must all come from the same vectors (start a new model for "
                             "other data)")
        self._check_params()
        X = self.preprocess(X)
        if getattr(self, "moments_", None) is None:
            self.moments_ = Moments(X.shape[1])
        self.moments_.update(X)
        return self._fit_closed_form(self.moments_)

    @available_if(lambda self: self.solver == "closed_form")
    def fit_from_moments(self, moments, y=None):
        """``solver="closed_form"`` only (absent otherwise): the optimum from accumulated moments; returns ``self``.

        ``moments`` are those of the rows as the autoencoder sees them (:meth:`preprocess`
        applied: pass ``preprocess=rae.preprocess`` to :func:`~rae_explore.reducers.moments.moments`
        when ``normalize``). Equal to ``fit`` on the rows up to float rounding; ``moments_`` keeps
        them for ``partial_fit``.
        """
        self._check_params()
        self.moments_ = check_moments_fit(self, moments)
        return self._fit_closed_form(moments)

    def _fit_closed_form(self, X):
        W, b_e, b_d, t = closed_form_rae(X, self.n_components, self.alpha, bias=self.bias)
        self.shrinkage_ = t
        self.decoder_ = W.T.astype(np.float32)
        self.decoder_intercept_ = b_d.astype(np.float32)
        self.history_ = []
        self.n_iter_ = 0
        self.device_ = "cpu"
        self._finish_linear(W, intercept=b_e)
        self.decoder_singular_values_ = np.sqrt(t)
        return self

    def _fit_adam(self, X):
        import torch

        from .neural.training import fit_torch, resolve_device, resolve_seed, seeded

        n, d = X.shape
        m = self.n_components
        dev = resolve_device(self.device)
        seed = resolve_seed(self.random_state)  # None: fresh, drawn once for init, batches and monitor
        with seeded(seed):
            model = _module(d, m, self.bias)
        init = self.init if self.init != "auto" else ("random" if self.preset == "reference" else "closed_form")
        self.init_ = init
        if init == "closed_form":
            W, b_e, b_d, _ = closed_form_rae(X, m, self.alpha, bias=self.bias)
            with torch.no_grad():
                model.encoder.weight.copy_(torch.as_tensor(W))
                model.decoder.weight.copy_(torch.as_tensor(W.T))
                if self.bias:
                    model.encoder.bias.copy_(torch.as_tensor(b_e))
                    model.decoder.bias.copy_(torch.as_tensor(b_d))
        model = model.to(dev)

        alpha = float(self.alpha)
        if self.penalty == "all":
            params = [{"params": list(model.parameters()), "weight_decay": alpha}]
        else:
            others = [p for nm, p in model.named_parameters() if nm != "encoder.weight"]
            params = [{"params": [model.encoder.weight], "weight_decay": alpha},
                      {"params": others, "weight_decay": 0.0}]
        decayed = [p for g in params if g["weight_decay"] > 0 for p in g["params"]]

        def loss_fn(model, xb):
            return torch.nn.functional.mse_loss(model(xb), xb)

        callback = self._make_callback(X, dev, decayed, alpha, seed)
        small = dev == "cpu" and min(int(self.batch_size), n) * d * m < _SMALL_STEP
        with limit_threads(torch=1 if small else None):
            self.history_ = fit_torch(
                model, loss_fn, X, steps=int(self.steps), batch_size=int(self.batch_size), lr=float(self.lr),
                optimizer=str(self.optimizer).lower(), weight_decay=0.0, parameters=params, scheduler="cosine",
                random_state=seed, device=dev, callback=callback, verbose=self.verbose, desc="RAE",
            )
        self.n_iter_ = self.history_[-1]["step"] if self.history_ else 0
        self.device_ = dev
        enc_w = model.encoder.weight.detach().cpu().numpy().astype(np.float64)
        enc_b = model.encoder.bias.detach().cpu().numpy() if self.bias else None
        self.decoder_ = model.decoder.weight.detach().cpu().numpy().astype(np.float32)
        self.decoder_intercept_ = (model.decoder.bias.detach().cpu().numpy().astype(np.float32) if self.bias
                                   else np.zeros(d, np.float32))
        if not np.isfinite(enc_w).all() or not np.isfinite(self.decoder_).all():
            raise ValueError(
                f"RAE training diverged (NaN/inf weights) with optimizer={self.optimizer!r}, lr={self.lr}, "
                f"alpha={self.alpha}; lower lr (or alpha), or scale the data"
            )
        self._finish_linear(enc_w, intercept=enc_b)
        from .diagnostics import singular_values

        self.decoder_singular_values_ = singular_values(self.decoder_)
        return self

    def transform(self, X):
        """Encode ``X``: ``X @ components_.T + intercept_`` (rows L2-normalised first if ``normalize``).

        Returns
        -------
        Z : ndarray, float32, shape (n_samples, n_components)
        """
        X = self.preprocess(self._check_transform_X(X))
        Z = X @ self.components_.T
        Z += self.intercept_
        return Z.astype(np.float32, copy=False)

    def _make_callback(self, X, dev, decayed, alpha, seed):
        """Per-epoch extras: MSE without the penalty, weight norms, optional top-k accuracy."""
        import torch

        mon = None
        if self.monitor_k is not None:
            from ..neighbors.knn import knn_search
            from ..neighbors.metrics import top_k_accuracy

            k = int(self.monitor_k)
            rng = np.random.default_rng(seed)
            qi = np.sort(rng.choice(X.shape[0], min(int(self.monitor_queries), X.shape[0]), replace=False))
            if k > X.shape[0] - 1:
                raise ValueError(f"monitor_k={k} needs more than {k} training rows, got {X.shape[0]}")
            gt = knn_search(X[qi], X, k + 1, "l2")[1]
            gt = np.array([row[row != q][:k] for row, q in zip(gt, qi)])
            mon = (k, qi, gt, knn_search, top_k_accuracy)

        def cb(epoch, model):
            with torch.no_grad():
                pen = sum(float((p.detach() ** 2).sum()) for p in decayed)
                row = {"encoder_norm": float(model.encoder.weight.norm()),
                       "decoder_norm": float(model.decoder.weight.norm()),
                       "penalty": alpha / 2 * pen}
                if mon is not None:
                    k, qi, gt, knn_search, top_k_accuracy = mon
                    Z = model.encoder(torch.as_tensor(X, device=dev)).cpu().numpy()
                    I = knn_search(Z[qi], Z, k + 1, "l2")[1]
                    I = np.array([r[r != q][:k] for r, q in zip(I, qi)])
                    row[f"top_k@{k}"] = top_k_accuracy(gt, I, k)
            return row

        return cb
