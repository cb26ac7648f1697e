"""Depth segments split where their SNPs' allelic imbalance changes (joint segmentation).

Depth segmentation cannot see a copy-neutral loss of heterozygosity, or an arm whose
allelic state changes at the same total copy number: its log2 ratio does not move. Inside
every depth segment long enough to hold two fittable pieces, the SNPs (in genomic order)
are tested for one change of minor-allele fraction: for each split between two bins, the
likelihood ratio of one fraction per side against one for the whole segment, each the
maximum of the SNPs' genotype-mixture beta-binomial likelihood (purity.snp_log_likelihood)
over the fraction. The best split is accepted when a Bonferroni bound over the splits
(chi-square, 1 degree of freedom) and seeded permutations of the SNPs' order both put it
below `alpha` (the permutations guard against allele counts noisier than the model), and
each piece is tested again. Pieces keep at least FIT_MIN_SEGMENT bases and
MIN_SITES_PER_PIECE SNPs, so a split never makes an amplicon-sized segment and the fit
can use both sides.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from metcnv import params
from metcnv.purity import BAF_GRID, FIT_MIN_SEGMENT, assign_segments, snp_log_likelihood
from metcnv.segment import segment_table

MIN_SITES_PER_PIECE = 10  # SNP sites each side of a split needs
PERMUTATIONS = 200  # p-value resolution 1/201: enough for alpha 0.01


def split_by_alleles(
    segments: pd.DataFrame,
    bins: pd.DataFrame,
    sites: pd.DataFrame,
    alpha: float = params.SEGMENT_ALPHA,
    seed: int = 0,
) -> pd.DataFrame:
    """`segments` (of the bins `bins`, as segment_bins made them) with every significant
    change of SNP allelic imbalance inside a segment made a breakpoint."""
    rng = np.random.default_rng(seed)
    which = assign_segments(sites, segments)
    positions = {chrom: frame.index for chrom, frame in bins.groupby("chrom", sort=False)}
    pieces = []
    for k, seg in enumerate(segments.itertuples()):
        index = positions[seg.chrom]
        lo, hi = index.get_loc(seg.first_row), index.get_loc(seg.last_row) + 1
        rows = bins.loc[index[lo:hi]]
        own = sites[which == k].sort_values("pos")
        cuts = _splits(rows, own, alpha, rng)
        pieces += [(seg.chrom, lo + a, lo + b) for a, b in itertools.pairwise([0, *cuts, hi - lo])]
    if len(pieces) == len(segments):
        return segments
    return segment_table(bins, pieces)


def _splits(
    rows: pd.DataFrame, sites: pd.DataFrame, alpha: float, rng: np.random.Generator
) -> list[int]:
    """Positions (among `rows`, one segment's bins) where the SNPs' allelic state changes."""
    if rows["end"].iloc[-1] - rows["start"].iloc[0] < 2 * FIT_MIN_SEGMENT:
        return []
    if len(sites) < 2 * MIN_SITES_PER_PIECE:
        return []
    starts = rows["start"].to_numpy()
    bin_of = np.maximum(np.searchsorted(starts, sites["pos"].to_numpy() - 1, side="right") - 1, 0)
    # a split before site i starts the second piece at bin bin_of[i]; it must leave both
    # pieces long enough and with enough sites, and fall between two different bins
    before = np.arange(len(sites))
    size_left = starts[bin_of] - starts[0]
    size_right = rows["end"].iloc[-1] - starts[bin_of]
    valid = (
        (before >= MIN_SITES_PER_PIECE)
        & (before <= len(sites) - MIN_SITES_PER_PIECE)
        & (size_left >= FIT_MIN_SEGMENT)
        & (size_right >= FIT_MIN_SEGMENT)
        & (np.diff(bin_of, prepend=-1) > 0)
    )
    if not valid.any():
        return []
    args = [sites[c].to_numpy(float) for c in ("ref_count", "alt_count", "pop_af")]
    ll = snp_log_likelihood(BAF_GRID, *args, sites["het_alt_fraction"].to_numpy(float))
    lr, best = _best_split(ll, valid)
    if chdtrc(1, lr) * valid.sum() >= alpha:  # chi-square(1) upper tail
        return []
    shuffled = (ll[rng.permutation(len(ll))] for _ in range(PERMUTATIONS))
    exceed = sum(_best_split(order, valid)[0] >= lr for order in shuffled)
    if (exceed + 1) / (PERMUTATIONS + 1) > alpha:
        return []
    cut = int(bin_of[best])
    left = _splits(rows.iloc[:cut], sites.iloc[:best], alpha, rng)
    right = _splits(rows.iloc[cut:], sites.iloc[best:], alpha, rng)
    return [*left, cut, *(cut + c for c in right)]


def _best_split(ll: np.ndarray, valid: np.ndarray) -> tuple[float, int]:
    """Largest likelihood ratio of one minor-allele fraction per side (split before site i,
    i where `valid`) against one for all, and that i."""
    before = np.cumsum(ll, axis=0) - ll  # sites 0 .. i-1 (row i)
    total = ll.sum(axis=0)
    lr = 2 * (before.max(axis=1) + (total - before).max(axis=1) - total.max())
    lr = np.where(valid, lr, -np.inf)
    best = int(np.argmax(lr))
    return float(lr[best]), best
