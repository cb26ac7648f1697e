"""The caller on simulated per-bin counts (no BAMs): truth in, calls out."""

import numpy as np
import pandas as pd
import pytest

from metcnv.call import CallSettings, call_sample
from metcnv.copynumber import copy_ratio
from metcnv.coverage import SampleCoverage
from metcnv.genome import LENGTHS
from metcnv.pon import build_pon

MET = (116_672_195, 116_798_377)
RNG_PANEL = np.random.default_rng(7)


def panel_bins() -> pd.DataFrame:
    rows = []
    for chrom in ("chr7", "chr8", "chr12"):
        length = LENGTHS["hg38"][chrom]
        for start in range(0, length - 1_000_000, 1_000_000):
            rows.append((chrom, start + 100_000, start + 900_000, "-", "offtarget"))
            rows.append((chrom, start + 950_000, start + 950_200, f"{chrom}_backbone", "target"))
    for k in range(21):
        start = MET[0] + 1000 + k * 5800
        rows.append(("chr7", start, start + 200, "MET", "target"))
    bins = pd.DataFrame(rows, columns=["chrom", "start", "end", "gene", "kind"])
    return bins.sort_values(
        ["chrom", "start"],
        key=lambda c: c.map({"chr7": 0, "chr8": 1, "chr12": 2}) if c.name == "chrom" else c,
    ).reset_index(drop=True)


BINS = panel_bins()
TARGET = (BINS["kind"] == "target").to_numpy()
EFFICIENCY = np.where(TARGET, 2 ** RNG_PANEL.normal(0, 0.6, len(BINS)), 1.0)
GC = RNG_PANEL.uniform(0.35, 0.65, len(BINS))


def sample(name, seed, depth=600.0, purity=1.0, events=()):
    """Counts with shared capture efficiency, a GC slope and gamma-Poisson noise."""
    rng = np.random.default_rng(seed)
    tumor_cn = np.full(len(BINS), 2.0)
    for chrom, start, end, cn in events:
        inside = (BINS["chrom"] == chrom) & (BINS["end"] > start) & (BINS["start"] < end)
        tumor_cn[inside.to_numpy()] = cn
    ratio = copy_ratio(tumor_cn, purity, 2.0)
    mean = np.where(TARGET, depth, depth / 8) * EFFICIENCY * ratio
    mean *= 1 + rng.normal(0, 0.3) * (GC - 0.5)
    counts = rng.poisson(rng.gamma(50, mean / 50))
    table = BINS.assign(count=counts, depth=counts / 2.0)
    return SampleCoverage(name, "hg38", table, int(counts.sum() * 1.3), {"min_mapq": "20"})


@pytest.fixture(scope="module")
def pon():
    return build_pon([sample(f"n{i}", i) for i in range(8)], GC, {"min_mapq": 20})


def call(pon, coverage, purity):
    return call_sample(coverage, pon, purity, CallSettings())


AMPLICON = ("chr7", 116_200_000, 117_300_000)


def test_focal_high_level(pon):
    result = call(pon, sample("t", 100, purity=0.6, events=[(*AMPLICON, 20)]), 0.6)
    met = result.met
    assert met["status"] == "high_level_focal_amplification", met["status_reason"]
    assert met["focal"] is True and met["over_10_copies"] is True
    assert met["tumor_copy_number"] == pytest.approx(20, rel=0.15)
    low, high = met["tumor_copy_number_ci95"]
    assert low < met["tumor_copy_number"] < high
    assert met["amplicon"]["size"] < 3_000_000
    assert met["met_chr7_ratio"] == pytest.approx(10, rel=0.2)
    assert met["fish_category"] == "high"
    assert result.qc["status"] in ("pass", "warn")


def test_polysomy_is_never_focal(pon):
    met = call(pon, sample("p", 101, purity=0.7, events=[("chr7", 0, 160_000_000, 4)]), 0.7).met
    assert met["status"] == "chr7_gain", met["status_reason"]
    assert met["focal"] is False
    assert met["tumor_copy_number"] == pytest.approx(4, rel=0.15)
    assert met["met_chr7_ratio"] == pytest.approx(1, abs=0.25)


def test_focal_on_top_of_chr7_gain(pon):
    events = [("chr7", 0, 160_000_000, 3), (*AMPLICON, 14)]
    met = call(pon, sample("e", 102, purity=0.4, events=events), 0.4).met
    assert met["status"] == "high_level_focal_amplification", met["status_reason"]
    assert met["chr7_background"]["tumor_copy_number"] == pytest.approx(3, abs=0.5)
    assert met["met_chr7_ratio"] == pytest.approx(14 / 3, rel=0.25)
    assert met["fish_category"] == "intermediate"


def test_neutral_sample(pon):
    met = call(pon, sample("n", 103, purity=0.5), 0.5).met
    assert met["status"] == "neutral", met["status_reason"]
    assert met["over_10_copies"] is False
    assert met["limit_of_detection"] < 6


def test_without_purity_the_lower_bound_decides(pon):
    high = call(pon, sample("h", 104, purity=1.0, events=[(*AMPLICON, 20)]), None).met
    assert high["tumor_copy_number"] is None and high["ci95_of"] == "copy_number"
    assert high["over_10_copies"] is True and high["status"] == "high_level_focal_amplification"
    low = call(pon, sample("l", 105, purity=0.1, events=[(*AMPLICON, 30)]), None).met
    assert low["status"] == "inconclusive" and "--purity" in low["status_reason"]
    assert low["over_10_copies"] is None and "--purity" in low["over_10_reason"]


def test_low_purity_limit_of_detection_makes_neutral_inconclusive(pon):
    met = call(pon, sample("b", 106, depth=60, purity=0.02), 0.02).met
    assert met["status"] == "inconclusive", met["status_reason"]
    assert met["limit_of_detection"] > 6
    assert met["over_10_copies"] is None


def test_interval_coverage_on_repeated_samples(pon):
    inside = 0
    for seed in range(200, 230):
        met = call(pon, sample("c", seed, purity=0.5, events=[(*AMPLICON, 8)]), 0.5).met
        low, high = met["tumor_copy_number_ci95"]
        inside += low <= 8 <= high
    assert inside >= 25  # nominal 95% of 30 is 28.5
