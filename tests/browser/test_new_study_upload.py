"""Uploading a dataset from the New study page makes it the study's dataset."""

import io

import httpx
import numpy as np
import pytest

pytestmark = pytest.mark.browser


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_upload_panel_adds_the_dataset_and_reports_refusals(live_server, page):
    page.goto(live_server + "/new")
    page.wait_for_selector("body[data-ready='1']")
    status = page.locator(".upload-status")
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1], [2, 3]]
    page.set_input_files("#upload-file", files=[{"name": "evil.npz", "mimeType": "application/octet-stream",
                                                 "buffer": npz_bytes(x_train=ragged, y_train=np.array([0, 1]))}])
    page.click("#upload-submit")
    page.wait_for_function("document.querySelector('.upload-status').textContent.startsWith('Not uploaded')")
    assert "object array" in status.inner_text()

    x = np.random.default_rng(0).integers(0, 255, (40, 6, 6)).astype("uint8")
    page.set_input_files("#upload-file", files=[{"name": "mine.npz", "mimeType": "application/octet-stream",
                                                 "buffer": npz_bytes(x_train=x, y_train=np.arange(40) % 2)}])
    page.fill("#upload-name", "<b>mine</b>")
    page.click("#upload-submit")
    page.wait_for_function("document.querySelector('.upload-status').textContent.startsWith('Uploaded')")
    record = httpx.get(f"{live_server}/api/datasets").json()["items"][0]
    assert page.input_value("#field-dataset-name") == record["ref"]
    option = page.locator(f"#field-dataset-name option[value='{record['ref']}']")
    assert option.inner_text().startswith("<b>mine</b> (6×6, 2 classes, 32 train)")  # shown as text
    page.fill("#field-dataset-validation_samples", "8")
    page.wait_for_timeout(800)
    assert page.locator("#error-dataset").inner_text() == ""
    assert page.locator("#error-dataset-name").inner_text() == ""
