"""Metrics against hand-made tables and numpy references."""

import numpy as np
import pytest

from rae_explore.neighbors.metrics import recall_n_at_m, top_k_accuracy

I_TRUE = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
I_PRED = np.array([[1, 0, 9, 2], [8, 9, 4, 5]])


def test_top_k_accuracy_hand_table():
    # k=1: {0} vs {1} -> 0 ; {4} vs {8} -> 0
    assert top_k_accuracy(I_TRUE, I_PRED, 1) == 0.0
    # k=2: {0,1} vs {1,0} -> 1 ; {4,5} vs {8,9} -> 0   => 0.5
    assert top_k_accuracy(I_TRUE, I_PRED, 2) == 0.5
    # k=4: {0,1,2,3} ∩ {1,0,9,2} = 3 -> 3/4 ; {4..7} ∩ {8,9,4,5} = 2 -> 2/4   => 0.625
    assert top_k_accuracy(I_TRUE, I_PRED, 4) == pytest.approx(0.625)
    np.testing.assert_allclose(top_k_accuracy(I_TRUE, I_PRED, 4, per_query=True), [0.75, 0.5])


def test_top_k_accuracy_ignores_order_and_checks_width():
    assert top_k_accuracy(I_TRUE[:, :3], I_TRUE[:, :3][:, ::-1], 3) == 1.0
    with pytest.raises(ValueError, match="k=5"):
        top_k_accuracy(I_TRUE, I_PRED, 5)
    with pytest.raises(ValueError, match="queries"):
        top_k_accuracy(I_TRUE, I_PRED[:1], 1)


def test_recall_n_at_m_counts_true_neighbours_among_returned():
    gt = np.array([[0, 1, 2], [3, 4, 5]])
    I = np.array([[2, 7, 0, 8], [9, 8, 7, 3]])
    # 1-R@1: is gt[:,0] at position 0?  no, no
    assert recall_n_at_m(gt, I, 1, 1) == 0.0
    # 1-R@3: 0 in [2,7,0] yes ; 3 in [9,8,7] no -> 0.5
    assert recall_n_at_m(gt, I, 1, 3) == 0.5
    # 2-R@4: {0,1} in row0 -> 1 of 2 ; {3,4} in row1 -> 1 of 2 -> 0.5
    assert recall_n_at_m(gt, I, 2, 4) == 0.5
    # m < n: at most m/n
    assert recall_n_at_m(gt, gt, 3, 1) == pytest.approx(1 / 3)
    # -1 ids (faiss "no result") never count
    assert recall_n_at_m(np.full((2, 3), -1), np.full((2, 4), -1), 1, 4) == 0.0
