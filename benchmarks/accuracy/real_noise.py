"""Real capture noise for the accuracy benchmark (`run.py --noise real`).

The synthetic benchmark's noise is metcnv_sim's model: independent gamma-Poisson
over-dispersion per target, log-uniform capture efficiencies and a smooth GC curve. Here the
per-target capture efficiency and noise come instead from real hybrid-capture coverage:
CNVkit's example data as Debian's `cnvkit` package ships it
(/usr/share/doc/cnvkit/examples/test/picard: Picard per-target coverage of the p2 panel,
6,646 targets and 12,563 off-target bins of 200 kb, for 8 tumors and 3 normals, the `_5`
samples, as CNVkit's own test Makefile uses them). What is taken from them:

- **Capture efficiency** (`Profiles.efficiency`): each real bin's median log2 coverage over
  the 11 samples, each sample centred on its median; shared by every simulated sample.
- **Residual profiles**: each real sample's log2 coverage minus the median of the other 10
  (3 normals alone would make a reference noisier than the samples: two are at 23x and
  56x), its GC trend removed (a rolling median over GC, as CNVkit and metcnv correct it,
  because the simulated bins' GC is not the real bins': the simulator's own per-sample GC
  curve stands in for it), and its copy-number changes removed (CBS at alpha 0.001 per
  chromosome, each segment's median subtracted), so what remains is noise: per-bin
  scatter, its spatial correlation along the genome (lag-1 correlation ~0.1 on targets)
  and its heavy tails (a few bins per sample 1 log2 unit off). Bins without coverage in
  some sample (germline deletions, dropouts: log2 < -5 of the sample's median) are dropped.
- **Noise scale per bin** (`Profiles.scale`): the residuals also hold each sample's counting
  noise at its own depth (23x-430x; reads = depth x length / 100 bp). Per bin, the capture
  noise variance is the mean over the samples of residual^2 - counting variance (the
  largest term left out, so a single outlier does not make a bin noisy), shrunk towards the
  trend over bins of similar efficiency as if by 5 samples. Poorly captured bins are the
  noisy ones, in every sample: that is a systematic, per-bin effect shared by all samples.
  Each residual divided by its bin's total SD is a standardised profile (`Profiles.z`).

A simulated sample's log2 multiplier of every target's expected count is then

    efficiency[m(i)] + scale[m(i)] * z_k[(m(i) + shift) mod n]

with m the fixed map from simulated to real bins (target_map: a panel gene onto the real
panel's targets of the same gene when it has them, MET's 21 simulated exons onto the real
MET's 19 targets and on; other targets onto the nearest real target at the same relative
position on the same chromosome; order kept, no real bin used twice), k one of the real
tumors (normals for simulated normals), drawn per sample, and `shift` a random offset, so
that each sample reads its real profile from another start: neighbouring simulated targets
get neighbouring real residuals (their correlation), but which ones land on MET changes
from sample to sample (11 profiles at a fixed place would give every sample one of a
handful of MET errors). The counting noise comes on top, from the simulator's Poisson draw
at the simulated depth; the simulator's own over-dispersion is off. Off-target islands get
the same from the real off-target bins, each island the real 200 kb bin at its relative
position. The real tumors' mean residual minus the normals' (a tumor-specific systematic
effect) was measured and left out: its variance over bins (0.030) is what the samples'
noise alone gives it (0.026).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from metcnv.files import md5sum
from metcnv.gc import gc_bias
from metcnv.genome import LENGTHS, contig_order
from metcnv.segment import segment_chromosome

PICARD = Path("/usr/share/doc/cnvkit/examples/test/picard")
PANEL = "p2"  # the panel with normals (CNVkit's test Makefile: picard/p2-*_5 are the normals)
REAL_BUILD = "hg19"
READ_LENGTH = 100  # bp, assumed: reads per bin = mean depth x length / read length
MIN_RELATIVE_LOG2 = -5.0  # a bin this far below a sample's median in any sample is dropped
SEGMENT_ALPHA = 0.001  # CBS for the real tumors' own copy-number changes
SCALE_PRIOR_SAMPLES = 5  # per-bin noise variance shrunk to its efficiency trend as if by 5
LN2 = np.log(2)
KINDS = {"target": "targetcoverage", "antitarget": "antitargetcoverage"}


@dataclass(frozen=True)
class Profiles:
    """One kind of real bins (targets or off-target) and what the simulation takes from them."""

    bins: pd.DataFrame  # chrom, start, end, name, gc of the kept autosomal bins, genome order
    efficiency: np.ndarray  # log2, median 0
    scale: np.ndarray  # capture noise SD (log2) per bin
    z: dict[str, np.ndarray]  # standardised residual profile per real sample
    normals: tuple[str, ...]
    tumors: tuple[str, ...]


def available(folder: Path = PICARD) -> str | None:
    """None when the real coverage files are there, else why not (with the fix)."""
    found = sorted(folder.glob(f"{PANEL}-*.targetcoverage.csv"))
    if len(found) < 4:
        return f"no real coverage in {folder} (CNVkit's example data): apt-get install -y cnvkit"
    return None


@cache
def load(kind: str, cache: Path | None = None, folder: Path = PICARD) -> Profiles:
    """The real bins of `kind` ('target' or 'antitarget') and their noise (module doc).

    The residuals take ~50 s of CBS; with `cache` (a folder) they are kept there in a file
    named by a digest of the input files and this module's settings.
    """
    files = sorted(folder.glob(f"{PANEL}-*.{KINDS[kind]}.csv"))
    names = [f.name.split(".")[0] for f in files]
    tables = [pd.read_csv(f, sep="\t") for f in files]
    bins = tables[0][["chrom", "start", "end", "name", "%gc"]].rename(columns={"%gc": "gc"})
    depth = np.vstack([t["mean_coverage"].to_numpy(float) for t in tables])
    log2 = np.log2(np.maximum(depth, 1e-6))
    log2 -= np.median(log2, axis=1, keepdims=True)
    autosomal = ~bins["chrom"].isin(["chrX", "chrY"]).to_numpy()
    keep = autosomal & (log2.min(axis=0) > MIN_RELATIVE_LOG2)
    bins, log2, depth = bins[keep].reset_index(drop=True), log2[:, keep], depth[:, keep]
    order = np.lexsort((bins["start"], bins["chrom"].map(contig_order)))
    bins, log2, depth = bins.iloc[order].reset_index(drop=True), log2[:, order], depth[:, order]
    chrom, gc = bins["chrom"].to_numpy(), bins["gc"].to_numpy(float)
    stored = None
    if cache is not None:
        digest = hashlib.md5(
            repr((SEGMENT_ALPHA, MIN_RELATIVE_LOG2, [md5sum(f) for f in files])).encode()
        ).hexdigest()
        stored = Path(cache) / f"real_noise_{kind}_{digest}.npy"
    if stored is not None and stored.exists():
        residuals = np.load(stored)
    else:
        residuals = np.vstack(
            [
                _noise(log2[k] - np.median(np.delete(log2, k, axis=0), axis=0), gc, chrom)
                for k in range(len(names))
            ]
        )
        if stored is not None:
            stored.parent.mkdir(parents=True, exist_ok=True)
            partial = stored.with_suffix(".partial")
            with open(partial, "wb") as handle:
                np.save(handle, residuals)
            partial.replace(stored)
    reads = depth * (bins["end"] - bins["start"]).to_numpy() / READ_LENGTH
    counting = 1 / (LN2**2 * np.maximum(reads, 1.0))
    efficiency = np.median(log2, axis=0)
    efficiency -= np.median(efficiency)
    excess = np.sort(residuals**2 - counting, axis=0)[:-1]  # the largest left out
    raw = np.maximum(excess.mean(axis=0), 0.0)
    trend = _trend(raw, efficiency)
    n = len(excess)
    variance = (n * raw + SCALE_PRIOR_SAMPLES * trend) / (n + SCALE_PRIOR_SAMPLES)
    z = residuals / np.sqrt(variance + counting)
    normals = tuple(n for n in names if n.endswith("_5"))
    return Profiles(
        bins=bins,
        efficiency=efficiency,
        scale=np.sqrt(variance),
        z=dict(zip(names, z, strict=True)),
        normals=normals,
        tumors=tuple(n for n in names if n not in normals),
    )


def _noise(residual: np.ndarray, gc: np.ndarray, chrom: np.ndarray) -> np.ndarray:
    """A real sample's residual without its GC trend and its own copy-number segments."""
    residual = residual - gc_bias(residual, gc, np.ones(len(residual), bool))
    out = residual.copy()
    for name in pd.unique(chrom):
        rows = np.flatnonzero(chrom == name)
        x = residual[rows]
        for lo, hi in segment_chromosome(x, np.ones(len(x)), SEGMENT_ALPHA):
            out[rows[lo:hi]] -= np.median(x[lo:hi])
    return out


def _trend(values: np.ndarray, by: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Rolling median of `values` over bins sorted by `by` (window `fraction` of the bins)."""
    order = np.argsort(by, kind="stable")
    window = max(3, int(len(by) * fraction) | 1)
    smooth = pd.Series(values[order]).rolling(window, center=True, min_periods=1).median()
    out = np.empty(len(values))
    out[order] = smooth.to_numpy()
    return out


def _scaled(chrom: str, pos: np.ndarray, build: str) -> np.ndarray:
    """Simulated positions on `build` moved to the same relative position of the real build."""
    return pos * LENGTHS[REAL_BUILD][chrom] / LENGTHS[build][chrom]


def _centres(real: pd.DataFrame) -> np.ndarray:
    return ((real["start"] + real["end"]) // 2).to_numpy()


def target_map(targets: pd.DataFrame, real: pd.DataFrame, build: str) -> np.ndarray:
    """Real target for each simulated target (module doc): a gene's targets onto the same
    gene's real targets, in order, where the real panel has the gene on that chromosome;
    every other target onto the nearest real target at its relative position on the same
    chromosome that no other simulated target has taken."""
    chrom, genes = targets["chrom"].to_numpy(), targets["gene"].to_numpy()
    mid = ((targets["start"] + targets["end"]) // 2).to_numpy()
    real_chrom, real_names, centres = (
        real["chrom"].to_numpy(),
        real["name"].to_numpy(),
        _centres(real),
    )
    index = np.full(len(targets), -1)
    taken = np.zeros(len(real), bool)
    for gene in pd.unique(genes):
        rows = np.flatnonzero(genes == gene)
        same = np.flatnonzero((real_names == gene) & (real_chrom == chrom[rows[0]]))
        n = min(len(rows), len(same))
        index[rows[:n]], taken[same[:n]] = same[:n], True
    for name in pd.unique(chrom):
        own = np.flatnonzero(real_chrom == name)
        rows = np.flatnonzero((chrom == name) & (index < 0))
        if len(rows) > (~taken[own]).sum():
            raise ValueError(f"{name}: more simulated targets than real ones")
        for row, scaled in zip(rows, _scaled(name, mid[rows], build), strict=True):
            free = own[~taken[own]]
            index[row] = free[np.argmin(np.abs(centres[free] - scaled))]
            taken[index[row]] = True
    return index


def island_map(islands: pd.DataFrame, real: pd.DataFrame, build: str) -> np.ndarray:
    """Real off-target bin for each simulated island: the one at its relative position."""
    chrom = islands["chrom"].to_numpy()
    mid = ((islands["start"] + islands["end"]) // 2).to_numpy()
    real_chrom, centres = real["chrom"].to_numpy(), _centres(real)
    index = np.zeros(len(islands), dtype=np.int64)
    for name in pd.unique(chrom):
        rows, own = np.flatnonzero(chrom == name), np.flatnonzero(real_chrom == name)
        scaled = _scaled(name, mid[rows], build)
        at = np.clip(np.searchsorted(centres[own], scaled), 1, len(own) - 1)
        left_nearer = scaled - centres[own][at - 1] <= centres[own][at] - scaled
        index[rows] = own[np.where(left_nearer, at - 1, at)]
    return index


def log2_offsets(
    profiles: Profiles, where: np.ndarray, normal: bool, rng: np.random.Generator
) -> np.ndarray:
    """One simulated sample's log2 multipliers at real bins `where` (module doc): the
    efficiency and noise scale of those bins, the noise of one real profile read from a
    random start."""
    pool = profiles.normals if normal else profiles.tumors
    z = profiles.z[pool[int(rng.integers(len(pool)))]]
    shift = int(rng.integers(len(z)))
    return profiles.efficiency[where] + profiles.scale[where] * z[(where + shift) % len(z)]
