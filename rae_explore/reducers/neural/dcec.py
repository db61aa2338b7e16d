"""DCEC: the autoencoder with a clustering layer on its code (Guo, Liu, Zhu & Yin, ICONIP 2017).

"Deep Clustering with Convolutional Autoencoders". Our inputs are vectors, not images, so the
convolutional encoder and decoder of the paper are replaced by the fully connected network of
the Vanilla AE (:mod:`.base`); the clustering part is the paper's:

- soft assignment of code ``z_i`` to centre ``μ_j`` by a Student-t kernel (Eq. 6, DEC's
  Eq. 1), with ``α`` = ``dof`` degrees of freedom (1 in the paper):
  ``q_ij = (1 + ||z_i - μ_j||² / α)^(-(α+1)/2) / Σ_j' (1 + ||z_i - μ_j'||² / α)^(-(α+1)/2)``;
- target distribution (DEC's Eq. 3): ``p_ij = (q_ij² / f_j) / Σ_j' (q_ij'² / f_j')`` with
  ``f_j = Σ_i q_ij``, recomputed on every training row every ``T = update_interval`` steps
  (140 in the paper) and held fixed in between;
- loss ``L = L_r + γ L_c`` (Eq. 7-8), ``L_r`` the reconstruction MSE and
  ``L_c = KL(P ‖ Q) = (1/n) Σ_i Σ_j p_ij log(p_ij / q_ij)``, ``γ = gamma`` (0.1 in the paper).

Training follows the paper: pretrain the autoencoder on ``L_r`` alone, initialise the centres
by k-means on its codes (faiss ``Kmeans``, seeded), then train encoder, decoder and centres on
``L`` and stop early once fewer than ``tol`` of the rows change cluster between two target
updates (0.1 % in the paper). ``history_`` records ``rec``, ``kl`` and ``entropy`` (the
mean entropy of ``q_i``, in nats) per epoch of the clustering phase.
"""

import numpy as np

from ...validation import check_int
from .base import NeuralReducer, check_number, reconstruction_mse


def _torch():
    import torch

    return torch


def soft_assignment(z, centers, dof=1.0):
    """Student-t soft assignments ``q`` (n, K) of codes ``z`` (n, m) to ``centers`` (K, m); rows sum to 1 (torch)."""
    d2 = ((z[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    log_q = -(dof + 1.0) / 2.0 * (d2 / dof).log1p()
    return (log_q - log_q.logsumexp(dim=1, keepdim=True)).exp()


def target_distribution(q):
    """DEC's target ``p_ij ∝ q_ij² / f_j`` with ``f_j = Σ_i q_ij``, rows normalised (torch, (n, K))."""
    w = q ** 2 / q.sum(dim=0, keepdim=True)
    return w / w.sum(dim=1, keepdim=True)


def kl_divergence(p, q, eps=1e-12):
    """``KL(P ‖ Q)`` summed over clusters and averaged over rows (a torch scalar)."""
    return (p * ((p + eps).log() - (q + eps).log())).sum(dim=1).mean()


class DCEC(NeuralReducer):
    """DCEC (registered as ``"dcec"``): the Vanilla AE plus a clustering layer on the code.

    Parameters
    ----------
    n_components : int
        Code size m < n_features.
    n_clusters : int
        Number of clusters K (the clustering layer's centres), ``1 <= K <=`` the number of
        training rows (K = 1 makes the clustering term vanish: q = p = 1). The paper sets K to the number of classes (10 for MNIST); embeddings have
        none, so the default, 8, is ours (small enough for scikit-learn's 10-row check data).
    gamma : float
        Weight γ >= 0 of the clustering loss (0.1 in the paper; 0 trains a plain autoencoder).
    dof : float
        Degrees of freedom α > 0 of the Student-t kernel (1 in the paper).
    update_interval : int
        T: steps between two recomputations of the target distribution P (140 in the paper).
    tol : float
        Stop when fewer than this share of the rows change cluster between two updates
        (0.001 in the paper; 0 never stops early on it).
    pretrain_epochs : int or None
        Epochs of reconstruction-only pretraining (early-stopped like the rest). ``max_epochs``
        bounds both phases together: clustering gets ``max_epochs - pretrain_epochs`` epochs (at
        least 1). None: half of ``max_epochs``, rounded up (the paper pretrains 200 epochs; we
        keep DCEC's cost equal to the other methods').
    hidden, activation, normalize_input, normalize_codes, preset, max_epochs, batch_size, lr,
    weight_decay, validation_fraction, patience, device, random_state, verbose
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.

    Attributes
    ----------
    cluster_centers_ : float32 (n_clusters, n_components)
    labels_ : int64 (n_samples,)
        Cluster of every training row at the end (argmax of ``q``).
    history_ : list of dict
        Both phases (``phase`` = "pretrain" or "cluster"); the clustering phase adds ``rec``,
        ``kl``, ``entropy`` and, at each target update, ``delta_label``.
    module_, n_iter_, device_, training_params_, n_features_in_
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.
    """

    method = "dcec"

    def __init__(self, n_components=2, *, n_clusters=8, gamma=0.1, dof=1.0, update_interval=140, tol=0.001,
                 pretrain_epochs=None, hidden=256, activation="relu", normalize_input=False, normalize_codes=False,
                 preset=None, max_epochs="auto", batch_size=256, lr=1e-3, weight_decay=0.0, validation_fraction=0.1,
                 patience=5, device="auto", random_state=None, verbose=False):
        self.n_components = n_components
        self.n_clusters = n_clusters
        self.gamma = gamma
        self.dof = dof
        self.update_interval = update_interval
        self.tol = tol
        self.pretrain_epochs = pretrain_epochs
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
        check_int(self.n_clusters, "n_clusters", low=1)
        n_train = self._n_train(n)
        if self.n_clusters > n_train:
            raise ValueError(f"n_clusters={self.n_clusters} is larger than the number of training rows ({n_train} of "
                             f"n={n} after the held-out slice); use n_clusters <= {n_train}")
        check_number(self.gamma, "gamma", low=0)
        check_number(self.dof, "dof", low=0, low_open=True)
        check_int(self.update_interval, "update_interval", low=1)
        check_number(self.tol, "tol", low=0, high=1)
        if self.pretrain_epochs is not None:
            check_int(self.pretrain_epochs, "pretrain_epochs", low=1)

    def _codes(self, module, source, rows, block=65536):
        """Codes of ``source`` rows ``rows`` (torch, on the device), no grad."""
        torch = _torch()
        with torch.no_grad():
            return torch.cat([module.encode(xb) for _, xb in source.blocks(rows, block)])

    def _train(self, module, source, train_rows, val_rows, seed, dev, params):
        import faiss

        torch = _torch()
        # max_epochs bounds both phases together, so that DCEC costs what the other methods cost
        total = int(params["max_epochs"])
        pre = int(self.pretrain_epochs) if self.pretrain_epochs is not None else (total + 1) // 2
        history = self._fit_torch(module, reconstruction_mse, source, train_rows, val_rows, seed, dev, params,
                                  max_epochs=pre, phase="pretrain")
        # centres: k-means on the pretrained codes (the paper: k-means, 20 restarts)
        Z = self._codes(module, source, train_rows).cpu().numpy().astype(np.float32)
        km = faiss.Kmeans(Z.shape[1], int(self.n_clusters), niter=50, nredo=5, seed=int(seed % (2**31)),
                          verbose=False, min_points_per_centroid=1)  # few rows per centre is legitimate here
        km.train(Z)
        module.centers = torch.nn.Parameter(torch.as_tensor(km.centroids, dtype=torch.float32, device=dev).clone())

        n_all = source.n
        rows_all = torch.as_tensor(np.sort(np.concatenate([train_rows, val_rows])), dtype=torch.long)
        P = torch.zeros((n_all, int(self.n_clusters)), device=dev)
        dof, gamma = float(self.dof), float(self.gamma)
        state = {"labels": None, "delta": None}

        def update_target():
            q = soft_assignment(self._codes(module, source, rows_all), module.centers.detach(), dof)
            P[rows_all.to(dev)] = target_distribution(q)
            labels = q.argmax(dim=1).cpu()
            delta = None if state["labels"] is None else float((labels != state["labels"]).float().mean())
            state["labels"], state["delta"] = labels, delta
            return delta

        def on_step(step, model):
            if step % int(self.update_interval) == 0:
                was = model.training
                model.eval()
                delta = update_target()
                model.train(was)
                if delta is not None and delta < float(self.tol):
                    return True
            return False

        def loss_fn(model, xb, rows):
            xs = model.prep(xb)
            z = model.encode_std(xs)
            rec = ((model.decode_std(z) - xs) ** 2).mean()
            q = soft_assignment(z, model.centers, dof)
            kl = kl_divergence(P[rows.to(P.device)], q)
            ent = -(q * (q + 1e-12).log()).sum(dim=1).mean()
            return rec + gamma * kl, {"rec": float(rec.detach()), "kl": float(kl.detach()),
                                      "entropy": float(ent.detach())}

        # on_step(0) computes P on every row (the validation rows too) before the first step
        hist = self._fit_torch(module, loss_fn, source, train_rows, val_rows, (seed + 1) % 2**63, dev, params,
                               max_epochs=max(1, total - pre), phase="cluster", pass_rows=True, on_step=on_step,
                               callback=lambda epoch, model: {"delta_label": state["delta"]})
        start = history[-1]["step"] if history else 0
        for row in hist:
            row["step"] += start
        Zt = self._codes(module, source, torch.arange(n_all))
        self.labels_ = soft_assignment(Zt, module.centers.detach(), dof).argmax(dim=1).cpu().numpy().astype(np.int64)
        self.cluster_centers_ = module.centers.detach().cpu().numpy().astype(np.float32)
        return history + hist

    def predict_proba(self, X):
        """Soft assignments ``q`` (Eq. 6), float32 (n_samples, n_clusters); every row sums to 1."""
        torch = _torch()
        Z = torch.as_tensor(self.transform(X))
        return soft_assignment(Z, torch.as_tensor(self.cluster_centers_), float(self.dof)).numpy().astype(np.float32)

    def predict(self, X):
        """Cluster of every row of ``X`` (argmax of :meth:`predict_proba`), int64 (n_samples,)."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)
