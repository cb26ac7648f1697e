"""Quality metrics of one sample and the pass / warn / fail verdict they lead to.

The metrics come from the sample's normalised bins (the profile correlation compares them
with the panel of normals' centre and its normals' own); thresholds are in params.QC_* and
are recorded in every result JSON.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metcnv import params
from metcnv.bins import gene_mask
from metcnv.normalize import reference_bins

# metrics that fail on coverage noise (bin to bin, or against the normals' profile), which
# qc.window_noise measures at the scale of a gene; the others (depth, masked bins) do not
NOISE_METRICS = {"mapd_target", "pon_correlation_relative"}


def mapd(log2: np.ndarray, chrom: np.ndarray) -> float:
    """Median absolute pairwise difference of consecutive bins on the same chromosome."""
    same = chrom[1:] == chrom[:-1]
    diffs = np.abs(np.diff(log2))[same]
    return float(np.median(diffs)) if len(diffs) else float("nan")


def sample_qc(
    bins: pd.DataFrame,
    centre: np.ndarray,
    loo: np.ndarray,
    on_target_fraction: float,
    read_filter: str | None = None,
    without_normals: str = "flat reference (no normals); capture efficiency not corrected",
    gene: str = "MET",
) -> dict:
    """QC metrics and status of a normalised bin table (columns of {sample}.bins.tsv.gz);
    `read_filter` says why few reads were counted (metcnv.inputs.read_filter_cause), the
    cause of a failed depth a user can fix, so it is a reason of its own; `without_normals`
    is the warning given when no normals' residuals (`loo`) are known."""
    used = bins["used"].to_numpy(bool)
    target = bins["kind"].to_numpy() == "target"
    gene_rows = gene_mask(bins, gene)
    metrics = {
        "met_median_depth": _median(bins["depth"].to_numpy()[gene_rows]),
        "on_target_fraction": on_target_fraction,
        "mapd_target": _kind_mapd(bins, used & target),
        "mapd_offtarget": _kind_mapd(bins, used & ~target),
        "bins_used": int(used.sum()),
        "bins_masked": int((~used).sum()),
        "masked_fraction": float((~used).mean()),
    }
    metrics |= _profile_correlation(bins, centre, loo, used & target)
    reasons, status, failed = [], "pass", []
    checks = [
        ("met_median_depth", params.QC_MIN_MET_DEPTH, "median depth over MET", False),
        ("on_target_fraction", params.QC_MIN_ON_TARGET, "fraction of fragments on target", False),
        ("mapd_target", params.QC_MAX_MAPD, "noise (MAPD of target log2 ratios)", True),
        (
            "pon_correlation_relative",
            params.QC_MIN_RELATIVE_CORRELATION,
            "coverage profile's correlation with the normals, relative to theirs",
            False,
        ),
        ("masked_fraction", params.QC_MAX_MASKED_FRACTION, "fraction of bins masked", True),
    ]
    for key, limits, label, upper in checks:
        value = metrics[key]
        if value is None or not np.isfinite(value):
            continue
        for level in ("fail", "warn"):
            bad = value > limits[level] if upper else value < limits[level]
            if bad:
                sign = ">" if upper else "<"
                reasons.append(f"{level}: {label} {value:.3g} {sign} {limits[level]}")
                status = "fail" if level == "fail" or status == "fail" else "warn"
                failed += [key] if level == "fail" else []
                break
    if read_filter:
        reasons.append(f"warn: {read_filter}")
        status = "fail" if status == "fail" else "warn"
    if not len(loo):
        reasons.append(f"warn: {without_normals}")
        status = "fail" if status == "fail" else "warn"
    return {"status": status, "reasons": reasons, "failed": failed, **metrics}


def window_noise(
    bins: pd.DataFrame, segments: pd.DataFrame, n: int, skip_chrom: str | None
) -> float | None:
    """The sample's own noise of an `n`-bin mean log2: the robust SD (1.4826 x MAD) of the
    means of every `n` consecutive used target bins, each minus its segment's log2, on the
    chromosomes other than `skip_chrom`. Unlike a standard error from the bins' scatter it
    holds noise shared by neighbouring bins (capture efficiencies no normals corrected);
    None when fewer than params.MIN_NOISE_WINDOWS windows fit."""
    level = np.full(len(bins), np.nan)
    for seg in segments.itertuples():
        level[int(seg.first_row) : int(seg.last_row) + 1] = seg.log2
    rows = bins["used"].to_numpy(bool) & (bins["kind"] == "target").to_numpy()
    rows &= (bins["chrom"] != skip_chrom).to_numpy() & np.isfinite(level)
    residual = bins["log2"].to_numpy() - level
    chrom = bins["chrom"].to_numpy()
    means = []
    for name in dict.fromkeys(chrom[rows]):
        x = residual[rows & (chrom == name)]
        if len(x) >= n:
            sums = np.concatenate([[0.0], np.cumsum(x)])
            means.append((sums[n:] - sums[:-n]) / n)
    if sum(map(len, means)) < params.MIN_NOISE_WINDOWS:
        return None
    means = np.concatenate(means)
    return float(1.4826 * np.median(np.abs(means - np.median(means))))


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if len(values) else None


def _kind_mapd(bins: pd.DataFrame, rows: np.ndarray) -> float | None:
    if rows.sum() < 2:
        return None
    return mapd(bins["log2"].to_numpy()[rows], bins["chrom"].to_numpy()[rows])


def profile_correlation(log2: np.ndarray, centre: np.ndarray, zero_line: np.ndarray) -> float:
    """Spearman correlation of a GC-corrected coverage profile (log2 ratios plus the
    normals' centre) with the normals' centre, over the zero-line bins."""
    reference = centre[zero_line]
    ranks = pd.DataFrame({"sample": log2[zero_line] + reference, "centre": reference}).rank()
    if ranks.isna().to_numpy().any():  # as scipy's spearmanr: NaN in, NaN out
        return float("nan")
    return float(np.corrcoef(ranks.to_numpy(), rowvar=False)[1, 0])


def _profile_correlation(
    bins: pd.DataFrame, centre: np.ndarray, loo: np.ndarray, rows: np.ndarray
) -> dict:
    """Spearman correlation of the sample's GC-corrected target profile with the normals'.

    A capture that worked like the normals' follows the same per-bin efficiencies. Only the
    zero-line bins (outside chr7) enter, so that a MET amplification or a chr7 gain, the
    very events we look for, cannot lower it; ranks keep other amplified genes from
    dominating. How high it can be depends on the panel and the depth, so it is judged
    against the same correlation of each normal left out of the others (`loo`).
    """
    zero_line, _ = reference_bins(bins["chrom"].to_numpy(), rows, bins["kind"].to_numpy())
    out = {
        "pon_correlation": None,
        "pon_correlation_normals": None,
        "pon_correlation_relative": None,
    }
    if not len(loo) or zero_line.sum() < 3:
        return out
    sample = profile_correlation(bins["log2"].to_numpy(), centre, zero_line)
    typical = float(np.median([profile_correlation(row, centre, zero_line) for row in loo]))
    return {
        "pon_correlation": float(sample),
        "pon_correlation_normals": typical,
        "pon_correlation_relative": float(sample / typical) if typical > 0 else None,
    }
