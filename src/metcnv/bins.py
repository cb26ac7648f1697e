"""Target and off-target bins: the intervals whose reads metcnv counts.

Target bins come from the panel BED (overlapping targets merged, long ones split into
near-equal pieces); off-target bins tile the gaps between targets on the primary
chromosomes (CNVkit's antitargets), because on a small panel they carry most of what is
known about chromosome 7 away from MET. A bin table has columns
chrom, start, end, gene, kind ('target' or 'offtarget'), 0-based half-open, sorted.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from metcnv import params
from metcnv.errors import MetcnvError
from metcnv.files import require_file
from metcnv.genome import GENES, PRIMARY, canonical, contig_order

BIN_COLUMNS = ["chrom", "start", "end", "gene", "kind"]
NO_GENE = "-"


def read_bed(path: str | Path, build: str | None = None) -> pd.DataFrame:
    """Read a BED of intervals (chrom, start, end[, name]) with canonical contig names.

    Without a name column, genes are taken from metcnv's built-in coordinates for `build`.
    A gzip- or bgzip-compressed BED is read as well.
    """
    path = require_file(path, "a BED file")
    rows = []
    with _open_text(path) as handle:
        for lineno, line in enumerate(_lines(handle, path), 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n").split("\t")
            try:
                chrom, start, end = fields[0], int(fields[1]), int(fields[2])
            except (IndexError, ValueError):
                raise MetcnvError(
                    f"{path}, line {lineno}: expected tab-separated chrom, start, end; "
                    "fix the line or give a BED file"
                ) from None
            if start < 0 or end <= start:
                raise MetcnvError(
                    f"{path}, line {lineno}: interval {start}-{end} is empty or negative; "
                    "BED intervals are 0-based with start < end"
                )
            gene = fields[3].strip() if len(fields) > 3 and fields[3].strip() else ""
            rows.append((canonical(chrom), start, end, gene))
    if not rows:
        raise MetcnvError(f"{path}: no intervals found; give the panel's target BED file")
    bed = pd.DataFrame(rows, columns=["chrom", "start", "end", "gene"])
    if build is not None:
        bed["gene"] = [g or builtin_gene(build, c, s, e) for c, s, e, g in bed.itertuples(False)]
    bed["gene"] = bed["gene"].replace("", NO_GENE)
    return sort_bins(bed)


def _open_text(path: Path) -> IO[str]:
    """A text file, gunzipped on the fly when it is gzip-compressed."""
    with open(path, "rb") as handle:
        packed = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if packed else open(path)


def _lines(handle: IO[str], path: Path) -> Iterator[str]:
    """The lines of a text file; a binary or damaged file is one line naming it."""
    try:
        yield from handle
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise MetcnvError(
            f"{path}: not a readable text BED ({error}); give a tab-separated BED "
            "(plain or gzipped)"
        ) from None


def builtin_gene(build: str, chrom: str, start: int, end: int) -> str:
    """The built-in gene (genome.GENES) an interval overlaps on `build`, or ''."""
    for name, region in GENES[build].items():
        if region.chrom == chrom and start < region.end and end > region.start:
            return name
    return ""


def sort_bins(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort by karyotype order, then start; reset the index."""
    order = frame["chrom"].map(contig_order)
    return (
        frame.assign(_order=order)
        .sort_values(["_order", "chrom", "start", "end"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def merge_targets(bed: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping or touching targets, joining their distinct gene names with ','."""
    merged: list[list] = []
    for chrom, start, end, gene in bed[["chrom", "start", "end", "gene"]].itertuples(False):
        if merged and merged[-1][0] == chrom and start <= merged[-1][2]:
            last = merged[-1]
            last[2] = max(last[2], end)
            if gene != NO_GENE and gene not in last[3].split(","):
                last[3] = gene if last[3] == NO_GENE else f"{last[3]},{gene}"
        else:
            merged.append([chrom, start, end, gene])
    return pd.DataFrame(merged, columns=["chrom", "start", "end", "gene"])


def split_evenly(starts: np.ndarray, ends: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Split each interval into ceil(length / size) near-equal pieces.

    Returns (piece_starts, piece_ends, parent_index).
    """
    lengths = ends - starts
    pieces = np.maximum(1, np.ceil(lengths / size).astype(np.int64))
    parent = np.repeat(np.arange(len(starts)), pieces)
    first = np.repeat(np.cumsum(pieces) - pieces, pieces)
    k = np.arange(len(parent)) - first
    n = pieces[parent]
    piece_starts = starts[parent] + (lengths[parent] * k) // n
    piece_ends = starts[parent] + (lengths[parent] * (k + 1)) // n
    return piece_starts, piece_ends, parent


def target_bins(targets: pd.DataFrame, bin_size: int = params.TARGET_BIN_SIZE) -> pd.DataFrame:
    """Merged targets split into bins of at most about `bin_size` bp."""
    merged = merge_targets(targets)
    starts, ends, parent = split_evenly(
        merged["start"].to_numpy(np.int64), merged["end"].to_numpy(np.int64), bin_size
    )
    return pd.DataFrame(
        {
            "chrom": merged["chrom"].to_numpy()[parent],
            "start": starts,
            "end": ends,
            "gene": merged["gene"].to_numpy()[parent],
            "kind": "target",
        }
    )


def offtarget_bins(
    targets: pd.DataFrame,
    contig_lengths: Mapping[str, int],
    bin_size: int = params.OFFTARGET_BIN_SIZE,
    access: pd.DataFrame | None = None,
    padding: int = params.TARGET_PADDING,
) -> pd.DataFrame:
    """Tile the accessible primary chromosomes, minus padded targets, into ~bin_size bins.

    Gaps shorter than OFFTARGET_MIN_FRACTION of a bin are dropped: their counts would be
    too small to be useful.
    """
    if access is None:
        access = pd.DataFrame(
            [(c, 0, n) for c, n in contig_lengths.items() if c in PRIMARY],
            columns=["chrom", "start", "end"],
        )
    pieces = []
    for chrom, region in access.groupby("chrom", sort=False):
        blocked = targets.loc[targets["chrom"] == chrom, ["start", "end"]].to_numpy()
        for start, end in region[["start", "end"]].itertuples(False):
            pieces.extend((chrom, s, e) for s, e in _subtract(start, end, blocked, padding))
    gaps = pd.DataFrame(pieces, columns=["chrom", "start", "end"])
    gaps = gaps[gaps["end"] - gaps["start"] >= params.OFFTARGET_MIN_FRACTION * bin_size]
    starts, ends, parent = split_evenly(
        gaps["start"].to_numpy(np.int64), gaps["end"].to_numpy(np.int64), bin_size
    )
    return pd.DataFrame(
        {
            "chrom": gaps["chrom"].to_numpy()[parent],
            "start": starts,
            "end": ends,
            "gene": NO_GENE,
            "kind": "offtarget",
        }
    )


def _subtract(start: int, end: int, blocked: np.ndarray, padding: int) -> list[tuple[int, int]]:
    """[start, end) minus the padded blocked intervals (sorted by start)."""
    out, cursor = [], start
    for b_start, b_end in blocked:
        b_start, b_end = b_start - padding, b_end + padding
        if b_end <= cursor or b_start >= end:
            continue
        if b_start > cursor:
            out.append((cursor, b_start))
        cursor = max(cursor, b_end)
    if cursor < end:
        out.append((cursor, end))
    return out


def make_bins(
    targets: pd.DataFrame,
    contig_lengths: Mapping[str, int],
    *,
    target_bin_size: int = params.TARGET_BIN_SIZE,
    offtarget_bin_size: int = params.OFFTARGET_BIN_SIZE,
    access: pd.DataFrame | None = None,
    offtarget: bool = True,
) -> pd.DataFrame:
    """All bins of a panel on a genome: targets, plus off-target background unless disabled."""
    unknown = sorted(set(targets["chrom"]) - set(contig_lengths))
    if unknown:
        raise MetcnvError(
            f"targets on contigs absent from the alignments/reference: {', '.join(unknown)}; "
            "use a panel BED for the same genome build"
        )
    targets = sort_bins(targets)  # merging and gap-filling walk targets in order
    frames = [target_bins(targets, target_bin_size)]
    if offtarget:
        frames.append(offtarget_bins(targets, contig_lengths, offtarget_bin_size, access))
    return sort_bins(pd.concat(frames, ignore_index=True))[BIN_COLUMNS]


def gene_labels(bins: pd.DataFrame) -> pd.Series:
    """Each bin's gene names: the `gene` column holds comma-separated names or '-'."""
    return bins["gene"].astype(str).str.split(",")


def gene_mask(bins: pd.DataFrame, gene: str, labels: pd.Series | None = None) -> np.ndarray:
    """Target bins whose gene label names `gene` (`labels`: gene_labels(bins), if at hand)."""
    labels = gene_labels(bins) if labels is None else labels
    named = labels.map(lambda names: gene in names).to_numpy(bool)
    return named & (bins["kind"] == "target").to_numpy()


def bins_checksum(bins: pd.DataFrame) -> str:
    """MD5 of the bin coordinates and kinds: two files with equal checksums share bins."""
    text = bins[["chrom", "start", "end", "kind"]].to_csv(sep="\t", index=False, header=False)
    return hashlib.md5(text.encode()).hexdigest()


def bin_index(positions: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Index of the sorted, non-overlapping bin [start, end) holding each position; -1 if none."""
    index = np.searchsorted(starts, positions, side="right") - 1
    inside = (index >= 0) & (positions < ends[np.maximum(index, 0)])
    return np.where(inside, index, -1)


def site_bins(sites: pd.DataFrame, bins: pd.DataFrame) -> np.ndarray:
    """Row (position in `bins`, sorted and non-overlapping per chromosome) of the bin
    holding each site (chrom, 1-based pos); -1 if none."""
    found = np.full(len(sites), -1, dtype=np.int64)
    bins_by_chrom = bins.groupby("chrom", sort=False).indices
    starts, ends = bins["start"].to_numpy(np.int64), bins["end"].to_numpy(np.int64)
    positions = sites["pos"].to_numpy(np.int64) - 1
    for chrom, rows in sites.groupby("chrom", sort=False).indices.items():
        if chrom in bins_by_chrom:
            on = bins_by_chrom[chrom]
            index = bin_index(positions[rows], starts[on], ends[on])
            found[rows] = np.where(index >= 0, on[np.maximum(index, 0)], -1)
    return found
