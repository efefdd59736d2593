"""`reglab report ID [-o FILE] [--pdf]`: a study's self-contained HTML report, or a PDF of it.

It talks to the API only, through
``reglab.client.Client``; ``--pdf`` prints the file with headless Chromium.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from reglab.client import ApiError, Client

# Looked up on PATH in this order: Debian's, Google's and the snap's names.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
INSTALL_HINT = ("--pdf needs Chromium or Google Chrome on PATH, none found (looked for "
                + ", ".join(CHROMIUM_NAMES) + "). Install it, e.g. `sudo apt-get install chromium` on Debian/Ubuntu, "
                "`brew install --cask chromium` on macOS, or pass --chromium PATH; or open the HTML report "
                "and print it to PDF from the browser.")
PRINT_SECONDS = 120


def add_parser(subparsers) -> argparse.ArgumentParser:
    report = subparsers.add_parser(
        "report", help="save a study's report: one HTML file that opens offline (or --pdf)",
        description=__doc__.split("\n\n")[0],
    )  # fmt: skip
    report.add_argument("experiment", type=int, metavar="ID", help="the experiment (study) id")
    report.add_argument("-o", "--output", type=Path, default=None,
                        help="file to write (default reglab-study-ID.html, or .pdf with --pdf)")
    report.add_argument("--pdf", action="store_true", help="print the report to PDF with headless Chromium")
    report.add_argument("--chromium", default=None, help="the Chromium or Chrome binary for --pdf (default: found on PATH)")
    report.add_argument("--metric", default=None, help="summary metric the conditions are ranked by (default best_val_accuracy)")
    report.add_argument("--baseline", default=None, help="label of the baseline condition (default: the least regularized)")
    report.add_argument("--url", default=None, help="API base URL (default: REGLAB_URL)")
    report.add_argument("--token", default=None, help="API token (default: REGLAB_TOKEN)")
    report.set_defaults(func=cmd_report)
    return report


def find_chromium(given: str | None) -> str | None:
    if given:
        return shutil.which(given) or (given if Path(given).is_file() else None)
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def print_pdf(chromium: str, html: Path, pdf: Path) -> None:
    """Headless Chromium prints ``html`` once its charts are drawn (virtual time lets Plotly unpack and draw)."""
    with tempfile.TemporaryDirectory(prefix="reglab-pdf-") as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                   "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=15000",
                   f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()]
        done = subprocess.run(command, capture_output=True, text=True, timeout=PRINT_SECONDS, check=False)
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise RuntimeError(f"{chromium} could not print the report (exit {done.returncode}): {done.stderr.strip()[-500:]}")


def cmd_report(args) -> int:
    params = {key: value for key, value in (("metric", args.metric), ("baseline", args.baseline)) if value}
    try:
        with Client(url=args.url, token=args.token, timeout=120.0) as client:
            response = client.request("GET", f"/api/experiments/{args.experiment}/report", params=params)
    except ApiError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    suffix = ".pdf" if args.pdf else ".html"
    output = args.output or Path(f"reglab-study-{args.experiment}{suffix}")
    if not args.pdf:
        output.write_bytes(response.content)
        print(f"wrote {output} ({len(response.content) / 1e6:.1f} MB): open it in any browser, offline")
        return 0
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="reglab-report-") as directory:
        html = Path(directory) / f"reglab-study-{args.experiment}.html"
        html.write_bytes(response.content)
        try:
            print_pdf(chromium, html, output)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    print(f"wrote {output}")
    return 0
