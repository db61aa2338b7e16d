"""Every dimensionality-reduction method behind one scikit-learn interface, found by name.

>>> from rae_explore.reducers import make_reducer
>>> red = make_reducer("pca", n_components=16, random_state=0)   # doctest: +SKIP
>>> Z = red.fit(X).transform(X)                                   # float32, (n, 16)

The registry :data:`REDUCERS` is filled here, explicitly, from the modules that define the
classes: :mod:`.linear` (PCA, random projection, LPP), :mod:`.manifold` (UMAP, Isomap, MDS),
:mod:`.rae` (the RAE paper's linear autoencoder), :mod:`.npp` (the best linear map fine-tuned on the exact k-NN), :mod:`.neural` (the compression paper's four
autoencoders ``vanilla_ae``, ``dcec``, ``hyperae``, ``nrae`` on the shared torch trainer, and the
search-oriented ``catalyzer`` and ``ccst``).
"""

from .base import (
    REDUCERS,
    DimensionWarning,
    LinearReducer,
    Reducer,
    make_reducer,
    register_reducer,
)
from .linear import LPP, PCA, RandomProjection
from .manifold import MDS, UMAP, Isomap
from .neural.catalyzer import Catalyzer
from .neural.ccst import CCST
from .neural.dcec import DCEC
from .neural.hyperae import HyperAE
from .neural.nrae import NRAE
from .neural.vanilla import VanillaAE
from .npp import NPP
from .rae import RAE

for _name, _cls in (("pca", PCA), ("rp", RandomProjection), ("lpp", LPP), ("umap", UMAP), ("isomap", Isomap),
                    ("mds", MDS), ("rae", RAE), ("vanilla_ae", VanillaAE), ("dcec", DCEC), ("hyperae", HyperAE),
                    ("nrae", NRAE), ("catalyzer", Catalyzer),
                    ("ccst", CCST), ("npp", NPP)):
    register_reducer(_name, _cls)
del _name, _cls

__all__ = ["REDUCERS", "DimensionWarning", "LinearReducer", "Reducer", "make_reducer", "register_reducer", "PCA",
           "RandomProjection", "LPP", "UMAP", "Isomap", "MDS", "RAE", "VanillaAE", "DCEC", "HyperAE", "NRAE",
           "Catalyzer", "CCST", "NPP"]
