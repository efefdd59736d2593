"""The New study form edits conv blocks, and the API's refusals land next to them."""

import pytest

pytestmark = pytest.mark.browser


def test_conv_blocks_are_edited_and_checked_against_the_dataset(live_server, page):
    page.goto(live_server + "/new")
    page.wait_for_selector("body[data-ready='1']")
    page.select_option("#field-dataset-name", "imdb")
    page.click("#field-model-conv-add")
    page.wait_for_selector("#field-model-conv-0-filters")
    assert page.input_value("#field-model-conv-0-filters") == "32"
    error = page.locator("#error-model-conv")
    error.wait_for(state="visible")
    assert "needs an image dataset" in error.inner_text() and "imdb is not one" in error.inner_text()
    page.select_option("#field-dataset-name", "digits")
    page.fill("#field-dataset-validation_samples", "300")
    error.wait_for(state="hidden")
    page.fill("#field-model-conv-0-filters", "0")
    filters_error = page.locator("#error-model-conv-0-filters")
    filters_error.wait_for(state="visible")
    assert "≥ 1" in filters_error.inner_text()
    page.fill("#field-model-conv-0-filters", "8")
    page.fill("#field-model-conv-0-pool", "2")
    filters_error.wait_for(state="hidden")
    page.click("#field-model-conv-add")
    page.wait_for_selector("#field-model-conv-1-filters")
    page.click("[aria-label='remove conv 1']")
    page.wait_for_selector("#field-model-conv-1-filters", state="detached")
    assert page.input_value("#field-model-conv-0-pool") == ""
