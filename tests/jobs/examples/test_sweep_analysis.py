"""The sweep example's analysis: the minimum over the sweep's job outputs."""

from __future__ import annotations

import pytest

from mc.jobs.examples.sweep_analysis import find_minimum


def test_minimum_and_sorted_points_from_the_spread_results():
    results = [
        {"outputs": {"x": 2, "y": 1}},
        {"outputs": {"x": 0, "y": 1}},
        {"outputs": {"x": 1, "y": 0}},
    ]
    assert find_minimum(results) == {
        "points": [[0, 1], [1, 0], [2, 1]],
        "x_min": 1,
        "y_min": 0,
        "summary": "minimum y = 0 at x = 1, over 3 points",
    }


def test_empty_sweep_is_an_error():
    with pytest.raises(ValueError, match="the sweep has no results"):
        find_minimum([])
