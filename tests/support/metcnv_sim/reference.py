"""The simulated reference: sequence windows of known GC around targets and in islands.

Off-target reads fall in the islands; everything outside the windows is 'N', written as a
small bgzipped FASTA.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv.bins import sort_bins
from metcnv.genome import contig_order

MAX_FRAGMENT = 1_000  # longest fragment drawn; windows must reach this far past a target
BASES = np.frombuffer(b"ATGC", dtype=np.uint8)


@dataclass(frozen=True)
class Reference:
    """Contig lengths and the windows that carry sequence (chrom, start, end, gc, kind)."""

    contigs: dict[str, int]
    windows: pd.DataFrame


def make_reference(
    contigs: Mapping[str, int],
    targets: pd.DataFrame,
    seed: int,
    *,
    flank: int = 2_000,
    island_size: int = 1_000,
    island_spacing: int = 75_000,
    gc_range: tuple[float, float] = (0.35, 0.65),
    gc_per_target: bool = False,
) -> Reference:
    """Lay out the sequence windows: targets +-flank (merged) and one island per spacing.

    Island GC follows an AR(1) walk (correlation length ~3 Mb), so 1 Mb bins still differ
    in GC; target windows get independent GC values, as exons do. `flank` must be at least
    MAX_FRAGMENT so that every captured fragment lies on sequence.

    Targets closer than 2 x `flank` share a merged window and so one GC value: all exons of
    a compact gene then sit at one GC, and a GC correction by rolling median over GC-sorted
    bins can mistake the gene's amplification for GC bias. `gc_per_target` splits merged
    windows halfway between neighbouring targets, so each target gets its own GC.
    """
    if flank < MAX_FRAGMENT:
        raise ValueError(f"flank {flank} is shorter than the longest fragment ({MAX_FRAGMENT})")
    rng = np.random.default_rng(seed)
    low, high = gc_range
    centre, spread = (low + high) / 2, (high - low) / 4
    rows = []
    for chrom in sorted(contigs, key=contig_order):
        own = targets[targets["chrom"] == chrom]
        merged: list[list[int]] = []
        cuts: list[list[int]] = []  # per merged window: halfway points between its targets
        previous_end = 0
        for start, end in zip(own["start"].to_numpy(), own["end"].to_numpy(), strict=True):
            if merged and start - flank <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end + flank)
                cuts[-1].append(max((previous_end + start) // 2, cuts[-1][-1]))
            else:
                merged.append([max(0, start - flank), min(contigs[chrom], end + flank)])
                cuts.append([merged[-1][0]])
            previous_end = max(previous_end, end) if len(cuts[-1]) > 1 else end
        if gc_per_target:
            for (w_start, w_end), points in zip(merged, cuts, strict=True):
                edges = sorted(set(points[1:]) - {w_start, w_end})
                for s, e in zip([w_start, *edges], [*edges, w_end], strict=True):
                    rows.append((chrom, s, e, rng.uniform(low, high), "target"))
        else:
            rows += [(chrom, s, e, rng.uniform(low, high), "target") for s, e in merged]
        n_slots = contigs[chrom] // island_spacing
        starts = np.arange(n_slots) * island_spacing + rng.integers(
            0, island_spacing - island_size, n_slots
        )
        gc = np.empty(n_slots)
        level, rho = rng.normal(0, 1), 0.975
        for i, noise in enumerate(rng.normal(0, np.sqrt(1 - rho**2), n_slots)):
            level = rho * level + noise
            gc[i] = level
        gc = np.clip(centre + spread * gc, low, high)
        bounds = np.array(merged, dtype=np.int64).reshape(-1, 2)
        for start, value in zip(starts, gc, strict=True):
            clash = (bounds[:, 0] < start + island_size) & (bounds[:, 1] > start)
            if not clash.any():
                rows.append((chrom, int(start), int(start) + island_size, value, "island"))
    windows = sort_bins(pd.DataFrame(rows, columns=["chrom", "start", "end", "gc", "kind"]))
    return Reference(dict(contigs), windows)


def write_fasta(reference: Reference, path: str | Path, seed: int, unit: int = 50) -> None:
    """Write the reference as a bgzipped FASTA, one line per contig, with .fai and .gzi.

    Each window repeats one random `unit`-bp motif drawn at the window's GC content, and
    everything else is 'N': a 1-line contig and repeated motifs let bgzip store the hg38-
    length contigs in about 1 MB (60-column lines or fully random windows cost 2-4x more).
    Pass `unit` >= the window size for non-repetitive windows.
    """
    rng = np.random.default_rng(seed)
    path = Path(path)
    with pysam.BGZFile(str(path), "wb") as out:
        for chrom in sorted(reference.contigs, key=contig_order):
            sequence = np.full(reference.contigs[chrom], ord("N"), dtype=np.uint8)
            own = reference.windows[reference.windows["chrom"] == chrom]
            for start, end, gc in own[["start", "end", "gc"]].itertuples(False):
                sequence[start:end] = np.resize(
                    _motif(rng, min(unit, end - start), gc), end - start
                )
            out.write(f">{chrom}\n".encode())
            out.write(sequence.tobytes())
            out.write(b"\n")
    pysam.faidx(str(path))


def _motif(rng: np.random.Generator, size: int, gc: float) -> np.ndarray:
    """Random bases with exactly round(gc * size) of them G or C."""
    strong = round(gc * size)
    bases = np.concatenate([rng.choice(BASES[2:], strong), rng.choice(BASES[:2], size - strong)])
    return rng.permutation(bases)
