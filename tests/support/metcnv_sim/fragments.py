"""The read model: the expected and the drawn fragments of one simulated sample.

Expected counts are capture efficiency x GC bias x copy ratio; draws are gamma-Poisson,
with MAPQ-0 fragments and duplicate-flagged copies on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from metcnv.copynumber import copy_ratio
from metcnv.genome import contig_order
from metcnv_sim.mutations import Mutation
from metcnv_sim.reference import MAX_FRAGMENT, Reference

MAPQ = 60
# (chrom, start, end, tumor total copies) or (..., total, minor allele copies); see alleles
Segment = tuple[str, int, int, float] | tuple[str, int, int, float, float]


@dataclass(frozen=True)
class SampleSpec:
    """What to simulate for one sample; depths are for efficiency, GC bias and copy ratio 1.

    `segments` are (chrom, start, end, tumor copy number[, minor allele copies]) on top of
    copy number 2 (1 + 1); where they overlap, the later one wins. Depth follows the total;
    the minor copies (default in alleles.segment_alleles) only shape allele fractions.
    `gc_bias` is (slope, curvature) of the natural-log depth multiplier in GC - 0.5; None
    draws a random curve from `seed`. `amplicon` makes every on-target fragment span its
    target exactly (PCR amplicons: fixed ends, no fragment length spread); pair it with
    `offtarget_per_mb=0`, as amplicon panels have no off-target reads.

    `germline_seed` names the person (a patient's tumor, blood and effusion share one; each
    normal is its own): set, the reads carry bases, with that person's germline SNP alleles
    (snps.draw_genotypes) and the tumor's allele-specific copy number; None keeps SEQ and
    QUAL '*'. `base_quality` is every base's QUAL; `error_rate` the share of bases
    sequenced as another base.

    `target_log2` and `island_log2` (one value per target in panel order, per island in
    reference.windows order) multiply each one's expected count by 2**value: per-sample
    capture efficiency and noise from outside the model (the accuracy benchmark's real
    noise). They are left out of repr, so a spec without them reads as before they existed;
    whoever fingerprints a spec must add them.

    `mutations` are the tumor's somatic SNVs (metcnv_sim.mutations), shown in the reads of a
    spec with a germline_seed; left out of repr like the multipliers, so a spec without
    them reads (and fingerprints) as before they existed.
    """

    name: str
    seed: int
    target_depth: float = 150.0  # mean read depth over a target
    offtarget_per_mb: float = 40.0  # passing off-target fragments per Mb of genome
    read_length: int = 50
    fragment_mean: float = 250.0
    fragment_sd: float = 50.0
    min_overlap: int = 100  # a captured fragment overlaps its target by this many bp
    purity: float = 0.0
    ploidy: float = 2.0
    segments: tuple[Segment, ...] = ()
    dispersion: float = 0.01  # gamma-Poisson: variance = mu + dispersion * mu^2
    gc_bias: tuple[float, float] | None = None
    duplicate_fraction: float = 0.05  # of all fragments: extra copies flagged 0x400
    mapq0_fraction: float = 0.02  # of all fragments: extra ones with MAPQ 0
    amplicon: bool = False  # amplicon panel: every fragment is exactly one target
    germline_seed: int | None = None  # the person; None: reads without bases
    base_quality: int = 30
    error_rate: float = 0.001
    target_log2: np.ndarray | None = field(default=None, repr=False, compare=False)
    island_log2: np.ndarray | None = field(default=None, repr=False, compare=False)
    mutations: tuple[Mutation, ...] = field(default=(), repr=False)


def tumor_copies(segments: Sequence[Segment], chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Tumor copy number at each position: 2, unless a segment covers it (last one wins)."""
    copies = np.full(len(pos), 2.0)
    for seg_chrom, start, end, value, *_ in segments:
        copies[(chrom == seg_chrom) & (pos >= start) & (pos < end)] = value
    return copies


def gc_multiplier(gc: np.ndarray, bias: tuple[float, float]) -> np.ndarray:
    """Depth multiplier exp(slope * (gc - 0.5) + curvature * (gc - 0.5)^2)."""
    x = np.asarray(gc) - 0.5
    return np.exp(bias[0] * x + bias[1] * x**2)


def sample_gc_bias(spec: SampleSpec) -> tuple[float, float]:
    """The sample's GC-bias curve: given, or drawn from its seed (mostly a mild arch)."""
    if spec.gc_bias is not None:
        return spec.gc_bias
    rng = np.random.default_rng([spec.seed, 1])
    return float(rng.normal(0, 1.5)), float(rng.normal(-6, 4))


def depth_per_fragment(target_length: int, spec: SampleSpec) -> float:
    """Mean read depth over a target that one captured fragment of mean length adds.

    Fragment starts are uniform over the `width` positions giving an overlap of at least
    `min_overlap`; a base's depth is the share of those starts whose reads cover it.
    """
    length = round(spec.fragment_mean)
    span = min(spec.read_length, length)
    overlap = min(spec.min_overlap, target_length // 2)
    first = overlap - 2 * (length // 2)  # lowest start relative to the target's start
    width = target_length + length - 2 * overlap
    x = np.arange(target_length)
    covered = np.zeros(target_length)
    for offset in (0, length - span):  # the two reads of a fragment
        low = np.maximum(x - offset - span + 1, first)
        high = np.minimum(x - offset + 1, first + width)
        covered += np.clip(high - low, 0, None)
    return float(covered.mean() / width)


def depth_per_amplicon(target_length: int, spec: SampleSpec) -> float:
    """Mean read depth over an amplicon that one read pair spanning it exactly adds."""
    return 2 * min(spec.read_length, target_length) / target_length


def expected_fragments(
    reference: Reference, targets: pd.DataFrame, spec: SampleSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Expected passing fragments per target and per island (in reference.windows order).

    Fragments per target are `target_depth` / depth_per_fragment (depth_per_amplicon for
    an amplicon panel), so a target's expected mean depth is target_depth x efficiency x
    GC bias x copy ratio (x 2**target_log2 when given; islands likewise).
    """
    bias = sample_gc_bias(spec)
    lengths = (targets["end"] - targets["start"]).to_numpy()
    adds = depth_per_amplicon if spec.amplicon else depth_per_fragment
    per_fragment = {n: adds(n, spec) for n in np.unique(lengths)}
    t_chrom = targets["chrom"].to_numpy()
    t_mid = ((targets["start"] + targets["end"]) // 2).to_numpy()
    target_mu = (
        spec.target_depth
        / np.array([per_fragment[n] for n in lengths])
        * targets["efficiency"].to_numpy()
        * gc_multiplier(_gc_at(reference, t_chrom, t_mid), bias)
        * copy_ratio(tumor_copies(spec.segments, t_chrom, t_mid), spec.purity, spec.ploidy)
    )
    islands = reference.windows[reference.windows["kind"] == "island"]
    i_chrom = islands["chrom"].to_numpy()
    i_mid = ((islands["start"] + islands["end"]) // 2).to_numpy()
    per_island = spec.offtarget_per_mb * sum(reference.contigs.values()) / 1e6 / len(islands)
    island_mu = (
        per_island
        * gc_multiplier(islands["gc"].to_numpy(), bias)
        * copy_ratio(tumor_copies(spec.segments, i_chrom, i_mid), spec.purity, spec.ploidy)
    )
    return _times(target_mu, spec.target_log2, "targets"), _times(
        island_mu, spec.island_log2, "islands"
    )


def _times(mu: np.ndarray, log2: np.ndarray | None, what: str) -> np.ndarray:
    """Expected counts times 2**log2 (per-sample multipliers), or unchanged without them."""
    if log2 is None:
        return mu
    if len(log2) != len(mu):
        raise ValueError(f"{len(log2)} log2 multipliers for {len(mu)} {what}")
    return mu * 2.0 ** np.asarray(log2, dtype=float)


def _gc_at(reference: Reference, chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """GC of the window holding each position (NaN outside windows)."""
    gc = np.full(len(pos), np.nan)
    for name, windows in reference.windows.groupby("chrom", sort=False):
        rows = np.flatnonzero(chrom == name)
        index = np.searchsorted(windows["start"].to_numpy(), pos[rows], side="right") - 1
        inside = (index >= 0) & (pos[rows] < windows["end"].to_numpy()[np.maximum(index, 0)])
        gc[rows[inside]] = windows["gc"].to_numpy()[index[inside]]
    return gc


def _fragment_lengths(rng: np.random.Generator, n: int, spec: SampleSpec, cap: int) -> np.ndarray:
    """Normal fragment lengths, rounded and kept within [30, cap] bp."""
    lengths = np.rint(rng.normal(spec.fragment_mean, spec.fragment_sd, n)).astype(np.int64)
    return np.clip(lengths, 30, cap)


def _overdispersed(rng: np.random.Generator, mu: np.ndarray, dispersion: float) -> np.ndarray:
    """Gamma-Poisson draws with mean mu and variance mu + dispersion * mu^2."""
    if dispersion > 0:
        mu = mu * rng.gamma(1 / dispersion, dispersion, len(mu))
    return rng.poisson(mu)


def draw_fragments(reference: Reference, targets: pd.DataFrame, spec: SampleSpec) -> pd.DataFrame:
    """All fragments of a sample, sorted by position: chrom, start, length, mapq, duplicate,
    read1_reverse and molecule (the drawn fragment a duplicate copies; its own otherwise)."""
    rng = np.random.default_rng([spec.seed, 0])
    target_mu, island_mu = expected_fragments(reference, targets, spec)
    keep = 1 - spec.mapq0_fraction  # MAPQ-0 fragments come on top of the passing ones
    islands = reference.windows[reference.windows["kind"] == "island"]

    n = _overdispersed(rng, target_mu / keep, spec.dispersion)
    t_start = np.repeat(targets["start"].to_numpy(), n)
    t_len = np.repeat((targets["end"] - targets["start"]).to_numpy(), n)
    if spec.amplicon:  # PCR products: the fragment is the amplicon
        starts, lengths = t_start, t_len
    else:
        lengths = _fragment_lengths(rng, len(t_start), spec, cap=MAX_FRAGMENT)
        overlap = np.minimum(spec.min_overlap, t_len // 2)
        low = t_start - lengths // 2 + overlap  # midpoint range: overlap >= min_overlap
        span = t_len + lengths - 2 * overlap
        starts = low + np.floor(rng.random(len(low)) * span).astype(np.int64) - lengths // 2
    on_target = pd.DataFrame(
        {
            "chrom": np.repeat(targets["chrom"].to_numpy(), n),
            "start": starts,
            "length": lengths,
        }
    )

    m = _overdispersed(rng, island_mu / keep, spec.dispersion)
    i_start = np.repeat(islands["start"].to_numpy(), m)
    i_len = np.repeat((islands["end"] - islands["start"]).to_numpy(), m)
    lengths = _fragment_lengths(rng, len(i_start), spec, cap=int(i_len.min(initial=MAX_FRAGMENT)))
    off_target = pd.DataFrame(
        {
            "chrom": np.repeat(islands["chrom"].to_numpy(), m),
            "start": i_start
            + np.floor(rng.random(len(i_start)) * (i_len - lengths + 1)).astype(np.int64),
            "length": lengths,
        }
    )

    fragments = pd.concat([on_target, off_target], ignore_index=True)
    fragments["mapq"] = np.where(rng.random(len(fragments)) < spec.mapq0_fraction, 0, MAPQ)
    fragments["duplicate"] = False
    fragments["molecule"] = np.arange(len(fragments))
    n_dup = round(len(fragments) * spec.duplicate_fraction / (1 - spec.duplicate_fraction))
    copies = fragments.iloc[rng.integers(0, len(fragments), n_dup)].assign(duplicate=True)
    fragments = pd.concat([fragments, copies], ignore_index=True)
    fragments["read1_reverse"] = rng.random(len(fragments)) < 0.5
    ranks = {chrom: contig_order(chrom) for chrom in fragments["chrom"].unique()}
    order = np.lexsort((fragments["start"], fragments["chrom"].map(ranks)))
    return fragments.iloc[order].reset_index(drop=True)
