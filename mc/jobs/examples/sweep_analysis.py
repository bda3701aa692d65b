"""The analysis step of ``examples/jobs_sweep.yaml``: find the minimum of the sweep's points."""

from __future__ import annotations

from typing import Any

__all__ = ["find_minimum"]


def find_minimum(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the lowest point of a sweep of polynomial jobs.

    ``results`` is a ``spread`` task's ``data['results']``: each job task's
    data, whose ``outputs`` are ``{'x': ..., 'y': ...}``. Returns the points
    sorted by x, the minimum, and a one-line summary.
    """
    if not results:
        raise ValueError("find_minimum: the sweep has no results")
    points = sorted((result["outputs"]["x"], result["outputs"]["y"]) for result in results)
    x_min, y_min = min(points, key=lambda point: point[1])
    return {
        "points": [list(point) for point in points],
        "x_min": x_min,
        "y_min": y_min,
        "summary": f"minimum y = {y_min} at x = {x_min}, over {len(points)} points",
    }
