"""The Runs page's filter box: the expression goes to the URL, selects the runs, and a 422's message is shown."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.backend.helpers import set_run
from tests.browser.test_pages import create_study, wait_ready

pytestmark = pytest.mark.browser


def test_filter_box_puts_the_expression_in_the_url_and_shows_errors(live_server, page):
    runs = create_study(live_server, "filter box", {"training.seed": [1, 2, 3]})["runs"]
    ids = [run["id"] for run in runs]
    set_run(ids[0], summary={"best_val_accuracy": 0.95}, notes="keep this one")
    set_run(ids[1], summary={"best_val_accuracy": 0.5})
    page.goto(live_server + "/")
    wait_ready(page)
    page.fill("#filter-expr", "metrics.best_val_accuracy > 0.9")
    page.press("#filter-expr", "Enter")
    page.wait_for_function("location.search.includes('filter=')")
    assert parse_qs(urlsplit(page.url).query)["filter"] == ["metrics.best_val_accuracy > 0.9"]
    page.wait_for_selector("#status:has-text('1 runs')")

    page.fill("#filter-expr", "metrics.best_val_accuracy >")
    page.press("#filter-expr", "Enter")
    page.wait_for_selector("#status:has-text(\"expected a value after '>'\")")

    # A reload keeps the expression from the URL.
    page.goto(live_server + "/?filter=" + "notes%20LIKE%20%27keep%25%27")
    wait_ready(page)
    assert page.input_value("#filter-expr") == "notes LIKE 'keep%'"
    page.wait_for_selector("#status:has-text('1 runs')")
