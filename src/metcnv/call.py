"""Gene-level copy number calls and their status (MET first) from a sample's coverage.

For every panel gene the estimate is the weighted mean log2 ratio of the gene's own
target bins (so segmentation can never dilute a small focal event), with a standard
error from the data: the larger of the sample's own scatter over those bins and the
scatter of the same estimate in the normals, each left out of the panel of normals in
turn (systematic noise that does not average away). From it follow the 95% intervals,
the z-score against the normals, and the limit of detection.

Focal vs broad compares the gene with the rest of its chromosome: the gene's amplicon
must be shorter than `focal_max_size` and the gene must stand `min_z` standard errors
above the chromosome's background (bins outside the amplicon). The amplicon is the gene's
segment; when that is long (CBS cannot place weak edges at low tumor fractions) and a
gained gene stands `min_z` standard errors above the segment's other bins, it is the arc
around the gene that stands highest in the segment (segment.anchored_arc). A
chromosome-wide gain (polysomy) has no such contrast and is never called focal.

Where the amplicon and its chromosome both hold SNPs, their allele counts are a second,
independent contrast: one allele amplified on a chromosome that is not lowers the
amplicon's minor-allele fraction below the background's (purity.allelic_contrast). A gene
that stands above its background by depth is focal when depth alone, or depth and alleles
combined (Stouffer, (z_depth + z_allele) / sqrt 2), reach `min_z`. A balanced
whole-chromosome gain has neither contrast.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from metcnv import params
from metcnv.allelic_segments import split_by_alleles
from metcnv.bins import NO_GENE, gene_labels, site_bins
from metcnv.copynumber import sample_copy_number, tumor_copy_number
from metcnv.coverage import SampleCoverage
from metcnv.inputs import read_filter_cause
from metcnv.model import QC, CallSettings, GeneCall, Ploidy, Purity, SampleType, percent
from metcnv.normalize import KINDS, normalize
from metcnv.pon import PanelOfNormals
from metcnv.purity import (
    BAF_CONCENTRATION,
    FIT_MIN_SEGMENT,
    SNP_LIKELIHOOD_COLUMNS,
    Surface,
    allele_copies,
    allelic_contrast,
    beside_focal_segments,
    chosen_purity,
    fit_purity,
    fit_sites,
    germline_warning,
    minor_allele_fraction,
)
from metcnv.qc import NOISE_METRICS, sample_qc, window_noise
from metcnv.segment import anchored_arc, noise_scale, segment_bins, segments_at
from metcnv.somatic import fit_mutations, leave_out_chip

BACKBONE_SPAN = 5_000_000  # a "gene" whose bins span more than this is a backbone label
SPREAD_PRIOR_NORMALS = 5  # bin spreads are shrunk towards their kind's median as if by 5
BACKGROUND_MIN_BINS = 10  # fewer chromosome bins outside the gene: focality unknown
BACKGROUND_GAP = 1_500_000  # fallback background keeps this far from the gene
FLAT_SYSTEMATIC_SD = 0.15  # log2 noise floor of a gene when no normals measure it
MONTE_CARLO_DRAWS = 20_000  # draws for the MET/chr7 ratio interval
LN2 = np.log(2)
AMPLIFIED = ("focal_amplification", "high_level_focal_amplification")  # called despite noise


@dataclass
class Estimate:
    """A weighted mean log2 ratio over some bins and its standard error."""

    log2: float
    se: float
    n_bins: int
    df: float = np.inf  # degrees of freedom of the standard error

    def ci(self) -> tuple[float, float]:
        """95% interval; Student's t when the SE comes from a few normals or bins."""
        half = float(stdtrit(self.df, 0.975)) * self.se
        return self.log2 - half, self.log2 + half


@dataclass
class CallResult:
    """The normalised bins and segments (the tables) and the typed calls made from them."""

    bins: pd.DataFrame
    segments: pd.DataFrame
    genes: list[GeneCall]
    qc: QC
    warnings: list[str]
    purity: Purity  # as used: given, estimated from the data, or none
    ploidy: Ploidy
    sites: pd.DataFrame | None = None  # SNP allele counts, as used by the fit
    surface: Surface | None = None  # the purity/ploidy fit
    mutations: pd.DataFrame | None = None  # somatic mutations' allele counts, as used by the fit

    @property
    def met(self) -> GeneCall:
        return next(gene for gene in self.genes if gene.gene == "MET")


def normalized_bins(
    coverage: SampleCoverage, pon: PanelOfNormals
) -> tuple[pd.DataFrame, list[str]]:
    """The sample's bins with log2 ratio, inverse-variance weight and use flag."""
    counts = coverage.bins["count"].to_numpy(float)
    kinds = pon.bins["kind"].to_numpy()
    used = pon.used.copy()
    warnings = list(pon.warnings)
    for kind in KINDS:
        of_kind = kinds == kind
        if (used & of_kind).any() and counts[used & of_kind].sum() == 0:
            used &= ~of_kind
            warnings.append(f"the sample has no {kind} reads: {kind} bins are not used")
    reference = pon.reference
    reference.used = used
    reference.reference &= used
    log2 = normalize(counts, reference)
    # Counting noise from the depth each bin should have at copy ratio 1, not from its own
    # count: weighting by the observed count favours bins that drew high by chance and biases
    # every weighted mean upwards (+0.04 log2 over thin off-target bins at 250x).
    expected = (counts + params.PSEUDO_COUNT) / 2**log2
    variance = _bin_variance(pon, expected, kinds, used)
    weight = 1 / variance
    for kind in KINDS:  # scale weights by the sample's own noise (overdispersion)
        rows = used & (kinds == kind)
        if rows.sum() > 2:
            weight[rows] /= noise_scale(log2[rows], weight[rows]) ** 2
    table = coverage.bins.assign(
        gc=np.round(pon.gc, 4),
        log2=log2,
        weight=np.where(used, weight, 0.0),
        used=used.astype(int),
        pon_spread=pon.spread,
    )
    return table, warnings


def _bin_variance(
    pon: PanelOfNormals, expected: np.ndarray, kinds: np.ndarray, used: np.ndarray
) -> np.ndarray:
    """Expected variance of each bin's log2: normals' (shrunk) spread plus counting noise
    at the bin's `expected` count (pseudo-count included)."""
    variance = 1 / (LN2**2 * expected)
    if pon.flat:
        return variance
    n = len(pon.normals)
    spread2 = pon.spread**2
    for kind in KINDS:
        rows = kinds == kind
        if (rows & used).any():
            prior = np.median(spread2[rows & used])
            variance[rows] += (n * spread2[rows] + SPREAD_PRIOR_NORMALS * prior) / (
                n + SPREAD_PRIOR_NORMALS
            )
    return variance


def estimate(bins: pd.DataFrame, rows: np.ndarray, loo: np.ndarray) -> Estimate | None:
    """Weighted mean log2 of `rows` with a standard error from the data (see module doc)."""
    rows = np.flatnonzero(rows)
    if not len(rows):
        return None
    x, w = bins["log2"].to_numpy()[rows], bins["weight"].to_numpy()[rows]
    mean = float(np.average(x, weights=w))
    variance, df = 1 / w.sum(), np.inf
    if len(rows) > 2:  # the bins' own scatter, when it exceeds what the weights expect
        scatter = float(np.sum(w * (x - mean) ** 2) / (len(rows) - 1))
        if scatter > 1:
            variance, df = variance * scatter, len(rows) - 1
    if len(loo):  # the same estimate in each left-out normal
        systematic = float(np.mean((loo[:, rows] @ w / w.sum()) ** 2))
        if systematic > variance:
            variance, df = systematic, len(loo)
    else:
        variance += FLAT_SYSTEMATIC_SD**2
    return Estimate(mean, float(np.sqrt(variance)), len(rows), df)


def gene_rows(bins: pd.DataFrame) -> dict[str, np.ndarray]:
    """Used target rows of each panel gene; names whose bins span > 5 Mb are backbones."""
    target = (bins["kind"] == "target").to_numpy()
    named = gene_labels(bins)[target].explode()  # one (row, name) pair per label: O(bins)
    named = named[named != NO_GENE]
    chrom, start, end = (bins[c].to_numpy() for c in ("chrom", "start", "end"))
    genes = {}
    for name, index in sorted(named.groupby(named).groups.items()):
        at = index.to_numpy()
        if len(set(chrom[at])) == 1 and end[at].max() - start[at].min() <= BACKBONE_SPAN:
            genes[name] = np.zeros(len(bins), bool)
            genes[name][at] = True
    return genes


def call_sample(
    coverage: SampleCoverage,
    pon: PanelOfNormals,
    purity: Purity,
    ploidy: Ploidy,
    settings: CallSettings,
    *,
    estimate_purity: bool = True,
    sample_type: SampleType = "tumor",
) -> CallResult:
    """Normalise, segment and call every panel gene (MET among them) against the normals;
    `estimate_purity=False` (one chromosome's bins, MET-first mode) skips the purity fit
    and keeps `purity` as given. In blood and effusion samples (`sample_type`), somatic
    mutations in clonal haematopoiesis genes are not fitted (somatic.leave_out_chip)."""
    bins, warnings = normalized_bins(coverage, pon)
    return call_bins(
        bins,
        warnings,
        coverage,
        pon,
        purity,
        ploidy,
        settings,
        estimate_purity=estimate_purity,
        sample_type=sample_type,
    )


def call_bins(
    bins: pd.DataFrame,
    warnings: list[str],
    coverage: SampleCoverage,
    pon: PanelOfNormals,
    purity: Purity,
    ploidy: Ploidy,
    settings: CallSettings,
    boundaries: pd.DataFrame | None = None,
    *,
    estimate_purity: bool = True,
    sample_type: SampleType = "tumor",
) -> CallResult:
    """Segment and call every panel gene from normalised bins (normalized_bins' table, or
    another tool's copy ratios against a pon.external_reference); with `boundaries`
    (chrom, start, end of another tool's segments) the bins are segmented as those say.
    `estimate_purity` and `sample_type`: as in call_sample."""
    used = bins["used"].to_numpy(bool)
    if boundaries is None:
        segments = segment_bins(bins[used], settings.segment_alpha)
    else:
        segments = segments_at(bins[used], boundaries)
    concentration = pon.settings.get("het_concentration")
    sites = (
        None if coverage.alleles is None else fit_sites(coverage.alleles, pon.snps, concentration)
    )
    mutations = (
        None
        if coverage.mutations is None
        else fit_mutations(coverage.mutations, concentration or BAF_CONCENTRATION)
    )
    if mutations is not None and sample_type in params.CHIP_SAMPLE_TYPES:
        chip = leave_out_chip(mutations, bins, settings.chip_genes)
        warnings += [chip] if chip else []
    if sites is not None:
        segments = split_by_alleles(
            segments, bins[used], sites[sites["used"]], settings.segment_alpha
        )
    for table in (sites, mutations):
        if table is not None:
            _place(table, segments)
    if mutations is not None:  # only the fit reads them, and it skips focal segments
        short = ((segments["end"] - segments["start"]) < FIT_MIN_SEGMENT).reset_index(drop=True)
        focal = mutations["used"] & mutations["segment"].map(short).eq(True)  # -1: no segment
        mutations.loc[focal, ["used", "reason"]] = [False, "in a focal segment (not fitted)"]
    if sites is not None:
        pon_snps = pon.settings.get("snps_md5")
        if pon_snps is not None and pon_snps != coverage.meta.get("snps_md5"):
            warnings.append(
                "the sample's SNPs were counted at another sites VCF than the normals': sites "
                "the normals lack are not used (recount both with the same --snps)"
            )
    segments = segments.assign(
        copy_ratio=lambda s: 2 ** s["log2"],
        copy_number=lambda s: sample_copy_number(2 ** s["log2"]),
    )
    segments["se"] = [
        estimate(bins, _rows(len(bins), s.first_row, s.last_row) & used, pon.loo_residuals).se
        for s in segments.itertuples()
    ]
    fit_snps = _empty_sites() if sites is None else sites[sites["used"]]
    surface = None
    if estimate_purity:
        fixed = None if ploidy.source == "default" else ploidy.value
        used_mutations = None if mutations is None else mutations[mutations["used"]]
        surface = fit_purity(segments, fit_snps, fixed, used_mutations)
        purity, ploidy, notes = chosen_purity(purity, ploidy, surface.summary())
        warnings += notes
        if purity.source == "estimated" and used_mutations is not None:
            germline = germline_warning(segments, fit_snps, fixed, used_mutations, surface)
            warnings += [germline] if germline else []
    plausible = _plausible(purity, ploidy, surface)
    segments = _with_alleles(segments, fit_snps, purity, ploidy)
    qc = QC(
        **sample_qc(
            bins,
            pon.centre,
            pon.loo_residuals,
            coverage.on_target_fraction,
            read_filter_cause(coverage.meta),
            pon.without_normals,
        )
    )
    calls = {}
    for name, rows in gene_rows(bins).items():
        if (rows & used).any():
            caller = GeneCaller(
                name,
                rows & used,
                bins,
                segments,
                fit_snps,
                pon.loo_residuals,
                purity,
                ploidy,
                plausible,
                settings,
                qc,
            )
            calls[name] = caller.call()
        else:
            failed = f" (QC failed: {'; '.join(qc.reasons)})" if qc.status == "fail" else ""
            calls[name] = GeneCaller.absent(name, f"every {name} bin is masked{failed}")
    pon_mapq = pon.settings.get("min_mapq")
    if pon_mapq is not None and str(pon_mapq) != coverage.meta.get("min_mapq"):
        warnings.append(
            f"the sample was counted with MAPQ >= {coverage.meta.get('min_mapq')} but the "
            f"normals with MAPQ >= {pon_mapq}: counts are not comparable"
        )
    if "MET" not in calls:
        warnings.append("the panel has no MET target bins")
        calls["MET"] = GeneCaller.absent("MET", "the panel has no MET target bins")
    return CallResult(
        bins,
        segments,
        list(calls.values()),
        qc,
        warnings,
        purity,
        ploidy,
        sites,
        surface,
        mutations,
    )


def _place(sites: pd.DataFrame, segments: pd.DataFrame) -> None:
    """Give each site (SNP or mutation) its segment, and leave out of the fit those outside
    every segment or beside a focal one (purity.beside_focal_segments)."""
    sites["segment"] = site_bins(sites, segments)
    sites.loc[sites["segment"] < 0, ["used", "reason"]] = [False, "outside every segment"]
    beside = beside_focal_segments(sites, segments) & sites["used"]
    sites.loc[beside, ["used", "reason"]] = [False, "beside a focal segment (edge unsure)"]


def _rows(n: int, first: int, last: int) -> np.ndarray:
    """A mask of n rows, true from `first` to `last` inclusive (a segment's rows)."""
    mask = np.zeros(n, bool)
    mask[first : last + 1] = True
    return mask


def _plausible(purity: Purity, ploidy: Ploidy, surface: Surface | None) -> np.ndarray:
    """(purity, ploidy) pairs a tumor copy-number interval spans: the one pair used when the
    purity was given, else the fit's 95% region (so an estimate's uncertainty, and the
    ploidy's when that was fitted too, widen the interval; without an estimate, the region
    still bounds the tumor fraction from above, and so the tumor copy number from below).
    Without a fit (MET-first mode) any tumor fraction up to 100% remains."""
    if purity.source == "given":
        return np.array([[purity.value, ploidy.value]])
    if surface is None:
        return np.array([[1.0, ploidy.value]])
    return surface.plausible()


def _empty_sites() -> pd.DataFrame:
    """No SNP sites (a coverage counted without --snps): the fit uses depth alone."""
    columns = ["pos", "segment", *SNP_LIKELIHOOD_COLUMNS]
    return pd.DataFrame(
        {"chrom": pd.Series(dtype=str)} | {c: pd.Series(dtype=float) for c in columns}
    )


def _with_alleles(
    segments: pd.DataFrame, sites: pd.DataFrame, purity: Purity, ploidy: Ploidy
) -> pd.DataFrame:
    """Segments with their SNPs' minor-allele fraction (and 95% interval) and, where the
    purity is known, the tumor copies of each allele (continuous, from log2 and BAF)."""
    out = segments.assign(
        n_snps=0,
        baf=np.nan,
        baf_ci_low=np.nan,
        baf_ci_high=np.nan,
        major_cn=np.nan,
        minor_cn=np.nan,
    )
    for k, seg in enumerate(segments.itertuples()):
        own = sites[sites["segment"] == k]
        out.loc[k, "n_snps"] = len(own)
        found = minor_allele_fraction(own)
        if found is None:
            continue
        out.loc[k, ["baf", "baf_ci_low", "baf_ci_high"]] = [found[0], *found[1]]
        if purity.value is not None:
            total = max(float(tumor_copy_number(2**seg.log2, purity.value, ploidy.value)), 0.0)
            out.loc[k, ["major_cn", "minor_cn"]] = allele_copies(found[0], total, purity.value)
    return out


class GeneCaller:
    """Everything reported for one gene; see the module docstring for the method."""

    def __init__(
        self,
        name: str,
        rows: np.ndarray,
        bins: pd.DataFrame,
        segments: pd.DataFrame,
        sites: pd.DataFrame,
        loo: np.ndarray,
        purity: Purity,
        ploidy: Ploidy,
        plausible: np.ndarray,
        settings: CallSettings,
        qc: QC,
    ):
        self.name, self.rows, self.bins, self.segments = name, rows, bins, segments
        self.loo, self.s, self.qc = loo, settings, qc
        self.purity, self.ploidy = purity.value, ploidy.value
        self.plausible = plausible  # (purity, ploidy) pairs the tumor intervals span
        self.most_purity = float(plausible[:, 0].max())  # the highest tumor fraction allowed
        self.at_purity = (
            f"estimated tumor fraction {percent(purity.value)} (95% CI "
            f"{percent(purity.ci95[0])}-{percent(purity.ci95[1])})"
            if purity.ci95
            else f"purity {purity.value:g}"
            if purity.value is not None
            else ""
        )
        self.chrom = str(bins["chrom"][rows].iloc[0]) if rows.any() else None
        self.sites = sites  # SNPs the purity fit may use, to read the gene's BAF from

    @classmethod
    def absent(cls, name: str, reason: str) -> GeneCall:
        """An uncallable gene: no usable bins."""
        return GeneCall(gene=name, n_bins=0, **uncallable(reason))

    def _segment(self) -> int:
        """Position in the segment table of the segment holding most of the gene's bins."""
        index = np.flatnonzero(self.rows)
        first = self.segments["first_row"].to_numpy()
        last = self.segments["last_row"].to_numpy()
        inside = np.searchsorted(index, last, "right") - np.searchsorted(index, first, "left")
        return int(np.argmax(inside))

    def _span_at_gene_level(self, at: int) -> pd.Series:
        """The gene's segment widened over the adjacent segments at its level.

        Real capture noise differs between target and off-target bins, so CBS can cut one
        amplicon into pieces (the gene's target bins apart from the off-target bins around
        them); a piece alone is not the amplicon and would look focal. A neighbour joins
        while it is closer to the gene's segment than to the chromosome background and not
        `min_z` standard errors below the gene's segment; a lower shoulder (a focal
        amplicon on a broad gain) stays out. Returns first_row, last_row, start, end and
        n_segments of the span."""
        segs, b = self.segments, self.bins
        used = b["used"].to_numpy(bool)

        def level(i: int) -> Estimate | None:
            rows = _rows(len(b), int(segs["first_row"].iat[i]), int(segs["last_row"].iat[i]))
            return estimate(b, rows & used, self.loo)

        gene = level(at)
        outside, _ = self._background(int(segs["start"].iat[at]), int(segs["end"].iat[at]))
        bg = estimate(b, outside, self.loo) if outside.sum() >= BACKGROUND_MIN_BINS else None
        lo = hi = at
        if gene is not None and bg is not None:
            midway = (gene.log2 + bg.log2) / 2
            for step in (-1, 1):
                i = at + step
                while 0 <= i < len(segs) and segs["chrom"].iat[i] == self.chrom:
                    near = level(i)
                    if near is None or near.log2 <= midway or _contrast(gene, near) >= self.s.min_z:
                        break
                    lo, hi, i = min(lo, i), max(hi, i), i + step
        return pd.Series(
            {
                "first_row": int(segs["first_row"].iat[lo]),
                "last_row": int(segs["last_row"].iat[hi]),
                "start": int(segs["start"].iat[lo]),
                "end": int(segs["end"].iat[hi]),
                "n_segments": hi - lo + 1,
            }
        )

    def _anchored_arc(self, seg: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows of the arc around the gene inside its segment, and the segment's other rows."""
        b = self.bins
        in_segment = _rows(len(b), int(seg["first_row"]), int(seg["last_row"]))
        in_segment &= b["used"].to_numpy(bool)
        rows = np.flatnonzero(in_segment)
        gene = np.flatnonzero(self.rows[rows])
        found = anchored_arc(
            b["log2"].to_numpy()[rows], b["weight"].to_numpy()[rows], gene[0], gene[-1]
        )
        if found is None:
            return None
        arc = np.zeros(len(b), bool)
        arc[rows[found[0] : found[1]]] = True
        return arc, in_segment & ~arc

    def _background(self, start: int, end: int) -> tuple[np.ndarray, str]:
        """Used bins of the gene's chromosome outside [start, end), else outside gene +-1.5 Mb."""
        b = self.bins
        same = (b["chrom"] == self.chrom).to_numpy() & b["used"].to_numpy(bool)
        outside = same & ((b["end"] <= start) | (b["start"] >= end)).to_numpy()
        if outside.sum() >= BACKGROUND_MIN_BINS:
            return outside, "bins outside the gene's segment"
        g_start, g_end = b["start"][self.rows].min(), b["end"][self.rows].max()
        away = (
            same
            & (
                (b["end"] <= g_start - BACKGROUND_GAP) | (b["start"] >= g_end + BACKGROUND_GAP)
            ).to_numpy()
        )
        return away, "the gene's segment covers the chromosome: bins over 1.5 Mb from the gene"

    def call(self) -> GeneCall:
        """Every gene-level field of docs/outputs.md, status last (it uses the others)."""
        b = self.bins[self.rows]
        out: dict = {
            "gene": self.name,
            "chrom": self.chrom,
            "start": int(b["start"].min()),
            "end": int(b["end"].max()),
            "n_bins": int(self.rows.sum()),
        }
        if self.rows.sum() < self.s.min_gene_bins:
            return GeneCall(
                **out,
                **uncallable(
                    f"only {int(self.rows.sum())} usable {self.name} bins "
                    f"(at least {self.s.min_gene_bins} needed)"
                ),
            )
        est = estimate(self.bins, self.rows, self.loo)
        noise = self._noise_floor(est)
        if noise is not None:
            est = replace(est, se=max(est.se, noise))
        lo, hi = est.ci()
        out |= {
            "log2": est.log2,
            "log2_se": est.se,
            "log2_ci95": [lo, hi],
            "copy_ratio": 2**est.log2,
            "copy_number": float(sample_copy_number(2**est.log2)),
            "copy_number_ci95": [
                float(sample_copy_number(2**lo)),
                float(sample_copy_number(2**hi)),
            ],
            "z": est.log2 / est.se,
        }
        out |= self._tumor_fields(est)
        out |= self._detection_limit(est.se)
        out |= self._focality(est)
        out |= self._alleles(out)
        out |= self._status(out)
        if self.qc.status == "fail":
            out |= self._despite_failed_qc(out, noise)
        return GeneCall(**out)

    def _noise_floor(self, est: Estimate) -> float | None:
        """With QC failed on noise alone, the sample's own noise of a mean of as many bins
        as the gene's (qc.window_noise): the floor of the gene's standard error, so that a
        call made despite the failure rests on the noise the sample shows."""
        if self.qc.status != "fail" or not set(self.qc.failed) <= NOISE_METRICS:
            return None
        return window_noise(self.bins, self.segments, est.n_bins, self.chrom)

    def _despite_failed_qc(self, g: dict, noise: float | None) -> dict:
        """A sample whose QC failed is not called, unless it failed on noise alone and the
        gene is a focal amplification even against that noise: a positive result then
        stands (as a lab reports an amplification far above a noisy baseline), while a
        negative one would not, as the noise could hide a gain."""
        failed = "QC failed (" + "; ".join(self.qc.reasons) + ")"
        if noise is None or g["status"] not in AMPLIFIED:
            return uncallable(failed)
        return {
            "status_reason": f"{g['status_reason']}; called although {failed}: the standard "
            f"error holds the sample's own noise of a {g['n_bins']}-bin mean ({noise:.2f} log2), "
            f"and {self.name} stands {g['z']:.1f} of them above the normals. A result without "
            "amplification would not have been called"
        }

    def _tumor(self, log2, purity=None, ploidy=None) -> np.ndarray:
        """Purity-adjusted tumor copy number of log2 ratio(s), clamped at 0: at the purity
        and ploidy used, or at the given (arrays of) others."""
        purity = self.purity if purity is None else purity
        ploidy = self.ploidy if ploidy is None else ploidy
        return np.maximum(tumor_copy_number(2.0 ** np.asarray(log2), purity, ploidy), 0.0)

    def _tumor_fields(self, est: Estimate) -> dict:
        """Tumor copy number and its 95% interval: the ratio's interval at every plausible
        (purity, ploidy) pair, so an estimated purity's uncertainty is carried (c is
        monotone in the ratio: its two ends suffice)."""
        purities, ploidies = self.plausible.T
        if self.purity is None:  # c rises with the ratio: its lowest is at the ratio's lower end
            lowest = self._tumor(est.ci()[0], purities, ploidies).min()
            return {
                "tumor_copy_number": None,
                "tumor_copy_number_ci95": None,
                "tumor_copy_number_clamped": False,
                "tumor_copy_number_min": float(lowest),
            }
        ends = np.concatenate([self._tumor(x, purities, ploidies) for x in est.ci()])
        return {
            "tumor_copy_number": float(self._tumor(est.log2)),
            "tumor_copy_number_ci95": [float(ends.min()), float(ends.max())],
            "tumor_copy_number_clamped": bool(
                tumor_copy_number(2**est.log2, self.purity, self.ploidy) < 0
            ),
            "tumor_copy_number_min": None,
        }

    def _sites_in(self, start: int, end: int) -> np.ndarray:
        """Mask of the SNP sites on the gene's chromosome inside [start, end)."""
        pos0 = self.sites["pos"].to_numpy() - 1
        return (self.sites["chrom"] == self.chrom).to_numpy() & (pos0 >= start) & (pos0 < end)

    def _alleles(self, g: dict) -> dict:
        """The amplicon's minor-allele fraction and, with a purity, each allele's copies."""
        amplicon = g.get("amplicon") or {"start": g["start"], "end": g["end"]}
        inside = self.sites[self._sites_in(amplicon["start"], amplicon["end"])]
        found = minor_allele_fraction(inside)
        if found is None:
            return {"baf_snps": len(inside)}
        out = {"baf": found[0], "baf_ci95": list(found[1]), "baf_snps": len(inside)}
        if g["tumor_copy_number"] is not None:
            major, minor = allele_copies(found[0], g["tumor_copy_number"], self.purity)
            out |= {"major_cn": major, "minor_cn": minor}
        return out

    def _detection_limit(self, se: float) -> dict:
        """The smallest gain this sample shows at `min_z` with 95% power."""
        log2_lod = (self.s.min_z + params.DETECTION_POWER_Z) * se
        ratio = 2**log2_lod
        out = {"limit_of_detection_copy_ratio": ratio, "limit_of_detection": None}
        if self.purity is not None:
            out["limit_of_detection"] = float(self._tumor(log2_lod))
            return out
        c, ploidy = self.s.high_level_cn, self.ploidy
        needed = 2 * (ratio - 1) / (c - 2 + ratio * (2 - ploidy))
        out["limit_of_detection_reason"] = (
            f"without a purity: gains of {ratio:.2f}-fold and more are detected, so "
            f"{c:g} tumor copies are seen at tumor fractions of {needed:.1%} and more"
        )
        return out

    def _focality(self, est: Estimate) -> dict:
        """The gene's segment, the chromosome background outside it, and the focal test."""
        s, b = self.s, self.bins
        at = self._segment()
        seg = self.segments.iloc[at]
        segment = {
            "chrom": self.chrom,
            "start": int(seg["start"]),
            "end": int(seg["end"]),
            "size": int(seg["end"] - seg["start"]),
            "n_bins": int(seg["n_bins"]),
            "log2": float(seg["log2"]),
        }
        gained = est.log2 / est.se >= s.min_z
        span = self._span_at_gene_level(at) if gained else seg
        start, end = int(span["start"]), int(span["end"])
        joined = gained and span["n_segments"] > 1
        # Only a gained gene's amplicon is looked for: the search costs (bins in segment)^2 / 4.
        arc = self._anchored_arc(span) if gained and end - start > s.focal_max_size else None
        rest = None if arc is None else estimate(b, arc[1], self.loo)
        above_rest = None if rest is None else _contrast(est, rest)
        diluted = above_rest is not None and above_rest >= s.min_z
        if diluted:  # the gene stands above the rest of its long segment: its arc is the amplicon
            start, end = int(b["start"][arc[0]].min()), int(b["end"][arc[0]].max())
        background, how = self._background(start, end)
        bg = estimate(b, background, self.loo) if background.sum() >= BACKGROUND_MIN_BINS else None
        out = {
            "segment": segment,
            "amplicon": {
                "chrom": self.chrom,
                "start": start,
                "end": end,
                "size": end - start,
                "from": "arc around the gene"
                if diluted
                else "segments at the gene's level"
                if joined
                else "segment",
            },
        }
        out |= self._background_fields(est, bg, how)
        if bg is None:
            out |= {
                "focal": None,
                "focal_reason": (
                    f"fewer than {BACKGROUND_MIN_BINS} {self.chrom} bins away from {self.name}: "
                    "focal and chromosome-wide gain cannot be told apart"
                ),
            }
        elif not gained:
            out |= {"focal": False, "focal_reason": f"no {self.name} gain"}
        else:
            z_focal = _contrast(est, bg)
            inside = self._sites_in(start, end)
            around = (self.sites["chrom"] == self.chrom).to_numpy() & ~inside
            z_allelic = allelic_contrast(self.sites[inside], self.sites[around])
            combined = focal_evidence(z_focal, z_allelic)
            size_ok = end - start <= s.focal_max_size
            focal = size_ok and combined >= s.min_z
            why = [
                f"amplicon {(end - start) / 1e6:.2f} Mb "
                + ("<=" if size_ok else ">")
                + f" {s.focal_max_size / 1e6:g} Mb",
                f"{self.name} {z_focal:.1f} SE above the {self.chrom} background by depth",
            ]
            if z_allelic is not None:
                why.append(
                    f"its SNPs' minor-allele fraction {z_allelic:.1f} SE below the "
                    f"{self.chrom} background's"
                    + (", one allele gained more" if z_allelic >= s.min_z else "")
                    + f", {combined:.1f} SE together"
                )
            why[-1] += (" >= " if combined >= s.min_z else " < ") + f"{s.min_z:g}"
            if joined:
                why.append(
                    f"{self.name}'s segment is joined by the {span['n_segments'] - 1} adjacent "
                    f"segment(s) at its level ({(span['end'] - span['start']) / 1e6:.2f} Mb "
                    "together): pieces of one amplicon"
                )
            if diluted:
                why.append(
                    f"{self.name} stands {above_rest:.1f} SE above the rest of its "
                    f"{(span['end'] - span['start']) / 1e6:.1f} Mb segment, so the amplicon "
                    "is the arc around it that stands highest"
                )
            out |= {
                "focal": focal,
                "focal_z": z_focal,
                "focal_allelic_z": z_allelic,
                "focal_reason": "; ".join(why),
            }
        return out

    def _background_fields(self, est: Estimate, bg: Estimate | None, how: str) -> dict:
        """The chromosome outside the amplicon, and the gene/chromosome (FISH-like) ratio."""
        if bg is None:
            return {
                "chrom_background": None,
                "chrom_ratio": None,
                "chrom_ratio_ci95": None,
                "fish_category": None,
            }
        rng = np.random.default_rng(0)
        gene = rng.normal(est.log2, est.se, MONTE_CARLO_DRAWS)
        back = rng.normal(bg.log2, bg.se, MONTE_CARLO_DRAWS)
        if self.purity is None:  # ratio of sample-average copy numbers (diluted by normal DNA)
            point, draws = 2 ** (est.log2 - bg.log2), 2 ** (gene - back)
            back_cn = None
        else:
            back_cn = float(self._tumor(bg.log2))
            tumor_gene, tumor_back = self._tumor(gene), self._tumor(back)
            ok = tumor_back > 0
            point = float(self._tumor(est.log2)) / back_cn if back_cn > 0 else None
            draws = tumor_gene[ok] / tumor_back[ok]
        ci = None
        if point is not None and len(draws) > MONTE_CARLO_DRAWS // 2:
            ci = [float(q) for q in np.quantile(draws, [0.025, 0.975])]
        background = {
            "log2": bg.log2,
            "log2_se": bg.se,
            "n_bins": bg.n_bins,
            "copy_number": float(sample_copy_number(2**bg.log2)),
            "tumor_copy_number": back_cn,
            "bins": how,
        }
        return {
            "chrom_background": background,
            "chrom_ratio": None if point is None else float(point),
            "chrom_ratio_ci95": ci,
            "fish_category": None if point is None else self._fish(point),
        }

    def _fish(self, ratio: float) -> str:
        s = self.s
        if ratio >= s.fish_high:
            return "high"
        if ratio > s.fish_intermediate:
            return "intermediate"
        return "low" if ratio >= s.fish_low else "none"

    def _status(self, g: dict) -> dict:
        """Status and the >10-copy flag, each with its reason (rules in docs/outputs.md)."""
        s, name = self.s, self.name
        gained, lost = g["z"] >= s.min_z, g["z"] <= -s.min_z
        lower, tumor = g["tumor_copy_number_min"], g["tumor_copy_number"]
        over, over_why = self._over_10(g, gained, lower)
        if gained and g["focal"] is None:
            status, why = "inconclusive", g["focal_reason"]
        elif gained and not g["focal"]:
            status = "chr7_gain" if self.chrom == "chr7" else "broad_gain"
            why = f"{name} is gained with its chromosome, not focally: {g['focal_reason']}"
        elif gained and tumor is not None:
            status = (
                "high_level_focal_amplification"
                if tumor > s.high_level_cn
                else "focal_amplification"
                if tumor >= s.amp_min_cn
                else "focal_gain"
            )
            why = f"focal, {tumor:.1f} tumor copies at {self.at_purity}"
        elif gained:
            status = (
                "high_level_focal_amplification"
                if lower > s.high_level_cn
                else "focal_amplification"
                if lower >= s.amp_min_cn
                else "inconclusive"
            )
            why = f"focal; {self._lower_bound_words(lower)}"
            if status == "inconclusive":
                why += f", below {s.amp_min_cn:g}: give --purity to call the level"
        elif lost:
            status, why = "loss", f"{name} is {-g['z']:.1f} SE below the normals"
        elif g["limit_of_detection"] is not None and g["limit_of_detection"] > s.amp_min_cn:
            status = "inconclusive"
            why = (
                f"no {name} gain seen, but at {self.at_purity} this sample could only "
                f"have shown {g['limit_of_detection']:.1f} tumor copies or more"
            )
        else:
            status = "neutral"
            why = f"no {name} gain ({g['z']:.1f} SE from the normals)"
            if self.purity is None:
                why += "; " + g["limit_of_detection_reason"]
        return {
            "status": status,
            "status_reason": why,
            "over_10_copies": over,
            "over_10_reason": over_why,
        }

    def _lower_bound_words(self, lower: float) -> str:
        """What a tumor copy-number lower bound rests on, without a tumor fraction."""
        if self.most_purity < 1:
            return (
                f"the reads allow tumor fractions up to {percent(self.most_purity)} only, so the "
                f"tumor has at least {lower:.1f} copies (95% lower bound)"
            )
        return (
            f"without a tumor fraction the sample-average copy number (95% lower bound "
            f"{lower:.1f}) is a lower bound of the tumor's"
        )

    def _over_10(self, g: dict, gained: bool, lower: float | None) -> tuple[bool | None, str]:
        """More than `high_level_cn` tumor copies: true, false, or null when unknown."""
        c, tumor = self.s.high_level_cn, g["tumor_copy_number"]
        if tumor is not None:
            lod = g["limit_of_detection"]
            if not gained and lod > c:
                return None, f"no gain seen, but this sample could not have shown {c:g} copies"
            return tumor > c, f"tumor copy number {tumor:.1f} at {self.at_purity}"
        if gained and lower > c:
            return True, f"{self._lower_bound_words(lower)}, > {c:g}"
        if not gained:
            return False, f"no gain seen; {g['limit_of_detection_reason']}"
        return None, f"gained, but {self._lower_bound_words(lower)}; give --purity"


def uncallable(reason: str) -> dict:
    """Status fields of a gene that cannot be called, with the reason."""
    return {
        "status": "inconclusive",
        "status_reason": reason,
        "over_10_copies": None,
        "over_10_reason": f"not callable: {reason}",
    }


def focal_evidence(z_depth: float, z_allelic: float | None) -> float:
    """How far (in SE) a gene stands above its chromosome: by depth alone, or by depth and
    allele counts combined (Stouffer) when that is larger. Alleles only add to a gene that
    depth already puts above its background, so a change of allelic state alone (a
    copy-neutral LOH on a gained chromosome) is never an amplicon."""
    if z_allelic is None or z_depth <= 0:
        return z_depth
    return max(z_depth, (z_depth + z_allelic) / np.sqrt(2))


def _contrast(a: Estimate, b: Estimate) -> float:
    """Standard errors by which estimate `a` exceeds estimate `b`."""
    return (a.log2 - b.log2) / float(np.hypot(a.se, b.se))
