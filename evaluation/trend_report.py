"""Writing `stancetag trends` out: a terminal table, trends.csv / trends.parquet (one row per group
and label, raw and corrected side by side), trends.json (settings, the calibration set and the
model's error rates on it) and trends.png (one panel per topic, tone as colour, interval bands)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from stancetag.evaluation.trends import TrendResult
from stancetag.paths import OutputKind, check_output, holds_files
from stancetag.writers import csv_safe_text, publish_directory, render_json, staging_directory

CSV_FILE = "trends.csv"
PARQUET_FILE = "trends.parquet"
JSON_FILE = "trends.json"
FIGURE_FILE = "trends.png"
DPI = 110
MAX_ROWS_IN_FIGURE = 4  # with --by, the figure shows the values with the most sentences
TONE_COLOURS = {"cooperative": "#2a9d8f", "contentious": "#d62828", "neutral": "#6c757d"}
PALETTE = ["#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
TRENDS_FOLDER = OutputKind("trends folder", folder=True, is_own=holds_files(JSON_FILE, CSV_FILE))


def _interval(row: dict[str, Any]) -> str:
    if row["corrected_low"] is None:
        return "(no correction)"
    return f"[{row['corrected_low']:.2f}, {row['corrected_high']:.2f}]"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def terminal_table(result: TrendResult) -> str:
    """Topics and tones per group (the topic x tone pairs are in the CSV)."""
    s = result.summary
    cal = s["calibration"]
    unit = result.options.unit
    by = list(result.options.by)
    lines = [
        f"share of {unit}s per {result.options.period if result.options.period != 'none' else 'group'}: raw (what "
        f"the tags say) and corrected for the model's error rates ({s['method']}), {int(s['level'] * 100)}% "
        f"intervals from {s['resamples']} bootstrap resamples of articles",
        f"model {s['model']}; error rates measured on {cal['path']} ({cal['origin']}): {cal['sentences']} "
        f"sentences in {cal['articles']} articles",
        "",
    ]
    width = max([len(r["period"]) for r in result.rows] + [6])
    by_width = [max([len(str(r[c])) for r in result.rows] + [len(c)]) for c in by]
    head = f"{'period':<{width}}  " + "".join(f"{c:<{w}}  " for c, w in zip(by, by_width, strict=True))
    lines.append(head + f"{'articles':>8}  {'sentences':>9}  {'label':<16}{'raw':>6}  {'corrected':>9}  interval")
    previous = None
    for row in result.rows:
        if row["kind"] == "topic_tone":
            continue
        group = (row["period"], *(row[c] for c in by))
        first = group != previous
        previous = group
        cells = f"{row['period']:<{width}}  " + "".join(
            f"{str(row[c]):<{w}}  " for c, w in zip(by, by_width, strict=True)
        )
        counts = f"{row['articles']:>8}  {row['sentences']:>9}  "
        if not first:
            cells, counts = " " * len(cells), " " * len(counts)
        lines.append(
            f"{cells}{counts}{row['label']:<16}{row['raw_share']:>6.2f}  {_number(row['corrected_share']):>9}  "
            f"{_interval(row)}"
        )
    return "\n".join(lines) + "\n"


def csv_rows(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(
        {k: "" if v is None else csv_safe_text(v) if isinstance(v, str) else v for k, v in row.items()} for row in rows
    )
    return buffer.getvalue()


def write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)


def _colours(tones: tuple[str, ...]) -> dict[str, str]:
    spare = iter(PALETTE)
    return {t: TONE_COLOURS.get(t) or next(spare) for t in tones}


def _column(points: list[dict[str, Any]], key: str) -> np.ndarray:
    return np.array([np.nan if row[key] is None else row[key] for row in points], dtype=float)


def trend_figure(result: TrendResult, path: Path) -> None:
    """One panel per topic (a row each; with --by, a column per value, the values with the most
    sentences first), tone as colour: each line is the corrected share of the topic x tone pair with
    its interval band; black: the topic in any tone, its raw share dotted. Every share is of all the
    sentences (or articles) of the period."""
    options, rows = result.options, result.rows
    by = list(options.by)
    volume: dict[tuple, int] = {}
    for row in rows:
        if row["kind"] == "topic":
            key = tuple(row[c] for c in by)
            volume[key] = volume.get(key, 0) + row["sentences"]
    shown = sorted(volume, key=lambda k: -volume[k])[:MAX_ROWS_IN_FIGURE]
    topics, tones = result.topics, result.tones
    colours = _colours(tones)
    timeline = options.period != "none"
    width = 10.0 if len(shown) == 1 else 5.0 * len(shown)
    figure = Figure(figsize=(width, 0.8 + 2.6 * len(topics)), layout="constrained")
    axes = figure.subplots(len(topics), len(shown), squeeze=False, sharex=True)
    for c, key in enumerate(shown):
        subset = [row for row in rows if tuple(row[col] for col in by) == key]
        for r, topic in enumerate(topics):
            ax = axes[r][c]
            top = 0.0
            series = [(tone, colours[tone], f"{topic}+{tone}") for tone in tones] + [("any tone", "black", topic)]
            for name, colour, label in series:
                points = [row for row in subset if row["label"] == label]
                x = (
                    np.array([np.datetime64(row["period_start"]) for row in points])
                    if timeline
                    else np.arange(len(points))
                )
                high = _column(points, "corrected_high")
                total = name == "any tone"
                ax.fill_between(x, _column(points, "corrected_low"), high, color=colour, alpha=0.10, linewidth=0)
                ax.plot(
                    x,
                    _column(points, "corrected_share"),
                    color=colour,
                    linewidth=2.2 if total else 1.4,
                    marker="o",
                    markersize=3,
                    label=f"{topic}, any tone" if total else f"{topic} + {name}",
                )
                if total:
                    ax.plot(x, _column(points, "raw_share"), color=colour, linewidth=1, linestyle=":", label="raw tags")
                top = max(top, float(np.nanmax(high)) if np.isfinite(high).any() else 0.0)
            if timeline:
                locator = AutoDateLocator(maxticks=8)
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
            else:
                ax.set_xticks(range(len(points)), [row["period"] for row in points])
            heading = (
                topic if not by else f"{topic}: " + ", ".join(f"{col}={v}" for col, v in zip(by, key, strict=True))
            )
            ax.set_title(heading, fontsize=10, loc="left")
            ax.set_ylim(0, min(1.0, top * 1.05 + 0.02))
            ax.grid(alpha=0.3)
            if c == 0:
                ax.set_ylabel(f"share of {options.unit}s")
            if c == len(shown) - 1:
                ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    cal = result.summary["calibration"]
    figure.suptitle(
        f"Share of {options.unit}s per {options.period if timeline else 'group'}, corrected for the model's error "
        f"rates ({options.method.upper()})\nbands: {int(options.level * 100)}% intervals; rates measured on "
        f"{cal['path']} ({cal['sentences']} sentences); dotted: raw tag counts",
        fontsize=10,
    )
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=DPI)


def write_trends(result: TrendResult, output_dir: Path, *, force: bool = False) -> list[str]:
    """Write every file into a staging folder beside `output_dir`, then move it into place.

    `output_dir` must be new, empty or earlier trends (`force`: anything else, replaced after success).
    """
    check_output(output_dir, TRENDS_FOLDER, option="--output-dir", force=force)
    staging = staging_directory(output_dir)
    try:
        (staging / CSV_FILE).write_text(csv_rows(result.rows), encoding="utf-8", newline="")
        write_parquet(result.rows, staging / PARQUET_FILE)
        (staging / JSON_FILE).write_text(render_json(result.summary), encoding="utf-8")
        trend_figure(result, staging / FIGURE_FILE)
        written = sorted(p.name for p in staging.iterdir())
        publish_directory(staging, output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written
