"""The simulated panel: exon-like targets over genes, a backbone and SNP probes, with capture
efficiencies.

Every sample of a panel shares its targets' efficiencies (drawn from the panel's seed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metcnv.bins import sort_bins


@dataclass(frozen=True)
class GeneTargets:
    """`n_targets` exon-like targets spread evenly over a gene (0-based half-open span)."""

    gene: str
    chrom: str
    start: int
    end: int
    n_targets: int


def capture_efficiency(n_targets: int, seed: int, fold: float = 2.5, stream: int = 1) -> np.ndarray:
    """Per-target capture efficiencies, log-uniform over a `fold`-wide range around 1.

    Drawn from the panel's seed alone, so every sample of a panel shares them; SNP probes
    use their own `stream`.
    """
    half = np.log(fold) / 2
    return np.exp(np.random.default_rng([seed, stream]).uniform(-half, half, n_targets))


def make_panel(
    genes: Iterable[GeneTargets],
    backbone: Mapping[str, int],
    contigs: Mapping[str, int],
    seed: int,
    size: tuple[int, int] = (150, 250),
    efficiency_fold: float = 2.5,
    snp_backbone: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Targets (chrom, start, end, gene, efficiency): gene exons plus a backbone.

    `backbone` maps a chromosome to a spacing: one `{chrom}_backbone` target in the middle
    of every full step, as panels do to see whole-chromosome changes.

    `snp_backbone` maps a chromosome to a spacing: one `{chrom}_snps` target per full step,
    placed at random in its middle half and skipped if within 1 kb of another target. Panels
    (MSK-IMPACT, FoundationOne) add such probes on common SNPs to see LOH and purity;
    draw_snp_sites puts a common SNP at each one's centre. Their label spans more than 5 Mb,
    so metcnv treats it as a backbone, not a gene. They come from their own random streams,
    so the other targets and their efficiencies are those of the panel without them.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for spec in genes:
        step = (spec.end - spec.start) / spec.n_targets
        for i in range(spec.n_targets):
            length = int(rng.integers(size[0], size[1] + 1))
            slack = max(0.0, step - length)
            start = spec.start + int(i * step + rng.uniform(0.25, 0.75) * slack)
            rows.append((spec.chrom, start, start + length, spec.gene))
    for chrom, step in backbone.items():
        for centre in range(step // 2, contigs[chrom] - step // 2, step):
            length = int(rng.integers(size[0], size[1] + 1))
            rows.append(
                (chrom, centre - length // 2, centre - length // 2 + length, f"{chrom}_backbone")
            )
    targets = sort_bins(pd.DataFrame(rows, columns=["chrom", "start", "end", "gene"]))
    targets["efficiency"] = capture_efficiency(len(targets), seed, efficiency_fold)
    if not snp_backbone:
        return targets
    probes = _snp_probes(targets, snp_backbone, contigs, seed, size)
    probes["efficiency"] = capture_efficiency(len(probes), seed, efficiency_fold, stream=3)
    return sort_bins(pd.concat([targets, probes], ignore_index=True))


def _snp_probes(
    targets: pd.DataFrame,
    spacing: Mapping[str, int],
    contigs: Mapping[str, int],
    seed: int,
    size: tuple[int, int],
) -> pd.DataFrame:
    """One `{chrom}_snps` target per full step of `spacing`, clear of the other targets."""
    rng = np.random.default_rng([seed, 2])
    rows = []
    for chrom, step in spacing.items():
        own = targets[targets["chrom"] == chrom]
        starts, ends = own["start"].to_numpy(), own["end"].to_numpy()
        for low in range(0, contigs[chrom] - step + 1, step):
            length = int(rng.integers(size[0], size[1] + 1))
            centre = low + int(rng.uniform(0.25, 0.75) * step)
            start = centre - length // 2
            if ((starts < start + length + 1_000) & (ends > start - 1_000)).any():
                continue
            rows.append((chrom, start, start + length, f"{chrom}_snps"))
    return sort_bins(pd.DataFrame(rows, columns=["chrom", "start", "end", "gene"]))


def write_bed(targets: pd.DataFrame, path: str | Path) -> None:
    """Write targets as a 4-column BED (chrom, start, end, gene)."""
    targets[["chrom", "start", "end", "gene"]].to_csv(path, sep="\t", header=False, index=False)
