"""Draw RegLab against MLflow on the shared tracking workload as an SVG for the benchmarks page.

The figures are the ones measured with ``bash ../shared/bench/run_reglab.sh . 1``
and ``bash ../shared/bench/run_mlflow.sh 1`` at full scale, in two sittings
(docs/benchmarks.md has them in tables, with how they were measured). Each bar
is how many times better RegLab's figure is than MLflow's: MLflow ÷ RegLab for
times, CPU and sizes, RegLab ÷ MLflow for throughputs, on a log axis.

Plain SVG written here, so the plot needs nothing beyond the standard library:
    python bench/plot_shared.py [--out docs/img/shared-vs-mlflow.svg]
"""

from __future__ import annotations

import argparse
import math
from html import escape
from pathlib import Path

# measure, higher is better, (RegLab, MLflow) on the faster host, (RegLab, MLflow) on the quiet machine
MEASURES: list[tuple[str, bool, tuple[float, float], tuple[float, float] | None]] = [
    ("creating runs (runs/s)", True, (550, 68), (161, 30)),
    ("epoch ingest, 1 client (points/s)", True, (7_495, 838), (5_124, 363)),
    ("epoch ingest, server CPU a request", False, (0.45, 6.1), (0.63, 14.0)),
    ("epoch ingest, 8 clients (points/s)", True, (15_463, 762), (7_346, 325)),
    ("epoch ingest, 8 clients, p95", False, (6.5, 201), (15, 582)),
    ("step batches (points/s)", True, (414_715, 13_902), (141_750, 6_006)),
    ("step batches, server CPU a point", False, (1.9, 70), (5.4, 163)),
    ("compare 20 runs × 6 metrics, p50", False, (4.4, 95), (11, 214)),
    ("compare 100 runs × 2 metrics, p50", False, (7.6, 180), (16, 458)),
    ("step series to 320 points", False, (6.9, 1_326), (15, 2_605)),
    ("raw step series (400,000 points)", False, (62, 10_050), None),  # MLflow ran out of the script's time
    ("runs list, 100 runs", False, (5.9, 47), (14, 101)),
    ("runs list, 1,000 runs", False, (20, 574), (50, 1_239)),
    ("runs list, first 100 of 1,000", False, (3.8, 48), (9, 81)),
    ("database size", False, (7.6, 119), (7.5, 119)),
]
SITTINGS = (("faster host, load 1.1–1.3", "#3b5ba5"), ("quiet machine, load 1.3", "#e8833a"))


def ratio(higher_is_better: bool, pair: tuple[float, float]) -> float:
    reglab, mlflow = pair
    return reglab / mlflow if higher_is_better else mlflow / reglab


def svg(measures=MEASURES) -> str:
    label_w, plot_w, right = 290, 520, 70
    top, row_h, bar_h = 58, 34, 12
    width = label_w + plot_w + right
    height = top + row_h * len(measures) + 46
    lo, hi = 1.0, 300.0
    x = lambda value: label_w + plot_w * math.log10(value / lo) / math.log10(hi / lo)  # noqa: E731
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="20" font-size="14" font-weight="bold">RegLab against MLflow 3.17.2, the shared workload at full scale</text>',
        f'<text x="12" y="38" fill="#555">times better (MLflow ÷ RegLab; throughputs RegLab ÷ MLflow), log scale; SQLite, one uvicorn worker</text>',
    ]
    axis_bottom = top + row_h * len(measures)
    for tick in (1, 3, 10, 30, 100, 300):
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{axis_bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_bottom + 16}" text-anchor="middle" fill="#555">{tick}×</text>')
    for index, (label, higher, *pairs) in enumerate(measures):
        y0 = top + index * row_h
        out.append(f'<text x="{label_w - 10}" y="{y0 + row_h / 2 + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        for offset, (pair, (_, colour)) in enumerate(zip(pairs, SITTINGS, strict=True)):
            by = y0 + 4 + offset * (bar_h + 2)
            if pair is None:
                out.append(f'<text x="{label_w + 4}" y="{by + bar_h - 2}" fill="{colour}" font-size="11">MLflow ran out of the script\'s time</text>')
                continue
            value = ratio(higher, pair)
            bar_end = x(max(value, lo))
            out.append(f'<rect x="{label_w}" y="{by}" width="{bar_end - label_w:.1f}" height="{bar_h}" fill="{colour}"/>')
            out.append(f'<text x="{bar_end + 4:.1f}" y="{by + bar_h - 2}" font-size="11" fill="#333">{value:.1f}×</text>')
    legend_y = height - 12
    for offset, (name, colour) in enumerate(SITTINGS):
        lx = label_w + offset * 240
        out.append(f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 18}" y="{legend_y}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "img" / "shared-vs-mlflow.svg")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg())
    for label, higher, faster, quiet in MEASURES:
        shown = [f"{ratio(higher, pair):.1f}×" if pair else "–" for pair in (faster, quiet)]
        print(f"{label:40s} {shown[0]:>8s} {shown[1]:>8s}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
