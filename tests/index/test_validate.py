"""Factory strings and search parameters are checked before faiss sees them (faiss crashes on some)."""

import pytest

from rae_explore.index.validate import check_index_factory, check_search_params


@pytest.mark.parametrize("s", ["Flat", "HNSW32", "HNSW2", "NSG32", "IVF64,Flat", "IVF64,PQ8x4np", "OPQ8_32,IVF64,PQ8",
                               "PCA8,Flat", "IVF64_HNSW32,Flat", "HNSW16_PQ8", "IVF16,Flat,RFlat", "SQ8", "LSH",
                               "IVF16,PQ8x4fs", "IMI2x4,Flat", "RQ2x8", "IVF16,PQ4,Refine(Flat)"])
def test_accepts_what_faiss_builds(s):
    assert check_index_factory(s, d=32) == s


@pytest.mark.parametrize("s, words", [
    ("PQ4x0", "bits per code"), ("IVF16,PQ4x0", "bits per code"), ("PQ0", "M (sub-quantizers)"),
    ("PQ4x17", "bits per code"), ("HNSW0", "neighbours per node"), ("HNSW1", "M = 1 segfaults"),
    ("IVF16_HNSW1,Flat", "coarse quantizer"), ("NSG0", "R (out-degree)"), ("NSG4", "run forever"),
    ("HNSW0_PQ4", "neighbours per node"), ("RR0,Flat", "output dimension"), ("OPQ4_0,PQ4", "output dimension"),
    ("IVF0,Flat", "nlist"), ("RQ2x0", "each number"), ("PCA64,Flat", "PCA keeps at most"), ("IMI0x4,Flat", "sub-quantizers"),
])
def test_refuses_numbers_faiss_crashes_or_hangs_on(s, words):
    with pytest.raises(ValueError, match="must be") as e:
        check_index_factory(s, d=32)
    assert repr(s) in str(e.value) and words in str(e.value) and "Fix:" in str(e.value)


def test_pq_m_must_divide_the_dimension_it_sees_after_transforms():
    with pytest.raises(ValueError, match=r"IVF16,PQ5.*M=5 sub-vectors, so 32 must be a multiple of M.*M in \[1, 2, 4, 8, 16, 32\]"):
        check_index_factory("IVF16,PQ5", d=32)
    with pytest.raises(ValueError, match="12-d vectors"):
        check_index_factory("PCA12,PQ8", d=32)
    assert check_index_factory("PCA12,PQ4", d=32)


@pytest.mark.parametrize("s, err", [("IVF16,,Flat", "empty part"), ("IVF16(PQ4,Flat", "unmatched"), ("", None),
                                    (None, None)])
def test_refuses_malformed_strings(s, err):
    kind = TypeError if err is None else ValueError
    with pytest.raises(kind, match=err or "non-empty faiss index_factory string"):
        check_index_factory(s, d=16)


def test_search_params_ranges_and_types():
    assert check_search_params({"nprobe": 4.0, "efSearch": 16}) == {"nprobe": 4, "efSearch": 16}
    with pytest.raises(ValueError, match="efSearch .* must be >= 1, got 0; 0 or less searches nothing"):
        check_search_params({"efSearch": 0})
    with pytest.raises(ValueError, match="efSearch .* got -5"):
        check_search_params({"efSearch": -5})
    with pytest.raises(ValueError, match="nprobe=100 is larger than the index's nlist=16"):
        check_search_params({"nprobe": 100}, nlist=16)
    with pytest.raises(TypeError, match="nprobe .* must be an integer, got 2.5"):
        check_search_params({"nprobe": 2.5})
    with pytest.raises(TypeError, match="efSearch must be a number, got True"):
        check_search_params({"efSearch": True})
    with pytest.raises(ValueError, match="k_factor_rf .* must be >= 1"):
        check_search_params({"k_factor_rf": 0.5})
    with pytest.raises(TypeError, match="must be a dict"):
        check_search_params([("nprobe", 1)])
