"""Depth segments split where their SNPs' allelic imbalance changes (joint segmentation).

Depth segmentation cannot see a copy-neutral loss of heterozygosity, or an arm whose
allelic state changes at the same total copy number: its log2 ratio does not move; and a
loss at a low tumor fraction can move it too little for CBS's search over every arc. Inside
every depth segment long enough to hold two fittable pieces, each split between two SNPs
(in genomic order, at the bin of the later one) is tested two ways: the alleles alone, by
the likelihood ratio of one minor-allele fraction per side against one for the whole
segment (each the maximum of the SNPs' genotype-mixture beta-binomial likelihood,
purity.sites_log_likelihood, over the fraction; chi-square, 1 df), and the alleles and depth
together (that ratio plus the squared weighted T of the bins' log2 on either side, in the
segment's own noise scale; chi-square, 2 df). The split with the smallest p of either is
accepted when a Bonferroni bound over both tests of every split and seeded permutations
(of the SNPs' order and of the bins' at once) put it below `alpha`, and its alleles alone
are at least nominally significant (depth alone is CBS's to split); each piece is tested
again. Pieces keep at least FIT_MIN_SEGMENT bases and MIN_SITES_PER_PIECE SNPs, so a split
never makes an amplicon-sized segment and the fit can use both sides.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from metcnv import params
from metcnv.bins import site_bins
from metcnv.purity import BAF_GRID, FIT_MIN_SEGMENT, sites_log_likelihood
from metcnv.segment import noise_scale, segment_table, split_t

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
    which = site_bins(sites, segments)
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
    valid = (
        (before >= MIN_SITES_PER_PIECE)
        & (before <= len(sites) - MIN_SITES_PER_PIECE)
        & (starts[bin_of] - starts[0] >= FIT_MIN_SEGMENT)
        & (rows["end"].iloc[-1] - starts[bin_of] >= FIT_MIN_SEGMENT)
        & (np.diff(bin_of, prepend=-1) > 0)
    )
    before, cuts = before[valid], bin_of[valid]
    if not len(cuts):
        return []
    ll = sites_log_likelihood(BAF_GRID, sites)
    x, w = rows["log2"].to_numpy(float), rows["weight"].to_numpy(float)
    phi = noise_scale(x, w)

    def p_values(ll: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per split: the smaller nominal p of the alleles alone and of alleles and depth
        together (chi-square, 1 and 2 df), and the alleles' alone."""
        allelic = _allelic_lr(ll, before)
        joint = allelic + (split_t(x, w, cuts) / phi) ** 2
        alone = chdtrc(1, allelic)
        return np.minimum(alone, chdtrc(2, joint)), alone

    smallest, alone = p_values(ll, x, w)
    best = int(np.argmin(smallest))
    if smallest[best] * 2 * len(cuts) >= alpha or alone[best] >= alpha:
        return []  # Bonferroni over both tests of every split; and depth alone is CBS's
    exceed = 0
    for _ in range(PERMUTATIONS):
        order = rng.permutation(len(x))
        shuffled = p_values(ll[rng.permutation(len(ll))], x[order], w[order])[0]
        exceed += shuffled.min() <= smallest[best]
    if (exceed + 1) / (PERMUTATIONS + 1) > alpha:
        return []
    cut, first = int(cuts[best]), int(before[best])
    left = _splits(rows.iloc[:cut], sites.iloc[:first], alpha, rng)
    right = _splits(rows.iloc[cut:], sites.iloc[first:], alpha, rng)
    return [*left, cut, *(cut + c for c in right)]


def _allelic_lr(ll: np.ndarray, sites_before: np.ndarray) -> np.ndarray:
    """Likelihood ratio of one minor-allele fraction per side against one for all sites
    (`ll`: sites x BAF_GRID), for each split leaving `sites_before` sites on its left."""
    cumulative = np.vstack([np.zeros(ll.shape[1]), np.cumsum(ll, axis=0)])
    left, total = cumulative[sites_before], cumulative[-1]
    return 2 * (left.max(axis=1) + (total - left).max(axis=1) - total.max())
