"""The pure helpers of frontend/js/charts.js, run in node: joining runs into one trace, and run colours."""

import json

import pytest

from tests.frontend.node import evaluator


@pytest.fixture(scope="module")
def run_js(tmp_path_factory):
    return evaluator(tmp_path_factory.mktemp("charts"), "charts")


def test_joined_runs_are_separated_by_a_gap_and_each_point_names_its_run(run_js):
    parts = [{"x": [0, 1], "y": [0.5, 0.4], "label": "a"}, {"x": [], "y": [], "label": "empty"}, {"x": [0], "y": [0.9], "label": "b"}]
    joined = run_js(f"charts.joinRuns({json.dumps(parts)})")
    assert joined == {"x": [0, 1, None, 0], "y": [0.5, 0.4, None, 0.9], "text": ["a", "a", "", "b"]}
    assert run_js("charts.joinRuns([])") == {"x": [], "y": [], "text": []}


def test_run_colours_repeat_only_past_the_merge_threshold(run_js):
    # Up to 20 runs each has its own colour, past the palette a golden-angle hue; of 30 runs the 25th takes the first again.
    assert run_js("[charts.runColor(12, 20), charts.runColor(19, 20)]") == ["hsl(210, 60%, 52%)", "hsl(93, 60%, 52%)"]
    assert run_js("[charts.runColor(0, 30), charts.runColor(24, 30), charts.runColor(25, 30)]") == ["#4e79a7", "#4e79a7", "#f28e2b"]
    assert run_js("charts.runColor(24, 20)") == "hsl(60, 60%, 52%)"
