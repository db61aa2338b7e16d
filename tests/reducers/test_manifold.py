"""The reducer registry, the scikit-learn contract over every entry, and each baseline's specifics."""


import numpy as np
import pytest

from rae_explore.reducers import MDS, make_reducer


def test_mds_samples_then_ridge(X):
    mds = MDS(3, max_samples=60, max_iter=50, random_state=0).fit(X)
    assert mds.sample_indices_.shape == (60,) and len(set(mds.sample_indices_)) == 60
    assert mds.embedding_.shape == (60, 3) and mds.out_of_sample == "ridge"
    np.testing.assert_allclose(mds.transform(X), mds.ridge_.predict(X), rtol=1e-5, atol=1e-5)
    # the ridge map approximates the SMACOF embedding on the sampled points
    Zs = mds.transform(X[mds.sample_indices_])
    resid = np.linalg.norm(Zs - mds.embedding_) / np.linalg.norm(mds.embedding_)
    assert resid < 0.5
    with pytest.raises(ValueError, match="at least 2 samples"):
        MDS(1).fit(X[:1])


def test_isomap_embeds_new_points(X, tiny):
    iso = make_reducer("isomap", n_components=3).fit(X)
    assert iso.out_of_sample == "native" and iso.transform(tiny.xq).shape == (tiny.nq, 3)
    with pytest.raises(ValueError, match="at least 11 samples"):
        make_reducer("isomap", n_components=2).fit(X[:5])
