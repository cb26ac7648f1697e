"""Simulated per-bin counts (no BAMs) for fast tests of the PoN and the caller."""

import numpy as np
import pandas as pd

from metcnv.copynumber import copy_ratio
from metcnv.coverage import SampleCoverage
from metcnv.genome import LENGTHS

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


def with_alleles(coverage, seed, purity=1.0, events=(), depth=300.0):
    """`coverage` with allele counts at one het-or-not SNP per target bin: each tumor event
    (chrom, start, end, major, minor) sets its sites' allele copies; elsewhere (1, 1)."""
    rng = np.random.default_rng(seed)
    sites = BINS[TARGET].reset_index(drop=True)
    major, minor = np.ones(len(sites)), np.ones(len(sites))
    for chrom, start, end, a, b in events:
        inside = (
            (sites["chrom"] == chrom) & (sites["end"] > start) & (sites["start"] < end)
        ).to_numpy()
        major[inside], minor[inside] = a, b
    cells = purity * (major + minor) + 2 * (1 - purity)
    minor_fraction = (purity * minor + 1 - purity) / cells
    het = rng.random(len(sites)) < 0.5  # pop_af 0.5: half the sites are het
    flip = rng.random(len(sites)) < 0.5  # phase: which allele is the minor one
    alt_fraction = np.where(het, np.where(flip, 1 - minor_fraction, minor_fraction), 0.005)
    n = rng.poisson(depth * copy_ratio(major + minor, purity, 2.0))
    alt = rng.binomial(n, alt_fraction)
    alleles = pd.DataFrame(
        {
            "chrom": sites["chrom"],
            "pos": (sites["start"] + 100).to_numpy(),
            "ref": "A",
            "alt": "G",
            "pop_af": 0.5,
            "ref_count": n - alt,
            "alt_count": alt,
            "other_count": 0,
        }
    )
    coverage.alleles = alleles
    return coverage
