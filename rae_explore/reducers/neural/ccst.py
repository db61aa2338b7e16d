"""CCST: compression spaces connected by a transformer, trained on the INRP loss.

Zhang et al., "Connecting Compression Spaces with Transformer for Approximate Nearest
Neighbor Search" (ECCV 2022; reference code github.com/hkzhang91/CCST, read, not copied).
On the standardised input ``x̃`` (:mod:`.base`):

1. **Projection part**: ``n`` projections ``p_i(x̃) = W_i x̃`` to ``d_out`` (one linear map of
   width ``n · d_out`` + BatchNorm, its weights initialised as the sparse random projections of
   Li, Hastie & Church 2006, density ``1/sqrt(d)``, as in the reference), and a *compression
   token* initialised from the input, ``t_0 = BN(hardswish(A_0 x̃))``.
2. **Transformer part**: ``depth`` lightweight blocks over the ``n + 1`` tokens
   ``[t, p_1(x̃), …, p_n(x̃)]``; each block is a residual attention module and a residual
   two-layer MLP, and after each block the token receives the skip ``A x̃`` (linear, no bias).
   The attention is the paper's reduced module: ``heads`` heads whose queries and keys have
   ``d_out / attn_ratio`` dimensions each (fewer attention parameters than a standard
   ``d_out``-per-head module), values of total width ``expansion · d_out`` with the
   expansion factor ``e < heads`` (a standard module has ``e = heads``), a learned positional
   bias per head, hardtanh, and a projection back to ``d_out``.
3. The output is the processed token: ``f(x) = B (t + A x̃)`` (``B``: linear ``d_out -> d_out``).

Training minimises the INRP loss (:func:`~rae_explore.reducers.neural.losses.inrp_loss`) between
``f(x)`` and ``x̃`` on each mini-batch (AdamW, cosine schedule, early stopping on a held-out
slice: the shared trainer of :mod:`.training`), with ``boundary`` the mean pairwise distance of
the standardised training rows (``boundary_``). Codes are in the standardised units, so their
distances approximate the input's (divided by the training set's standard deviation).

The reference's configuration (12 projections of width d/4, i.e. 3d in all; batch 1024, AdamW at
1e-4 for 2,400 epochs) is far beyond a CPU budget; the defaults here (4 projections, 2 blocks,
batch 64, AdamW at 3e-3 for 8 epochs) fit sift5k and minilm-wordnet at 4x compression in under
a minute on 2 busy cores (the cost grows with ``n_projections · d_out²``).

>>> ccst = CCST(32, random_state=0).fit(xb)        # doctest: +SKIP
>>> Z = ccst.transform(xq)                          # float32 (nq, 32)
"""

import functools
import logging

import numpy as np

from ...validation import check_int
from .base import NeuralReducer, check_number
from .losses import INRP_ALPHA, INRP_BETA, inrp_loss, mean_pairwise_distance

logger = logging.getLogger(__name__)


def _torch():
    import torch

    return torch


@functools.cache
def _classes():
    """The torch module classes, built on first use (``import rae_explore.reducers`` must not import torch)."""
    torch = _torch()
    nn = torch.nn

    def bn_tokens(bn, x):
        """BatchNorm1d over the features of (batch, tokens, c) or (batch, c)."""
        return bn(x.flatten(0, 1)).reshape_as(x) if x.dim() == 3 else bn(x)

    class ReducedAttention(nn.Module):
        """Multi-head self-attention with narrow queries/keys and values of total width ``e · dim``."""

        def __init__(self, n_tokens, dim, heads, expansion, attn_ratio):
            super().__init__()
            self.heads = heads
            self.kq = max(1, dim // attn_ratio)
            self.v = max(1, (expansion * dim) // heads)
            self.qkv = nn.Linear(dim, heads * (2 * self.kq + self.v), bias=False)
            self.qkv_bn = nn.BatchNorm1d(heads * (2 * self.kq + self.v))
            self.pos_bias = nn.Parameter(torch.randn(heads, n_tokens, n_tokens))
            self.proj = nn.Linear(heads * self.v, dim, bias=False)
            self.proj_bn = nn.BatchNorm1d(dim)

        def forward(self, x):
            B, T, _ = x.shape
            qkv = bn_tokens(self.qkv_bn, self.qkv(x)).view(B, T, self.heads, -1)
            q, k, v = qkv.split([self.kq, self.kq, self.v], dim=3)
            q, k, v = (t.permute(0, 2, 1, 3) for t in (q, k, v))  # (B, heads, T, c)
            # softmax(q kᵀ / sqrt(kq) + positional bias) v, by torch's fused kernel
            out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=self.pos_bias[None])
            out = out.transpose(1, 2).reshape(B, T, self.heads * self.v)
            return bn_tokens(self.proj_bn, self.proj(nn.functional.hardtanh(out)))

    class TokenMLP(nn.Module):
        """Linear + BN, then linear + hardswish + BN, on every token."""

        def __init__(self, dim, ratio):
            super().__init__()
            self.fc1 = nn.Linear(dim, dim * ratio, bias=False)
            self.bn1 = nn.BatchNorm1d(dim * ratio)
            self.fc2 = nn.Linear(dim * ratio, dim, bias=False)
            self.bn2 = nn.BatchNorm1d(dim)

        def forward(self, x):
            h = bn_tokens(self.bn1, self.fc1(x))
            return bn_tokens(self.bn2, nn.functional.hardswish(self.fc2(h)))

    class CCSTNet(nn.Module):
        """Standardisation buffers, the projections and token, the blocks, the output map."""

        def __init__(self, n_features, n_components, n_projections, depth, heads, expansion, attn_ratio, mlp_ratio,
                     normalize_input=False):
            super().__init__()
            d, m, n = n_features, n_components, n_projections
            self.n_projections, self.n_components = n, m
            self.normalize_input = bool(normalize_input)
            self.register_buffer("mean", torch.zeros(d))
            self.register_buffer("scale", torch.ones(()))
            self.projections = nn.Linear(d, n * m)
            self.projections_bn = nn.BatchNorm1d(n * m)
            with torch.no_grad():  # sparse random projections (Li, Hastie & Church 2006), density 1/sqrt(d)
                s = float(np.sqrt(d))
                u = torch.rand(n * m, d)
                w = torch.zeros(n * m, d)
                w[u <= 1 / (2 * s)] = -np.sqrt(s / m)
                w[u >= 1 - 1 / (2 * s)] = np.sqrt(s / m)
                self.projections.weight.copy_(w)
            self.token_init = nn.Linear(d, m, bias=False)
            self.token_bn = nn.BatchNorm1d(m)
            self.skip = nn.Linear(d, m, bias=False)
            self.attention = nn.ModuleList(ReducedAttention(n + 1, m, heads, expansion, attn_ratio)
                                           for _ in range(depth))
            self.mlp = nn.ModuleList(TokenMLP(m, mlp_ratio) for _ in range(depth))
            self.out = nn.Linear(m, m, bias=False)

        def prep(self, x):
            """Raw (batch, d) -> standardised input."""
            if self.normalize_input:
                x = nn.functional.normalize(x, dim=1)
            return (x - self.mean) / self.scale

        def tokens(self, xs):
            """The initial tokens (batch, 1 + n, m): the compression token, then the n projections."""
            p = self.projections_bn(self.projections(xs)).view(len(xs), self.n_projections, self.n_components)
            t = self.token_bn(nn.functional.hardswish(self.token_init(xs)))
            return torch.cat([t[:, None, :], p], dim=1)

        def encode_std(self, xs):
            """Codes (batch, m) of standardised inputs (batch, d): the processed token."""
            skip = self.skip(xs)
            x = self.tokens(xs)
            for attn, mlp in zip(self.attention, self.mlp):
                x = x + attn(x)
                x = x + mlp(x)
                x = torch.cat([x[:, :1] + skip[:, None, :], x[:, 1:]], dim=1)  # the skip joins the token
            return self.out(x[:, 0] + skip)  # as the reference: the skip joins once more before B

        def encode(self, x):
            """Codes (batch, m) of raw inputs (batch, d)."""
            return self.encode_std(self.prep(x))

        def forward(self, x):
            return self.encode(x)

    for cls in (ReducedAttention, TokenMLP, CCSTNet):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
        globals()[cls.__name__] = cls  # pickle finds them here (or through __getattr__ in a fresh process)
    return CCSTNet


def __getattr__(name):
    """The torch module classes on first use (so that unpickling a fitted CCST works in a new process)."""
    if name in ("ReducedAttention", "TokenMLP", "CCSTNet"):
        _classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def ccst_net(n_features, n_components, *, n_projections=4, depth=2, heads=4, expansion=2, attn_ratio=4, mlp_ratio=2,
             normalize_input=False):
    """The untrained CCST network (``encode``: raw (batch, d) -> (batch, m); ``tokens``: (batch, 1 + n, m))."""
    return _classes()(n_features, n_components, n_projections, depth, heads, expansion, attn_ratio, mlp_ratio,
                      normalize_input)


class CCST(NeuralReducer):
    """CCST (registered as ``"ccst"``): projections + lightweight transformer, INRP loss.

    Parameters
    ----------
    n_components : int
        Output dimension d_out, ``1 <= d_out <= n_features`` (the paper: d/2 and d/4).
    n_projections : int
        Number n of projections W_i (tokens besides the compression token).
    depth : int
        Transformer blocks.
    heads : int
        Attention heads.
    expansion : int
        Expansion factor e of the values, ``1 <= e < heads`` (the reduced module).
    attn_ratio : int
        Queries and keys have ``d_out // attn_ratio`` dimensions per head.
    mlp_ratio : int
        Hidden width of the token MLP, in multiples of d_out.
    inrp_alpha, inrp_beta : float
        INRP's weight clip α >= β >= 0 (paper: 2.0, 0.01).
    normalize_input : bool
        L2-normalise the input rows first (cosine data).
    max_epochs, batch_size : int
        ``batch_size >= 2`` (INRP compares pairs within a batch).
    lr, weight_decay : float
        AdamW's learning rate (cosine-annealed to 0) and decoupled weight decay.
    validation_fraction : float in [0, 1)
        Held-out share of the training rows (INRP ``val_loss``, early stopping).
    patience : int or None
    device : {"auto", "cpu", "cuda", "cuda:N"}
    random_state : int, Generator or None
        One seed for the weights, the held-out slice, the batch order and the boundary's sample.
    verbose : bool

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (``encode``, ``tokens``).
    boundary_ : float
        INRP's boundary: mean pairwise distance of the standardised training rows.
    history_ : list of dict
        Per epoch: ``epoch``, ``step``, ``loss`` (INRP), ``lr``, ``val_loss``, ``seconds``, ``epoch_seconds``.
    n_iter_, device_, training_params_, n_features_in_
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.
    """

    method = "ccst"

    def __init__(self, n_components=2, *, n_projections=4, depth=2, heads=4, expansion=2, attn_ratio=4, mlp_ratio=2,
                 inrp_alpha=INRP_ALPHA, inrp_beta=INRP_BETA, normalize_input=False, max_epochs=8, batch_size=64,
                 lr=3e-3, weight_decay=0.0, validation_fraction=0.1, patience=5, device="auto", random_state=None,
                 verbose=False):
        self.n_components = n_components
        self.n_projections = n_projections
        self.depth = depth
        self.heads = heads
        self.expansion = expansion
        self.attn_ratio = attn_ratio
        self.mlp_ratio = mlp_ratio
        self.inrp_alpha = inrp_alpha
        self.inrp_beta = inrp_beta
        self.normalize_input = normalize_input
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_common_params(self, n, d):
        check_int(self.max_epochs, "max_epochs", low=1)
        check_int(self.batch_size, "batch_size", low=2, what="an integer >= 2 (INRP compares pairs within a batch)")
        check_number(self.lr, "lr", low=0, low_open=True)
        check_number(self.weight_decay, "weight_decay", low=0)
        check_number(self.validation_fraction, "validation_fraction", low=0, high=1, high_open=True)
        if self.patience is not None:
            check_int(self.patience, "patience", low=1)
        for name in ("normalize_input", "verbose"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def _check_method_params(self, n, d):
        check_int(self.n_projections, "n_projections", low=1)
        check_int(self.depth, "depth", low=1)
        h = check_int(self.heads, "heads", low=1)
        if h < 2:
            raise ValueError(f"heads must be >= 2 so that the expansion factor can be smaller, got heads={h}")
        check_int(self.expansion, "expansion", low=1, high=h - 1,
                  what=f"an integer in [1, heads - 1 = {h - 1}] (the reduced module: expansion < heads)")
        check_int(self.attn_ratio, "attn_ratio", low=1)
        check_int(self.mlp_ratio, "mlp_ratio", low=1)
        alpha = check_number(self.inrp_alpha, "inrp_alpha", low=0)
        check_number(self.inrp_beta, "inrp_beta", low=0, high=alpha)
        if self._n_train(n) < 2:
            raise ValueError(f"CCST needs at least 2 training rows after the held-out slice, got {self._n_train(n)}")

    def _training_params(self):
        return {"batch_size": int(self.batch_size), "max_epochs": int(self.max_epochs),
                "patience": None if self.patience is None else int(self.patience),
                "validation_fraction": float(self.validation_fraction)}

    def _make_module(self, d):
        return ccst_net(d, int(self.n_components), n_projections=int(self.n_projections), depth=int(self.depth),
                        heads=int(self.heads), expansion=int(self.expansion), attn_ratio=int(self.attn_ratio),
                        mlp_ratio=int(self.mlp_ratio), normalize_input=bool(self.normalize_input))

    def _train(self, module, source, train_rows, val_rows, seed, dev, params):
        X = source.data.cpu().numpy() if source.on_device else source.data
        sample = np.sort(np.random.default_rng((seed + 3) % 2**63).permutation(train_rows)[:2048])
        xs = np.asarray(X[sample], dtype=np.float32)
        if self.normalize_input:
            from ...vectors import l2_normalize

            xs = l2_normalize(xs, "X")
        # the mean shift changes no distance; the scale divides them all
        self.boundary_ = mean_pairwise_distance(xs, max_rows=2048) / float(module.scale)
        if not self.boundary_ > 0:
            raise ValueError("CCST: the training rows are all identical (mean pairwise distance 0); INRP needs "
                             "distinct rows")
        boundary, alpha, beta = self.boundary_, float(self.inrp_alpha), float(self.inrp_beta)

        def loss_fn(model, xb):
            if len(xb) < 2:  # a last batch of one row has no pair (and BatchNorm needs two rows)
                return _torch().zeros((), device=xb.device, requires_grad=True)
            xs = model.prep(xb)
            return inrp_loss(model.encode_std(xs), xs, boundary, alpha, beta)

        # the validation INRP in blocks of one training batch: the same pairs' scale, and bounded memory (a
        # block of n rows holds n² / 2 pairs: the trainer's default 8,192-row blocks would take over a GB)
        return self._fit_torch(module, loss_fn, source, train_rows, val_rows, seed, dev, params, optimizer="adamw",
                               val_batch_size=int(params["batch_size"]))

    def inverse_transform(self, Z):
        """Not available: CCST has no decoder."""
        raise NotImplementedError("CCST has no decoder (it is trained to preserve distances, not to reconstruct)")


__all__ = ["CCST", "ccst_net"]
