"""Static SVG figures for the reports, drawn with matplotlib and returned as inline markup.

Every figure is deterministic (fixed hash salt per figure, no date in the metadata) and
keeps its text as text (`svg.fonttype: none`), so the reports diff cleanly and print
sharply. Dense scatters (many thousands of bins) are rasterised inside the SVG at a fixed
resolution so that a browser does not have to draw every point as a vector.

Nothing taken from the user's data is parsed as markup: math text is switched off and
matplotlib escapes text for XML; sample names are never drawn.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from metcnv.bins import gene_mask
from metcnv.genome import CHR7_CENTROMERE, LENGTHS, canonical, contig_order
from metcnv.model import CallSettings, GeneCall, Purity, Status, percent

RASTER_POINTS = 4_000  # above this many points a scatter is embedded as a bitmap
RASTER_DPI = 150
YLIM = (-2.5, 2.5)  # default log2 range; widened to show a high amplicon, clipped beyond
YMAX = 7.0  # points above this (128-fold) are drawn at the edge as triangles

SAMPLE_TYPE_STYLE = {  # colour and marker per sample type in the patient view
    "tumor": ("#b2182b", "o"),
    "effusion": ("#1b7837", "^"),
    "blood": ("#2166ac", "s"),
    "normal": ("#4d4d4d", "D"),
}
GREY, LIGHT, MET_RED = "#555555", "#b0b0b0", "#d7191c"
GAIN_LOG2 = 0.2  # segments above/below +-this are coloured as gains/losses
MIN_SEGMENT_WIDTH = 0.01  # genome-wide view: segments drawn at least this share of the axis


RC = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "text.parse_math": False,
    "text.usetex": False,
    "figure.dpi": 100,
    "savefig.dpi": RASTER_DPI,
    "path.simplify": True,
}


def to_svg(fig: plt.Figure, label: str, salt: str) -> str:
    """The figure as an inline <svg> element that scales with its container, then closed."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"metcnv-{salt}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML declaration and DOCTYPE
    head_end = svg.index(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
    label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return f'{head} role="img" aria-label="{label}" class="figure"{svg[head_end:]}'


def _figure(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    return fig, ax


def _clip(values: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values clipped to [lo, hi] and masks of those that were below / above."""
    return np.clip(values, lo, hi), values < lo, values > hi


def _ylim(log2: np.ndarray, extra: Sequence[float] = ()) -> tuple[float, float]:
    finite = np.concatenate([log2[np.isfinite(log2)], np.asarray(extra, float)])
    top = float(np.nanmax(finite)) + 0.4 if len(finite) else YLIM[1]
    bottom = float(np.nanmin(finite)) - 0.4 if len(finite) else YLIM[0]
    return max(YLIM[0], min(bottom, -1.5)), min(YMAX, max(YLIM[1], top))


def _scatter(ax: plt.Axes, x, y, lo, hi, **kwargs) -> None:
    """Points, with those beyond the axis drawn as triangles at its edge."""
    y, below, above = _clip(np.asarray(y, float), lo, hi)
    x = np.asarray(x, float)
    inside = ~(below | above)
    raster = len(x) > RASTER_POINTS
    ax.scatter(x[inside], y[inside], rasterized=raster, linewidths=0, **kwargs)
    for mask, marker in ((below, "v"), (above, "^")):
        if mask.any():
            kw = dict(kwargs, s=kwargs.get("s", 4) * 3)
            ax.scatter(x[mask], y[mask], marker=marker, rasterized=raster, linewidths=0, **kw)


def _segment_colour(log2: float) -> str:
    if log2 > GAIN_LOG2:
        return Status.FOCAL_AMPLIFICATION.colour
    if log2 < -GAIN_LOG2:
        return Status.LOSS.colour
    return "#111111"


def _background_line(ax: plt.Axes, met: GeneCall, **style) -> None:
    """The level of the gene's chromosome outside its amplicon (the ratio's denominator)."""
    if met.chrom_background is not None:
        ax.axhline(
            met.chrom_background.log2,
            c="#1b7837",
            ls="--",
            label=f"{met.chrom} background",
            **style,
        )


def chromosome_offsets(bins: pd.DataFrame, build: str | None) -> dict[str, tuple[int, int]]:
    """Start offset and length of each chromosome on a concatenated genome axis."""
    lengths = LENGTHS.get(build or "", {})
    chroms = sorted(bins["chrom"].unique(), key=lambda c: (contig_order(canonical(c)), c))
    offsets, position = {}, 0
    for chrom in chroms:
        length = lengths.get(canonical(chrom)) or int(bins.loc[bins["chrom"] == chrom, "end"].max())
        offsets[chrom] = (position, length)
        position += length
    return offsets


def genome_plot(
    bins: pd.DataFrame, segments: pd.DataFrame, build: str | None, gene: str = "MET"
) -> str:
    """Genome-wide log2 copy ratio of every used bin, with the segments drawn over it."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure(10, 3.0)
        used = bins[bins["used"].astype(bool)]
        offsets = chromosome_offsets(bins, build)
        lo, hi = _ylim(used["log2"].to_numpy(float))
        for i, (start, length) in enumerate(offsets.values()):
            if i % 2:
                ax.axvspan(start, start + length, color="#f2f2f2", lw=0, zorder=0)
        shift = used["chrom"].map(lambda c: offsets[c][0]).to_numpy(float)
        x = shift + (used["start"].to_numpy(float) + used["end"].to_numpy(float)) / 2
        target = (used["kind"] == "target").to_numpy()
        _scatter(ax, x[~target], used["log2"].to_numpy(float)[~target], lo, hi, s=2, c=LIGHT)
        _scatter(ax, x[target], used["log2"].to_numpy(float)[target], lo, hi, s=3, c=GREY)
        met = gene_mask(used, gene)
        _scatter(ax, x[met], used["log2"].to_numpy(float)[met], lo, hi, s=6, c=MET_RED, zorder=4)
        total = sum(length for _, length in offsets.values())
        for seg in segments.itertuples():
            if seg.chrom not in offsets:
                continue
            base = offsets[seg.chrom][0]
            y = float(np.clip(seg.log2, lo, hi))
            start, end = base + seg.start, base + seg.end
            if end - start < MIN_SEGMENT_WIDTH * total:  # keep a focal amplicon visible
                pad = (MIN_SEGMENT_WIDTH * total - (end - start)) / 2
                start, end = start - pad, end + pad
            ax.plot(
                [start, end],
                [y, y],
                lw=1.6,
                c=_segment_colour(seg.log2),
                solid_capstyle="butt",
                zorder=5,
            )
        ax.axhline(0, c="#888888", lw=0.6, zorder=1)
        ticks = [start + length / 2 for start, length in offsets.values()]
        names = [canonical(c)[3:] for c in offsets]
        ax.set_xticks(
            ticks,
            [n if len(offsets) < 30 or i % 2 == 0 else "" for i, n in enumerate(names)],
            fontsize=7,
        )
        ax.tick_params(axis="x", length=0)
        ax.set_xlim(0, total)
        ax.set_ylim(lo, hi)
        ax.set_ylabel("log2 copy ratio")
        ax.set_xlabel("chromosome")
        ax.legend(
            handles=[
                Line2D([], [], ls="", marker="o", ms=3, c=GREY, label="target bin"),
                Line2D([], [], ls="", marker="o", ms=3, c=LIGHT, label="off-target bin"),
                Line2D([], [], ls="", marker="o", ms=4, c=MET_RED, label=f"{gene} bin"),
                Line2D([], [], lw=1.6, c="#111111", label="segment"),
            ],
            loc="upper left",
            ncols=4,
            fontsize=7,
            frameon=False,
        )
        return to_svg(fig, "Genome-wide log2 copy ratio with segments", "genome")


def chromosome_plot(
    bins: pd.DataFrame, segments: pd.DataFrame, met: GeneCall, build: str | None
) -> str:
    """Bins and segments of the gene's chromosome, with its centromere and the gene marked."""
    gene = met.gene
    chrom = met.chrom or find_chrom(bins, "7")
    with matplotlib.rc_context(RC):
        fig, ax = _figure(10, 3.0)
        rows = bins[(bins["chrom"] == chrom) & bins["used"].astype(bool)]
        masked = bins[(bins["chrom"] == chrom) & ~bins["used"].astype(bool)]
        log2 = rows["log2"].to_numpy(float)
        lo, hi = _ylim(log2)
        mid = (rows["start"].to_numpy(float) + rows["end"].to_numpy(float)) / 2e6
        target = (rows["kind"] == "target").to_numpy()
        centromere = CHR7_CENTROMERE.get(build or "") if canonical(str(chrom)) == "chr7" else None
        if centromere is not None:
            ax.axvspan(
                centromere.start / 1e6,
                centromere.end / 1e6,
                color="#dcdcf0",
                lw=0,
                zorder=0,
                label="centromere",
            )
        _scatter(ax, mid[~target], log2[~target], lo, hi, s=4, c=LIGHT)
        _scatter(ax, mid[target], log2[target], lo, hi, s=5, c=GREY)
        if len(masked):
            mmid = (masked["start"].to_numpy(float) + masked["end"].to_numpy(float)) / 2e6
            ax.scatter(
                mmid,
                np.full(len(mmid), lo + 0.05 * (hi - lo)),
                marker="|",
                s=12,
                c="#cccccc",
                lw=0.6,
                label="masked bin (position)",
            )
        gene_rows = gene_mask(rows, gene)
        _scatter(ax, mid[gene_rows], log2[gene_rows], lo, hi, s=10, c=MET_RED, zorder=4)
        for seg in segments[segments["chrom"] == chrom].itertuples():
            y = float(np.clip(seg.log2, lo, hi))
            ax.plot(
                [seg.start / 1e6, seg.end / 1e6],
                [y, y],
                lw=2,
                c=_segment_colour(seg.log2),
                solid_capstyle="butt",
                zorder=5,
            )
        _background_line(ax, met, lw=1.0, zorder=6)
        if met.start is not None:
            centre = (met.start + met.end) / 2e6
            ax.axvline(centre, c=MET_RED, lw=0.8, ls=":", zorder=2)
            ax.annotate(
                gene,
                (centre, hi),
                xytext=(3, -10),
                textcoords="offset points",
                color=MET_RED,
                fontsize=8,
                fontweight="bold",
            )
        ax.axhline(0, c="#888888", lw=0.6, zorder=1)
        length = LENGTHS.get(build or "", {}).get(canonical(str(chrom)))
        ax.set_xlim(0, (length or (rows["end"].max() if len(rows) else 1)) / 1e6)
        ax.set_ylim(lo, hi)
        ax.set_xlabel(f"{chrom} position (Mb)")
        ax.set_ylabel("log2 copy ratio")
        handles, _ = ax.get_legend_handles_labels()
        handles += [
            Line2D([], [], ls="", marker="o", ms=4, c=MET_RED, label=f"{gene} bin"),
            Line2D([], [], lw=2, c="#111111", label="segment"),
        ]
        ax.legend(handles=handles, loc="upper left", ncols=5, fontsize=7, frameon=False)
        return to_svg(fig, f"Chromosome {chrom} log2 copy ratio", "chrom7")


def find_chrom(bins: pd.DataFrame, name: str) -> str:
    for chrom in bins["chrom"].unique():
        if canonical(str(chrom)) == canonical(name):
            return chrom
    return f"chr{name}"


def gene_closeup(bins: pd.DataFrame, met: GeneCall) -> str:
    """The gene's own bins against the panel of normals' 95% range around each bin."""
    gene = met.gene
    with matplotlib.rc_context(RC):
        fig, ax = _figure(5.2, 3.0)
        rows = bins[gene_mask(bins, gene)]
        if not len(rows):
            ax.text(0.5, 0.5, f"no {gene} bins in this panel", ha="center", transform=ax.transAxes)
            ax.set_axis_off()
            return to_svg(fig, f"{gene} close-up (no bins)", "closeup")
        x = (
            (rows["start"].to_numpy(float) + rows["end"].to_numpy(float)) / 2 - rows["start"].min()
        ) / 1e3
        log2 = rows["log2"].to_numpy(float)
        spread = rows["pon_spread"].to_numpy(float)
        used = rows["used"].astype(bool).to_numpy()
        ok = np.isfinite(spread)
        ax.vlines(
            x[ok],
            -1.96 * spread[ok],
            1.96 * spread[ok],
            colors="#9e9e9e",
            lw=3,
            alpha=0.6,
            label="normals' 95% range",
            zorder=1,
        )
        ax.axhline(0, c="#888888", lw=0.6, zorder=0)
        est, ci = met.log2, met.log2_ci95
        if est is not None:
            if ci is not None:
                ax.axhspan(
                    ci[0],
                    ci[1],
                    color=MET_RED,
                    alpha=0.12,
                    lw=0,
                    zorder=0,
                    label=f"{gene} estimate, 95% CI",
                )
            ax.axhline(est, c=MET_RED, lw=1.2, zorder=2)
        _background_line(ax, met, lw=0.9)
        ax.scatter(x[used], log2[used], s=14, c=MET_RED, zorder=3, label=f"{gene} bin")
        if (~used).any():
            ax.scatter(
                x[~used],
                log2[~used],
                s=14,
                marker="x",
                c="#777777",
                lw=0.8,
                zorder=3,
                label="masked bin",
            )
        top = np.nanmax(np.concatenate([log2, 1.96 * spread[ok], [est or 0, 0.5]]))
        bottom = np.nanmin(np.concatenate([log2, -1.96 * spread[ok], [-0.5]]))
        pad = 0.1 * (top - bottom)
        ax.set_ylim(bottom - pad, top + pad * 3)
        ax.set_xlabel(f"position in {gene} (kb from first bin)")
        ax.set_ylabel("log2 copy ratio")
        ax.legend(loc="upper left", fontsize=7, frameon=False, ncols=2)
        return to_svg(fig, f"{gene} bins against the panel of normals", "closeup")


def genes_plot(genes: pd.DataFrame, tumor: bool, settings: CallSettings, gene: str = "MET") -> str:
    """Every panel gene's copy number with its 95% interval on a log2 axis.

    `tumor` plots the purity-adjusted tumor copy number (and the calling thresholds, which
    apply to it); otherwise the sample-average copy number 2r, a lower bound for gains.
    """
    column = "tumor_copy_number" if tumor else "copy_number"
    with matplotlib.rc_context(RC):
        frame = genes.copy()
        frame["_order"] = frame["chrom"].map(lambda c: contig_order(canonical(str(c))))
        frame = frame.sort_values(["_order", "start"], kind="stable").reset_index(drop=True)
        fig, ax = _figure(5.2, max(2.2, 0.32 * len(frame) + 0.9))
        y = np.arange(len(frame))[::-1]
        value = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        low = pd.to_numeric(frame[f"{column}_ci_low"], errors="coerce").to_numpy(float)
        high = pd.to_numeric(frame[f"{column}_ci_high"], errors="coerce").to_numpy(float)
        floor = 0.25  # copy numbers at or near 0 are drawn at this edge of the log axis
        value, low, high = (np.maximum(a, floor) for a in (value, low, high))
        colours = [Status(s).colour for s in frame["status"]]
        for yi, v, lo_, hi_, colour in zip(y, value, low, high, colours, strict=True):
            if np.isfinite(lo_) and np.isfinite(hi_):
                ax.plot([lo_, hi_], [yi, yi], c=colour, lw=1.4)
            if np.isfinite(v):
                ax.plot([v], [yi], "o", c=colour, ms=5)
        ax.axvline(2, c="#888888", lw=0.7)
        if tumor:
            for key, label in (("amp_min_cn", "amplification"), ("high_level_cn", "high level")):
                threshold = getattr(settings, key)
                ax.axvline(threshold, c="#999999", lw=0.7, ls="--")
                ax.annotate(
                    f"{label} {threshold:g}",
                    (threshold, 1),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, -2),
                    textcoords="offset points",
                    rotation=90,
                    va="top",
                    fontsize=6.5,
                    color="#666666",
                )
        ax.set_xscale("log", base=2)
        finite = np.concatenate([value[np.isfinite(value)], high[np.isfinite(high)], [4, 12]])
        ax.set_xlim(0.25 if (value <= 1).any() else 1, max(16, float(np.max(finite)) * 1.4))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        labels = list(frame["gene"].astype(str))
        ax.set_yticks(y, labels)
        for tick, name in zip(ax.get_yticklabels(), labels, strict=True):
            if name == gene:
                tick.set_fontweight("bold")
        ax.set_ylim(-0.7, len(frame) - 0.3 + 0.6)
        ax.set_xlabel(
            "tumor copy number (95% CI)" if tumor else "sample-average copy number 2r (95% CI)"
        )
        return to_svg(fig, "Copy number of every panel gene", "genes")


def patient_plot(samples: pd.DataFrame, settings: CallSettings) -> str:
    """MET copy number, MET/chr7 ratio and tumor fraction over collection date, one series
    per sample type.

    `samples` has columns date (datetime), sample_type, cn, cn_low, cn_high, tumor (bool:
    purity-adjusted), ratio, ratio_low, ratio_high, purity, purity_low, purity_high and
    estimated (bool: the tumor fraction was estimated from the reads). Filled markers are
    tumor copy numbers (hollow: sample averages, lower bounds of the tumor's) and estimated
    tumor fractions (hollow: given ones).
    """
    with matplotlib.rc_context(RC):
        fig, (ax_cn, ax_ratio, ax_purity) = plt.subplots(
            1, 3, figsize=(12, 3.4), layout="constrained"
        )
        dated = samples.dropna(subset=["date"]).sort_values("date", kind="stable")
        span = (dated["date"].max() - dated["date"].min()) if len(dated) else pd.Timedelta(0)
        step = max(span / 80, pd.Timedelta(days=1)) if len(dated) > 1 else pd.Timedelta(days=1)
        types = list(dict.fromkeys(dated["sample_type"]))
        for axis, prefix, ylabel, filled_by in (
            (ax_cn, "cn", "MET copy number (95% CI)", "tumor"),
            (ax_ratio, "ratio", "MET/chr7 ratio (95% CI)", "tumor"),
            (ax_purity, "purity", "tumor fraction (95% CI)", "estimated"),
        ):
            floor = 0.0 if axis is ax_purity else 0.05  # log axes cannot show 0
            for k, sample_type in enumerate(types):
                colour, marker = SAMPLE_TYPE_STYLE.get(sample_type, ("#555555", "o"))
                group = dated[dated["sample_type"] == sample_type]
                x = group["date"] + step * (k - (len(types) - 1) / 2)
                value = group[prefix].to_numpy(float)
                for kind in (True, False):  # never join a tumor CN to a sample average
                    same = group[filled_by].to_numpy(bool) == kind
                    ls = "-" if kind else ":"
                    axis.plot(x[same], value[same], c=colour, lw=0.8, alpha=0.6, ls=ls)
                low, high = (
                    group[f"{prefix}_low"].to_numpy(float),
                    group[f"{prefix}_high"].to_numpy(float),
                )
                for xi, lo_, hi_ in zip(x, low, high, strict=True):
                    if np.isfinite(lo_) and np.isfinite(hi_):
                        axis.plot([xi, xi], [max(lo_, floor), hi_], c=colour, lw=1.2)
                tumor = group[filled_by].to_numpy(bool)
                for filled in (True, False):
                    pick = tumor == filled
                    if pick.any():
                        axis.plot(
                            x[pick],
                            np.maximum(value[pick], floor),
                            ls="",
                            marker=marker,
                            ms=6,
                            c=colour,
                            mfc=colour if filled else "white",
                            mew=1.3,
                        )
            axis.set_ylabel(ylabel)
            if axis is ax_purity:
                axis.set_ylim(0, 1)
            else:
                axis.set_yscale("log", base=2)
                formatter = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
                axis.yaxis.set_major_formatter(formatter)
            axis.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
            axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
            axis.tick_params(axis="x", labelrotation=30, labelsize=7)
            if len(dated):
                axis.set_xlim(dated["date"].min() - step * 4, dated["date"].max() + step * 4)
        lines = (
            (ax_cn, "amp_min_cn", "amplification"),
            (ax_cn, "high_level_cn", "high level"),
            (ax_ratio, "fish_intermediate", "FISH intermediate"),
            (ax_ratio, "fish_high", "FISH high"),
        )
        for axis, key, label in lines:
            value = getattr(settings, key)
            axis.axhline(value, c="#999999", lw=0.7, ls="--")
            axis.annotate(
                f"{label} {value:g}",
                (1, value),
                xycoords=("axes fraction", "data"),
                xytext=(-2, 2),
                textcoords="offset points",
                ha="right",
                fontsize=6.5,
                color="#666666",
            )
        ax_cn.axhline(2, c="#888888", lw=0.6)
        ax_ratio.axhline(1, c="#888888", lw=0.6)
        handles = [
            Line2D(
                [],
                [],
                ls="",
                marker=SAMPLE_TYPE_STYLE.get(t, ("", "o"))[1],
                c=SAMPLE_TYPE_STYLE.get(t, ("#555555", ""))[0],
                label=t,
            )
            for t in types
        ]
        handles += [
            Line2D([], [], ls="", marker="o", c="#555555", label="tumor CN / estimated fraction"),
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                c="#555555",
                mfc="white",
                label="sample average (no purity) / given tumor fraction",
            ),
        ]
        fig.legend(
            handles=handles,
            loc="outside lower center",
            ncols=len(handles),
            fontsize=7,
            frameon=False,
        )
        return to_svg(fig, "MET copy number over time", "patient")


def baf_plot(
    snps: pd.DataFrame,
    segments: pd.DataFrame,
    bins: pd.DataFrame,
    build: str | None,
    chrom: str | None = None,
) -> str:
    """Alt-allele fraction of every SNP site the purity fit used, with each segment's
    minor-allele fraction (and its mirror) drawn over it; genome-wide, or one chromosome."""
    with matplotlib.rc_context(RC):
        fig, ax = _figure(10, 2.0)
        offsets = chromosome_offsets(bins, build)
        if chrom is not None:
            offsets = {chrom: (0, offsets.get(chrom, (0, 1))[1])}
        used = snps[snps["used"].astype(bool) & snps["chrom"].isin(offsets)]
        scale = 1e6 if chrom is not None else 1.0
        x = (used["chrom"].map(lambda c: offsets[c][0]) + used["pos"]).to_numpy(float) / scale
        fraction = (used["alt_count"] / used["depth"].clip(lower=1)).to_numpy(float)
        _scatter(ax, x, fraction, 0, 1, s=4, c=GREY)
        for seg in segments[segments["chrom"].isin(offsets)].itertuples():
            if not np.isfinite(seg.baf):
                continue
            base = offsets[seg.chrom][0]
            span = [(base + seg.start) / scale, (base + seg.end) / scale]
            for y in (seg.baf, 1 - seg.baf):
                ax.plot(span, [y, y], lw=1.6, c="#e66101", solid_capstyle="butt", zorder=5)
        if chrom is None:
            for i, (start, length) in enumerate(offsets.values()):
                if i % 2:
                    ax.axvspan(start, start + length, color="#f2f2f2", lw=0, zorder=0)
            ticks = [start + length / 2 for start, length in offsets.values()]
            ax.set_xticks(ticks, [canonical(c)[3:] for c in offsets], fontsize=7)
            ax.tick_params(axis="x", length=0)
            ax.set_xlabel("chromosome")
        else:
            ax.set_xlabel(f"{chrom} position (Mb)")
        ax.set_xlim(0, sum(length for _, length in offsets.values()) / scale)
        ax.set_ylim(-0.02, 1.02)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
        ax.set_ylabel("B-allele fraction")
        ax.legend(
            handles=[
                Line2D([], [], ls="", marker="o", ms=3, c=GREY, label="SNP site"),
                Line2D([], [], lw=1.6, c="#e66101", label="segment minor-allele fraction"),
            ],
            loc="upper left",
            ncols=2,
            fontsize=7,
            frameon=False,
        )
        where = "genome-wide" if chrom is None else f"on {chrom}"
        return to_svg(fig, f"B-allele fractions {where}", f"baf-{chrom or 'genome'}")


def purity_plot(purity: Purity) -> str:
    """The profile likelihood of the tumor fraction (best ploidy at each), its 95% interval,
    the local optima (solutions) and the value the calls use."""
    fit = purity.fit
    with matplotlib.rc_context(RC):
        fig, ax = _figure(10, 2.4)
        p = np.array([s.purity for s in fit.profile])
        ll = np.array([s.log_likelihood for s in fit.profile])
        relative = 2 * (ll - ll.max())
        ax.plot(p, np.maximum(relative, -40), c="#111111", lw=1.2)
        ax.axhline(-3.84, c="#888888", lw=0.6, ls=":", label="95% cut-off")
        ax.axvspan(*fit.ci95, color="#dcdcf0", lw=0, zorder=0, label="95% interval")
        for rank, s in enumerate(fit.solutions[:3]):  # the best and two runners-up
            y = max(2 * (s.log_likelihood - ll.max()), -40)
            ax.scatter([s.purity], [y], s=30 if rank == 0 else 14, c="#e66101", zorder=5)
            ax.annotate(
                f"{rank + 1}: {percent(s.purity)}, ploidy {s.ploidy:.2f}",
                (s.purity, y),
                xytext=(6, -4 - 10 * rank),
                textcoords="offset points",
                fontsize=7,
            )
        if purity.value is not None:
            ax.axvline(purity.value, c=MET_RED, lw=1, label=f"used ({purity.source})")
        ax.set_xlim(0, 1)
        ax.set_ylim(-41, 2)
        ax.set_xlabel("tumor fraction")
        ax.set_ylabel("2 x log-likelihood vs best")
        ax.legend(loc="lower right", fontsize=7, frameon=False)
        return to_svg(fig, "Profile likelihood of the tumor fraction", "purity")
