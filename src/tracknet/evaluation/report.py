"""Evaluation report: metrics table, efficiency against pT and eta, fake and duplicate
rates against eta, build time per event; Markdown, HTML, JSON and PNG (matplotlib).

Several algorithms evaluated on the same events (TrackNET and the classical baseline,
say) share one report: one column each in the table, one curve each in the plots.
Everything is written to temporary files and renamed when all of them are complete.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from tracknet.errors import DataError
from tracknet.evaluation import names
from tracknet.evaluation.evaluate import DirectoryEvaluation
from tracknet.evaluation.matching import ParticleSelection, efficiency_binned
from tracknet.io.atomic import atomic_paths
from tracknet.io.straw import sha256_file

__all__ = [
    "ETA_EDGES",
    "PT_EDGES_GEV",
    "ReportEntry",
    "build_meta_path",
    "build_seconds",
    "check_report_dir",
    "rate_binned",
    "read_build_meta",
    "write_report",
]

#: Efficiency numerators plotted per algorithm, with their line styles.
_NUMERATOR_STYLES: tuple[tuple[Literal["found", "perfect"], str], ...] = (
    ("found", "o-"),
    ("perfect", "s--"),
)

PT_EDGES_GEV: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0)
ETA_EDGES: tuple[float, ...] = tuple(np.round(np.arange(-4.0, 4.01, 0.5), 2))
_PLOTS = ("efficiency_pt.png", "efficiency_eta.png", "fake_duplicate_eta.png")


@dataclass(frozen=True)
class ReportEntry:
    """One algorithm's evaluation, and its build time per event (seconds) when known."""

    name: str
    evaluation: DirectoryEvaluation
    build_seconds: dict[int, float] = field(default_factory=dict)


def check_report_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as a path, if a report can be written there: an existing directory, or
    a new one in an existing directory. Raises :class:`~tracknet.errors.DataError`."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DataError("report path exists and is not a directory", file=str(out))
    parent = out.absolute().parent
    if not out.exists() and not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise DataError(f"the report directory's parent {parent} {what}", file=str(out))
    return out


def build_meta_path(submission: str | os.PathLike[str]) -> Path:
    """Where ``tracknet build`` records its timings: ``SUB.csv`` -> ``SUB.build.json``."""
    path = Path(submission)
    return path.with_name(path.name.split(".")[0] + ".build.json")


def read_build_meta(submission: str | os.PathLike[str]) -> dict[str, Any]:
    """The build record beside a submission, or ``{}`` when there is none to trust.

    A record is trusted only when it is a JSON object whose ``submission_sha256`` is the
    SHA-256 of the submission file: a record left by another build (an interrupted one,
    an older version without the checksum, or a submission written by something else)
    is ignored.
    """
    path = build_meta_path(submission)
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("submission_sha256") != sha256_file(
            submission
        ):
            return {}
    except (ValueError, OSError):
        return {}
    return dict(record)


def build_seconds(meta: dict[str, Any]) -> dict[int, float]:
    """The build seconds per event of a build record (entries that are not an event id
    and a finite number are left out)."""
    raw = meta.get("seconds_per_event")
    if not isinstance(raw, dict):
        return {}
    seconds: dict[int, float] = {}
    for key, value in raw.items():  # one entry per event
        try:
            event, time = int(key), float(value)
        except (TypeError, ValueError, OverflowError):
            continue
        if math.isfinite(time):
            seconds[event] = time
    return seconds


def rate_binned(
    per_track: pd.DataFrame, variable: str, edges: Sequence[float], numerator: str, denominator: str
) -> pd.DataFrame:
    """``numerator / denominator`` (boolean track columns) in bins of ``variable``."""
    edges_array = np.asarray(edges, dtype=np.float64)
    base = per_track.loc[per_track[denominator].to_numpy(dtype=bool)]
    index = (
        np.searchsorted(edges_array, base[variable].to_numpy(dtype=np.float64), side="right") - 1
    )
    inside = (index >= 0) & (index < len(edges_array) - 1)
    n_bins = len(edges_array) - 1
    total = np.bincount(index[inside], minlength=n_bins)
    hits = np.bincount(
        index[inside], weights=base[numerator].to_numpy(dtype=np.float64)[inside], minlength=n_bins
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(total > 0, hits / np.maximum(total, 1), np.nan)
        error = np.where(total > 0, np.sqrt(rate * (1 - rate) / np.maximum(total, 1)), np.nan)
    return pd.DataFrame(
        {
            "bin_low": edges_array[:-1],
            "bin_high": edges_array[1:],
            "n_total": total,
            "n_pass": hits.astype(np.int64),
            "rate": rate,
            "error": error,
        }
    )


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _metric_rows(entries: Sequence[ReportEntry]) -> list[tuple[str, list[str]]]:
    keys = [
        k
        for k in (*names.METRIC_NAMES, names.TRACKML_SCORE_MIN_PT)
        if any(k in e.evaluation.summary for e in entries)
    ]
    rows = [(names.label(k), [_fmt(e.evaluation.summary.get(k)) for e in entries]) for k in keys]
    if any(e.build_seconds for e in entries):
        rows.append(
            (
                "Build time per event (s)",
                [
                    _fmt(float(np.mean(list(e.build_seconds.values()))))
                    if e.build_seconds
                    else "n/a"
                    for e in entries
                ],
            )
        )
    return rows


def _plot(
    entries: Sequence[ReportEntry], selection: ParticleSelection, paths: dict[str, Path]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]

    def centres(table: pd.DataFrame) -> np.ndarray:
        low, high = table["bin_low"].to_numpy(), table["bin_high"].to_numpy()
        return np.where(np.isfinite(high), 0.5 * (low + high), low)

    for variable, edges, filename, xlabel in (
        ("pt", PT_EDGES_GEV, "efficiency_pt.png", "particle $p_T$ [GeV]"),
        ("eta", ETA_EDGES, "efficiency_eta.png", r"particle $\eta$"),
    ):
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
        for i, entry in enumerate(entries):
            for matched_by, style in _NUMERATOR_STYLES:
                table = efficiency_binned(
                    entry.evaluation.per_particle, variable, edges, numerator=matched_by
                )
                keep = table["n_total"].to_numpy() > 0
                match_name = "double majority" if matched_by == "found" else "perfect match"
                ax.errorbar(
                    centres(table)[keep],
                    table["efficiency"].to_numpy()[keep],
                    yerr=table["error"].to_numpy()[keep],
                    fmt=style,
                    color=colours[i % len(colours)],
                    ms=4,
                    capsize=2,
                    label=f"{entry.name}: {match_name}",
                )
        if variable == "pt":
            from matplotlib.ticker import NullFormatter, ScalarFormatter

            ax.set_xscale("log")
            ax.set_xticks([0.5, 1, 2, 5, 10, 20, 50])
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(0.0, 1.05)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("efficiency")
        ax.set_title(f"Efficiency (pT >= {selection.min_pt} GeV, >= {selection.min_hits} hits)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(paths[filename], format="png")
        plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), dpi=110)
    for i, entry in enumerate(entries):
        tracks = entry.evaluation.per_track
        if "eta" not in tracks.columns or tracks.empty:
            continue
        matched_sel = tracks.assign(
            matched_selected=tracks["matched"].to_numpy() & tracks["majority_selected"].to_numpy()
        )
        for ax, (numerator, denominator, title) in zip(
            axes,
            (
                ("fake", "considered", "Fake rate"),
                ("duplicate", "matched_selected", "Duplicate rate"),
            ),
            strict=True,
        ):
            table = rate_binned(matched_sel, "eta", ETA_EDGES, numerator, denominator)
            keep = table["n_total"].to_numpy() > 0
            ax.errorbar(
                centres(table)[keep],
                table["rate"].to_numpy()[keep],
                yerr=table["error"].to_numpy()[keep],
                fmt="o-",
                ms=4,
                capsize=2,
                color=colours[i % len(colours)],
                label=entry.name,
            )
            ax.set_title(title)
            ax.set_xlabel(r"track $\eta$ (centroid of its hits)")
            ax.grid(alpha=0.3)
    for ax in axes:
        # Limits after every curve is drawn; a rate of zero everywhere still shows a scale.
        top = max(
            [
                0.05,
                *[
                    float(np.nanmax(line.get_ydata()))
                    for line in ax.get_lines()
                    if len(line.get_ydata())
                ],
            ]
        )
        ax.set_ylim(0.0, 1.15 * top)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(paths["fake_duplicate_eta.png"], format="png")
    plt.close(fig)


def write_report(
    out_dir: str | os.PathLike[str],
    entries: Sequence[ReportEntry],
    *,
    selection: ParticleSelection,
    title: str = "TrackNET evaluation",
    notes: Sequence[str] = (),
) -> Path:
    """Write ``report.md``, ``report.html``, ``metrics.json`` and the PNG plots into
    ``out_dir``; return the path of ``report.md``."""
    out = check_report_dir(out_dir)
    rows = _metric_rows(entries)
    selection_text = (
        f"pT >= {selection.min_pt} GeV"
        + (f", pT < {selection.max_pt} GeV" if math.isfinite(selection.max_pt) else "")
        + f", at least {selection.min_hits} hits"
        + (f", |eta| <= {selection.max_abs_eta}" if math.isfinite(selection.max_abs_eta) else "")
        + (", primaries only" if selection.primaries_only else "")
    )
    n_events = max(int(e.evaluation.summary.get(names.N_EVENTS) or 0) for e in entries)
    header = ["metric", *[e.name for e in entries]]
    md = [
        f"# {title}",
        "",
        f"{n_events} event(s). Particles selected for the efficiencies: {selection_text}.",
        "",
    ]
    md += [f"{note}" for note in notes] + ([""] if notes else [])
    md += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join([label, *cells]) + " |" for label, cells in rows]
    md += [
        "",
        "Definitions: see `tracknet.evaluation.matching` (double majority, perfect match, "
        "fake and duplicate rates).",
        "",
    ]
    for name, caption in zip(
        _PLOTS,
        ("Efficiency against pT", "Efficiency against eta", "Fake and duplicate rates against eta"),
        strict=True,
    ):
        md += [f"## {caption}", "", f"![{caption}]({name})", ""]
    table_html = "<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"
    for label, cells in rows:
        table_html += (
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in [label, *cells]) + "</tr>"
        )
    table_html += "</table>"
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
        + html.escape(title)
        + "</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{n_events} event(s). "
        "Particles selected for the efficiencies: "
        f"{html.escape(selection_text)}.</p>"
        + "".join(f"<p>{html.escape(n)}</p>" for n in notes)
        + table_html
        + "".join(
            f"<h2>{c}</h2><img src='{n}' alt='{c}'>"
            for n, c in zip(
                _PLOTS,
                (
                    "Efficiency against pT",
                    "Efficiency against eta",
                    "Fake and duplicate rates against eta",
                ),
                strict=True,
            )
        )
        + "</body></html>"
    )
    metrics = {
        "selection": {
            "min_pt_gev": selection.min_pt,
            "min_hits": selection.min_hits,
            "max_abs_eta": None
            if not math.isfinite(selection.max_abs_eta)
            else selection.max_abs_eta,
            "primaries_only": selection.primaries_only,
        },
        "algorithms": {
            e.name: {
                **{
                    k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in e.evaluation.summary.items()
                },
                "build_seconds_per_event": {str(k): v for k, v in sorted(e.build_seconds.items())}
                or None,
            }
            for e in entries
        },
    }
    finals = [
        out / "report.md",
        out / "report.html",
        out / "metrics.json",
        *(out / p for p in _PLOTS),
    ]
    with atomic_paths(finals) as temps:
        temps_by_name = dict(zip([p.name for p in finals], temps, strict=True))
        temps_by_name["report.md"].write_text("\n".join(md), encoding="utf-8")
        temps_by_name["report.html"].write_text(page, encoding="utf-8")
        temps_by_name["metrics.json"].write_text(
            json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        _plot(entries, selection, {p: temps_by_name[p] for p in _PLOTS})
    return out / "report.md"
