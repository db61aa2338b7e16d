"""NRAE: the neighbourhood reconstructing autoencoder (Lee, Kwon & Park, NeurIPS 2021).

"Neighborhood Reconstructing Autoencoders". A plain autoencoder reconstructs each point
through the decoder ``f`` at its own code; NRAE asks more: every neighbour ``x`` of ``x_i`` must
be reconstructed through the *local approximation of the decoder around* ``g(x_i)`` (Eq. 5),

    L = (1/N) Σ_i Σ_{x ∈ N(x_i)} K(x_i, x) || x - f̃(g(x); x_i) ||²,
    f̃(z; x_i) = f(z_i) + J_f(z_i) (z - z_i)                            (NRAE-L, approx="linear")
              + ½ (z - z_i)ᵀ H_f(z_i) (z - z_i)                         (NRAE-Q, approx="quadratic"),

with ``z_i = g(x_i)``. So the decoder's local geometry (its Jacobian, and curvature for Q) has
to match the data's neighbourhoods, which corrects the wrong local geometry and the
over-fitting of plain autoencoders on curved manifolds. ``J dz`` and ``dzᵀ H dz`` are
Jacobian-vector products from ``torch.func.jvp`` (the second a jvp of a jvp): no Jacobian is
ever formed.

As in the reference code (github.com/Gabe-YHLee/NRAE-public): the neighbour graph is the k
nearest neighbours of every training row (here from our exact faiss k-NN, on the inputs as
the network sees them), each step draws ``n_sampled`` of them per centre without replacement
and adds the centre itself, and the kernel is binary: weight 1 for the centre (a plain
reconstruction term, ``dz = 0``) and ``kernel_lambda`` for its neighbours. The squared error
is averaged over features (the reference sums them: a constant factor ``d``), in the
standardised space of :mod:`.base`. The validation loss uses ``n_sampled`` of the
``n_neighbors`` neighbours of each held-out row among the training rows, drawn once with the seed.

Cost: a step encodes ``batch_size * (1 + n_sampled)`` rows (one encoder call), and the jvp
returns the decoded centres as its primal output (no second decoder pass); ``max_epochs="auto"``
gives NRAE ``1 + n_sampled`` times fewer passes than the Vanilla AE (15 instead of 30 on
``sift5k`` and ``minilm-wordnet``, 4 instead of 7 on 100,000 rows), so that both encode about as
many rows: measured on ``sift5k`` -> 32, top-10 0.574 after 15 epochs, 0.575 after 30.

NRAE-Q's curvature term is zero for piecewise-linear decoders (ReLU): the default activation
here is ELU, as in the reference's synthetic experiments.
"""

import numpy as np

from ...validation import as_float32, check_int
from .base import NeuralReducer, check_number

APPROXIMATIONS = ("linear", "quadratic")


def _torch():
    import torch

    return torch


def local_reconstruction(model, z_c, z_nn, approx="linear", return_centre=False):
    """``f̃(z_nn; x_c)``: neighbours' codes decoded through the decoder's local approximation at ``z_c``.

    Parameters
    ----------
    model : CodeAutoencoder
        Its ``decode_std`` is ``f``.
    z_c : tensor, shape (B, m)
        Centre codes.
    z_nn : tensor, shape (B, s, m)
        Codes of ``s`` neighbours of each centre.
    approx : {"linear", "quadratic"}
    return_centre : bool
        Also return ``f(z_c)``, shape (B, d): the jvp computes it anyway (its primal output),
        so the loss's centre term costs no extra pass through the decoder.

    Returns
    -------
    tensor, shape (B, s, d)
        ``f(z_c) + J_f(z_c) dz`` (+ ``½ dzᵀ H_f(z_c) dz``) with ``dz = z_nn - z_c``, in the
        standardised input space; with ``return_centre``, the pair ``(that, f(z_c))``.
    """
    torch = _torch()
    B, s, m = z_nn.shape
    dz = (z_nn - z_c[:, None, :]).reshape(B * s, m)
    z0 = z_c.repeat_interleave(s, dim=0)  # a fresh tensor: jvp cannot take a stride-0 view
    if approx == "linear":
        f0, jdz = torch.func.jvp(model.decode_std, (z0,), (dz,))
        out = f0 + jdz
    else:
        def directional(z):  # (J dz, f(z)): the primal output rides along as jvp's auxiliary value
            f, jv = torch.func.jvp(model.decode_std, (z,), (dz,))
            return jv, f

        jdz, dzhdz, f0 = torch.func.jvp(directional, (z0,), (dz,), has_aux=True)
        out = f0 + jdz + 0.5 * dzhdz
    out = out.reshape(B, s, -1)
    if return_centre:
        return out, f0.reshape(B, s, -1)[:, 0]
    return out


def neighbor_graph(X, rows, queries, k, normalize_input):
    """Global ids (len(queries), k) of the ``k`` nearest training rows ``rows`` of every row in ``queries``.

    A query that is itself a training row does not count as its own neighbour. Inputs are
    L2-normalised first if ``normalize_input`` (the space the network sees; the standardisation
    is a scalar scale and changes no neighbour).
    """
    from ...neighbors.knn import knn_search
    from ...vectors import l2_normalize

    def prep(a):
        a = np.ascontiguousarray(a, dtype=np.float32)
        return l2_normalize(a, "X") if normalize_input else a

    rows, queries = np.asarray(rows), np.asarray(queries)
    xb = prep(X[rows])
    if np.array_equal(rows, queries):
        I = knn_search(xb, xb, k, "l2", exclude_self=True)[1]
    else:
        I = knn_search(prep(X[queries]), xb, k, "l2")[1]
    return rows[I]


def neighborhood_reconstruction_error(reducer, X, n_neighbors=10, approx="linear", reference=None):
    """Mean squared error of reconstructing every neighbour through the local decoder at its centre.

    The quantity NRAE minimises (Eq. 5 with a uniform kernel and no centre term), for any fitted
    reducer of this package whose network has ``decode_std`` (``vanilla_ae``, ``dcec``,
    ``hyperae``, ``nrae``): for each row ``x_i`` of ``X`` and each of its ``n_neighbors`` nearest
    rows ``x`` (of ``X`` itself, or of ``reference``), ``||x̃ - f̃(g(x); x_i)||² / d`` in the
    standardised space, averaged.

    Parameters
    ----------
    reducer : NeuralReducer, fitted
    X : array-like, shape (n, d)
        Centres.
    n_neighbors : int
        ``1 <= n_neighbors <= n - 1`` (``<= len(reference)`` with a reference).
    approx : {"linear", "quadratic"}
    reference : array-like, shape (n_ref, d), optional
        Where the neighbours are looked up (e.g. the training rows, for held-out centres ``X``:
        neighbourhoods as sparse as the training graph's). Default: ``X`` itself, each row
        excluded from its own neighbours.

    Returns
    -------
    float
    """
    torch = _torch()
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(reducer)

    def check(a, name):
        a = reducer._check_transform_X(a) if hasattr(reducer, "_check_transform_X") else as_float32(a, name)
        return np.ascontiguousarray(a, dtype=np.float32)

    X = check(X, "X")
    n = X.shape[0]
    if approx not in APPROXIMATIONS:
        raise ValueError(f"approx must be one of {APPROXIMATIONS}, got {approx!r}")
    model = reducer.module_
    norm = bool(getattr(model, "normalize_input", False))
    if reference is None:
        k = check_int(n_neighbors, "n_neighbors", low=1, high=n - 1, what=f"an integer in [1, n - 1 = {n - 1}]")
        R, nbr = X, neighbor_graph(X, np.arange(n), np.arange(n), k, norm)
    else:
        R = check(reference, "reference")
        m = R.shape[0]
        k = check_int(n_neighbors, "n_neighbors", low=1, high=m, what=f"an integer in [1, len(reference) = {m}]")
        nbr = neighbor_graph(np.concatenate([R, X]), np.arange(m), m + np.arange(n), k, norm)
    dev = reducer.device_
    total, count = 0.0, 0
    for a in range(0, n, 1024):
        xc = torch.as_tensor(X[a:a + 1024], device=dev)
        xn = torch.as_tensor(R[nbr[a:a + 1024].ravel()], device=dev)
        with torch.no_grad():
            xs_c, xs_n = model.prep(xc), model.prep(xn)
            z_c = model.encode_std(xs_c)
            z_n = model.encode_std(xs_n).reshape(len(xc), k, -1)
            rec = local_reconstruction(model, z_c, z_n, approx)
            err = ((rec - xs_n.reshape(len(xc), k, -1)) ** 2).mean(-1)
        total += float(err.sum())
        count += err.numel()
    return total / count


class NRAE(NeuralReducer):
    """NRAE (registered as ``"nrae"``): the neighbourhood reconstruction loss (NRAE-L or NRAE-Q).

    Parameters
    ----------
    n_components : int
        Code size m < n_features.
    n_neighbors : int
        k of the neighbour graph (exact faiss k-NN among the training rows), ``k <= n_train - 1``.
    n_sampled : int
        Neighbours drawn per centre and step, ``1 <= n_sampled <= n_neighbors`` (the reference's
        ``bs_nn - 1``: 1 with the centre included).
    approx : {"linear", "quadratic"}
        NRAE-L (first-order local decoder) or NRAE-Q (second order).
    kernel_lambda : float
        Weight > 0 of the neighbours' terms against the centre's (the reference's binary
        kernel ``λ``).
    hidden, activation, normalize_input, normalize_codes, preset, max_epochs, batch_size, lr,
    weight_decay, validation_fraction, patience, device, random_state, verbose
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer` (``batch_size`` counts
        centres; a step encodes ``batch_size * (1 + n_sampled)`` rows).

    Attributes
    ----------
    neighbors_ : int64 (n_samples, n_neighbors)
        The neighbour graph used (global row ids, training rows only).
    module_, history_, n_iter_, device_, training_params_, n_features_in_
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`; ``history_`` adds
        ``center`` and ``neighbors`` (the two terms of the loss, epoch means).
    """

    method = "nrae"

    def __init__(self, n_components=2, *, n_neighbors=10, n_sampled=1, approx="linear", kernel_lambda=1.0,
                 hidden=256, activation="elu", normalize_input=False, normalize_codes=False, preset=None,
                 max_epochs="auto", batch_size=256, lr=1e-3, weight_decay=0.0, validation_fraction=0.1, patience=5,
                 device="auto", random_state=None, verbose=False):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.n_sampled = n_sampled
        self.approx = approx
        self.kernel_lambda = kernel_lambda
        self.hidden = hidden
        self.activation = activation
        self.normalize_input = normalize_input
        self.normalize_codes = normalize_codes
        self.preset = preset
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_method_params(self, n, d):
        n_train = self._n_train(n)
        k = check_int(self.n_neighbors, "n_neighbors", low=1)
        if k > n_train - 1:
            raise ValueError(f"n_neighbors={k} is larger than the data allows: {n_train} training rows give each at "
                             f"most {n_train - 1} neighbours; use n_neighbors <= {n_train - 1} or more rows")
        check_int(self.n_sampled, "n_sampled", low=1, high=k, what=f"an integer in [1, n_neighbors={k}]")
        if self.approx not in APPROXIMATIONS:
            raise ValueError(f"approx must be one of {APPROXIMATIONS}, got {self.approx!r}")
        check_number(self.kernel_lambda, "kernel_lambda", low=0, low_open=True)

    def _rows_per_sample(self):
        """A centre and its ``n_sampled`` neighbours go through the encoder."""
        return 1 + int(self.n_sampled)

    def _train(self, module, source, train_rows, val_rows, seed, dev, params):
        torch = _torch()
        X = source.data if not source.on_device else source.data.cpu().numpy()
        k, s = int(self.n_neighbors), int(self.n_sampled)
        if len(train_rows) - 1 < k:  # the held-out split left too few rows (checked against n before)
            raise ValueError(f"n_neighbors={k} is larger than the {len(train_rows)} training rows allow")
        nbr = np.zeros((source.n, k), np.int64)
        nbr[train_rows] = neighbor_graph(X, train_rows, train_rows, k, self.normalize_input)
        if len(val_rows):
            nbr[val_rows] = neighbor_graph(X, train_rows, val_rows, k, self.normalize_input)
        self.neighbors_ = nbr
        nbr_t = torch.as_tensor(nbr)
        gen = torch.Generator().manual_seed((seed + 2) % 2**63)
        # the held-out rows' neighbours: s of the k, drawn once (the same every epoch, so that
        # val_loss compares epochs; all k would cost about a third of a training epoch)
        val_pick = np.argsort(np.random.default_rng((seed + 3) % 2**63).random((source.n, k)), axis=1)[:, :s]
        val_t = torch.as_tensor(np.take_along_axis(nbr, val_pick, axis=1))
        lam, approx = float(self.kernel_lambda), self.approx

        def loss_fn(model, xb, rows):
            B = len(rows)
            if model.training:  # s of the k neighbours, drawn without replacement
                pick = torch.rand(B, k, generator=gen).argsort(dim=1)[:, :s]
                nb_rows = torch.gather(nbr_t[rows], 1, pick)
            else:
                nb_rows = val_t[rows]
            # centres and neighbours through the encoder in one call (row-wise maps: the same codes)
            xs = model.prep(torch.cat([xb, source.take(nb_rows.reshape(-1))]))
            z = model.encode_std(xs)
            xs_c, xs_n = xs[:B], xs[B:].reshape(B, s, -1)
            rec, f_c = local_reconstruction(model, z[:B], z[B:].reshape(B, s, -1), approx, return_centre=True)
            centre = ((f_c - xs_c) ** 2).mean()
            neigh = ((rec - xs_n) ** 2).mean()
            # Eq. 5 with the binary kernel: the centre with weight 1, each of its s neighbours with
            # weight lambda, averaged over the 1 + s terms (the reference's mean over bs_nn)
            loss = (centre + lam * s * neigh) / (1 + s)
            return loss, {"center": float(centre.detach()), "neighbors": float(neigh.detach())}

        return self._fit_torch(module, loss_fn, source, train_rows, val_rows, seed, dev, params, pass_rows=True)
