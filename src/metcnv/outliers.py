"""Normals that do not belong in a panel of normals, each judged against the others.

A tumor sample filed as a normal, a failed library or a sample of another capture would
shift the reference every call is made against, silently: a MET amplification in a
"normal" lowers every sample's MET ratio. Each normal is therefore scored on its
leave-one-out residuals (its log2 ratios against a reference fitted to the other
normals, which the panel of normals keeps anyway):

- copy-number events: circular binary segmentation of the autosomes' residuals (chrX and
  chrY differ between normals of either sex); a segment at least
  OUTLIER_EVENT_MIN_LOG2 from 0 and OUTLIER_EVENT_MIN_Z standard errors out is a change
  no normal should show (a tumor, or a large germline CNV, among the normals), unless it
  looks like a germline CNV: under GERMLINE_CNV_MAX_SIZE and below
  GERMLINE_CNV_MAX_LOG2 (a loss of any depth, or a gain short of 4 copies), such as the
  homozygous HLA-DRB deletion one of CNVkit's real p2 normals carries, or unless another
  normal's residuals show a larger change there (this one is then its mirror: that
  normal is in this one's reference);
- noise: MAPD of its target residuals above the QC fail level, or more than
  OUTLIER_NOISE_FACTOR times the other normals' median (a failed or shallow library);
- profile: the correlation of its coverage profile with the normals', relative to the
  others' median, below the QC fail level (another capture or assay).

`worst_normal` names the normal that fails most clearly, with the reason in words;
pon.build_pon leaves it out, fits again and scores the rest, until none fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metcnv import params
from metcnv.genome import GENES
from metcnv.normalize import KINDS, reference_bins
from metcnv.qc import mapd, profile_correlation
from metcnv.segment import noise_scale, segment_bins

SEX_AND_MITOCHONDRIAL = ["chrX", "chrY", "chrM"]  # a male normal among females is no outlier


def worst_normal(
    loo: np.ndarray, bins: pd.DataFrame, used: np.ndarray, centre: np.ndarray, build: str
) -> tuple[int, str] | None:
    """The index and reason of the normal that fails most clearly (module docstring), or
    None when every normal looks like the others. `loo`: normals x bins residuals."""
    if len(loo) < params.OUTLIER_MIN_NORMALS:
        return None
    chrom, kinds = bins["chrom"].to_numpy(), bins["kind"].to_numpy()
    target = used & (kinds == "target")
    zero_line, _ = reference_bins(chrom, target, kinds)
    noise = np.array([mapd(row[target], chrom[target]) for row in loo])
    profile = np.array([profile_correlation(row, centre, zero_line) for row in loo])
    scored = []
    for i, row in enumerate(loo):
        others = np.delete(np.arange(len(loo)), i)
        scored += [
            _event(row, np.delete(loo, i, axis=0), bins, used, build),
            _noise(noise[i], float(np.median(noise[others]))),
            _profile(profile[i], float(np.median(profile[others]))),
        ]
    severity, index, reason = max(  # a score that cannot be computed (NaN) fails nothing
        ((float(np.nan_to_num(s)), k // 3, r) for k, (s, r) in enumerate(scored)),
        key=lambda item: item[0],
    )
    return (index, reason) if severity > 1 else None


def _event(
    row: np.ndarray, others: np.ndarray, bins: pd.DataFrame, used: np.ndarray, build: str
) -> tuple[float, str]:
    """The largest copy-number change in one normal's residuals (`others`: the other
    normals'), as a severity (over 1: an outlier) and its description."""
    kinds = bins["kind"].to_numpy()
    used = used & ~np.isin(bins["chrom"].to_numpy(), SEX_AND_MITOCHONDRIAL)  # normals differ
    weight = np.zeros(len(row))
    for kind in KINDS:  # each kind's own noise (targets are far deeper than off-target bins)
        rows = used & (kinds == kind)
        if rows.sum() > 2:
            weight[rows] = 1 / noise_scale(row[rows], np.ones(rows.sum())) ** 2
    table = bins[used].assign(log2=row[used], weight=weight[used]).reset_index(drop=True)
    segments = segment_bins(table, params.OUTLIER_SEGMENT_ALPHA)
    at = np.flatnonzero(used)  # the table's rows in the bins
    best, text = 0.0, ""
    for seg in segments.itertuples():
        larger = np.abs(others[:, at[seg.first_row : seg.last_row + 1]].mean(axis=1))
        if _germline_like(seg.end - seg.start, seg.log2) or (larger > abs(seg.log2)).any():
            continue
        z = abs(seg.log2) * np.sqrt(table["weight"].iloc[seg.first_row : seg.last_row + 1].sum())
        size = abs(seg.log2) / params.OUTLIER_EVENT_MIN_LOG2
        severity = min(z / params.OUTLIER_EVENT_MIN_Z, size)
        if severity > best:
            genes = [
                name
                for name, region in GENES.get(build, {}).items()
                if region.chrom == seg.chrom and region.start < seg.end and region.end > seg.start
            ]
            best, text = (
                severity,
                (
                    f"a copy-number change against the other normals, {seg.chrom}:"
                    f"{seg.start / 1e6:.2f}-{seg.end / 1e6:.2f} Mb"
                    + (f" ({', '.join(genes)})" if genes else "")
                    + f" at log2 {seg.log2:+.2f}, {z:.0f} SE (a tumor among the normals?)"
                ),
            )
    return best, text


def _germline_like(size: int, log2: float) -> bool:
    """A change the size and depth of a common germline CNV (module docstring)."""
    return size < params.GERMLINE_CNV_MAX_SIZE and log2 < params.GERMLINE_CNV_MAX_LOG2


def _noise(own: float, others: float) -> tuple[float, str]:
    """Severity of a normal's noise (MAPD of its target residuals) and its description."""
    limit = min(params.QC_MAX_MAPD["fail"], params.OUTLIER_NOISE_FACTOR * others)
    return own / limit, (
        f"noisy: MAPD {own:.2f} of its target bins, the other normals' {others:.2f} "
        "(a failed or shallow library?)"
    )


def _profile(own: float, others: float) -> tuple[float, str]:
    """Severity of a normal's coverage-profile correlation, relative to the others'."""
    limit = params.QC_MIN_RELATIVE_CORRELATION["fail"]
    relative = own / others if others > 0 else 1.0
    return limit / max(relative, 1e-9), (
        f"its coverage profile correlates {own:.2f} with the normals', theirs {others:.2f} "
        "(another capture or assay?)"
    )
