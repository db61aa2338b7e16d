"""Torch reducers: one training loop for all (:mod:`.training`), the networks (:mod:`.autoencoders`), and
the compression paper's four autoencoders on a shared base (:mod:`.base`): :mod:`.vanilla`,
:mod:`.dcec`, :mod:`.hyperae`, :mod:`.nrae` (registered as ``vanilla_ae``, ``dcec``, ``hyperae``, ``nrae``).
The search-oriented compressors :mod:`.catalyzer` and :mod:`.ccst` (``catalyzer``, ``ccst``) train on
the reusable losses of :mod:`.losses` (KoLeo, INRP)."""

from .catalyzer import Catalyzer
from .ccst import CCST
from .losses import inrp_loss, inrp_weights, koleo_loss, mean_pairwise_distance

__all__ = ["Catalyzer", "CCST", "inrp_loss", "inrp_weights", "koleo_loss", "mean_pairwise_distance"]
