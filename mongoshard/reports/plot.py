"""Charts of a balance report: SVG and HTML drawn here, PNG through matplotlib when it is installed."""

from __future__ import annotations

import io
from html import escape
from pathlib import Path
from typing import Any

from ..errors import MongoshardError
from ..files import check_writable, write_bytes, write_text
from .balance import BalanceReport

__all__ = ["write_plot", "write_svg_or_html", "write_png", "pyplot_for_png", "check_plot_path", "is_plot", "bar_chart",
           "PlotError"]

_WIDTH, _LABEL, _BAR, _GAP = 760, 160, 14, 10
_COLOURS = {"chunks": "#4c78a8", "data": "#f58518"}
# Every plot mongoshard writes carries this mark, so a later plot may replace it and nothing else.
MARK = "generator: mongoshard"


class PlotError(MongoshardError):
    """The plot cannot be written in the asked format."""


def write_plot(report: BalanceReport, path: str | Path, *, force: bool = False) -> Path:
    """Chunks and data per shard per collection, as .svg, .html or .png (by the file name)."""
    target = Path(path)
    if target.suffix.lower() == ".png":
        return _png(report, target, force)
    return write_svg_or_html(bar_chart(_rows(report)), target, force=force)


def is_plot(existing: str) -> bool:
    """Whether an existing file is a plot mongoshard wrote (and may therefore replace)."""
    return MARK in existing[:2000]


def check_plot_path(path: str | Path, *, force: bool = False, formats: tuple[str, ...] = (".svg", ".html", ".png")) -> Path:
    """Refuse a plot file name before the work that draws it: an unknown format, or a file mongoshard did not write."""
    target = Path(path)
    if target.suffix.lower() not in formats:
        raise PlotError(f"cannot plot to '{target.name}': use a file name ending in {' or '.join(formats)}")
    return check_writable(target, "the plot", ours=is_plot, force=force)


def write_svg_or_html(svg: str, path: str | Path, *, force: bool = False) -> Path:
    """Write ``svg`` as an .svg file or inside an .html page, replacing only a plot mongoshard wrote (or with ``force``)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".svg":
        text = svg
    elif suffix == ".html":
        text = ("<!doctype html><meta charset='utf-8'><meta name='generator' content='mongoshard'><title>mongoshard</title>"
                f"<body>{svg}</body>")
    else:
        raise PlotError(f"cannot plot to '{target.name}': use a file name ending in .svg or .html")
    return write_text(target, text, "the plot", ours=is_plot, force=force)


def _rows(report: BalanceReport) -> list[tuple[str, str, float, float]]:
    """(collection, shard, chunk share, data share) for every shard of every collection."""
    rows = []
    for collection in report.collections:
        total_chunks = collection.chunks or 1
        for shard in collection.shards:
            data_share = shard.share if collection.measure != "chunks" else 0.0
            rows.append((collection.namespace, shard.shard, shard.chunks / total_chunks, data_share))
    return rows


def bar_chart(rows: list[tuple[str, str, float, float]]) -> str:
    """SVG bars of (group, shard, chunk share, data share) rows, one group after the other."""
    parts, y = [], 30
    scale = _WIDTH - _LABEL - 60
    parts.append("<text x='10' y='18' font-weight='bold'>"
                 "chunks (blue) and data (orange) per shard, share of each collection</text>")
    current = None
    for namespace, shard, chunk_share, data_share in rows:
        if namespace != current:
            current = namespace
            y += _GAP
            parts.append(f"<text x='10' y='{y + 10}' font-weight='bold'>{escape(namespace)}</text>")
            y += 16
        parts.append(f"<text x='20' y='{y + 11}'>{escape(shard)}</text>")
        for offset, (kind, share) in enumerate((("chunks", chunk_share), ("data", data_share))):
            top = y + offset * (_BAR // 2 + 1)
            parts.append(f"<rect x='{_LABEL}' y='{top}' width='{share * scale:.1f}' height='{_BAR // 2}' "
                         f"fill='{_COLOURS[kind]}'/>")
        parts.append(f"<text x='{_LABEL + scale + 8}' y='{y + 11}'>{chunk_share:.0%} / {data_share:.0%}</text>")
        y += _BAR + 4
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{_WIDTH}' height='{y + 20}' font-family='sans-serif' "
            f"font-size='12'><!-- {MARK} --><rect width='100%' height='100%' fill='white'/>{''.join(parts)}</svg>")


def pyplot_for_png() -> Any:
    """matplotlib's pyplot on the file-only backend, or one sentence saying how to get it (it is an optional extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise PlotError("a .png plot needs matplotlib (pip install 'mongoshard[plot]'); .svg and .html need nothing") from None
    return pyplot


def write_png(figure: Any, target: Path, *, force: bool, dpi: int = 100) -> Path:
    """Save a matplotlib figure as a PNG carrying mongoshard's mark, replacing only a plot mongoshard wrote."""
    pyplot = pyplot_for_png()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=dpi, metadata={"Software": MARK})
    pyplot.close(figure)
    return write_bytes(target, image.getvalue(), "the plot", ours=is_plot, force=force)


def _png(report: BalanceReport, target: Path, force: bool) -> Path:
    pyplot = pyplot_for_png()
    rows = _rows(report)
    labels = [f"{namespace}\n{shard}" for namespace, shard, _, _ in rows]
    figure, axes = pyplot.subplots(figsize=(8, 0.5 * len(rows) + 1))
    positions = range(len(rows))
    axes.barh([p + 0.2 for p in positions], [r[2] for r in rows], height=0.4, color=_COLOURS["chunks"], label="chunks")
    axes.barh([p - 0.2 for p in positions], [r[3] for r in rows], height=0.4, color=_COLOURS["data"], label="data")
    axes.set_yticks(list(positions), labels)
    axes.set_xlabel("share of the collection")
    axes.legend()
    figure.tight_layout()
    return write_png(figure, target, force=force)
