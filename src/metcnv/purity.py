"""Tumor fraction and ploidy from depth and B-allele frequencies, fitted jointly.

The fit follows ASCAT, PureCN and FACETS: every segment is given integer allele-specific
tumor copy numbers (major, minor), and a tumor fraction p and ploidy P are good when some
such states explain every segment's log2 ratio and the allele counts of its heterozygous
SNPs at once. For a segment in state (a, b), c = a + b,

    expected log2  = log2((p*c + 2(1-p)) / (p*P + 2(1-p)))
    expected BAF   = (p*b + (1-p)) / (p*c + 2(1-p))       (of the minor allele)

The log2 likelihood is normal with the segment's standard error (from its bins and the
normals' left-out scatter); each SNP's likelihood mixes its genotypes by the population
allele frequency (hom-ref, hom-alt with sequencing error, or het, whose alt fraction is
beta-binomial around the BAF or 1 - BAF, shifted by the site's reference bias in the
normals). Any segment may instead be "unexplained" (subclonal: any copy number some tumor
at that purity could produce) at a fixed cost, an amplicon (at most AMPLICON_MAX_SIZE long)
beyond MAX_COPIES at the cost of any event, and any state but (1, 1) costs a small prior
penalty, so noise is not fitted with ever finer states at low tumor fractions.

The profile likelihood over p (maximised over P) gives the estimate and a 95% interval
(likelihood ratio 3.84, its ends interpolated between grid points). Purity is
*identifiable* only when the interval excludes the smallest tumor fractions, is narrow
(its ranges, if several, within a factor of 2: the profile kinks where a segment's best
state changes; the interval then spans them), the purities within one standard error
of the best do not hold both some p and p/2 (unless clonal mutations fix p, below), and
the best fit holds a clonal loss of heterozygosity that the segment's allele counts show
(below what any state keeping a minor copy could; not depth alone, unless no SNP reports
or the lost allele's sites look homozygous). Only
an LOH fixes p: a gain keeps both alleles, and one more copy trades exactly for a lower
tumor fraction ((2,1) at p has the depth and BAF of (3,1) at p/2; (2,2) of (3,3)), so among
such ties the likelihood picks whichever finer states fit the other segments' noise best;
one allele amplified over a flat genome has BAF 1 / (2r) whatever p is. Gains still bound
p from above (each gained allele keeps one copy more at least), which the caller uses
(call.py: tumor_copy_number_min); that bound is taken along the ties from the best fit's states,
not from the likelihood, which the noise tilts.

Somatic mutations, when the sample has a VCF of them (metcnv.somatic), add each one's
allele counts to its segment's state likelihood; clonal ones on the single copy of their
allele fix p without an LOH, and the fit then counts as identifiable (_pinning_mutations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaln
from scipy.stats import chi2

from metcnv import params
from metcnv.alleles import genotype_calls
from metcnv.model import Ploidy, Purity, PurityFit, PuritySolution, percent
from metcnv.somatic import (
    GERMLINE_HET,
    GERMLINE_HOM,
    MIN_PINNING,
    MUTATION_COLUMNS,
    beta_binomial,
    free_log_likelihood,
    germline_like,
    mutation_log_likelihood,
)

# finer where cfDNA tumor fractions lie; the points below 1% are there to be excluded: an
# interval that reaches the grid's lowest point cannot be told from a vanishing tumor, so
# with 1% lowest a 2% plasma tumor fixed by its mutations to 1.2-2.8% was never estimated
PURITY_GRID = np.round(
    np.concatenate(
        [[0.0025, 0.005, 0.0075], np.arange(0.01, 0.1, 0.005), np.arange(0.1, 1.0001, 0.01)]
    ),
    4,
)
PLOIDY_GRID = np.round(np.arange(1.5, 5.0001, 0.02), 2)
MAX_COPIES = 8  # integer states up to this; higher (amplicons) fit as continuous copies
AMPLICON_MAX_SIZE = 10_000_000  # a segment longer than this above MAX_COPIES is no amplicon:
# an arm at 20 copies is a misfit, and letting it pass as an amplicon lets one-allele arm
# gains fit any low tumor fraction (as (k+1, 1) copies at p/k) at the cost of one state
UNEXPLAINED_COST = 6.0  # log-likelihood a segment pays to be left unexplained
ABERRANT_COST = 2.0  # log prior cost of any state but (1, 1): noise is not an event
BAF_CONCENTRATION = 250.0  # beta-binomial alpha + beta of a het site's alt fraction when the
# panel of normals has not measured it (het_concentration): PureCN-like overdispersion
STRAY_SITE = 0.0003  # chance that a het site shows balanced alleles whatever its segment's
# state: a site across a breakpoint the sparse SNPs could not place exactly (a 35 Mb LOH
# whose piece had to take 2 balanced sites pinned a tumor at 0.67 for 0.8). One site then
# says at most log(1/0.0003) = 8 (about 4 SD) against balance; at 0.05 (3) the fit also
# dropped a true state's own near-balanced tail and moved estimates up
SEQUENCING_ERROR = 0.005  # alt fraction of a homozygous site, and the floor of any
# allele's: homozygous and fully lost alleles share one overdispersed (beta-binomial) error
# model, so a clean homozygous site at high depth is not taken for a loss at purity 1
SEGMENT_SD_FLOOR = 0.03  # log2 noise no segment mean is trusted below (waves, GC)
LR_95 = 3.841  # chi-square(1) 95% quantile: the profile likelihood interval
LR_68 = 1.0  # chi-square(1) 68% quantile: one standard error of the purity
MAX_IDENTIFIABLE_WIDTH = 0.5  # a purity interval wider than this says nothing
FIT_MIN_SEGMENT = params.FOCAL_MAX_SIZE  # shorter segments (amplicons) are not fitted
FOCAL_EDGE_MARGIN = 1_000_000  # sites this close to a focal segment do not enter the fit
FIT_MIN_DEPTH = 10  # reads over a SNP site for its allele counts to enter the fit
HOMOZYGOUS_FRACTION = 0.02  # fewer alt (or ref) reads than this: homozygous in the sample.
# Such a site says nothing of the allelic state below purity ~0.97 (a lost allele still shows
# the normal cells' copy), and a run of them, common where the population AF is low, would
# otherwise be fitted as a loss of heterozygosity at purity 1 (PureCN and FACETS, too, use
# only sites heterozygous in the sample or its normal)
DEFAULT_POP_AF = 0.3  # population allele frequency of a site whose VCF gives none
BIAS_MIN_HET_NORMALS = 2  # het normals needed to trust a site's own reference bias
HET_CONCENTRATION_GRID = np.geomspace(10, 100_000, 81)  # 100,000: binomial at any depth here
HET_MIN_PAIRS = 100  # het (normal, site) pairs to measure the overdispersion on
BAF_GRID = np.linspace(0.0, 0.5, 51)  # minor-allele fractions a segment's BAF is scanned on
# (major, minor) states of a fitted segment; no (0, 0): a homozygous deletion of 3 Mb or more
# is not seen in tumors that live (PureCN caps them too), and a noisy low segment fitted as
# one pins the purity near 1
STATES = np.array(
    [(a, b) for c in range(1, MAX_COPIES + 1) for b in range(c // 2 + 1) for a in [c - b]]
)


@dataclass
class Surface:
    """The likelihood surface, its best solution with a 95% interval, and whether p is
    identifiable."""

    purity: float
    ploidy: float
    ci95: tuple[float, float]
    identifiable: bool
    reason: str
    solutions: list[PuritySolution]
    surface: np.ndarray  # PURITY_GRID x ploidies log-likelihood
    ploidies: np.ndarray  # the ploidy grid (one value when the ploidy was given)
    n_segments: int  # segments fitted (broad enough)
    n_snps: int  # SNP sites inside them
    n_mutations: int  # somatic mutations inside them

    def plausible(self) -> np.ndarray:
        """The (purity, ploidy) pairs inside the 95% region (likelihood ratio 3.84, the same
        cut as the purity interval, which is this region's shadow on the purity axis), and
        above it up to the interval's end when that was widened along the gains' ridge
        (each purity at its best ploidy)."""
        i, j = np.nonzero(2 * (self.surface.max() - self.surface) <= LR_95)
        region_top = PURITY_GRID[i].max()
        above = np.flatnonzero((region_top < PURITY_GRID) & (self.ci95[1] >= PURITY_GRID))
        i = np.concatenate([i, above])
        j = np.concatenate([j, self.surface[above].argmax(axis=1)])
        return np.column_stack([PURITY_GRID[i], self.ploidies[j]])

    def summary(self) -> PurityFit:
        """The typed record of this fit, for the result."""
        ploidies = self.plausible()[:, 1]
        return PurityFit(
            identifiable=self.identifiable,
            value=self.purity if self.identifiable else None,
            ci95=self.ci95,
            ploidy=self.ploidy,
            ploidy_ci95=(float(ploidies.min()), float(ploidies.max())),
            reason=self.reason,
            n_segments=self.n_segments,
            n_snps=self.n_snps,
            n_mutations=self.n_mutations,
            solutions=self.solutions,
            profile=[
                PuritySolution(
                    purity=float(p), ploidy=float(self.ploidies[j]), log_likelihood=float(row[j])
                )
                for p, row in zip(PURITY_GRID, self.surface, strict=True)
                for j in [int(np.argmax(row))]
            ],
        )


def _log_binom(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    return gammaln(n + 1) - gammaln(a + 1) - gammaln(n - a + 1)


def _bias_shift(fraction: np.ndarray, het_alt_fraction: np.ndarray) -> np.ndarray:
    """Alt fraction a site shows for a true `fraction`, given its normals' het alt fraction."""
    odds = het_alt_fraction / (1 - het_alt_fraction)
    return fraction * odds / (fraction * odds + 1 - fraction)


SNP_LIKELIHOOD_COLUMNS = ["ref_count", "alt_count", "pop_af", "het_alt_fraction", "concentration"]


def snp_log_likelihood(
    baf: np.ndarray,
    ref: np.ndarray,
    alt: np.ndarray,
    pop_af: np.ndarray,
    bias: np.ndarray,
    concentration: np.ndarray,
) -> np.ndarray:
    """Log-likelihood of each SNP's counts (rows) for each minor-allele BAF (last axis); a
    het site's alt fraction is beta-binomial with alpha + beta = its `concentration`."""
    ref, alt, q, h, c = (
        np.asarray(v, float)[:, None] for v in (ref, alt, pop_af, bias, concentration)
    )
    n = ref + alt
    baf = np.asarray(baf, float)[None, :]
    choose = _log_binom(alt, n)

    def fraction(f: np.ndarray) -> np.ndarray:  # beta-binomial at alt fraction f
        return beta_binomial(alt, ref, f, c, SEQUENCING_ERROR)

    hom = np.logaddexp(
        np.log((1 - q) ** 2) + fraction(np.array([[SEQUENCING_ERROR]])),
        np.log(q**2) + fraction(np.array([[1 - SEQUENCING_ERROR]])),
    )
    het = np.logaddexp(fraction(_bias_shift(baf, h)), fraction(_bias_shift(1 - baf, h)))
    het = np.logaddexp(np.log(1 - STRAY_SITE) + np.log(0.5) + het, np.log(STRAY_SITE) + fraction(h))
    het = het + np.log(2 * q * (1 - q))
    return choose + np.logaddexp(hom, het)


def sites_log_likelihood(baf: np.ndarray, sites: pd.DataFrame) -> np.ndarray:
    """snp_log_likelihood of a sites table (SNP_LIKELIHOOD_COLUMNS) at each of `baf`."""
    return snp_log_likelihood(baf, *(sites[c].to_numpy(float) for c in SNP_LIKELIHOOD_COLUMNS))


def expected_baf(purity: float, states: np.ndarray) -> np.ndarray:
    """Minor-allele BAF of each (major, minor) state at `purity`."""
    cells = purity * states.sum(axis=1) + 2 * (1 - purity)  # copies per cell
    with np.errstate(invalid="ignore", divide="ignore"):
        baf = (purity * states[:, 1] + 1 - purity) / cells
    return np.where(cells > 0, baf, 0.5)  # no copies at all: no reads, any BAF


def fit_purity(
    segments: pd.DataFrame,
    snps: pd.DataFrame,
    ploidy: float | None = None,
    mutations: pd.DataFrame | None = None,
) -> Surface:
    """Fit p and P to segments (log2, se), SNPs (segment, ref_count, alt_count, pop_af,
    het_alt_fraction) and somatic mutations (segment, ref_count, alt_count, concentration;
    metcnv.somatic); see the module docstring. A given `ploidy` is held fixed.

    Segments shorter than FIT_MIN_SEGMENT (and their SNPs and mutations) are left out: a
    focal amplicon says nothing about the purity (its BAF is 1/(2r) at any p and its copies
    are not bounded), and integer states over a handful of bins fit noise."""
    ploidies = PLOIDY_GRID if ploidy is None else np.array([float(ploidy)])
    if mutations is None:
        mutations = pd.DataFrame(columns=["segment", *MUTATION_COLUMNS])
    segments, renumber, free_ll = _broad_segments(segments, snps)
    snps, mutations = (_renumbered(t, renumber) for t in (snps, mutations))
    log2 = segments["log2"].to_numpy(float)
    sizes = (segments["end"] - segments["start"]).to_numpy(float)
    sd = np.hypot(segments["se"].to_numpy(float), SEGMENT_SD_FLOOR)
    k = len(segments)
    which = snps["segment"].to_numpy(int)
    carrier = mutations["segment"].to_numpy(int)
    free_mutations = _per_segment(free_log_likelihood(mutations)[:, None], carrier, k)[:, 0]
    total = STATES.sum(axis=1)
    prior = np.where((STATES[:, 0] == 1) & (STATES[:, 1] == 1), 0.0, -ABERRANT_COST)
    # best BAF log-likelihood at or above each grid point (the lowest BAF a purity allows)
    free_ll_above = np.maximum.accumulate(free_ll[:, ::-1], axis=1)[:, ::-1]

    def fits(p: float) -> tuple[np.ndarray, np.ndarray]:
        """Log-likelihood at purity p of every (ploidy, segment, state), and of every
        (ploidy, segment) left unexplained."""
        baf_ll = _per_segment(sites_log_likelihood(expected_baf(p, STATES), snps), which, k)
        baf_ll += _per_segment(mutation_log_likelihood(p, STATES, mutations)[0], carrier, k)
        with np.errstate(divide="ignore"):  # (0, 0) at p = 1: log2(0) = -inf, no fit
            level = np.log2(p * total + 2 * (1 - p))  # numerator of each state's ratio
        offset = np.log2(p * ploidies + 2 * (1 - p))
        z = (log2[None, :, None] - (level[None, None, :] - offset[:, None, None])) / sd[:, None]
        return -0.5 * z**2 + baf_ll[None] + prior, _unexplained(
            log2, sd, sizes, p, offset, free_ll_above
        ) + free_mutations[None, :]

    surface = np.empty((len(PURITY_GRID), len(ploidies)))
    for i, p in enumerate(PURITY_GRID):
        state_ll, free = fits(p)
        surface[i] = np.maximum(state_ll.max(axis=2), free).sum(axis=1)

    profile = surface.max(axis=1)
    i_best, j_best = np.unravel_index(int(np.argmax(surface)), surface.shape)
    p_best, ploidy_best = float(PURITY_GRID[i_best]), float(ploidies[j_best])
    ratio = 2 * (profile.max() - profile)  # likelihood ratio against the best purity
    inside = ratio <= LR_95
    ci = _interval(ratio, inside)
    state_ll, free = (a[j_best] for a in fits(p_best))
    # an LOH is seen in the allele counts: its SNPs reject every minor-allele fraction that
    # a state keeping a minor copy could show, at 5% over every segment with SNPs
    # (Bonferroni: one of ten balanced segments would pass 5% by chance); with no SNP in the
    # sample at all, depth alone. A minor copy among the segment's D = p*c + 2(1-p) copies
    # per cell shows 1/D at least, whatever p (p*b + 1-p >= 1): a loss must show imbalance
    # (1/D > 0.5), a gain must show less than 1/D. Imbalance alone does not tell an LOH from
    # a gain of one allele: (2,1) at 0.4 shows 0.417, (7,0) at 0.075 0.389, at the same depth,
    # and 30 SNPs chose (7,0) by chance, pinning a 40% tumor at 7.5% (5-14%)
    tested = max(int((np.bincount(which, minlength=k) > 0).sum()), 1)
    cells = p_best * STATES[state_ll.argmax(axis=1)].sum(axis=1) + 2 * (1 - p_best)
    # the grid point at or below 1/D: the alternative is given the benefit of the grid step
    keeps_minor = np.searchsorted(BAF_GRID, np.minimum(1 / cells, 0.5), side="right") - 1
    imbalance = 2 * (free_ll.max(axis=1) - free_ll_above[np.arange(k), keeps_minor])
    seen = imbalance >= chi2.isf(0.05 / tested, 1) if len(snps) else np.ones(k, bool)
    pinning = _pinning_mutations(state_ll, free, p_best, mutations)
    top = None if pinning >= MIN_PINNING else _gains_only_top(state_ll, free, p_best, seen)
    if top is not None:
        ci = (ci[0], max(ci[1], top))
    identifiable, reason = _identifiable(
        inside, ratio <= LR_68, ci, gains_only=top is not None, pinning=pinning
    )
    return Surface(
        purity=p_best,
        ploidy=ploidy_best,
        ci95=ci,
        identifiable=identifiable,
        reason=reason,
        solutions=_local_optima(surface, ploidies),
        surface=surface,
        ploidies=ploidies,
        n_segments=len(segments),
        n_snps=len(snps),
        n_mutations=len(mutations),
    )


def germline_warning(
    segments: pd.DataFrame,
    snps: pd.DataFrame,
    ploidy: float | None,
    mutations: pd.DataFrame,
    fit: Surface,
) -> str | None:
    """A warning when the mutations at germline-like allele fractions
    (somatic.germline_like) carry `fit`'s estimate: the fit made again without them gives
    an estimate whose interval does not meet `fit`'s. A tumor-only caller lets germline
    variants through, and a germline het reads as a clonal mutation of a pure tumor; the
    reads alone cannot tell them apart, the patient's normal can. A refit that identifies
    nothing is no warning: a tumor at 70-100% whose purity rests on its own clonal
    mutations is that case (43 of 233 estimates on the real-noise benchmark, whose VCFs
    are clean, would have been flagged; 6 are, each a tumor at 80-100% whose refit falls
    to about half, the gains' trade); the price is that leaks in a plasma sample left with
    one mutation of its own go unflagged."""
    suspect = germline_like(mutations)
    if not suspect.any():
        return None
    other = fit_purity(segments, snps, ploidy, mutations[~suspect])
    (low, high), (other_low, other_high) = fit.ci95, other.ci95
    if not other.identifiable or (other_low <= high and low <= other_high):
        return None
    return (
        f"the tumor fraction {percent(fit.purity)} rests on {int(suspect.sum())} somatic "
        f"mutation(s) read at {GERMLINE_HET[0]:.0%}-{GERMLINE_HET[1]:.0%} or above "
        f"{GERMLINE_HOM:.0%}, as germline variants are; without them it is "
        f"{percent(other.purity)} ({percent(other_low)}-{percent(other_high)}): if the VCF "
        "was called without a matched normal, check them against the patient's germline"
    )


def _broad_segments(
    segments: pd.DataFrame, snps: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The segments fit_purity fits (FIT_MIN_SEGMENT or longer), each given segment's
    number among them (-1: not fitted), and each fitted segment's SNP log-likelihood at
    every minor-allele fraction of BAF_GRID;
    neighbours on a chromosome that only shorter segments separate are joined where their
    depth and alleles do not differ (weighted T squared plus the alleles' likelihood ratio
    of one minor-allele fraction against two, chi-square 2 df, p > SEGMENT_ALPHA) and no
    segment between them stands MIN_Z standard errors off their level (an amplicon is an
    event between them; a blip that does not stand out is CBS's noise).

    A blip of two noisy bins cuts an arm in two as readily as a real edge, and the fit
    would then give each piece a state of its own: on real capture noise, a 12p gain (2,1)
    at tumor fraction 0.3 was cut 10 Mb from its end, and the piece's 2 het SNPs, both
    below the arm's minor-allele fraction by chance, were fitted as an LOH (5,0) at 0.1,
    which pinned the purity there and called a true 8 copies 21."""
    broad = np.flatnonzero((segments["end"] - segments["start"]).to_numpy() >= FIT_MIN_SEGMENT)
    renumber = np.full(len(segments), -1)
    if len(broad) == 0:
        return segments.iloc[:0], renumber, np.zeros((0, len(BAF_GRID)))
    frame = segments.iloc[broad]
    which = np.searchsorted(broad, snps["segment"].to_numpy(int))
    inside = np.isin(snps["segment"].to_numpy(int), broad)
    snps, which = snps[inside], which[inside]
    baf_ll = _per_segment(sites_log_likelihood(BAF_GRID, snps), which, len(broad))
    log2, se = frame["log2"].to_numpy(float), frame["se"].to_numpy(float)
    all_log2, all_se = segments["log2"].to_numpy(float), segments["se"].to_numpy(float)
    chrom = frame["chrom"].to_numpy()
    inverse = se**-2.0
    group = np.zeros(len(broad), int)
    joined_ll, weight, weighted = baf_ll[0], inverse[0], log2[0] * inverse[0]
    for k in range(1, len(broad)):
        t2 = (weighted / weight - log2[k]) ** 2 / (1 / weight + se[k] ** 2)
        lr = 2 * (joined_ll.max() + baf_ll[k].max() - (joined_ll + baf_ll[k]).max())
        level = (weighted + log2[k] * inverse[k]) / (weight + inverse[k])
        between = slice(broad[k - 1] + 1, broad[k])
        z = np.abs(all_log2[between] - level) / np.hypot(
            all_se[between], (weight + inverse[k]) ** -0.5
        )
        only_blips_between = broad[k] > broad[k - 1] + 1 and bool(np.all(z < params.MIN_Z))
        agree = chi2.sf(t2 + lr, 2) > params.SEGMENT_ALPHA
        if chrom[k] == chrom[k - 1] and only_blips_between and agree:
            group[k] = group[k - 1]
            joined_ll, weight = joined_ll + baf_ll[k], weight + inverse[k]
            weighted += log2[k] * inverse[k]
        else:
            group[k] = group[k - 1] + 1
            joined_ll, weight, weighted = baf_ll[k], inverse[k], log2[k] * inverse[k]
    joined = (
        frame.assign(w=inverse, wx=log2 * inverse, group=group)
        .groupby("group")
        .agg(
            chrom=("chrom", "first"),
            start=("start", "min"),
            end=("end", "max"),
            w=("w", "sum"),
            wx=("wx", "sum"),
        )
    )
    joined = joined.assign(log2=joined["wx"] / joined["w"], se=joined["w"] ** -0.5)
    renumber[broad] = group
    return (
        joined[["chrom", "start", "end", "log2", "se"]].reset_index(drop=True),
        renumber,
        _per_segment(baf_ll, group, len(joined)),
    )


def _renumbered(table: pd.DataFrame, renumber: np.ndarray) -> pd.DataFrame:
    """The rows of a sites table whose segment is fitted, with the fitted segment's number
    (`renumber`: _broad_segments' old -> new segment, -1 where not fitted)."""
    old = table["segment"].to_numpy(int)
    new = np.where(old >= 0, renumber[np.maximum(old, 0)], -1) if len(old) else old
    return table.assign(segment=new)[new >= 0]


def _unexplained(
    log2: np.ndarray,
    sd: np.ndarray,
    sizes: np.ndarray,
    p: float,
    offset: np.ndarray,
    free_ll_above: np.ndarray,
) -> np.ndarray:
    """Log-likelihood (ploidies x segments) of each segment at a non-integer (subclonal)
    tumor copy number c >= 0 and any BAF this purity allows, minus UNEXPLAINED_COST; above
    MAX_COPIES in a segment at most AMPLICON_MAX_SIZE long (an amplicon, which integer
    states do not reach) minus ABERRANT_COST only, so that an amplicon never says which
    purities are possible.

    Depth fits exactly unless it lies below what c = 0 gives; the BAF is free above its
    floor (1-p) / (p*c + 2(1-p)) (no minor copies in the tumor). So a segment no clonal
    state explains stays possible at any purity at which some tumor could produce it."""
    normal = 2 * (1 - p)
    with np.errstate(divide="ignore"):
        floor_log2 = np.log2(normal) - offset  # log2 of c = 0, per ploidy
    below = log2[None, :] < floor_log2[:, None]
    depth = np.where(below, -0.5 * ((log2[None, :] - floor_log2[:, None]) / sd) ** 2, 0.0)
    copies = np.maximum((2.0 ** log2[None, :] * 2.0 ** offset[:, None] - normal) / p, 0.0)
    lowest_baf = (1 - p) / (p * copies + normal)
    column = np.minimum(np.searchsorted(BAF_GRID, lowest_baf), len(BAF_GRID) - 1)
    amplicon = (copies > MAX_COPIES) & (sizes <= AMPLICON_MAX_SIZE)[None, :]
    cost = np.where(amplicon, ABERRANT_COST, UNEXPLAINED_COST)
    return depth + np.take_along_axis(free_ll_above, column.T, axis=1).T - cost


def _per_segment(snp_ll: np.ndarray, which: np.ndarray, k: int) -> np.ndarray:
    """Sum SNP log-likelihood rows into their segments (k x columns)."""
    out = np.zeros((k, snp_ll.shape[1]))
    np.add.at(out, which, snp_ll)
    return out


def _pinning_mutations(
    state_ll: np.ndarray, free: np.ndarray, purity: float, mutations: pd.DataFrame
) -> int:
    """How many mutations the best fit holds clonal (posterior > 1/2) on the one copy of
    their allele in a segment it explains with one major copy ((1, 1) or (1, 0)): there m
    must be 1, so f = p / (p*c + 2(1-p)) fixes p, where gains trade copies for purity."""
    if not len(mutations):
        return 0
    chosen = state_ll.argmax(axis=1)
    explained = state_ll.max(axis=1) >= free
    carrier = mutations["segment"].to_numpy(int)
    clonal = mutation_log_likelihood(purity, STATES, mutations)[1]
    posterior = clonal[np.arange(len(carrier)), chosen[carrier]]
    single = (STATES[chosen[carrier], 0] == 1) & explained[carrier]
    return int((single & (posterior > 0.5)).sum())


def _gains_only_top(
    state_ll: np.ndarray, free: np.ndarray, purity: float, seen: np.ndarray
) -> float | None:
    """The highest tumor fraction the best fit's gains allow when it has no clonal loss of
    heterozygosity in a segment whose SNPs show an allelic imbalance (`seen`), else None: a
    dip of depth in a short noisy segment (a centromere's edge) is fitted as a loss at some
    p as readily as a real one, and would pin p alone.

    Each segment's state (log-likelihood `state_ll`, segments x states, unless `free`, left
    unexplained, is better) keeps each allele's excess copies (a - 1, b - 1) at p only as
    (a - 1) p / p' at p'; a gained allele needs one copy more at least, so a segment allows
    p' up to p times its smaller nonzero excess, and the gains together up to the largest
    of those (the one most surely clonal). A loss its SNPs do not show, (a, 0), counts as
    the gain of its major allele (a - 1): it may be one allele's gain at a higher p. The
    likelihood does not bound it: along the ridge of ties, finer copy states at lower p fit
    the noise of other segments better. No gain at all (a flat fit): 1."""
    explained = state_ll.max(axis=1) >= free
    chosen = STATES[state_ll.argmax(axis=1)]
    # near purity 1 a lost allele leaves its sites homozygous in the sample, which the fit
    # does not use (fit_sites), so depth alone shows the loss there
    unseeable = expected_baf(purity, chosen) < 2 * HOMOZYGOUS_FRACTION
    if ((chosen[:, 1] == 0) & explained & (seen | unseeable)).any():
        return None
    chosen = chosen[explained]
    excess = np.where(chosen > 1, chosen - 1, np.inf).min(axis=1)
    gained = np.isfinite(excess)
    return float(min(1.0, purity * excess[gained].max())) if gained.any() else 1.0


def _identifiable(
    inside: np.ndarray, top: np.ndarray, ci: tuple[float, float], gains_only: bool, pinning: int
) -> tuple[bool, str]:
    """Whether the purity grid points inside the 95% profile interval (`inside`) and within
    one standard error of the best (`top`) fix p, and why (not); `ci` is the interval
    reported (widened along the gains' ridge when the best fit has `gains_only`). The
    interval must exclude the smallest tumor fractions (else nothing tells the tumor from a
    vanishing one) and be at most MAX_IDENTIFIABLE_WIDTH wide, its ranges (if several)
    within a factor of 2 of each other, the top must not hold both some p and p/2 (unless
    `pinning` mutations rule the trade out), and the best fit must hold a clonal loss of
    heterozygosity: a gain keeps both alleles, so one more copy trades exactly for a lower
    tumor fraction ((a, b) at p fits like (1 + k(a-1), 1 + k(b-1)) at p/k: (2,1) like (3,1)
    at p/2, (2,2) like (3,3)), and among such ties the likelihood only picks whichever finer copy
    states fit the noise best. `pinning` clonal mutations (_pinning_mutations) are named
    among the evidence when they are MIN_PINNING or more."""
    best = PURITY_GRID[top]
    low, high = ci
    if inside[0]:
        return False, (
            f"tumor fractions from {percent(low)} up to {percent(high)} fit the data equally "
            "well (no clonal loss of heterozygosity or set of copy levels stands out enough to "
            "tell the tumor from a vanishing one)"
        )
    first, last = np.flatnonzero(inside)[[0, -1]]
    # separate ranges within a factor of 2 are one interval spanning them (`ci`): the
    # profile is a maximum over discrete copy states, so it kinks and dips where segments'
    # best states change; a factor of 2 or more is the gains' trade of copies for p, which
    # clonal mutations on single-copy alleles rule out (`pinning`): the interval spans it
    apart = PURITY_GRID[last] >= 2 * PURITY_GRID[first] and pinning < MIN_PINNING
    if not inside[first : last + 1].all() and apart:
        ranges = ", ".join(f"{percent(a)}-{percent(b)}" for a, b in _ranges(inside))
        return False, (
            f"tumor fractions in separate ranges ({ranges}) fit the data equally well (gains "
            "without a loss of heterozygosity trade copies for tumor fraction)"
        )
    # with mutations pinning p, a spread of p to 2p within one standard error is their
    # counts' own imprecision (a few alt reads each at a low tumor fraction), which the
    # interval carries; without them it is the gains' trade, which the interval does not
    if best.max() >= 2 * best.min() and pinning < MIN_PINNING:
        return False, (
            f"tumor fractions from {percent(best.min())} to {percent(best.max())} fit the "
            "data about equally well (gains without a clonal loss of heterozygosity: one more "
            f"copy of each trades for a lower tumor fraction), so at most {percent(high)}"
        )
    if high - low > MAX_IDENTIFIABLE_WIDTH:
        return False, (
            f"the data fit tumor fractions from {percent(low)} to {percent(high)} equally well (no "
            "clonal loss of heterozygosity or set of copy levels fixes it)"
        )
    if gains_only:
        return False, (
            f"the best fit has gains only, no clonal loss of heterozygosity, and one more copy "
            "of each gain trades for a lower tumor fraction: from "
            f"{percent(low)} up to {percent(high)}"
        )
    evidence = "depth and allele frequencies"
    if pinning >= MIN_PINNING:
        evidence = f"depth, allele frequencies and {pinning} clonal somatic mutations"
    return True, f"fitted from {evidence} (95% interval {percent(low)}-{percent(high)})"


def _interval(ratio: np.ndarray, inside: np.ndarray) -> tuple[float, float]:
    """The 95% interval's ends: where the likelihood ratio crosses LR_95 between the first
    (last) grid point inside and its outer neighbour, linearly, so the grid's steps do not
    narrow it; a grid end when the interval reaches it."""
    first, last = np.flatnonzero(inside)[[0, -1]]

    def crossing(inner: int, outer: int) -> float:
        if not 0 <= outer < len(ratio):
            return float(PURITY_GRID[inner])
        share = (LR_95 - ratio[inner]) / (ratio[outer] - ratio[inner])
        step = PURITY_GRID[outer] - PURITY_GRID[inner]
        return round(float(PURITY_GRID[inner] + share * step), 3)

    return crossing(first, first - 1), crossing(last, last + 1)


def _ranges(inside: np.ndarray) -> list[tuple[float, float]]:
    """The purity ranges (first, last grid point) of each run of `inside`."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(int), [0]])))
    return [(float(PURITY_GRID[a]), float(PURITY_GRID[b - 1])) for a, b in edges.reshape(-1, 2)]


def _local_optima(surface: np.ndarray, ploidies: np.ndarray, keep: int = 5) -> list[PuritySolution]:
    """The best points of the surface that beat their 8 neighbours, best first."""
    padded = np.pad(surface, 1, constant_values=-np.inf)
    peak = np.ones(surface.shape, bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                peak &= (
                    surface
                    >= padded[
                        1 + di : 1 + di + surface.shape[0], 1 + dj : 1 + dj + surface.shape[1]
                    ]
                )
    rows, cols = np.nonzero(peak)
    order = np.argsort(-surface[rows, cols])[:keep]
    return [
        PuritySolution(
            purity=float(PURITY_GRID[rows[o]]),
            ploidy=float(ploidies[cols[o]]),
            log_likelihood=float(surface[rows[o], cols[o]]),
        )
        for o in order
    ]


def het_concentration(tables: list[pd.DataFrame], usable: np.ndarray) -> float | None:
    """How far a het site's alt fraction strays from what the fit expects of it, measured
    on the normals (allele tables of the same sites) as the fit will meet it: the
    beta-binomial concentration (alpha + beta) of maximum likelihood, on
    HET_CONCENTRATION_GRID, of every (normal, `usable` site) pair called het, around the
    reference bias fit_sites would give that site from the other normals. None with fewer
    than HET_MIN_PAIRS pairs.

    Capture and PCR overdisperse allele counts by an amount of their own (PureCN fits it
    too), and a site's bias known from a few normals is itself noisy; a fixed guess that is
    too loose shrinks a tumor's allelic imbalance toward 0.5, and its purity with it."""
    ref, alt, fraction, _, het = genotype_calls(tables)
    het &= usable[None, :]
    if het.sum() < HET_MIN_PAIRS:
        return None
    others = het.sum(axis=0)[None, :] - 1  # het normals beside this one
    left_out = (np.where(het, fraction, 0).sum(axis=0)[None, :] - fraction) / np.maximum(others, 1)
    typical = np.median(fraction[het])
    bias = np.clip(np.where(others >= BIAS_MIN_HET_NORMALS, left_out, typical), 0.3, 0.7)
    ref, alt, bias = (v[het][:, None] for v in (ref, alt, bias))
    ll = beta_binomial(alt, ref, bias, HET_CONCENTRATION_GRID, 0.0).sum(axis=0)
    return float(HET_CONCENTRATION_GRID[np.argmax(ll)])


def fit_sites(
    alleles: pd.DataFrame, pon_snps: pd.DataFrame | None, concentration: float | None = None
) -> pd.DataFrame:
    """The sample's SNP allele counts with what the normals say about each site: the
    reference bias (`het_alt_fraction`, the panel's median where the site has too few het
    normals), the het alt fraction's overdispersion (`concentration`: the panel's, else
    BAF_CONCENTRATION) and whether the fit may use it (`used`, else `reason`)."""
    sites = alleles.copy()
    sites["depth"] = sites["ref_count"] + sites["alt_count"]
    sites["pop_af"] = sites["pop_af"].fillna(DEFAULT_POP_AF).clip(0.01, 0.99)
    reason = np.where(sites["depth"] < FIT_MIN_DEPTH, f"depth below {FIT_MIN_DEPTH}", "")
    alt_fraction = sites["alt_count"] / sites["depth"].where(sites["depth"] > 0)
    homozygous = (alt_fraction < HOMOZYGOUS_FRACTION) | (alt_fraction > 1 - HOMOZYGOUS_FRACTION)
    reason = np.where((reason == "") & homozygous.to_numpy(), "homozygous in the sample", reason)
    bias = np.full(len(sites), 0.5)
    if pon_snps is not None:
        keys = ["chrom", "pos", "ref", "alt"]
        normals = sites[keys].merge(pon_snps, on=keys, how="left")
        known = normals["usable"].notna().to_numpy()
        usable = normals["usable"].fillna(False).astype(bool).to_numpy()
        reason = np.where(reason != "", reason, np.where(known, "", "not in the panel of normals"))
        reason = np.where(
            (reason == "") & ~usable, normals["reason"].fillna("").astype(str), reason
        )
        measured = normals["het_normals"].fillna(0).to_numpy() >= BIAS_MIN_HET_NORMALS
        fraction = normals["het_alt_fraction"].to_numpy(float)
        typical = np.nanmedian(fraction[measured]) if measured.any() else 0.5
        bias = np.where(measured, fraction, typical)
    sites["het_alt_fraction"] = np.clip(bias, 0.3, 0.7)
    sites["concentration"] = BAF_CONCENTRATION if concentration is None else concentration
    sites["used"] = reason == ""
    sites["reason"] = reason
    return sites


def beside_focal_segments(sites: pd.DataFrame, segments: pd.DataFrame) -> np.ndarray:
    """Whether each site lies outside, but within FOCAL_EDGE_MARGIN of, a segment shorter
    than FIT_MIN_SEGMENT (an amplicon, or a focal loss). Depth places such a segment's edges
    only roughly at low tumor fractions (a 5% MET amplicon's last 0.35 Mb fell into the
    next segment), and its sites, one allele gained or lost, then make that segment look
    like a loss of heterozygosity: one pinned a 5% tumor at 28%."""
    out = np.zeros(len(sites), bool)
    pos0 = sites["pos"].to_numpy() - 1
    chrom = sites["chrom"].to_numpy()
    for seg in segments[(segments["end"] - segments["start"]) < FIT_MIN_SEGMENT].itertuples():
        near = (pos0 >= seg.start - FOCAL_EDGE_MARGIN) & (pos0 < seg.end + FOCAL_EDGE_MARGIN)
        out |= (chrom == seg.chrom) & near & ((pos0 < seg.start) | (pos0 >= seg.end))
    return out


MINOR_ALLELE_GRID = np.linspace(0.0, 0.5, 101)  # minor-allele fractions a region is read on


def _minor_allele_profile(sites: pd.DataFrame) -> np.ndarray:
    """Log-likelihood of the sites' counts, all in one state, at each MINOR_ALLELE_GRID value."""
    return sites_log_likelihood(MINOR_ALLELE_GRID, sites).sum(axis=0)


def minor_allele_fraction(sites: pd.DataFrame) -> tuple[float, tuple[float, float]] | None:
    """Maximum-likelihood minor-allele fraction of sites sharing one state, and its 95%
    profile interval; None when no site is informative (all homozygous or none)."""
    if not len(sites):
        return None
    grid, ll = MINOR_ALLELE_GRID, _minor_allele_profile(sites)
    inside = grid[2 * (ll.max() - ll) <= LR_95]
    if inside.max() - inside.min() >= 0.5 - grid[1]:
        return None
    return float(grid[np.argmax(ll)]), (float(inside.min()), float(inside.max()))


def allelic_contrast(region: pd.DataFrame, background: pd.DataFrame) -> float | None:
    """Signed likelihood-ratio z that `region`'s SNPs have a lower minor-allele fraction than
    `background`'s (one allele gained more in the region than around it), against one
    fraction shared by both; 0 when the region is not lower. None without sites on a side.

    One-sided: z = sqrt(2 (max over b_region <= b_background - max over b shared)), which is
    N(0, 1)-like under the null like the depth contrast it is combined with."""
    if not len(region) or not len(background):
        return None
    inner, outer = _minor_allele_profile(region), _minor_allele_profile(background)
    shared = (inner + outer).max()
    apart = (outer + np.maximum.accumulate(inner)).max()  # b_region <= b_background
    return float(np.sqrt(max(2 * (apart - shared), 0.0)))


def allele_copies(baf: float, total: float, purity: float) -> tuple[float, float]:
    """(major, minor) tumor copies from a minor-allele fraction and total tumor copies:
    minor = (baf * (p*c + 2(1-p)) - (1-p)) / p, kept within [0, c/2]."""
    cells = purity * total + 2 * (1 - purity)
    minor = float(np.clip((baf * cells - (1 - purity)) / purity, 0, total / 2))
    return total - minor, minor


def chosen_purity(
    given: Purity, ploidy: Ploidy, fit: PurityFit
) -> tuple[Purity, Ploidy, list[str]]:
    """The purity (and ploidy) the calls use: the user's when given, with the data's
    estimate beside it and a warning when they disagree; else the estimate when the data
    identify it; else none, with the reason."""
    if given.source == "given":
        warnings = []
        low, high = fit.ci95
        if fit.identifiable and not low <= given.value <= high:
            warnings.append(
                f"the given tumor fraction {given.value:g} lies outside the data's estimate "
                f"{percent(fit.value)} (95% interval {percent(low)}-{percent(high)}); check it"
            )
        elif given.value > high:
            warnings.append(
                f"the given tumor fraction {given.value:g} is above the most the data allow "
                f"({percent(high)}, 95% upper bound; they do not fix it); check it"
            )
        return given.model_copy(update={"fit": fit}), ploidy, warnings
    if not fit.identifiable:
        reason = f"no tumor fraction was given, and {fit.reason}"
        return Purity(value=None, source="none", reason=reason, fit=fit), ploidy, []
    estimated = Purity(
        value=fit.value, ci95=fit.ci95, source="estimated", reason=fit.reason, fit=fit
    )
    if ploidy.source == "default":
        ploidy = Ploidy(value=fit.ploidy, source="estimated", ci95=fit.ploidy_ci95)
    return estimated, ploidy, []
