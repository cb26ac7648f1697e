"""Depth segments split where the SNPs' allelic state changes (simulated counts, no BAMs)."""

import numpy as np
import pandas as pd
import pytest
from synthetic import GC, sample, with_alleles

from metcnv.allelic_segments import _splits, split_by_alleles
from metcnv.call import call_sample, normalized_bins
from metcnv.model import CallSettings, Sample
from metcnv.pon import build_pon
from metcnv.purity import FIT_MIN_SEGMENT, fit_sites
from metcnv.segment import segment_bins


@pytest.fixture(scope="module")
def pon():
    return build_pon([sample(f"n{i}", i) for i in range(8)], GC, {"min_mapq": 20})


def depth_and_allelic_segments(pon, coverage):
    bins, _ = normalized_bins(coverage, pon)
    used = bins[bins["used"].astype(bool)]
    depth = segment_bins(used)
    sites = fit_sites(coverage.alleles, None)
    return depth, split_by_alleles(depth, used, sites[sites["used"]])


@pytest.mark.parametrize("purity", [0.3, 0.6])
def test_a_copy_neutral_loh_is_split_out_and_fixes_the_purity(pon, purity):
    """Depth cannot see chr12:0-40 Mb at (2, 0); its SNPs can, and the fit then can too."""
    coverage = sample("l", 800, purity=purity)
    coverage = with_alleles(coverage, 900, purity, [("chr12", 0, 40_000_000, 2, 0)])
    depth, joint = depth_and_allelic_segments(pon, coverage)
    assert (depth["chrom"] == "chr12").sum() == 1
    chr12 = joint[joint["chrom"] == "chr12"]
    assert len(chr12) == 2
    # the change can only be placed between the het sites on either side of it
    alleles = coverage.alleles
    het = alleles[(alleles["chrom"] == "chr12") & (alleles["alt_count"] > 0.05 * 300)]
    before = het["pos"][het["pos"] < 40_000_000].max()
    after = het["pos"][het["pos"] > 40_000_000].min()
    assert before < chr12["end"].iloc[0] <= after + 1_000_000
    assert (joint["end"] - joint["start"]).min() >= min(
        FIT_MIN_SEGMENT, (depth["end"] - depth["start"]).min()
    )
    none = Sample.given("l", "tumor", None, None)
    result = call_sample(coverage, pon, none.purity, none.ploidy, CallSettings())
    assert result.purity.source == "estimated", result.purity.reason
    assert abs(result.purity.value - purity) <= 0.05


def test_no_split_without_an_allelic_change(pon):
    splits = 0
    for seed in range(10):
        coverage = with_alleles(sample("n", 600 + seed, purity=0.5), 700 + seed, 0.5)
        depth, joint = depth_and_allelic_segments(pon, coverage)
        splits += len(joint) - len(depth)
    assert splits == 0


def test_pieces_stay_long_enough_to_be_fitted(pon):
    """An allelic change 2 Mb from a segment's end is not split: the piece could not be
    fitted, and an amplicon-sized segment would change the focal test."""
    coverage = sample("e", 801, purity=0.6)
    coverage = with_alleles(coverage, 901, 0.6, [("chr12", 0, 2_000_000, 2, 0)])
    depth, joint = depth_and_allelic_segments(pon, coverage)
    assert len(joint) == len(depth)


def _weak_loss(depth_step: float, seed: int) -> list[int]:
    """Splits of a 60 Mb segment (600 bins, log2 SD 0.3) whose second half has a minor-allele
    fraction of 0.44 at 30 SNPs 200 reads deep, and log2 moved by `depth_step`."""
    rng = np.random.default_rng(seed)
    starts = np.arange(600) * 100_000
    rows = pd.DataFrame(
        {
            "start": starts,
            "end": starts + 100_000,
            "log2": rng.normal(0, 0.3, 600) + np.where(starts >= 30_000_000, depth_step, 0),
            "weight": 1 / 0.3**2,
        }
    )
    pos = np.sort(rng.choice(60_000_000, 30, replace=False))
    imbalance = np.where(rng.random(30) < 0.5, 0.44, 0.56)
    alt = rng.binomial(200, np.where(pos >= 30_000_000, imbalance, 0.5))
    sites = pd.DataFrame(
        {"pos": pos + 1, "ref_count": 200 - alt, "alt_count": alt, "pop_af": 0.5}
    ).assign(het_alt_fraction=0.5, concentration=100_000.0)
    return _splits(rows, sites, 0.01, np.random.default_rng(0))


def test_depth_helps_place_and_find_an_allelic_change():
    """A loss shows in depth and alleles at once: tested together, a change too weak in
    either alone is found, near where it is; the alleles alone rarely find it."""
    with_depth = [_weak_loss(-0.08, seed) for seed in range(10)]
    alleles_alone = [_weak_loss(0.0, seed) for seed in range(10)]
    assert sum(map(bool, with_depth)) >= 5
    assert sum(map(bool, alleles_alone)) <= 2
    assert all(abs(cut - 300) <= 60 for cuts in with_depth for cut in cuts)
