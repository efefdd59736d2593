"""The report's HTML: one file holding its stylesheet, Plotly.js, its data and its script.

User text (names, descriptions, labels) is written through :func:`html.escape`;
the data goes in a ``<script type="application/json">`` with every ``<`` written
as ``\\u003c``, so no value can end the script element or open a comment. The
charts and the results table are drawn by the dashboard's own modules (bundled
by :mod:`backend.report.bundle`) from that JSON.

Plotly.js (4.8 MB) is inlined gzipped and base64-encoded (2 MB) and unpacked in
the browser with ``DecompressionStream``: with it a 256-run study stays under
5 MB. The CSP forbids every request (``default-src 'none'``), so the file works
offline and cannot call home.
"""

from __future__ import annotations

import base64
import gzip
import html
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from backend.pages import FRONTEND_DIR, PLOTLY_JS, plotly_js_version
from backend.report.bundle import bundle
from backend.responses import dumps

# Inline scripts and styles only; images as data:/blob: (Plotly's PNG export draws through them).
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
       "font-src data:; base-uri 'none'; form-action 'none'")

REPORT_CSS = """
body.report main { max-width: 1180px; }
.report-head h1 { margin-bottom: 4px; overflow-wrap: anywhere; }
.report-head .description { white-space: pre-wrap; }
.report section { margin-top: 22px; }
.report .kv th { text-align: left; color: var(--muted); font-weight: 500; white-space: nowrap; }
.report .kv td { overflow-wrap: anywhere; }
.report pre { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 10px 12px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.report .report-error { background: var(--error-bg); padding: 8px 12px; border-radius: 6px; }
.report .sort-button { cursor: pointer; }
@media print {
  body.report main { max-width: none; }
  .report section { break-before: page; margin-top: 0; }
  .report section.first { break-before: auto; }
  .report .modebar-container, .report button:not(.sort-button) { display: none !important; }
  .report .sort-button { border: 0; background: none; padding: 0; font: inherit; color: inherit; }
  .report figure.chart { break-inside: avoid; box-shadow: none; }
  .report pre { white-space: pre-wrap; }
  .chart-grid { grid-template-columns: 1fr 1fr; }
}
"""

# Unpacks Plotly, runs it, then tells the report's script (window.reglabPlotly resolves).
LOADER = """
window.reglabPlotly = (async () => {
  if (typeof DecompressionStream === "undefined") {
    throw new Error("this browser cannot unpack the report's charts (it needs DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+)");
  }
  const packed = document.getElementById("plotly-gzip").textContent.trim();
  const bytes = Uint8Array.from(atob(packed), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const script = document.createElement("script");
  script.textContent = await new Response(stream).text();
  document.head.append(script);
  return window.Plotly;
})();
"""


@lru_cache(maxsize=2)
def _packed_plotly(version: str) -> str:
    return base64.b64encode(gzip.compress(PLOTLY_JS.read_bytes(), 6, mtime=0)).decode("ascii")


def packed_plotly() -> str:
    """Plotly.js gzipped and base64-encoded: made once per process (~0.6 s), then cached."""
    return _packed_plotly(plotly_js_version())


def light_only(css: str) -> str:
    """The stylesheet without its dark-mode blocks: a report reads the same on every screen and on paper."""
    out, start = [], 0
    marker = "@media (prefers-color-scheme: dark)"
    while (found := css.find(marker, start)) != -1:
        out.append(css[start:found])
        depth, i = 0, css.index("{", found)
        while True:
            depth += {"{": 1, "}": -1}.get(css[i], 0)
            i += 1
            if depth == 0:
                break
        start = i
    out.append(css[start:])
    return "".join(out)


def inline_script(source: str) -> str:
    if "</script" in source.lower():
        raise ValueError("a bundled module contains '</script', which would end its inline script")
    return source


def json_script(data: Any) -> str:
    """``data`` as JSON that is safe inside ``<script type="application/json">``."""
    return dumps(data).decode("utf-8").replace("<", "\\u003c")


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _value(value: Any) -> str:
    """A spec value as the Study page shows it: compact JSON for lists and objects."""
    if isinstance(value, (dict, list)):
        return dumps(value).decode("utf-8")
    if value is None:
        return "null"
    return str(value)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "\n".join(f'<tr><th scope="row">{e(key)}</th><td>{value}</td></tr>' for key, value in pairs)


def environment_section(data: dict[str, Any]) -> str:
    env = data["environment"]
    runs = data["runs"]
    states: dict[str, int] = {}
    for run in runs:
        states[run["state"]] = states.get(run["state"], 0) + 1
    dataset = env["dataset"]
    sha = (f'<span class="mono">{e(dataset["sha256"])}</span>' if dataset["sha256"]
           else "none recorded: a built-in dataset, loaded by Keras or scikit-learn")
    varied = "".join(f"; varied by the grid: {e(key)} = {e(_value(values))}" for key, values in dataset["varied"].items())
    places = "<br>".join(
        f'{e(p["backend"])} on {e(p["device"])}, host {e(p["host"])} ({p["runs"]} run{"s" if p["runs"] != 1 else ""})'
        for p in env["places"]) or "no run has recorded it"
    backends = sorted({p["backend"] for p in env["places"]}) or ["no run has recorded it"]
    pairs = [
        ("Study", f'#{data["experiment"]["id"]}, created {e(env["created_at"])}'),
        ("Ran", f'{e(env["first_start"] or "not started")} to {e(env["last_finish"] or "not finished")}'),
        ("Runs", f'{len(runs)}: ' + e(", ".join(f"{n} {state}" for state, n in sorted(states.items())))),
        ("Dataset", f'<span class="mono">{e(dataset["name"])}</span>{varied}'),
        ("Dataset sha256", sha),
        ("Keras backend", e(", ".join(backends))),
        ("Hardware", places),
        ("Keras version", "not recorded by the runs"),
        ("RegLab", f'{e(env["reglab_version"])} (the server that wrote this report; the runs do not record theirs)'),
    ]
    return (f'<section id="about" class="first" aria-labelledby="about-title"><h2 id="about-title">When and where it ran</h2>'
            f'<div class="table-wrap"><table class="data kv">{_rows(pairs)}</table></div></section>')


def design_section(data: dict[str, Any]) -> str:
    experiment = data["experiment"]
    replicates = set(experiment["replicates"] or [])
    if experiment["search"]:
        search = experiment["search"]
        rows = []
        for key, dim in search.get("space", {}).items():
            kind, values = next(((k, v) for k, v in dim.items() if v is not None), ("?", []))
            text = ", ".join(map(_value, values)) if kind == "choice" else f'{kind.replace("_", "-")} [{", ".join(map(_value, values))}]'
            rows.append((key, text, "searched"))
        title = "Search space"
        note = (f'<p class="muted small">{e(search.get("method"))} search, {e(search.get("trials"))} trials, '
                f'objective {e((search.get("objective") or {}).get("metric"))}</p>')
    else:
        rows = [(key, ", ".join(map(_value, values)), "replicate" if key in replicates else "factor")
                for key, values in (experiment["grid"] or {}).items()]
        title, note = "Grid", ""
    body = "\n".join(f'<tr><th scope="row" class="mono">{e(k)}</th><td class="mono">{e(v)}</td><td>{e(r)}</td></tr>'
                     for k, v, r in rows) or '<tr><td colspan="3" class="muted">No grid: one run.</td></tr>'
    return (f'<section id="design" aria-labelledby="design-title"><h2 id="design-title">{title}</h2>{note}'
            '<div class="table-wrap"><table class="data grid-table"><thead><tr><th scope="col">Field</th>'
            f'<th scope="col">Values</th><th scope="col">Role</th></tr></thead><tbody>{body}</tbody></table></div></section>')


def results_section(data: dict[str, Any]) -> str:
    analysis = data["analysis"]
    notes = [analysis["reason"], f'ranked by {analysis["metric"]}',
             f'baseline {analysis["baseline"]}' if analysis["baseline"] else None,
             "95 % confidence intervals" if analysis["band"] == "ci95" else "bands ± 1 std",
             f'replicate fields: {", ".join(analysis["replicate_fields"])}',
             f'{analysis["running"]} runs still running' if analysis["running"] else None]
    return (
        '<section id="results" aria-labelledby="results-title"><h2 id="results-title">Results by condition</h2>'
        f'<p class="muted small">{e(" · ".join(n for n in notes if n))}</p>'
        '<div class="table-wrap"><table id="results-table" class="data results"></table></div>'
        '<h3>Best condition</h3><div id="best-condition" class="best-condition"></div></section>'
    )


CHART_SECTIONS = """
<section id="path" aria-labelledby="path-title"><h2 id="path-title">Regularization path</h2>
<figure class="chart"><div id="path-chart" class="plot" data-chart="path"></div></figure></section>
<section id="curves" aria-labelledby="curves-title"><h2 id="curves-title">Curves by condition</h2>
<p class="muted small">Each condition's mean over its runs, with its band; every epoch as recorded.</p>
<div id="curve-charts" class="chart-grid"></div></section>
"""


def importance_section(data: dict[str, Any]) -> str:
    ranking = data["importance"]
    if not ranking or not ranking["importances"]:
        return ""
    return ('<section id="importance" aria-labelledby="importance-title"><h2 id="importance-title">Hyperparameter importance</h2>'
            '<p id="importance-reason" class="muted small"></p>'
            '<figure class="chart"><div id="importance-chart" class="plot importance-bars" data-chart="importance"></div></figure></section>')


def pruning_section(data: dict[str, Any]) -> str:
    pruning = data["pruning"]
    pruner = data["experiment"]["pruner"]
    if not pruning or not pruner:
        return ""
    return ('<section id="pruning" aria-labelledby="pruning-title"><h2 id="pruning-title">Pruning</h2>'
            f'<p id="pruning-savings">{e(pruner.get("name"))} pruning on {e(pruner.get("metric"))} stopped '
            f'{pruning["pruned_runs"]} run{"s" if pruning["pruned_runs"] != 1 else ""} early and saved '
            f'{pruning["epochs_saved"]} epochs of training.</p></section>')


def reproduce_section(data: dict[str, Any]) -> str:
    reproduce = data["reproduce"]
    curl = ('curl -X POST "$REGLAB_URL/api/experiments" -H "Content-Type: application/json" \\\n'
            '  -H "Authorization: Bearer $REGLAB_TOKEN" --data @study.json')
    submit = ("reglab submit study.json --wait" if reproduce["submit_ok"] else
              "# reglab submit reads name, description, tags, base and grid only: use curl for this study's "
              "search, pruner or replicates")
    return (
        '<section id="reproduce" aria-labelledby="reproduce-title"><h2 id="reproduce-title">Reproduce</h2>'
        '<p>Save the study below as <span class="mono">study.json</span> and submit it to a RegLab server '
        '(<span class="mono">REGLAB_URL</span>, <span class="mono">REGLAB_TOKEN</span> where it asks for one): '
        'it queues the same runs with the same complete specs, seeds included.</p>'
        '<p><button type="button" id="save-study" class="secondary">Save study.json</button></p>'
        f'<pre id="study-json" class="mono">{e(reproduce["json"])}</pre>'
        f'<pre id="curl-command" class="mono">{e(curl)}</pre>'
        f'<pre id="submit-command" class="mono">{e(submit)}</pre></section>'
    )


def render(data: dict[str, Any]) -> str:
    """The report of ``data`` (from :func:`backend.report.service.report_data`) as one HTML document."""
    experiment = data["experiment"]
    css = light_only((FRONTEND_DIR / "css" / "reglab.css").read_text(encoding="utf-8"))
    generated = datetime.now(UTC).replace(microsecond=0).isoformat()
    description = f'<p class="description">{e(experiment["description"])}</p>' if experiment["description"] else ""
    tags = f'<p class="muted small">tags: {e(", ".join(experiment["tags"]))}</p>' if experiment["tags"] else ""
    return "".join([
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta name="color-scheme" content="light">\n',
        f'<meta name="generator" content="RegLab {e(data["environment"]["reglab_version"])}">\n',
        f'<title>{e(experiment["name"])} · RegLab report</title>\n',
        f"<style>{css}\n:root {{ color-scheme: light; }}\n{REPORT_CSS}</style>\n</head>\n",
        '<body class="report">\n<main>\n<header class="report-head">',
        f'<h1 id="study-title">{e(experiment["name"])}</h1>{description}{tags}',
        f'<p class="muted small">RegLab study #{experiment["id"]} · report written {generated} · '
        f'Plotly.js {e(plotly_js_version())} inlined: this file makes no request</p>',
        '<p id="report-status" class="report-error" hidden></p></header>\n',
        environment_section(data), design_section(data), results_section(data), CHART_SECTIONS,
        importance_section(data), pruning_section(data), reproduce_section(data),
        '\n</main>\n',
        f'<script type="application/json" id="report-data">{json_script(data)}</script>\n',
        f'<script type="application/gzip-base64" id="plotly-gzip">{packed_plotly()}</script>\n',
        f"<script>{LOADER}</script>\n<script>{inline_script(bundle('report'))}</script>\n</body>\n</html>\n",
    ])
