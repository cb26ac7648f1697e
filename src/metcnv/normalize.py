"""From per-bin read counts to log2 copy ratios against a reference.

The same steps serve the panel of normals (fitted on the normals) and every sample:

1. library size: log2 counts centred per bin kind (target / off-target) on the
   reference bins, because the two kinds differ in depth by orders of magnitude;
2. ratio to the reference: minus the reference's per-bin centre (capture efficiency);
3. GC bias: minus a rolling-median GC trend fitted per kind on the reference bins;
4. denoising: minus the projection on the normals' principal components (GATK's
   eigensample denoising), which removes noise shared by the normals;
5. re-centring per kind on the reference bins so that 0 means "two copies"
   (see centre_per_kind).

Reference bins are autosomal bins off chromosome 7: a chr7 polysomy must not move the
zero line it is measured against. A panel without such bins falls back to all
autosomal bins, with a warning, because chr7-wide gains then cannot be seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metcnv import params
from metcnv.gc import gc_bias

KINDS = ("target", "offtarget")
MIN_REFERENCE_BINS = 20  # fewer non-chr7 bins of a kind: centre on all autosomal bins
CENTRE_BLOCK = 20  # reference bins averaged before the median of centre_per_kind


def reference_bins(
    chrom: np.ndarray, used: np.ndarray, kinds: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Bins that define the zero line, and warnings when chr7 had to be included."""
    autosomal = ~np.isin(chrom, ["chrX", "chrY", "chrM"])
    reference = used & autosomal & (chrom != "chr7")
    warnings = []
    for kind in KINDS:
        of_kind = kinds == kind
        if (of_kind & used).any() and (reference & of_kind).sum() < MIN_REFERENCE_BINS:
            reference |= of_kind & used & autosomal
            warnings.append(
                f"fewer than {MIN_REFERENCE_BINS} {kind} bins outside chr7: log2 ratios are "
                "centred on chr7 itself, so a chr7-wide gain cannot be detected"
            )
    return reference, warnings


def centre_per_kind(values: np.ndarray, kinds: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Subtract, for each kind, the median of the means of runs of CENTRE_BLOCK reference bins.

    A plain median of thin bins is not the zero of their mean: log2 of a few reads is
    skewed (at 9 reads a bin the median sits 0.06 above the mean), so weighted means of
    neutral bins would come out below 0. Means of a run of bins have lost that skew, and
    their median is still robust to gains and losses on some chromosomes.
    """
    out = values.copy()
    for kind in KINDS:
        of_kind = kinds == kind
        pick = values[of_kind & reference & np.isfinite(values)]
        if len(pick):
            runs = np.array_split(pick, max(1, len(pick) // CENTRE_BLOCK))
            out[of_kind] -= np.median([run.mean() for run in runs])
    return out


def log2_counts(counts: np.ndarray) -> np.ndarray:
    """log2 of counts with a pseudo-count so that empty bins stay finite."""
    return np.log2(np.asarray(counts, dtype=float) + params.PSEUDO_COUNT)


def correct_gc(
    values: np.ndarray, gc: np.ndarray, kinds: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """Remove the GC trend of each kind, fitted on that kind's reference bins."""
    out = values.copy()
    for kind in KINDS:
        of_kind = kinds == kind
        if of_kind.any():
            out[of_kind] -= gc_bias(values[of_kind], gc[of_kind], reference[of_kind])
    return out


def project_out(
    values: np.ndarray, components: np.ndarray, used: np.ndarray, fit: np.ndarray
) -> np.ndarray:
    """Remove the normals' noise components (K x bins) from the used bins.

    Their coefficients are fitted by least squares on the `fit` bins only (the zero-line
    bins outside chr7), so that a MET amplification or a chr7 gain cannot leak into the
    fit and be partly projected away with the noise.
    """
    if not len(components):
        return values
    out = values.copy()
    coefficients, *_ = np.linalg.lstsq(components[:, fit].T, values[fit], rcond=None)
    out[used] -= (components.T @ coefficients)[used]
    return out


@dataclass
class Reference:
    """What normalisation needs to know about the normals (or a flat reference)."""

    centre: np.ndarray  # per-bin log2 centre of the normals (0 for a flat reference)
    gc: np.ndarray
    kinds: np.ndarray
    used: np.ndarray
    reference: np.ndarray  # bins defining the zero line
    components: np.ndarray  # K x bins, orthonormal rows, zero outside a kind's used bins


def normalize(counts: np.ndarray, ref: Reference) -> np.ndarray:
    """log2 copy ratios of one sample's counts against `ref` (steps 1-5 above)."""
    x = centre_per_kind(log2_counts(counts), ref.kinds, ref.reference) - ref.centre
    x = correct_gc(x, ref.gc, ref.kinds, ref.reference)
    x = project_out(x, ref.components, ref.used, ref.reference)
    return centre_per_kind(x, ref.kinds, ref.reference)


def principal_components(
    residuals: np.ndarray, kinds: np.ndarray, used: np.ndarray, n_components: int
) -> np.ndarray:
    """Top right-singular vectors of the normals' residuals, computed per kind.

    Rows are zero outside their kind's used bins, so rows of different kinds are
    orthogonal and one projection removes both.
    """
    rows = []
    for kind in KINDS:
        pick = (kinds == kind) & used
        if n_components < 1 or pick.sum() <= n_components:
            continue
        _, _, vt = np.linalg.svd(residuals[:, pick], full_matrices=False)
        block = np.zeros((min(n_components, len(vt)), len(kinds)))
        block[:, pick] = vt[: len(block)]
        rows.append(block)
    return np.vstack(rows) if rows else np.zeros((0, len(kinds)))
