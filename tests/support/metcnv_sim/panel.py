"""The simulated panel: exon-like targets over genes and a backbone, with capture efficiencies.

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


def capture_efficiency(n_targets: int, seed: int, fold: float = 2.5) -> np.ndarray:
    """Per-target capture efficiencies, log-uniform over a `fold`-wide range around 1.

    Drawn from the panel's seed alone, so every sample of a panel shares them.
    """
    half = np.log(fold) / 2
    return np.exp(np.random.default_rng([seed, 1]).uniform(-half, half, n_targets))


def make_panel(
    genes: Iterable[GeneTargets],
    backbone: Mapping[str, int],
    contigs: Mapping[str, int],
    seed: int,
    size: tuple[int, int] = (150, 250),
    efficiency_fold: float = 2.5,
) -> pd.DataFrame:
    """Targets (chrom, start, end, gene, efficiency): gene exons plus a backbone.

    `backbone` maps a chromosome to a spacing: one `{chrom}_backbone` target in the middle
    of every full step, as panels do to see whole-chromosome changes.
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
    return targets


def write_bed(targets: pd.DataFrame, path: str | Path) -> None:
    """Write targets as a 4-column BED (chrom, start, end, gene)."""
    targets[["chrom", "start", "end", "gene"]].to_csv(path, sep="\t", header=False, index=False)
