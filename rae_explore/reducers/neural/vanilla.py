"""Vanilla AE: the compression paper's fully connected autoencoder, trained on reconstruction alone.

Buyanov et al., Eq. 1-4: encoder ``z = W_2 σ(W_1 x̃ + b_1) + b_2``, decoder
``x̂ = W_4 σ(W_3 z + b_3) + b_4``, loss the mean squared error ``(1 / n d) Σ ||x̃ - x̂||²`` on the
(standardised, optionally L2-normalised) input ``x̃``. The codes ``z`` (optionally
L2-normalised) are what the faiss index stores. Everything else is shared with the other
three methods (:mod:`.base`).

>>> ae = VanillaAE(32, random_state=0).fit(xb)        # doctest: +SKIP
>>> Z = ae.transform(xq)                               # float32 (nq, 32)
"""

from .base import NeuralReducer


class VanillaAE(NeuralReducer):
    """The compression paper's vanilla autoencoder (registered as ``"vanilla_ae"``).

    Parameters
    ----------
    n_components : int
        Code size m < n_features.
    hidden, activation, normalize_input, normalize_codes, preset, max_epochs, batch_size, lr,
    weight_decay, validation_fraction, patience, device, random_state, verbose
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.

    Attributes
    ----------
    module_, history_, n_iter_, device_, training_params_, n_features_in_
        See :class:`~rae_explore.reducers.neural.base.NeuralReducer`.
    """

    method = "vanilla_ae"

    def __init__(self, n_components=2, *, hidden=256, activation="relu", normalize_input=False,
                 normalize_codes=False, preset=None, max_epochs="auto", batch_size=256, lr=1e-3, weight_decay=0.0,
                 validation_fraction=0.1, patience=5, device="auto", random_state=None, verbose=False):
        self.n_components = n_components
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
