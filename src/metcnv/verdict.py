"""The plain-language verdict a clinician reads first, built from the MET call."""

from __future__ import annotations

HEADLINES = {
    "high_level_focal_amplification": "High-level focal MET amplification",
    "focal_amplification": "Focal MET amplification",
    "focal_gain": "Focal MET gain below the amplification threshold",
    "chr7_gain": "MET gained with chromosome 7 (polysomy or broad gain), not focal amplification",
    "neutral": "No MET amplification detected",
    "loss": "MET copy loss",
    "inconclusive": "MET copy number cannot be called",
}


def _interval(values: list[float] | None) -> str:
    return f" (95% CI {values[0]:.1f}-{values[1]:.1f})" if values else ""


def verdict(met: dict) -> str:
    """One or two sentences: what was found, the number behind it, and its caveat."""
    status = met["status"]
    head = HEADLINES[status]
    if status == "inconclusive":
        return f"{head}: {met['status_reason']}."
    if met.get("tumor_copy_number") is not None:
        number = (
            f"{met['tumor_copy_number']:.1f} tumor copies"
            f"{_interval(met['tumor_copy_number_ci95'])} at tumor fraction {met['purity']:.0%}"
        )
    else:
        number = (
            f"sample-average copy number {met['copy_number']:.1f}"
            f"{_interval(met['copy_number_ci95'])}, a lower bound of the tumor's "
            "(no tumor fraction given)"
        )
    parts = [f"{head}: {number}."]
    if met.get("met_chr7_ratio") is not None and status != "neutral":
        parts.append(
            f"MET/chr7 ratio {met['met_chr7_ratio']:.1f}{_interval(met['met_chr7_ratio_ci95'])}, "
            f"FISH-equivalent category {met['fish_category']}."
        )
    if met.get("focal"):
        amplicon = met["amplicon"]
        parts.append(
            f"Amplicon {amplicon['chrom']}:{amplicon['start'] / 1e6:.2f}-"
            f"{amplicon['end'] / 1e6:.2f} Mb ({amplicon['size'] / 1e6:.2f} Mb)."
        )
    if status == "neutral":
        parts.append(met["status_reason"][0].upper() + met["status_reason"][1:] + ".")
    return " ".join(parts)
