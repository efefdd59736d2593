"""`reglab report ID -o FILE` (and --pdf) against a real API, on a study with no trained runs."""

import httpx
import pytest

from reglab.cli import report as report_cli
from reglab.cli.main import main

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BASE = {"dataset": {"name": "digits", "validation_samples": 200}, "model": {"hidden_layers": [8]}, "training": {"epochs": 2}}


def create(url: str, name: str) -> int:
    body = {"name": name, "base": BASE, "grid": {"regularization.kernel_l2": [0.0, 0.01]}}
    response = httpx.post(f"{url}/api/experiments", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_report_writes_the_servers_file(live_server, tmp_path, capsys):
    study = create(live_server, "cli <report>")
    out = tmp_path / "study.html"
    assert main(["report", str(study), "-o", str(out), "--url", live_server]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text()
    assert "<h1 id=\"study-title\">cli &lt;report&gt;</h1>" in page
    assert "default-src 'none'" in page
    # The same bytes the endpoint answers, apart from the time it was written.
    served = httpx.get(f"{live_server}/api/experiments/{study}/report", timeout=60).text
    strip = lambda text: "".join(line for line in text.splitlines() if "report written" not in line)  # noqa: E731
    assert strip(page) == strip(served)

    assert main(["report", "999999", "-o", str(tmp_path / "missing.html"), "--url", live_server]) == 1
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "missing.html").exists()


def test_pdf_without_chromium_says_what_to_install(live_server, tmp_path, capsys, monkeypatch):
    study = create(live_server, "pdf")
    monkeypatch.setenv("PATH", str(tmp_path))  # no browser on this PATH
    assert main(["report", str(study), "--pdf", "-o", str(tmp_path / "s.pdf"), "--url", live_server]) == 2
    err = capsys.readouterr().err
    assert "apt-get install chromium" in err and "--chromium PATH" in err
    assert not (tmp_path / "s.pdf").exists()


@pytest.mark.slow
def test_pdf_is_printed_by_headless_chromium(live_server, chromium_path, tmp_path):
    study = create(live_server, "pdf study")
    out = tmp_path / "study.pdf"
    assert main(["report", str(study), "--pdf", "--chromium", chromium_path, "-o", str(out), "--url", live_server]) == 0
    data = out.read_bytes()
    assert data[:5] == b"%PDF-"
    # Page breaks between sections: more than one page.
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 3 or data.count(b"/Type/Page") >= 3
    assert report_cli.find_chromium(chromium_path) == chromium_path
