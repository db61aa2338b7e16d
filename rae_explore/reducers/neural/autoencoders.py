"""Small autoencoders: a linear one and a nonlinear (MLP) one, and a function that trains one.

The autoencoder paper ("Using Autoencoders to improve Nearest Neighbor Search on large
Datasets") trains autoencoders for hidden dimensions from the input dimension down to 2 and
finds that the test reconstruction loss starts rising once the hidden dimension drops below the
data's intrinsic dimension; :mod:`rae_explore.intrinsic.knee` locates that knee with these.

The modules are plain ``torch.nn.Module`` with ``encode`` / ``decode`` / ``forward`` and carry
their input standardisation as buffers (``mean``, ``scale``), so a fitted module maps raw
vectors to codes on its own and can be wrapped as a reducer later.

Examples
--------
>>> fit = train_autoencoder(X, 16, X_test=Xq, kind="mlp", max_epochs=20)  # doctest: +SKIP
>>> fit.test_loss, fit.test_fvu                                            # doctest: +SKIP
>>> Z = fit.model.encode(torch.from_numpy(X))                              # doctest: +SKIP
"""

import dataclasses
import logging
import math
import time

import numpy as np
import torch
from torch import nn

from ...threads import limit_threads
from ...validation import as_float32, check_int, check_positive_int, check_same_dim
from .training import fit_torch, import_geoopt, resolve_device, resolve_seed, seeded

logger = logging.getLogger(__name__)

KINDS = ("linear", "mlp")
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU, "elu": nn.ELU}


class _Standardised(nn.Module):
    """Base: ``mean`` (per feature) and ``scale`` (one scalar) buffers applied around the network."""

    def __init__(self, n_features):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("scale", torch.ones(()))

    def set_standardisation(self, X):
        """Centre on the per-feature mean of ``X`` and scale by its overall standard deviation."""
        X = torch.as_tensor(X, dtype=torch.float32)
        self.mean.copy_(X.mean(dim=0).to(self.mean.device))
        s = float(X.sub(X.mean(dim=0)).pow(2).mean().sqrt())
        self.scale.fill_(s if s > 0 else 1.0)
        return self

    def encode(self, x):
        """Codes of raw vectors ``x`` (batch, n_features) -> (batch, n_components)."""
        return self.encoder((x - self.mean) / self.scale)

    def decode(self, z):
        """Raw-space reconstructions of codes ``z``."""
        return self.decoder(z) * self.scale + self.mean

    def forward(self, x):
        return self.decode(self.encode(x))


class LinearAutoencoder(_Standardised):
    """``x -> W_d (W_e x + b_e) + b_d`` on standardised inputs: its optimum spans the top PCA subspace.

    Parameters
    ----------
    n_features : int
    n_components : int
        Hidden (code) dimension.
    bias : bool
    """

    def __init__(self, n_features, n_components, bias=True):
        super().__init__(n_features)
        check_dims(n_features, n_components)
        self.n_features, self.n_components = int(n_features), int(n_components)
        self.encoder = nn.Linear(n_features, n_components, bias=bias)
        self.decoder = nn.Linear(n_components, n_features, bias=bias)


class MLPAutoencoder(_Standardised):
    """A small nonlinear autoencoder: ``d -> hidden... -> n_components -> ...hidden -> d``.

    Parameters
    ----------
    n_features : int
    n_components : int
        Code dimension (linear bottleneck, no activation on the code).
    hidden : sequence of int
        Widths of the encoder's hidden layers (the decoder mirrors them). Default (256,).
    activation : {"relu", "gelu", "tanh", "silu", "elu"}
    """

    def __init__(self, n_features, n_components, hidden=(256,), activation="relu"):
        super().__init__(n_features)
        check_dims(n_features, n_components)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be >= 1, got {hidden}")
        self.n_features, self.n_components = int(n_features), int(n_components)
        act = ACTIVATIONS[activation]
        enc, width = [], n_features
        for h in hidden:
            enc += [nn.Linear(width, h), act()]
            width = h
        enc.append(nn.Linear(width, n_components))
        dec, width = [], n_components
        for h in reversed(hidden):
            dec += [nn.Linear(width, h), act()]
            width = h
        dec.append(nn.Linear(width, n_features))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*dec)


class CodeAutoencoder(MLPAutoencoder):
    """:class:`MLPAutoencoder` with the compression paper's switches: the network of the four reducers.

    ``encode(x) = to_code(n(encoder(prep(x))))``: ``prep`` L2-normalises the rows (if
    ``normalize_input``) then standardises them, ``n`` L2-normalises the encoder output (if
    ``normalize_codes``) and ``to_code`` is the identity (:class:`PoincareCodeAutoencoder`: the
    exponential map onto the ball). ``decode_std(z) = decoder(from_code(z))`` reconstructs
    ``prep(x)``; ``decode`` returns to raw units.

    Parameters
    ----------
    n_features, n_components : int
    hidden : int
        Width l of the one hidden layer on each side.
    activation : str
        A key of :data:`ACTIVATIONS`.
    normalize_input, normalize_codes : bool
    """

    def __init__(self, n_features, n_components, hidden=256, activation="relu", normalize_input=False,
                 normalize_codes=False):
        super().__init__(n_features, n_components, hidden=(int(hidden),), activation=activation)
        self.normalize_input = bool(normalize_input)
        self.normalize_codes = bool(normalize_codes)

    def prep(self, x):
        """Raw (batch, d) -> the standardised space the network reconstructs."""
        if self.normalize_input:
            x = nn.functional.normalize(x, dim=1)
        return (x - self.mean) / self.scale

    def to_code(self, h):
        """Encoder output -> code (identity here)."""
        return h

    def from_code(self, z):
        """Code -> decoder input (identity here)."""
        return z

    def encode_std(self, xs):
        """Codes (batch, m) of standardised inputs ``xs`` (batch, d)."""
        h = self.encoder(xs)
        if self.normalize_codes:
            h = nn.functional.normalize(h, dim=1)
        return self.to_code(h)

    def encode(self, x):
        return self.encode_std(self.prep(x))

    def decode_std(self, z):
        """Reconstruction, in the standardised space, of codes ``z``."""
        return self.decoder(self.from_code(z))

    def decode(self, z):
        return self.decode_std(z) * self.scale + self.mean

    def forward(self, x):
        return self.decode(self.encode(x))


class PoincareCodeAutoencoder(CodeAutoencoder):
    """:class:`CodeAutoencoder` whose codes lie on the Poincaré ball of curvature ``-c`` (HyperAE).

    ``to_code = expmap0`` (after an optional clip of the Euclidean norm to ``clip_r``,
    Guo et al. 2022, "Clipped hyperbolic classifiers") followed by a projection strictly inside
    the ball (geoopt's ``projx``: norm at most ``(1 - 4e-3) / sqrt(c)`` in float32). The
    decoder's first layer is hyperbolic, as the hyperbolic linear layers of the HyperAE
    reference (hyptorch's ``HypLinear``): ``y = (W ⊗_c z) ⊕_c exp_0(b)`` (Möbius matrix-vector
    product and Möbius addition), then ``logmap0`` back to the tangent space, where the
    decoder's Euclidean layers continue. (With a Euclidean first layer, ``logmap0(expmap0(h)) = h``
    would make the network exactly the Vanilla AE's.)

    Parameters
    ----------
    c : float
        Curvature magnitude, ``c > 0`` (ball radius ``1 / sqrt(c)``).
    clip_r : float or None
        Largest Euclidean norm fed to ``expmap0`` (None: no clipping).
    """

    def __init__(self, n_features, n_components, hidden=256, activation="relu", normalize_input=False,
                 normalize_codes=False, c=1.0, clip_r=None):
        super().__init__(n_features, n_components, hidden, activation, normalize_input, normalize_codes)
        self.c = float(c)
        self.clip_r = None if clip_r is None else float(clip_r)

    def to_code(self, h):
        return expmap0_projected(h, self.c, self.clip_r)

    def from_code(self, z):
        """The hyperbolic first decoder layer, then ``logmap0``: a point of the tangent space at 0."""
        first = self.decoder[0]
        return hyperbolic_linear_logmap0(z, first.weight, first.bias, self.c)

    def decode_std(self, z):
        return self.decoder[1:](self.from_code(z))


#: Smallest norm used as a divisor, and the margin inside the ball (geoopt's float32 ``projx``).
_MIN_NORM, _BALL_EPS = 1e-15, 4e-3


def _project(x, sqrt_c):
    """Rows of ``x`` pulled strictly inside the ball: norm at most ``(1 - 4e-3) / sqrt(c)`` (geoopt's ``projx``)."""
    norm = x.norm(dim=-1, keepdim=True).clamp_min(_MIN_NORM)
    return x * (((1 - _BALL_EPS) / sqrt_c) / norm).clamp(max=1.0)


def _artanh(x):
    x = x.clamp(-1 + 1e-7, 1 - 1e-7)
    return 0.5 * (torch.log1p(x) - torch.log1p(-x))


def expmap0_projected(h, c, clip_r=None):
    """``projx(exp_0(h))``, ``h`` clipped first to norm ``clip_r`` (None: no clip): the rows of ``h`` (B, m) on the ball.

    ``exp_0(h) = tanh(√c |h|) h / (√c |h|)`` as one scale per row (geoopt's ``expmap0`` and
    ``projx`` give the same points, at several times the cost on CPU).
    """
    sc = math.sqrt(float(c))
    hn = h.norm(dim=-1, keepdim=True).clamp_min(_MIN_NORM)
    r = hn if clip_r is None else hn.clamp(max=float(clip_r))
    return h * (torch.tanh(sc * r).clamp(max=1 - _BALL_EPS) / (sc * hn))


def hyperbolic_linear_logmap0(z, weight, bias, c):
    """``logmap0((W ⊗_c z) ⊕_c exp_0(b))``: a hyperbolic linear layer read in the tangent space at 0.

    The maps of geoopt's ``PoincareBall`` (``mobius_matvec``, ``mobius_add``, ``expmap0``,
    ``logmap0``, with ``projx`` between them), written with per-row scalars: every intermediate
    point is ``a Wz + b' exp_0(b)`` for two numbers per row, so only the product ``Wz``, its norm,
    its dot product with ``exp_0(b)`` and the final combination touch (B, h) tensors. geoopt's
    general versions run about 160 kernels per step at full width, which made HyperAE twice as
    slow as the Vanilla AE on CPU; the tests check the two agree.

    Parameters
    ----------
    z : tensor (B, m)
        Points of the ball (``c ||z||² < 1``).
    weight : tensor (h, m)
    bias : tensor (h,)
        A tangent vector at 0, mapped onto the ball by ``exp_0``.
    c : float
        Curvature magnitude, > 0.

    Returns
    -------
    tensor (B, h)
    """
    c = float(c)
    sc = math.sqrt(c)
    rmax = (1 - _BALL_EPS) / sc
    z = _project(z, sc)
    zn = z.norm(dim=-1, keepdim=True).clamp_min(_MIN_NORM)
    mx = z @ weight.T
    mxn = mx.norm(dim=-1, keepdim=True)
    live = mxn > _MIN_NORM
    mxn = mxn.clamp_min(_MIN_NORM)
    # Möbius matrix-vector product, projected: x = kappa * Wz with |x| = min(tanh(|Wz|/|z| artanh(√c|z|)) / √c, rmax)
    xn = torch.where(live, (torch.tanh(mxn / zn * _artanh(sc * zn)) / sc).clamp(max=rmax), torch.zeros_like(mxn))
    kappa = xn / mxn
    # y = exp_0(b), projected
    bn = bias.norm().clamp_min(_MIN_NORM)
    y = bias * (torch.tanh(sc * bn).clamp(max=1 - _BALL_EPS) / (sc * bn))
    y2 = (y * y).sum()
    x2 = xn * xn
    xy = kappa * (mx @ y)[:, None]
    # Möbius addition x ⊕ y = (alpha x + beta y) / den
    alpha = 1 + 2 * c * xy + c * y2
    beta = 1 - c * x2
    den = (1 + 2 * c * xy + c * c * x2 * y2).clamp_min(_MIN_NORM)
    on = ((alpha * alpha * x2 + 2 * alpha * beta * xy + beta * beta * y2).clamp_min(0).sqrt() / den).clamp_min(_MIN_NORM)
    onp = on.clamp(max=rmax)  # projected norm
    # then log_0: artanh(√c |u|) u / (√c |u|), u the projected sum
    g = (onp / on) * _artanh(sc * onp) / (sc * onp) / den
    return mx * (alpha * kappa * g) + (beta * g) * y


def poincare_ball(c):
    """geoopt's ``PoincareBall(c)``."""
    return import_geoopt().PoincareBall(c=float(c))


def check_dims(n_features, n_components):
    check_positive_int(n_features, "n_features")
    check_positive_int(n_components, "n_components")


def make_autoencoder(kind, n_features, n_components, **kwargs):
    """Build an untrained autoencoder by kind: ``"linear"`` or ``"mlp"`` (kwargs go to the class)."""
    if kind == "linear":
        return LinearAutoencoder(n_features, n_components, **kwargs)
    if kind == "mlp":
        return MLPAutoencoder(n_features, n_components, **kwargs)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def reconstruction_loss(model, X, batch_size=8192):
    """Mean squared reconstruction error per element of raw ``X`` (float), in batches, no grad."""
    X = as_float32(X, "X")
    dev = next(model.parameters()).device
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for s in range(0, len(X), batch_size):
            xb = torch.from_numpy(X[s:s + batch_size]).to(dev)
            total += float(((model(xb) - xb) ** 2).sum())
            count += xb.numel()
    return total / count


@dataclasses.dataclass
class AutoencoderFit:
    """A trained autoencoder and its losses.

    Attributes
    ----------
    model : LinearAutoencoder or MLPAutoencoder
        In eval mode, on the training device.
    kind : str
    n_components : int
    train_loss, test_loss : float
        Mean squared reconstruction error per element, raw units (``test_loss`` is NaN
        without a test set).
    train_fvu, test_fvu : float
        The same divided by the per-element variance of the training data: the fraction of
        variance left unexplained (0 perfect, 1 no better than the mean).
    epochs : int
    seconds : float
    history : list of dict
        :func:`rae_explore.reducers.neural.training.fit_torch`'s per-epoch history.
    """

    model: nn.Module
    kind: str
    n_components: int
    train_loss: float
    test_loss: float
    train_fvu: float
    test_fvu: float
    epochs: int
    seconds: float
    history: list


def train_autoencoder(X, n_components, *, X_test=None, kind="linear", hidden=(256,), activation="relu",
                      max_epochs=30, steps=None, batch_size=256, lr=1e-3, weight_decay=0.0, patience=None,
                      random_state=0, device="cpu", torch_threads=1, verbose=False):
    """Train one autoencoder with hidden dimension ``n_components`` and measure its reconstruction loss.

    Inputs are standardised with the training data's mean and overall standard deviation
    (stored in the module); the training loss is the mean squared error in that standardised
    space (:func:`rae_explore.reducers.neural.training.fit_torch`, Adam, cosine schedule).

    Parameters
    ----------
    X : array-like, shape (n, d)
        Training vectors.
    n_components : int
        Hidden dimension, ``1 <= n_components <= d``.
    X_test : array-like, shape (m, d), optional
        Held-out vectors for ``test_loss`` (also logged as ``val_loss`` per epoch).
    kind : {"linear", "mlp"}
    hidden, activation
        MLP architecture (ignored for ``"linear"``).
    max_epochs, steps, batch_size, lr, weight_decay, patience
        Passed to :func:`~rae_explore.reducers.neural.training.fit_torch` (``patience`` early-stops on
        ``X_test``'s loss, which then also selects the model: leave it None for an unbiased
        test loss).
    random_state : int or None
        Seeds the initial weights and the batch order (default 0: reproducible); None draws
        fresh randomness on every call.
    device : str
        "cpu", "cuda" or "auto".
    torch_threads : int, "idle" or None
        torch intra-op threads while training (restored afterwards; see
        :func:`rae_explore.threads.limit_threads`). These networks are small:
        one thread avoids thread contention on busy machines; None keeps torch's setting.
    verbose : bool
        tqdm progress over steps.

    Returns
    -------
    AutoencoderFit

    Raises
    ------
    ValueError
        Bad ``kind``, ``n_components`` out of range, NaN/inf, dimension mismatch.
    """
    X = as_float32(X, "X")
    n, d = X.shape
    check_int(n_components, "n_components", low=1, high=d, what=f"an integer in [1, d={d}]")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if n < 2:
        raise ValueError(f"X needs at least 2 rows to train an autoencoder, got {n}")
    Xt = None
    if X_test is not None:
        Xt = as_float32(X_test, "X_test")
        check_same_dim(Xt, X, ("X_test", "X"))
    device = resolve_device(device)
    seed = resolve_seed(random_state)  # one seed for the initial weights and the batch order
    with limit_threads(torch=torch_threads):
        t0 = time.perf_counter()
        with seeded(seed):
            kw = {} if kind == "linear" else {"hidden": hidden, "activation": activation}
            model = make_autoencoder(kind, d, int(n_components), **kw)
        model.set_standardisation(X)
        model.to(device)

        def loss_fn(m, xb):
            return ((m(xb) - xb) ** 2).mean() / (m.scale ** 2)

        if steps is None and max_epochs is None:
            raise ValueError("give max_epochs or steps")
        history = fit_torch(model, loss_fn, X, steps=steps, max_epochs=None if steps is not None else max_epochs,
                            batch_size=batch_size, lr=lr, weight_decay=weight_decay, X_val=Xt, patience=patience,
                            random_state=seed, device=device, verbose=verbose,
                            desc=f"{kind} AE h={n_components}")
        train_loss = reconstruction_loss(model, X)
        test_loss = reconstruction_loss(model, Xt) if Xt is not None else math.nan
        var = float(X.astype(np.float64).var(axis=0).mean())
        var = var if var > 0 else math.nan
        fit = AutoencoderFit(model=model, kind=kind, n_components=int(n_components), train_loss=train_loss,
                             test_loss=test_loss, train_fvu=train_loss / var, test_fvu=test_loss / var,
                             epochs=len(history), seconds=time.perf_counter() - t0, history=history)
    logger.info("%s autoencoder h=%d: train %.4g, test %.4g (%.1f s)", kind, n_components, fit.train_loss,
                fit.test_loss, fit.seconds)
    return fit
