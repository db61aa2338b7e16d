"""HyperAE: an autoencoder whose codes lie on a Poincaré ball (Mirvakhabova et al., RecSys 2020).

"Performance of Hyperbolic Geometry Models on Top-N Recommendation Tasks" trains autoencoders
with hyperbolic latent spaces. Here, as the compression paper uses it: the fully connected
encoder of the Vanilla AE (:mod:`.base`) followed by the exponential map at the origin of the
Poincaré ball ``B_c = {x : c ||x||² < 1}`` (curvature ``-c``),

    z = exp_0(h) = tanh(√c ||h||) h / (√c ||h||),

and a decoder that first takes the logarithmic map at the origin,
``log_0(z) = artanh(√c ||z||) z / (√c ||z||)``, then the Euclidean layers. (The reference
recommenders also offer Möbius / hyperbolic linear layers inside the network; the exp/log pair
at the code is the variant the compression paper describes.) The maps are geoopt's
``PoincareBall`` maps, computed as one scale per row (``autoencoders.expmap0_projected`` and
``hyperbolic_linear_logmap0``; a test holds them equal to geoopt's, which cost about twice the
training time on CPU); training uses geoopt's ``RiemannianAdam``. Numerically: in float32
``tanh`` saturates to 1 for ``√c ||h|| > 9``, so every code is projected strictly inside the ball
(norm at most ``(1 - 4e-3) / √c``, geoopt's ``projx``), and ``clip_r`` optionally bounds
``||h||`` before the map (the feature clipping of Guo et al. 2022) so that gradients do not
vanish there.

Distances: the geodesic distance on the ball has the closed form

    d_c(x, y) = (1/√c) arcosh(1 + 2c ||x - y||² / ((1 - c||x||²)(1 - c||y||²)))
              = (2/√c) artanh(√c ||(-x) ⊕_c y||).

faiss has no hyperbolic metric. ``transform`` returns the Poincaré coordinates; a faiss index
searches them with L2 (what the paper's pipeline does, and what ``evaluate``, ``sweep`` and
the index pipelines measure). :func:`poincare_search` re-ranks an L2 shortlist by the exact
hyperbolic distance (or searches exhaustively), so the two can be compared.
"""

import numpy as np

from ...validation import as_float32, check_int, check_same_dim
from .base import NeuralReducer, check_number, reconstruction_mse


def _check_c(c):
    return check_number(c, "c", low=0, low_open=True)


def poincare_distances(xq, xb, c=1.0):
    """Geodesic distances on the Poincaré ball of curvature ``-c`` between every row of ``xq`` and of ``xb``.

    Parameters
    ----------
    xq : array-like, shape (nq, m)
    xb : array-like, shape (nb, m)
        Points strictly inside the ball (``c ||x||² < 1``).
    c : float
        Curvature magnitude, > 0.

    Returns
    -------
    D : ndarray, float64, shape (nq, nb)
        ``(1/√c) arcosh(1 + 2c ||x - y||² / ((1 - c||x||²)(1 - c||y||²)))``, computed in float64.

    Raises
    ------
    ValueError
        ``c <= 0``, a point on or outside the ball, dimension mismatch.
    """
    c = _check_c(c)
    xq = np.asarray(as_float32(xq, "xq"), dtype=np.float64)
    xb = np.asarray(as_float32(xb, "xb"), dtype=np.float64)
    check_same_dim(xq, xb, ("xq", "xb"))
    nq2, nb2 = (xq ** 2).sum(1), (xb ** 2).sum(1)
    for name, n2 in (("xq", nq2), ("xb", nb2)):
        if (c * n2 >= 1).any():
            row = int(np.flatnonzero(c * n2 >= 1)[0])
            raise ValueError(f"{name} row {row} lies on or outside the Poincaré ball of c={c} "
                             f"(norm {np.sqrt(n2[row]):.6g} >= 1/sqrt(c) = {1 / np.sqrt(c):.6g})")
    diff2 = np.maximum(nq2[:, None] + nb2[None, :] - 2.0 * xq @ xb.T, 0.0)
    arg = 1.0 + 2.0 * c * diff2 / ((1.0 - c * nq2)[:, None] * (1.0 - c * nb2)[None, :])
    return np.arccosh(np.maximum(arg, 1.0)) / np.sqrt(c)


def poincare_search(zq, zb, k, c=1.0, *, shortlist=None, block=4096):
    """k nearest neighbours by hyperbolic distance: exact, or an L2 shortlist re-ranked exactly.

    Parameters
    ----------
    zq : array-like, shape (nq, m)
        Query codes (Poincaré coordinates, e.g. ``HyperAE.transform``).
    zb : array-like, shape (nb, m)
        Base codes.
    k : int
        Neighbours per query, ``1 <= k <= nb``.
    c : float
        The ball's curvature magnitude (``HyperAE.c``).
    shortlist : int or None
        None: exhaustive exact search. An int ``>= k``: the ``shortlist`` nearest by L2 (faiss,
        as an L2 index over the codes would return them), re-ranked by the exact distance.
    block : int
        Queries per block of the exhaustive search (bounded memory).

    Returns
    -------
    D : ndarray, float64, shape (nq, k)
        Hyperbolic distances, ascending.
    I : ndarray, int64, shape (nq, k)
        Base ids.
    """
    zq, zb = as_float32(zq, "zq"), as_float32(zb, "zb")
    check_same_dim(zq, zb, ("zq", "zb"))
    nb = zb.shape[0]
    k = check_int(k, "k", low=1, high=nb, what=f"an integer in [1, nb={nb}]")
    if shortlist is None:
        D, I = np.empty((len(zq), k)), np.empty((len(zq), k), np.int64)
        for a in range(0, len(zq), block):
            d = poincare_distances(zq[a:a + block], zb, c)
            idx = np.argpartition(d, k - 1, axis=1)[:, :k] if k < nb else np.tile(np.arange(nb), (len(d), 1))
            dk = np.take_along_axis(d, idx, 1)
            o = np.argsort(dk, axis=1, kind="stable")
            D[a:a + block], I[a:a + block] = np.take_along_axis(dk, o, 1), np.take_along_axis(idx, o, 1)
        return D, I
    from ...neighbors.knn import knn_search

    s = check_int(shortlist, "shortlist", low=k, high=nb, what=f"an integer in [k={k}, nb={nb}]")
    cand = knn_search(zq, zb, s, "l2")[1]
    D, I = np.empty((len(zq), k)), np.empty((len(zq), k), np.int64)
    for i in range(len(zq)):
        d = poincare_distances(zq[i:i + 1], zb[cand[i]], c)[0]
        o = np.argsort(d, kind="stable")[:k]
        D[i], I[i] = d[o], cand[i][o]
    return D, I


def compare_search(reducer, xb, xq, k=10, shortlists=(10, 50, 100), metric="l2"):
    """Top-k accuracy of a fitted HyperAE's codes searched three ways: L2, L2 + exact re-ranking, exact.

    The reference neighbours are the exact k-NN of ``xq`` in ``xb`` in the original space
    (``metric``). The codes are searched by L2 (what a faiss index over them does), by an L2
    shortlist re-ranked with the exact hyperbolic distance (one row per ``shortlists`` entry),
    and exhaustively by the hyperbolic distance.

    Parameters
    ----------
    reducer : HyperAE, fitted
    xb, xq : array-like, shapes (nb, d), (nq, d)
        Prepared as the reducer was fitted (unit rows under cosine).
    k : int
    shortlists : sequence of int
        Shortlist sizes (``k <= s <= nb``; larger ones are skipped).
    metric : {"l2", "ip", "cosine"}
        For the reference neighbours.

    Returns
    -------
    list of dict
        ``search`` (a label), ``shortlist`` (None for exhaustive searches), ``top_k@k``.
    """
    from ...neighbors.knn import knn_search
    from ...neighbors.metrics import top_k_accuracy

    gt = knn_search(xq, xb, k, metric)[1]
    zb, zq = reducer.transform(xb), reducer.transform(xq)
    c = float(reducer.c)
    out = [{"search": "L2 on the Poincaré coordinates (a faiss index)", "shortlist": None,
            f"top_k@{k}": top_k_accuracy(gt, knn_search(zq, zb, k, "l2")[1], k)}]
    for s in shortlists:
        if k <= s <= len(zb):
            out.append({"search": f"L2 shortlist of {s}, re-ranked by the hyperbolic distance", "shortlist": int(s),
                        f"top_k@{k}": top_k_accuracy(gt, poincare_search(zq, zb, k, c, shortlist=s)[1], k)})
    out.append({"search": "exact hyperbolic distance (exhaustive)", "shortlist": None,
                f"top_k@{k}": top_k_accuracy(gt, poincare_search(zq, zb, k, c)[1], k)})
    return out


class HyperAE(NeuralReducer):
    """HyperAE (registered as ``"hyperae"``): codes on the Poincaré ball of curvature ``-c``.

    Parameters
    ----------
    n_components : int
        Code size m < n_features (the ball's dimension).
    c : float
        Curvature magnitude, > 0 (ball radius ``1/√c``).
    clip_r : float or None
        Bound on the Euclidean norm of the encoder output before ``exp_0`` (None: none).
    hidden, activation, normalize_input, normalize_codes, preset, max_epochs, batch_size, lr,
    weight_decay, validation_fraction, patience, device, random_state, verbose
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`. ``normalize_codes``
        normalises the tangent vector before ``exp_0``: every code then has the same norm
        ``tanh(√c)/√c``.

    Attributes
    ----------
    module_, history_, n_iter_, device_, training_params_, n_features_in_
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.

    Notes
    -----
    ``transform`` returns Poincaré coordinates (float32, strictly inside the ball); compare
    them with :func:`poincare_distances` / :func:`poincare_search` for the exact geometry, or
    with L2 as a faiss index does.
    """

    method = "hyperae"

    def __init__(self, n_components=2, *, c=1.0, clip_r=None, hidden=256, activation="relu", normalize_input=False,
                 normalize_codes=False, preset=None, max_epochs="auto", batch_size=256, lr=1e-3, weight_decay=0.0,
                 validation_fraction=0.1, patience=5, device="auto", random_state=None, verbose=False):
        self.n_components = n_components
        self.c = c
        self.clip_r = clip_r
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
        _check_c(self.c)
        if self.clip_r is not None:
            check_number(self.clip_r, "clip_r", low=0, low_open=True)

    def _make_module(self, d):
        from .autoencoders import PoincareCodeAutoencoder

        return PoincareCodeAutoencoder(**self._module_kwargs(d), c=float(self.c), clip_r=self.clip_r)

    def _train(self, module, source, train_rows, val_rows, seed, dev, params):
        return self._fit_torch(module, reconstruction_mse, source, train_rows, val_rows, seed, dev, params,
                               optimizer="riemannian_adam")

    def distances(self, Zq, Zb):
        """Hyperbolic distances between codes, float64 (nq, nb) (:func:`poincare_distances` with this ``c``)."""
        return poincare_distances(Zq, Zb, float(self.c))
