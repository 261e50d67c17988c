"""Issue 13 item 4: a job's REST detail returns bounded metric series, the full one on request."""

from __future__ import annotations

from sm_magics.server.jobs import CHART_POINTS, downsample


def test_a_long_series_is_cut_to_chart_points_keeping_its_extremes() -> None:
    points = [[float(t), float(t % 97)] for t in range(100_000)]
    points[54_321][1] = 1e6  # a spike in the middle must survive
    small = downsample(points)
    assert len(small) <= CHART_POINTS
    assert small[0] == points[0] and small[-1] == points[-1]
    assert [54_321.0, 1e6] in small
    assert [p[0] for p in small] == sorted(p[0] for p in small)


def test_a_short_series_is_returned_whole() -> None:
    points = [[1.0, 2.0], [2.0, 3.0]]
    assert downsample(points) == points
