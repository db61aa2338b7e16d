"""rae_explore.grid: the one grid vocabulary."""

import pytest

from rae_explore.grid import grid_product


def test_grid_product_is_row_major_over_base():
    pts = grid_product({"a": [1, 2], "b": ["x", "y", "z"]}, {"seed": 0, "a": 9})
    assert len(pts) == 6 and pts[0] == {"seed": 0, "a": 1, "b": "x"} and pts[-1] == {"seed": 0, "a": 2, "b": "z"}
    assert grid_product({}, {"k": 1}) == [{"k": 1}] and grid_product(None) == [{}]


def test_scalars_only_where_allowed():
    assert grid_product({"nprobe": 4}, allow_scalars=True) == [{"nprobe": 4}]
    with pytest.raises(ValueError, match=r"sweep\['nprobe'\] must be a non-empty list"):
        grid_product({"nprobe": []}, label="sweep", allow_scalars=True)
    with pytest.raises(ValueError, match=r"grid\['k'\] must be a non-empty list of values, got 3"):
        grid_product({"k": 3})
