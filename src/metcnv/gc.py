"""GC content of bins from a reference FASTA, and the GC-bias trend of their log2 ratios.

GC is measured over A/C/G/T bases only (N and other codes ignored); a bin without any
called base gets NaN and is never used to fit the bias. The trend follows CNVkit: a
rolling median of the log2 values over bins sorted by GC, which normalize.correct_gc
subtracts from every bin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv import params
from metcnv.errors import MetcnvError
from metcnv.files import require_file
from metcnv.genome import canonical


def fasta_lengths(path: str | Path) -> dict[str, int]:
    """Contig lengths (canonical names) of an indexed FASTA."""
    with open_fasta(path) as fasta:
        return {canonical(c): n for c, n in zip(fasta.references, fasta.lengths, strict=True)}


def open_fasta(path: str | Path) -> pysam.FastaFile:
    """Open an indexed (plain or bgzipped) FASTA, with the fix when the index is missing."""
    path = require_file(path, "a reference FASTA (plain or bgzipped, indexed)")
    if not Path(f"{path}.fai").is_file():
        raise MetcnvError(f"{path}: no .fai index; create one with `samtools faidx {path}`")
    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError) as error:
        raise MetcnvError(
            f"{path}: cannot read the FASTA ({error}); a gzipped FASTA must be bgzipped "
            "(`bgzip`) and indexed with `samtools faidx`"
        ) from None


def bin_gc(bins: pd.DataFrame, fasta_path: str | Path) -> np.ndarray:
    """Fraction of G+C among called bases in each bin (NaN where the bin has none)."""
    gc = np.full(len(bins), np.nan)
    with open_fasta(fasta_path) as fasta:
        by_name = {canonical(c): c for c in fasta.references}
        missing = sorted(set(bins["chrom"]) - set(by_name))
        if missing:
            raise MetcnvError(
                f"{fasta_path}: no sequence for {', '.join(missing)}; use the reference "
                "the reads were aligned to"
            )
        for chrom, rows in bins.groupby("chrom", sort=False).indices.items():
            for row, start, end in zip(
                rows, bins["start"].to_numpy()[rows], bins["end"].to_numpy()[rows], strict=True
            ):  # bin by bin: a whole chromosome's sequence would cost ~3 bytes per base
                piece = fasta.fetch(by_name[chrom], int(start), int(end)).upper()
                strong = piece.count("G") + piece.count("C")
                called = strong + piece.count("A") + piece.count("T")
                if called:
                    gc[row] = strong / called
    return gc


def gc_bias(
    log2: np.ndarray,
    gc: np.ndarray,
    fit: np.ndarray,
    window_fraction: float = params.GC_WINDOW_FRACTION,
) -> np.ndarray:
    """The GC trend of `log2`, fitted on bins where `fit` is true, evaluated at every bin.

    The trend is a rolling median over bins sorted by GC (window = `window_fraction` of
    the fitted bins), interpolated at each bin's GC; bins without GC get no correction.
    """
    usable = fit & np.isfinite(gc) & np.isfinite(log2)
    trend = np.zeros(len(log2))
    if usable.sum() < 10:
        return trend
    order = np.argsort(gc[usable], kind="stable")
    x, y = gc[usable][order], log2[usable][order]
    window = max(3, int(len(x) * window_fraction) | 1)
    smooth = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
    has_gc = np.isfinite(gc)
    trend[has_gc] = np.interp(gc[has_gc], x, smooth)
    return trend
