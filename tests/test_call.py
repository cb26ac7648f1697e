"""The caller on simulated per-bin counts (no BAMs): truth in, calls out."""

import numpy as np
import pandas as pd
import pytest
from synthetic import GC, MET, sample, with_alleles

from metcnv.call import call_sample, focal_evidence, normalized_bins
from metcnv.model import CallSettings, Sample, Status
from metcnv.pon import build_pon
from metcnv.qc import window_noise
from metcnv.verdict import verdict


@pytest.fixture(scope="module")
def pon():
    return build_pon([sample(f"n{i}", i) for i in range(8)], GC, {"min_mapq": 20})


def call(pon, coverage, purity):
    given = Sample.given(coverage.sample, "tumor", purity, None)
    return call_sample(coverage, pon, given.purity, given.ploidy, CallSettings())


AMPLICON = ("chr7", 116_200_000, 117_300_000)


def test_focal_high_level(pon):
    result = call(pon, sample("t", 100, purity=0.6, events=[(*AMPLICON, 20)]), 0.6)
    met = result.met
    assert met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION, met.status_reason
    assert met.focal is True and met.over_10_copies is True
    assert met.tumor_copy_number == pytest.approx(20, rel=0.15)
    low, high = met.tumor_copy_number_ci95
    assert low < met.tumor_copy_number < high
    assert met.amplicon.size < 3_000_000
    assert met.chrom_ratio == pytest.approx(10, rel=0.2)
    assert met.fish_category == "high"
    assert result.qc.status in ("pass", "warn")


def test_polysomy_is_never_focal(pon):
    met = call(pon, sample("p", 101, purity=0.7, events=[("chr7", 0, 160_000_000, 4)]), 0.7).met
    assert met.status is Status.CHR7_GAIN, met.status_reason
    assert met.focal is False
    assert met.tumor_copy_number == pytest.approx(4, rel=0.15)
    assert met.chrom_ratio == pytest.approx(1, abs=0.25)


def test_focal_on_top_of_chr7_gain(pon):
    events = [("chr7", 0, 160_000_000, 3), (*AMPLICON, 14)]
    met = call(pon, sample("e", 102, purity=0.4, events=events), 0.4).met
    assert met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION, met.status_reason
    assert met.chrom_background.tumor_copy_number == pytest.approx(3, abs=0.5)
    assert met.chrom_ratio == pytest.approx(14 / 3, rel=0.25)
    assert met.fish_category == "intermediate"


def test_neutral_sample(pon):
    met = call(pon, sample("n", 103, purity=0.5), 0.5).met
    assert met.status is Status.NEUTRAL, met.status_reason
    assert met.over_10_copies is False
    assert met.limit_of_detection < 6


def test_without_purity_the_lower_bound_decides(pon):
    high = call(pon, sample("h", 104, purity=1.0, events=[(*AMPLICON, 20)]), None).met
    assert high.tumor_copy_number is None and high.headline()[2] == "sample_average"
    assert high.tumor_copy_number_min == pytest.approx(high.copy_number_ci95[0], rel=0.05)
    assert high.over_10_copies is True and high.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION
    low = call(pon, sample("l", 105, purity=0.1, events=[(*AMPLICON, 30)]), None).met
    assert low.status is Status.INCONCLUSIVE and "--purity" in low.status_reason
    assert low.over_10_copies is None and "--purity" in low.over_10_reason


def test_without_purity_gains_elsewhere_bound_the_tumor_copy_number(pon):
    """A chr8 gain at 25% tumor DNA does not fix the purity (one more copy trades for a lower
    tumor fraction) but excludes tumor fractions much above 25%, so MET's 20 copies have a
    lower bound well above the sample average's."""
    events = [("chr8", 0, 150_000_000, 3), (*AMPLICON, 20)]
    result = call(pon, sample("g", 110, purity=0.25, events=events), None)
    met = result.met
    assert result.purity.source == "none" and result.purity.fit.ci95[1] < 0.45
    assert met.tumor_copy_number is None
    assert met.copy_number_ci95[0] < 10 < met.tumor_copy_number_min <= 20
    assert met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION, met.status_reason
    assert "allow tumor fractions up to" in met.status_reason
    assert met.over_10_copies is True


def test_low_purity_limit_of_detection_makes_neutral_inconclusive(pon):
    met = call(pon, sample("b", 106, depth=60, purity=0.02), 0.02).met
    assert met.status is Status.INCONCLUSIVE, met.status_reason
    assert met.limit_of_detection > 6
    assert met.over_10_copies is None


def test_interval_coverage_on_repeated_samples(pon):
    inside = 0
    for seed in range(200, 230):
        met = call(pon, sample("c", seed, purity=0.5, events=[(*AMPLICON, 8)]), 0.5).met
        low, high = met.tumor_copy_number_ci95
        inside += low <= 8 <= high
    assert inside >= 25  # nominal 95% of 30 is 28.5


def test_gene_sized_amplicon_is_not_diluted(pon):
    met_only = ("chr7", 116_672_195, 116_798_377)  # 126 kb: no off-target bin is inside
    met = call(pon, sample("g", 107, purity=0.3, events=[(*met_only, 12)]), 0.3).met
    assert met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION, met.status_reason
    assert met.tumor_copy_number == pytest.approx(12, rel=0.2)
    assert met.amplicon.size < 1_000_000


def test_amplicon_cut_in_pieces_by_segmentation_is_judged_whole(pon):
    """A 4.5 Mb amplicon whose MET bins read lower than the bins around them (as target and
    off-target bins do in real capture noise) is cut by CBS into MET's piece and its
    flanks; MET's piece alone would look focal. Joined with the flanks at its level, the
    amplicon is 4.5 Mb: not focal."""
    events = [("chr7", 114_200_000, 118_700_000, 20), ("chr7", *MET, 14)]
    result = call(pon, sample("pieces", 108, purity=0.6, events=events), 0.6)
    met = result.met
    assert met.segment.size < 1_000_000  # CBS did cut MET's bins out
    assert met.amplicon.from_ == "segments at the gene's level", met.focal_reason
    assert met.amplicon.size > 3_000_000 and met.focal is False, met.focal_reason
    text = verdict(met, result.purity, result.qc)  # it says where the gain lies
    assert f"Gained region chr7:{met.amplicon.start / 1e6:.2f}" in text, text
    assert f"({met.amplicon.size / 1e6:.2f} Mb)" in text, text


def test_thin_neutral_bins_average_to_zero(pon):
    """Weights from each bin's expected depth: weighting by its own count favours bins
    that drew high by chance (+0.1 log2 here, at 9 reads per off-target bin)."""
    means = []
    for seed in range(300, 310):
        bins, _ = normalized_bins(sample("thin", seed, depth=72.0), pon)
        off = bins[(bins["kind"] == "offtarget") & (bins["used"] == 1)]
        means.append(np.average(off["log2"], weights=off["weight"]))
    assert abs(np.mean(means)) < 0.04


def test_alleles_of_one_amplified_allele_add_to_a_weak_depth_contrast(pon):
    """At 5.5% tumor, MET at 6 + 1 copies often stands short of `min_z` above chr7 by depth;
    its allele counts, independent evidence, turn such labels into focal ones."""
    focal = {"depth": 0, "depth and alleles": 0}
    for seed in range(12):
        coverage = sample("t", 200 + seed, purity=0.055, events=[(*AMPLICON, 7)])
        focal["depth"] += bool(call(pon, coverage, 0.055).met.focal)
        with_snps = with_alleles(coverage, 300 + seed, 0.055, [(*AMPLICON, 6, 1)])
        met = call(pon, with_snps, 0.055).met
        focal["depth and alleles"] += bool(met.focal)
        if met.focal and met.focal_z < CallSettings().min_z:
            assert "SE together >= 3" in met.focal_reason and met.focal_allelic_z > 0
    assert focal["depth and alleles"] > focal["depth"]


@pytest.mark.parametrize("gain", [(2, 1), (2, 2)])
def test_polysomy_with_allele_counts_is_never_focal(pon, gain):
    for seed in range(4):
        events = [("chr7", 0, 160_000_000, sum(gain))]
        coverage = sample("p", 110 + seed, purity=0.6, events=events)
        coverage = with_alleles(coverage, 120 + seed, 0.6, [("chr7", 0, 160_000_000, *gain)])
        met = call(pon, coverage, 0.6).met
        assert met.status is Status.CHR7_GAIN and met.focal is False, met.focal_reason


def test_alleles_only_add_to_a_depth_contrast():
    assert focal_evidence(2.0, 2.5) == pytest.approx(4.5 / np.sqrt(2))
    assert focal_evidence(5.0, 0.0) == 5.0  # balanced amplicon: depth alone decides
    assert focal_evidence(2.0, None) == 2.0
    assert focal_evidence(-0.5, 8.0) == -0.5  # an allelic change without a gain (LOH)


def noisy(coverage, seed, sd=1.0):
    """`coverage` with per-bin target noise the normals do not share (MAPD far above QC's
    fail level), as in a library whose capture efficiencies no reference corrected."""
    rng = np.random.default_rng(seed)
    target = (coverage.bins["kind"] == "target").to_numpy()
    factor = np.where(target, 2 ** rng.normal(0, sd, len(target)), 1.0)
    counts = np.round(coverage.bins["count"].to_numpy() * factor).astype(int)
    coverage.bins = coverage.bins.assign(count=counts, depth=counts / 2.0)
    return coverage


def test_noise_failed_qc_keeps_a_negative_uncalled_but_not_a_far_amplification(pon):
    """QC failed on noise alone: a neutral MET stays inconclusive (the noise could hide a
    gain), while a focal amplification far above the sample's own noise of a MET-sized
    mean is called, its standard error raised to that noise, the reason saying so."""
    neutral = call(pon, noisy(sample("t", 160, purity=0.6), 161), 0.6)
    assert neutral.qc.status == "fail" and "mapd_target" in neutral.qc.failed
    assert neutral.met.status is Status.INCONCLUSIVE
    assert neutral.met.status_reason.startswith("QC failed (fail: noise")
    events = [(*AMPLICON, 40)]
    amplified = call(pon, noisy(sample("t", 162, purity=0.6, events=events), 163), 0.6)
    met = amplified.met
    assert set(amplified.qc.failed) <= {"mapd_target", "pon_correlation_relative"}
    assert met.status is Status.HIGH_LEVEL_FOCAL_AMPLIFICATION, met.status_reason
    assert "called although QC failed" in met.status_reason
    floor = float(met.status_reason.split("-bin mean (")[1].split(" log2")[0])
    assert met.log2_se == pytest.approx(max(floor, met.log2_se), abs=0.005)
    assert met.log2_se > 0.15  # the noise of a MET-sized mean, not the normals' few %


def test_window_noise_measures_the_noise_of_a_gene_sized_mean():
    """Independent bin noise of SD 0.8 around flat segments: a 16-bin mean's noise is
    0.8 / 4; noise shared by runs of 8 neighbouring bins (uncorrected capture) makes it
    larger, which a standard error from the bins' own scatter would not see."""
    rng = np.random.default_rng(5)
    n = 4000
    bins = pd.DataFrame(
        {
            "chrom": np.repeat([f"chr{i}" for i in range(1, 9)], n // 8),
            "kind": "target",
            "used": True,
            "log2": rng.normal(0, 0.8, n),
        }
    )
    segments = pd.DataFrame({"first_row": [0], "last_row": [n - 1], "log2": [0.0]})
    assert window_noise(bins, segments, 16, "chr7") == pytest.approx(0.2, rel=0.15)
    shared = bins.assign(log2=bins["log2"] + np.repeat(rng.normal(0, 0.5, n // 8), 8))
    assert window_noise(shared, segments, 16, "chr7") > 0.3
    assert window_noise(bins.iloc[:100], segments, 16, "chr1") is None  # too few windows
