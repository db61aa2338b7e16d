"""What the four autoencoders of the compression paper share: the network, the switches, fit and transform.

Buyanov et al. ("autoencoders as vector compressors in the ANN-search pipeline") put an
autoencoder's encoder in front of a faiss index and compare four of them: a vanilla one
(:mod:`.vanilla`), DCEC (:mod:`.dcec`), HyperAE (:mod:`.hyperae`) and NRAE (:mod:`.nrae`). Every one
is a :class:`NeuralReducer`: the same fully connected network (Eq. 1-4 of the paper, one hidden
layer each side)

    encoder  h = W_2 σ(W_1 x̃ + b_1) + b_2       (d -> l -> m)
    decoder  x̂ = W_4 σ(W_3 z + b_3) + b_4       (m -> l -> d)

on the standardised input ``x̃ = (x - mean) / scale`` (the training set's per-feature mean and
overall standard deviation: SIFT's 0..255 and MiniLM's unit vectors train with the same
learning rate), trained by :func:`~rae_explore.reducers.neural.training.fit_torch` (Adam, cosine
schedule, early stopping on a held-out slice of the training set), on CUDA when present
(``device="auto"``). The methods differ in what they do to the code ``z`` and in their loss.

The paper's experiment switches are parameters of every method:

- ``normalize_input``: L2-normalise the input vectors (before the standardisation);
- ``normalize_codes``: L2-normalise the embeddings, i.e. the encoder output ``z``;
- ``hidden="input"``: hidden width ``l`` equal to the input dimension ``d`` ("set l hidden");
- ``preset="paper"``: the paper's constants, batch size 8 and 5 epochs, every training row used
  (no held-out slice, no early stopping).

The defaults (batch 256, up to 30 epochs, fewer above 20,000 rows, NRAE half as many, patience
5, ``l = 256``) are ours, one set for every dataset (``benchmarks/bench_neural.py``). Measured on
2 cores shared with other work (load 7-11), fit CPU time (one torch thread: about the wall time
on idle cores) and top-10 against PCA's: ``sift5k`` -> 32, Vanilla AE 6.6 s / 0.517, DCEC
7.6 s / 0.502, HyperAE 13.1 s / 0.423, NRAE 8.2 s / 0.574 (PCA 0.659); ``minilm-wordnet`` -> 96,
16.1 s / 0.585, 18.1 s / 0.581, 31.8 s / 0.622, 19.3 s / 0.612 (PCA 0.649); 100,000 x 128 -> 32,
22 s, 33 s, 54 s, 79 s, peak RSS at most 0.8 GB. The wall times under that load were 1.5-4x
the CPU times.

Reproducibility: one ``random_state`` seeds the weights, the held-out slice, the batch order and
each method's own draws (k-means, neighbour sampling); on the CPU training runs with one torch
thread (a matmul's rounding depends on the thread count) and TorchScript optimisation off
(geoopt's maths would round differently on its first calls), so the same seed gives bitwise the
same codes. On CUDA, results agree with the CPU's within rounding, not bitwise.

scikit-learn's ``check_estimator`` runs over all four in ``tests/reducers/test_base.py`` with
``max_epochs=2`` (a few seconds each on 2 cores). With the default epochs it is not run: its
checks fit the estimator dozens of times, which would take minutes per method.
"""

import logging
import math
import numbers
import warnings

import numpy as np

from ...threads import limit_threads
from ...validation import as_float32, check_int
from ...vectors import l2_normalize
from ..base import DimensionWarning, Reducer
from .training import BatchSource, fit_torch, resolve_device, resolve_seed, seeded

logger = logging.getLogger(__name__)

PRESETS = {
    # Buyanov et al.: batch size 8, 5 epochs; no early stopping (so no held-out slice either)
    "paper": {"batch_size": 8, "max_epochs": 5, "patience": None, "validation_fraction": 0.0},
}

#: ``max_epochs="auto"``: as many epochs as make about this many training rows seen, within [5, 30].
AUTO_ROWS = 600_000
AUTO_EPOCHS = (5, 30)

#: Rows encoded at once by ``transform`` (bounded memory for any base size).
TRANSFORM_BLOCK = 65536


def _torch():
    import torch

    return torch


def standardisation(X, rows, normalize_input, block=65536):
    """Per-feature mean (float64 (d,)) and overall standard deviation (float) of ``X[rows]``, in blocks.

    Rows are L2-normalised first if ``normalize_input`` (a zero row raises, naming it). A memory
    map is read block by block.
    """
    rows = np.sort(np.asarray(rows))
    d = X.shape[1]
    s1, s2, n = np.zeros(d), np.zeros(d), 0
    for a in range(0, len(rows), block):
        r = rows[a:a + block]
        xb = np.asarray(X[r], dtype=np.float64)
        if normalize_input:
            xb = l2_normalize(xb, "X", offset=int(r[0])).astype(np.float64)
        s1 += xb.sum(axis=0)
        s2 += (xb ** 2).sum(axis=0)
        n += len(r)
    mean = s1 / n
    var = float(np.maximum(s2 / n - mean ** 2, 0).mean())
    scale = math.sqrt(var) if var > 0 else 1.0
    return mean, scale


def auto_epochs(n_train, rows_per_sample=1):
    """``max_epochs="auto"``: ``ceil(AUTO_ROWS / n_train)`` clipped to ``AUTO_EPOCHS`` (30 for sift5k, 7 for 100k rows).

    Divided by ``rows_per_sample`` (rounded up) for a method whose every training row brings
    others through the encoder (NRAE: its ``n_sampled`` neighbours): 15 and 4 epochs there with
    one neighbour, so that it encodes about as many rows as the Vanilla AE.
    """
    lo, hi = AUTO_EPOCHS
    epochs = min(hi, max(lo, math.ceil(AUTO_ROWS / max(int(n_train), 1))))
    return math.ceil(epochs / max(int(rows_per_sample), 1))


def reconstruction_mse(model, xb):
    """Mean squared reconstruction error per element in the standardised space (paper Eq. 4)."""
    xs = model.prep(xb)
    return ((model.decode_std(model.encode_std(xs)) - xs) ** 2).mean()


def check_number(value, name, *, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in the given range, else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return float(value)


class NeuralReducer(Reducer):
    """Base of the four autoencoders: parameters and checks, the held-out split, fit, blockwise transform.

    Subclasses set the class attribute ``method`` and may override :meth:`_make_module`,
    :meth:`_check_method_params` and :meth:`_train` (the default trains the reconstruction
    loss). Parameters shared by all (see the subclasses for their own):

    Parameters
    ----------
    n_components : int
        Code size m, ``1 <= m < n_features``.
    hidden : int or "input"
        Hidden width l of encoder and decoder; ``"input"``: l = d (the paper's "set l hidden").
    activation : {"relu", "gelu", "tanh", "silu", "elu"}
    normalize_input, normalize_codes : bool
        L2-normalise the input vectors / the encoder's output (the paper's switches).
    preset : None or "paper"
        ``"paper"`` replaces ``batch_size``, ``max_epochs``, ``patience`` and
        ``validation_fraction`` with the paper's constants (batch 8, 5 epochs, no early stop).
    max_epochs : int or "auto"
        ``"auto"`` (the default): 30 up to 20,000 training rows, then fewer, down to 5, so that
        about 600,000 rows are seen (:func:`auto_epochs`; NRAE, which encodes ``1 + n_sampled``
        rows per training row, makes ``1 + n_sampled`` times fewer passes): large sets need fewer
        passes and keep the fit within minutes.
    batch_size : int
    lr, weight_decay : float
        Adam's learning rate (cosine-annealed to 0) and coupled weight decay.
    validation_fraction : float in [0, 1)
        Share of the training rows held out (drawn with the seed) for ``val_loss`` and early
        stopping; 0 trains on every row without early stopping.
    patience : int or None
        Early stop after this many epochs without a better ``val_loss``; the best weights are kept.
    device : {"auto", "cpu", "cuda", "cuda:N"}
        ``"auto"``: CUDA when available, else CPU.
    random_state : int, Generator or None
        One seed for the initial weights, the held-out slice, the batch order and the method's
        own randomness: the same int gives the same codes on CPU. None: fresh randomness.
    verbose : bool
        tqdm progress over steps.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (``encode``, ``decode``), on ``device_``.
    history_ : list of dict
        Per epoch: ``epoch``, ``step``, ``loss``, ``lr``, ``seconds`` (cumulative), ``epoch_seconds``,
        ``val_loss`` (with a held-out slice), ``phase`` and the method's loss terms.
    n_iter_ : int
        Optimiser steps taken.
    device_ : str
    training_params_ : dict
        ``batch_size``, ``max_epochs``, ``patience``, ``validation_fraction`` in effect (after the preset).
    n_features_in_ : int
    """

    method = "neural"

    # -------------------------------------------------------------------------------- checks
    def _check_fit_X(self, X, min_samples=2):
        """Like :meth:`Reducer._check_fit_X`, but a float32 memory map stays on disk (no copy, no scan).

        A code as wide as the input is an error here (not only a warning): see ``_check_common_params``.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DimensionWarning)
            return self._check_fit_X_mmap(X, min_samples)

    def _check_fit_X_mmap(self, X, min_samples):
        if isinstance(X, np.memmap):
            X = as_float32(X, "X", allow_mmap=True, min_samples=min_samples, by=type(self).__name__)
            if isinstance(X, np.memmap):
                super()._check_fit_X(np.asarray(X[:min_samples]), min_samples)
                return X
        return super()._check_fit_X(X, min_samples)

    def _check_common_params(self, n, d):
        m = int(self.n_components)
        if m >= d:
            raise ValueError(
                f"n_components={m} must be smaller than the input dimension n_features={d}: an autoencoder "
                f"whose code is as wide as its input can learn the identity; use n_components < {d}"
            )
        if not (self.hidden == "input" or (isinstance(self.hidden, numbers.Integral) and not isinstance(self.hidden, bool)
                                           and self.hidden >= 1)):
            raise ValueError(f"hidden must be a positive integer or 'input' (width = n_features), got {self.hidden!r}")
        from .autoencoders import ACTIVATIONS

        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"preset must be None or one of {sorted(PRESETS)}, got {self.preset!r}")
        if self.max_epochs != "auto":
            check_int(self.max_epochs, "max_epochs", low=1, what="a positive integer or 'auto'")
        check_int(self.batch_size, "batch_size", low=1)
        check_number(self.lr, "lr", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_number(self.validation_fraction, "validation_fraction", low=0, high=1, high_open=True)
        if self.patience is not None:
            check_int(self.patience, "patience", low=1)
        for name in ("normalize_input", "normalize_codes", "verbose"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _check_method_params(self, n, d):
        """Checks of the subclass's own parameters (none here)."""

    def _training_params(self):
        params = {"batch_size": int(self.batch_size),
                  "max_epochs": self.max_epochs if self.max_epochs == "auto" else int(self.max_epochs),
                  "patience": None if self.patience is None else int(self.patience),
                  "validation_fraction": float(self.validation_fraction)}
        if self.preset is not None:
            params.update(PRESETS[self.preset])
        return params

    def _rows_per_sample(self):
        """Rows a training sample puts through the encoder (NRAE: the centre and its neighbours); ``"auto"`` epochs count them."""
        return 1

    def _auto_epochs(self, n_train):
        """Epochs of ``max_epochs="auto"`` for ``n_train`` training rows (:func:`auto_epochs`; a method may have its own rule)."""
        return auto_epochs(n_train, self._rows_per_sample())

    def _hidden_width(self, d):
        return d if self.hidden == "input" else int(self.hidden)

    # -------------------------------------------------------------------------------- fit
    def _module_kwargs(self, d):
        return {"n_features": d, "n_components": int(self.n_components), "hidden": self._hidden_width(d),
                "activation": self.activation, "normalize_input": bool(self.normalize_input),
                "normalize_codes": bool(self.normalize_codes)}

    def _make_module(self, d):
        """The untrained network (called inside ``seeded``)."""
        from .autoencoders import CodeAutoencoder

        return CodeAutoencoder(**self._module_kwargs(d))

    @staticmethod
    def _n_val(n, fraction):
        """Rows held out of ``n``: ``round(fraction * n)``, or 0 when that would leave fewer than 2 to train on."""
        n_val = int(round(fraction * n))
        return 0 if n_val < 1 or n - n_val < 2 else n_val

    def _n_train(self, n):
        """Training rows :meth:`fit` will use out of ``n`` (after the held-out slice)."""
        return n - self._n_val(n, self._training_params()["validation_fraction"])

    def _split(self, n, fraction, seed):
        """(train_rows, val_rows), sorted int64 arrays; the held-out slice is drawn with the seed."""
        n_val = self._n_val(n, fraction)
        if n_val == 0:
            return np.arange(n), np.arange(0)
        perm = np.random.default_rng(seed).permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def fit(self, X, y=None):
        """Train on ``X``, shape (n, d) (array-like or float32 memory map); returns ``self``."""
        torch = _torch()
        X = self._check_fit_X(X)
        n, d = X.shape
        self._check_common_params(n, d)
        self._check_method_params(n, d)
        dev = resolve_device(self.device)
        seed = resolve_seed(self.random_state)
        params = self._training_params()
        train_rows, val_rows = self._split(n, params["validation_fraction"], seed)
        if params["max_epochs"] == "auto":
            params["max_epochs"] = self._auto_epochs(len(train_rows))
        if len(val_rows) == 0:
            params["patience"] = None
        with seeded(seed):
            module = self._make_module(d)
        mean, scale = standardisation(X, train_rows, self.normalize_input)
        with torch.no_grad():
            module.mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            module.scale.fill_(scale)
        module = module.to(dev)
        source = BatchSource(X, dev)
        self.training_params_ = params
        # One torch thread on the CPU, always: the same seed must give the same codes, and results
        # of a matmul depend on the thread count (its summation order); it is also the faster
        # choice on busy cores, where a multi-threaded step waits for descheduled peers (measured
        # on 2 loaded cores: a 128 -> 256 -> 32 step of 256 rows, 11.7 ms with one thread, 98 ms with two).
        # geoopt's maths is TorchScript: its profiling executor runs the first calls unoptimised and
        # later ones fused, with different rounding; without optimisation every fit rounds alike
        with limit_threads(torch=1 if dev == "cpu" else None), torch.jit.optimized_execution(False):
            history = self._train(module, source, train_rows, val_rows, seed, dev, params)
        for name, p in module.named_parameters():
            if not torch.isfinite(p).all():
                raise ValueError(
                    f"{type(self).__name__} training diverged (non-finite {name}) with lr={self.lr}; lower lr, "
                    "or normalise the input (normalize_input=True)")
        module.eval()
        self.module_ = module
        self.history_ = history
        self.n_iter_ = history[-1]["step"] if history else 0
        self.device_ = dev
        return self

    def _fit_torch(self, module, loss_fn, source, train_rows, val_rows, seed, dev, params, *, max_epochs=None,
                   phase=None, **kwargs):
        """:func:`fit_torch` with this reducer's settings; ``phase`` is written into every history row."""
        patience = params["patience"] if len(val_rows) else None
        hist = fit_torch(module, loss_fn, source, max_epochs=max_epochs or params["max_epochs"],
                         batch_size=params["batch_size"], lr=float(self.lr), optimizer=kwargs.pop("optimizer", "adam"),
                         weight_decay=float(self.weight_decay), rows=train_rows,
                         val_rows=val_rows if len(val_rows) else None, patience=patience, random_state=seed,
                         device=dev, verbose=self.verbose, desc=f"{type(self).__name__}{' ' + phase if phase else ''}",
                         **kwargs)
        if phase is not None:
            for row in hist:
                row["phase"] = phase
        return hist

    def _train(self, module, source, train_rows, val_rows, seed, dev, params):
        """Train ``module`` in place and return its history (default: the reconstruction loss)."""
        return self._fit_torch(module, reconstruction_mse, source, train_rows, val_rows, seed, dev, params)

    # -------------------------------------------------------------------------------- apply
    def _blocks(self, X, fn, out_dim):
        """``fn`` (a tensor -> tensor map) over ``X`` in blocks of :data:`TRANSFORM_BLOCK` rows, float32 numpy out."""
        torch = _torch()
        out = np.empty((X.shape[0], out_dim), np.float32)
        with (torch.no_grad(), limit_threads(torch=1 if str(self.device_) == "cpu" else None),  # see fit
              torch.jit.optimized_execution(False)):
            for a in range(0, X.shape[0], TRANSFORM_BLOCK):
                xb = np.ascontiguousarray(X[a:a + TRANSFORM_BLOCK], dtype=np.float32)
                xb = torch.from_numpy(xb if xb.flags.writeable else xb.copy())  # a read-only memory map
                out[a:a + len(xb)] = fn(xb.to(self.device_)).cpu().numpy()
        return out

    def transform(self, X):
        """Codes of ``X``.

        Parameters
        ----------
        X : array-like or float32 memory map, shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray, float32, shape (n_samples, n_components)
        """
        X = self._check_transform_X_mmap(X)
        return self._blocks(X, self.module_.encode, int(self.n_components))

    def inverse_transform(self, Z):
        """Decode codes ``Z`` (n, n_components) to reconstructions in the input's units, float32 (n, n_features).

        With ``normalize_input`` the reconstructions approximate the unit-normalised inputs.
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        Z = as_float32(Z, "Z")
        if Z.shape[1] != int(self.n_components):
            raise ValueError(f"Z has {Z.shape[1]} columns, but {type(self).__name__} codes have {self.n_components}")
        return self._blocks(Z, self.module_.decode, self.n_features_in_)

    def _check_transform_X_mmap(self, X):
        if isinstance(X, np.memmap) and X.dtype == np.float32 and X.flags.c_contiguous:
            self._check_transform_X(np.asarray(X[:1]))
            return X
        return self._check_transform_X(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


__all__ = ["NeuralReducer", "PRESETS", "TRANSFORM_BLOCK", "auto_epochs", "check_number", "reconstruction_mse", "standardisation"]
