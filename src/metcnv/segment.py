"""Weighted circular binary segmentation (CBS, Olshen et al. 2004, as in DNAcopy).

Within a chromosome, every arc [i, j) is tested against the rest with the weighted
statistic T = (mean_in - mean_out) / (phi * sqrt(1/W_in + 1/W_out)), where W are sums of
inverse-variance weights and phi is the data's own noise scale (robust SD of weighted
first differences, so change points do not inflate it). The largest |T| is significant
when a Bonferroni bound over all arcs already says so; otherwise when the permutation
p-value (seeded permutations of the bins, DNAcopy's test) is at most its share of
`alpha`, which PERMUTATIONS permutations can show only for shares >= 1/(PERMUTATIONS + 1):
below that (pon build's outlier search, 1e-6), the Bonferroni bound alone decides.
Accepted arcs split the interval and each part is segmented again.

An interval the arc test leaves whole is then tested for one change point (the best
split into a left and a right part, against the largest such T of permuted bins); each
test at half of `alpha`. An arm-level change is the common event in tumors, and the
single-split test sees it with far more power: its null maximum runs over n positions,
the arcs' over n^2/2 (on 1,123 bins of a 250x chr10, a 10q loss at tumor fraction 0.2
stood at split T 5.1 against a permutation 99th percentile of 3.8, but its best arc's 5.4
was within the arcs' null, which 2-bin arcs of sparse off-target bins reach by chance, so
CBS left chr10 whole). Arcs go first because an arc places both edges of an amplicon at
once, where a first split would cut at one edge and then place the other by a split of
what is left, which takes in the amplicon's neighbours.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import ndtr

from metcnv import params

PERMUTATIONS = 200  # p-value resolution 1/201, enough for alpha / 2 >= 0.005; the Bonferroni
# shortcut settles clear change points without any permutation
CHUNK = 2_000_000  # arcs evaluated per numpy block (bounds memory)


def _arc_t(
    cw: np.ndarray, cwx: np.ndarray, i: np.ndarray, j: np.ndarray, min_bins: int
) -> np.ndarray:
    """Signed T (before the noise scale) of arcs [i, j) against the rest; 0 where invalid."""
    n = len(cw) - 1
    w_in = cw[j] - cw[i]
    w_out = cw[-1] - w_in
    size = j - i
    valid = (size >= min_bins) & (n - size >= min_bins) & (w_in > 0) & (w_out > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sum_in = cwx[j] - cwx[i]
        diff = sum_in / w_in - (cwx[-1] - sum_in) / w_out
        t = diff / np.sqrt(1 / w_in + 1 / w_out)
    return np.where(valid, t, 0.0)


def _search_arcs(
    x: np.ndarray, w: np.ndarray, starts: np.ndarray, ends: np.ndarray, min_bins: int, signed: bool
) -> tuple[float, int, int]:
    """The arc [i, j), i in `starts`, j in `ends`, with the largest T (|T| unless `signed`)."""
    cw = np.concatenate(([0.0], np.cumsum(w)))
    cwx = np.concatenate(([0.0], np.cumsum(w * x)))
    best, best_i, best_j = 0.0, 0, len(x)
    rows = max(1, CHUNK // max(len(ends), 1))
    for lo in range(0, len(starts), rows):
        i = starts[lo : lo + rows, None]
        t = _arc_t(cw, cwx, i, ends[None, :], min_bins)
        t = t if signed else np.abs(t)
        k = int(np.argmax(t))
        if t.flat[k] > best:
            best, best_i, best_j = (
                float(t.flat[k]),
                int(i[k // len(ends), 0]),
                int(ends[k % len(ends)]),
            )
    return best, best_i, best_j


def _best_arc(x: np.ndarray, w: np.ndarray, min_bins: int) -> tuple[float, int, int]:
    """The arc [i, j) with the largest |T| (before the noise scale) and that |T|."""
    every = np.arange(len(x) + 1)
    return _search_arcs(x, w, every, every, min_bins, signed=False)


def _best_split(x: np.ndarray, w: np.ndarray, min_bins: int) -> tuple[float, int, int]:
    """The split of x into [0, k) and [k, n) with the largest |T| (before the noise
    scale), as the arc [0, k): (|T|, 0, k)."""
    return _search_arcs(x, w, np.zeros(1, int), np.arange(len(x) + 1), min_bins, signed=False)


# each change-point search, with how many tests it makes over n bins (its Bonferroni count)
SEARCHES = ((_best_arc, lambda n: n * (n - 1) / 2), (_best_split, lambda n: n - 1))


def anchored_arc(
    x: np.ndarray, w: np.ndarray, first: int, last: int, min_bins: int = params.SEGMENT_MIN_BINS
) -> tuple[int, int] | None:
    """The arc [i, j) holding bins first..last that stands highest above the rest.

    CBS looks for change points anywhere and must pay for that search with a strict test,
    so at low tumor fractions it can leave a small amplicon inside a long segment. When
    the position of interest is known (a gene), its amplicon's extent is the arc around
    the gene with the largest gain T against the other bins: an estimate, not a test (the
    caller tests the gene against the bins outside). None when no arc leaves `min_bins`
    outside or none is higher than the rest.
    """
    x, w = np.asarray(x, float), np.asarray(w, float)
    starts, ends = np.arange(first + 1), np.arange(last + 1, len(x) + 1)
    best, i, j = _search_arcs(x, w, starts, ends, min_bins, signed=True)
    return (i, j) if best > 0 else None


def split_t(x: np.ndarray, w: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Weighted T (before the noise scale) of x[:k] against x[k:] for each k in `cuts`."""
    cw = np.concatenate(([0.0], np.cumsum(w)))
    cwx = np.concatenate(([0.0], np.cumsum(w * x)))
    return _arc_t(cw, cwx, np.zeros_like(cuts), cuts, min_bins=1)


def noise_scale(x: np.ndarray, w: np.ndarray) -> float:
    """Robust SD of standardised first differences: phi, such that var(x_i) = phi^2 / w_i."""
    if len(x) < 3:
        return 1.0
    d = np.diff(x) / np.sqrt(1 / w[:-1] + 1 / w[1:])
    scale = 1.4826 * np.median(np.abs(d - np.median(d)))
    return float(scale) if scale > 0 else 1.0


def _significant(
    x: np.ndarray,
    w: np.ndarray,
    t_max: float,
    phi: float,
    min_bins: int,
    alpha: float,
    rng: np.random.Generator,
    best: Callable[[np.ndarray, np.ndarray, int], tuple[float, int, int]],
    tests: float,
) -> bool:
    """Whether `t_max`, the largest |T| of x that `best` (one of SEARCHES, making `tests`
    tests) finds, is significant at `alpha`."""
    n = len(x)
    nominal = 2 * ndtr(-t_max / phi)
    if nominal * tests < alpha:
        return True  # Bonferroni over all splits or arcs: significant without permutations
    if nominal >= alpha or alpha < 1 / (PERMUTATIONS + 1):
        return False  # nor can a permutation p-value (at least 1/201) be as small as alpha
    exceed = 0
    for _ in range(PERMUTATIONS):
        order = rng.permutation(n)
        if best(x[order], w[order], min_bins)[0] >= t_max:
            exceed += 1
            if (exceed + 1) / (PERMUTATIONS + 1) > alpha:
                return False
    return True


def segment_chromosome(
    x: np.ndarray,
    w: np.ndarray,
    alpha: float = params.SEGMENT_ALPHA,
    min_bins: int = params.SEGMENT_MIN_BINS,
    seed: int = 0,
) -> list[tuple[int, int]]:
    """Change points of one chromosome's log2 values: a list of (first, last+1) index pairs."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    phi = noise_scale(x, w)
    rng = np.random.default_rng(seed)
    pending, done = [(0, len(x))], []
    while pending:
        lo, hi = pending.pop()
        if hi - lo < 2 * min_bins:
            done.append((lo, hi))
            continue
        for best, tests in SEARCHES:
            t_max, i, j = best(x[lo:hi], w[lo:hi], min_bins)
            if t_max > 0 and _significant(
                x[lo:hi], w[lo:hi], t_max, phi, min_bins, alpha / 2, rng, best, tests(hi - lo)
            ):
                break
        else:
            done.append((lo, hi))
            continue
        cuts = sorted({lo, lo + i, lo + j, hi})
        pending.extend((a, b) for a, b in itertools.pairwise(cuts) if b > a)
    return sorted(done)


def segment_bins(
    bins: pd.DataFrame, alpha: float = params.SEGMENT_ALPHA, seed: int = 0
) -> pd.DataFrame:
    """Segment every chromosome of a bin table with columns chrom, start, end, log2, weight.

    Returns chrom, start, end, n_bins, log2 (weighted mean), first and last row index.
    """
    pieces = []
    for chrom, frame in bins.groupby("chrom", sort=False):
        x, w = frame["log2"].to_numpy(float), frame["weight"].to_numpy(float)
        pieces += [(chrom, lo, hi) for lo, hi in segment_chromosome(x, w, alpha, seed=seed)]
    return segment_table(bins, pieces)


def segment_table(bins: pd.DataFrame, pieces: list[tuple[str, int, int]]) -> pd.DataFrame:
    """The segments table (as segment_bins returns it) of `pieces` (chrom, lo, hi): the
    positions lo to hi - 1 among the chromosome's rows of `bins`."""
    rows = []
    frames = dict(tuple(bins.groupby("chrom", sort=False)))
    for chrom, lo, hi in pieces:
        frame = frames[chrom].iloc[lo:hi]
        rows.append(
            (
                chrom,
                int(frame["start"].iloc[0]),
                int(frame["end"].iloc[-1]),
                hi - lo,
                float(np.average(frame["log2"], weights=frame["weight"])),
                int(frame.index[0]),
                int(frame.index[-1]),
            )
        )
    return pd.DataFrame(
        rows, columns=["chrom", "start", "end", "n_bins", "log2", "first_row", "last_row"]
    )


def segments_at(bins: pd.DataFrame, boundaries: pd.DataFrame) -> pd.DataFrame:
    """The segments table (as segment_bins returns it) of segments another tool found:
    each bin joins the segment (chrom, start, end of `boundaries`) holding its midpoint;
    a run of bins in none of them (the tool dropped them) is a segment of its own."""
    pieces = []
    for chrom, frame in bins.groupby("chrom", sort=False):
        mids = (frame["start"].to_numpy() + frame["end"].to_numpy()) // 2
        label = np.full(len(frame), -1)
        for k, seg in enumerate(boundaries[boundaries["chrom"] == chrom].itertuples()):
            label[(mids >= seg.start) & (mids < seg.end)] = k
        edges = np.flatnonzero(np.diff(label)) + 1
        bounds = [0, *edges.tolist(), len(frame)]
        pieces += [(chrom, lo, hi) for lo, hi in itertools.pairwise(bounds)]
    return segment_table(bins, pieces)
