"""The simulation at a glance: per candidate key, data per shard against the even share, with what makes it bad.

One drawing, two renderers: SVG (and HTML around it) written here with no
dependency, PNG through matplotlib when it is installed.  Every colour has a
legend entry with a word and a pattern of its own, the even share is a dashed
line, the labels are measured so that they fit, and the title says how many
documents were sampled, over how many shards, and when.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

__all__ = ["write_simulation_plot", "value_text", "panels"]

_FONT, _CHAR = 12, 7.2  # font size and the width of a character at that size (sans-serif, generous)
_BAR, _GAP, _SCALE = 16, 6, 420  # bar height, gap, and the width of 100% in pixels
_COLOURS = {"even": "#2f6f3e", "over": "#c0392b", "data": "#4c78a8", "recent": "#f2a541"}


def value_text(value: Any) -> str:
    """A key value as a person reads it: dates in ISO form, strings quoted."""
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, str):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Panel:
    """One candidate key: its label, data shares per shard, and the facts printed under it."""

    label: str
    shares: tuple[float, ...]
    recent: tuple[float, ...]  # share of the most recent inserts per shard
    facts: str
    verdict: str


def panels(report: Any) -> list[Panel]:
    found = []
    for candidate in report.candidates:
        total = sum(candidate.bytes_per_shard) or 1
        label = "{" + ", ".join(f"{name}: {kind}" for name, kind in candidate.key.items()) + "}"
        monotonic = candidate.monotonicity + (f" (r = {candidate.correlation:.2f})" if candidate.correlation is not None else "")
        top = ""
        if candidate.most_common and candidate.most_common[0][1] > 1:
            value, count = candidate.most_common[0]
            shown = ", ".join(value_text(v) for v in value.values())[:30]
            top = f" · most common: {shown} ({count / max(report.documents, 1):.0%})"
        facts = (f"{candidate.cardinality:,} distinct values{top} · {monotonic} · jumbo chunks: {candidate.jumbo_chunks} · "
                 f"recent inserts on the busiest shard: {candidate.hot_insert_share:.0%}")
        found.append(Panel(label, tuple(b / total for b in candidate.bytes_per_shard), tuple(candidate.recent_inserts_per_shard),
                           facts, candidate.verdict))
    return found


def _title(report: Any) -> str:
    return (f"simulate: data per shard for each candidate key, {report.documents:,} sampled documents over "
            f"{report.shards} shards ({report.taken})")


def write_simulation_plot(report: Any, path: str | Path, *, force: bool = False) -> Path:
    """The simulation as .svg, .html (no dependency) or .png (matplotlib), by the file name."""
    from ..reports.plot import PlotError, write_svg_or_html

    target = Path(path)
    if target.suffix.lower() == ".png":
        return _png(report, target, force)
    if target.suffix.lower() not in (".svg", ".html"):
        raise PlotError(f"cannot plot to '{target.name}': use a file name ending in .svg, .html or .png")
    return write_svg_or_html(svg(report), target, force=force)


def svg(report: Any) -> str:
    """The drawing as SVG text."""
    from ..reports.plot import MARK

    drawn = panels(report)
    even = 1 / max(report.shards, 1)
    label_width = int(max([len(f"shard{i}") for i in range(report.shards)] + [6]) * _CHAR) + 20
    text_width = max([len(_title(report))] + [len(p.facts) for p in drawn] + [len(p.verdict) + 9 for p in drawn]
                     + [len(p.label) for p in drawn]) * _CHAR
    width = int(max(label_width + _SCALE + 90, text_width + 30))
    parts = [f"<text x='10' y='20' font-weight='bold'>{escape(_title(report))}</text>"]
    parts += _legend(10, 40, even)
    y = 80
    for panel in drawn:
        parts.append(f"<text x='10' y='{y + 12}' font-weight='bold'>{escape(panel.label)}</text>")
        y += 20
        top = y
        for shard, (share, recent) in enumerate(zip(panel.shares, panel.recent)):
            colour = _COLOURS["over"] if share > even * 1.25 else _COLOURS["data"]
            parts.append(f"<text x='20' y='{y + 16}'>shard{shard}</text>")
            bars = ((share, colour, "data"), (recent, _COLOURS["recent"], "recent inserts"))
            for offset, (value, fill, what) in enumerate(bars):
                bar_y = y + offset * (_BAR // 2 + 2)
                parts.append(f"<rect x='{label_width}' y='{bar_y}' width='{value * _SCALE:.1f}' height='{_BAR // 2}' "
                             f"fill='{fill}'><title>{what}: {value:.0%}</title></rect>")
                parts.append(f"<text x='{label_width + value * _SCALE + 6:.1f}' y='{bar_y + 8}' font-size='10'>"
                             f"{value:.0%}</text>")
            y += _BAR + 2 + _GAP
        line_x = label_width + even * _SCALE
        parts.append(f"<line x1='{line_x:.1f}' y1='{top - 3}' x2='{line_x:.1f}' y2='{y - _GAP + 3}' stroke='{_COLOURS['even']}' "
                     "stroke-width='2' stroke-dasharray='5,3'><title>even share</title></line>")
        parts += _axis(label_width, y + 2)
        y += 28
        parts.append(f"<text x='20' y='{y}'>{escape(panel.facts)}</text>")
        parts.append(f"<text x='20' y='{y + 18}' font-weight='bold'>verdict: {escape(panel.verdict)}</text>")
        y += 40
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{y}' font-family='sans-serif' "
            f"font-size='{_FONT}'><!-- {MARK} --><rect width='100%' height='100%' fill='white'/>{''.join(parts)}</svg>")


def _legend(x: int, y: int, even: float) -> list[str]:
    return [
        f"<rect x='{x}' y='{y - 10}' width='14' height='10' fill='{_COLOURS['data']}'/>",
        f"<text x='{x + 20}' y='{y}'>data on the shard (share of the sample)</text>",
        f"<rect x='{x + 290}' y='{y - 10}' width='14' height='10' fill='{_COLOURS['over']}'/>",
        f"<text x='{x + 310}' y='{y}'>data over 1.25 × the even share</text>",
        f"<rect x='{x + 10}' y='{y + 6}' width='14' height='10' fill='{_COLOURS['recent']}'/>",
        f"<text x='{x + 30}' y='{y + 16}'>the most recent tenth of the inserts</text>",
        f"<line x1='{x + 300}' y1='{y + 4}' x2='{x + 300}' y2='{y + 18}' stroke='{_COLOURS['even']}' stroke-width='2' "
        "stroke-dasharray='5,3'/>",
        f"<text x='{x + 310}' y='{y + 16}'>even share ({even:.0%})</text>",
    ]


def _axis(x: int, y: int) -> list[str]:
    parts = [f"<line x1='{x}' y1='{y}' x2='{x + _SCALE}' y2='{y}' stroke='#555'/>"]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        at = x + tick * _SCALE
        parts.append(f"<line x1='{at:.1f}' y1='{y}' x2='{at:.1f}' y2='{y + 4}' stroke='#555'/>")
        parts.append(f"<text x='{at:.1f}' y='{y + 15}' text-anchor='middle' font-size='10'>{tick:.0%}</text>")
    return parts


def _png(report: Any, target: Path, force: bool) -> Path:
    from ..reports.plot import pyplot_for_png, write_png

    pyplot = pyplot_for_png()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    drawn = panels(report)
    even = 1 / max(report.shards, 1)
    figure, axes = pyplot.subplots(len(drawn), 1, figsize=(12, 1.2 + len(drawn) * (0.55 * report.shards + 1.5)),
                                   squeeze=False)
    for axis, panel in zip(axes[:, 0], drawn):
        colours = [_COLOURS["over"] if share > even * 1.25 else _COLOURS["data"] for share in panel.shares]
        rows = range(len(panel.shares))
        axis.barh([r - 0.2 for r in rows], panel.shares, height=0.38, color=colours)
        axis.barh([r + 0.2 for r in rows], panel.recent, height=0.38, color=_COLOURS["recent"])
        axis.set_yticks(list(rows), [f"shard{i}" for i in rows])
        axis.axvline(even, color=_COLOURS["even"], linestyle="--", linewidth=2)
        axis.invert_yaxis()
        axis.set_xlim(0, 1.08)
        axis.set_title(panel.label, loc="left", fontweight="bold", fontsize=11)
        for row, (share, recent) in enumerate(zip(panel.shares, panel.recent)):
            axis.text(share + 0.01, row - 0.2, f"{share:.0%}", va="center", fontsize=8)
            axis.text(recent + 0.01, row + 0.2, f"{recent:.0%}", va="center", fontsize=8)
        axis.annotate(f"{panel.facts}\nverdict: {panel.verdict}", xy=(0, 0), xycoords="axes fraction", xytext=(0, -22),
                      textcoords="offset points", va="top", fontsize=9)
    for axis in axes[:, 0]:
        axis.xaxis.set_major_formatter(PercentFormatter(1.0))
        axis.tick_params(axis="x", labelsize=8)
    handles = [Patch(color=_COLOURS["data"], label="data on the shard (share of the sample)"),
               Patch(color=_COLOURS["over"], label="data over 1.25 × the even share"),
               Patch(color=_COLOURS["recent"], label="the most recent tenth of the inserts"),
               Line2D([0], [0], color=_COLOURS["even"], linestyle="--", linewidth=2, label=f"even share ({even:.0%})")]
    figure.legend(handles=handles, loc="upper left", ncol=4, fontsize=9,
                  bbox_to_anchor=(0.01, 0.995 - 0.35 / figure.get_figheight()))
    figure.suptitle(_title(report), x=0.01, ha="left", fontsize=10, fontweight="bold")
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.75 / figure.get_figheight()), h_pad=4.5)
    return write_png(figure, target, force=force, dpi=110)
