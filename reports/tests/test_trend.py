"""The summary's trend chart geometry, on values made here: time runs left to right in proportion, a higher
score is drawn higher, and a single result draws no chart."""

from datetime import UTC, datetime

from reports.trend import HEIGHT, LEFT, WIDTH, chart


def row(day: int, raw, value: str = ""):
    return {"when": datetime(2026, 1, day, tzinfo=UTC), "raw": raw, "value": value or str(raw)}


def test_time_is_proportional_and_higher_scores_are_drawn_higher():
    drawn = chart([row(1, 2.0), row(3, 8.0), row(11, 5.0)])
    xs = [point["x"] for point in drawn["points"]]
    ys = [point["y"] for point in drawn["points"]]
    assert xs[0] == LEFT and xs[-1] == WIDTH - 16
    # Day 3 is a fifth of the way from day 1 to day 11.
    assert abs((xs[1] - xs[0]) / (xs[2] - xs[0]) - 0.2) < 0.01
    assert ys[1] < ys[2] < ys[0] and all(0 < value < HEIGHT for value in ys)
    assert drawn["low_label"] == "0" and drawn["first_date"] == "1 Jan 2026" and drawn["last_date"] == "11 Jan 2026"
    assert [point["label"] for point in drawn["points"]] == ["2.0", "8.0", "5.0"]


def test_one_scored_result_draws_no_chart():
    assert chart([row(1, 3.0)]) is None
    assert chart([row(1, 3.0), row(2, None)]) is None
