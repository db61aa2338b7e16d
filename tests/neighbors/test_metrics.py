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


def test_top_k_accuracy_counts_ties_with_the_kth_when_distances_are_given():
    from rae_explore.neighbors.metrics import TieWarning

    # query 0: ids 2 and 3 are copies at the same distance; k=2 keeps 0 and 2, the reduction returned 3
    I_true = np.array([[0, 2, 3, 5], [4, 5, 6, 7]])
    D_true = np.array([[0.1, 0.5, 0.5, 0.9], [0.1, 0.2, 0.3, 0.4]], np.float32)
    I_pred = np.array([[0, 3, 9, 9], [4, 6, 9, 9]])
    assert top_k_accuracy(I_true, I_pred, 2) == pytest.approx(0.5)  # ids only: the copy is a miss
    np.testing.assert_allclose(top_k_accuracy(I_true, I_pred, 2, per_query=True, D_true=D_true), [1.0, 0.5])
    with pytest.raises(ValueError, match="D_true must have the shape"):
        top_k_accuracy(I_true, I_pred, 2, D_true=D_true[:, :3])
    # the ties run to the last column: more may be cut off
    with pytest.warns(TieWarning, match="1 queries"):
        top_k_accuracy(I_true[:, :3], I_pred[:, :3], 2, D_true=D_true[:, :3])


def test_duplicated_base_scores_one_at_full_dimension_when_tie_aware(rng):
    from rae_explore.neighbors.knn import knn_search

    xb = rng.standard_normal((200, 8)).astype(np.float32)
    xb = np.concatenate([xb, xb[:100]])  # 100 exact copies
    xq = rng.standard_normal((50, 8)).astype(np.float32)
    D, I = knn_search(xq, xb, 20, "l2")
    perm = rng.permutation(len(xb))  # the "reduced" base: same vectors, another order, so copies swap ranks
    I_red = perm[knn_search(xq, xb[perm], 10, "l2")[1]]
    assert top_k_accuracy(I, I_red, 10, D_true=D) == 1.0
    assert top_k_accuracy(I[:, :10], I_red, 10) < 1.0
