"""The plain-language verdict a clinician reads first, built from the MET call."""

from __future__ import annotations

from metcnv.model import QC, GeneCall, Interval, Purity, Status, percent


def _interval(values: Interval | None) -> str:
    return f" (95% CI {values[0]:.1f}-{values[1]:.1f})" if values else ""


def verdict(met: GeneCall, purity: Purity, qc: QC) -> str:
    """One or two sentences: what was found, the number behind it, and its caveat."""
    status = met.status
    head = status.headline(met.gene)
    if status is Status.INCONCLUSIVE:
        return f"{head}: {met.status_reason}."
    if met.tumor_copy_number is not None:
        number = (
            f"{met.tumor_copy_number:.1f} tumor copies"
            f"{_interval(met.tumor_copy_number_ci95)} at tumor fraction {percent(purity.value)}"
        )
        if purity.source == "estimated":
            low, high = purity.ci95
            number += f" (estimated from the reads, 95% CI {percent(low)}-{percent(high)})"
    elif (
        purity.fit is not None and purity.fit.ci95[1] < 1 and met.tumor_copy_number_min is not None
    ):
        number = (
            f"at least {met.tumor_copy_number_min:.1f} tumor copies (95% lower bound; the "
            "tumor fraction is not known, but the reads allow at most "
            f"{percent(purity.fit.ci95[1])})"
        )
    else:
        number = (
            f"sample-average copy number {met.copy_number:.1f}"
            f"{_interval(met.copy_number_ci95)}, a lower bound of the tumor's "
            "(no tumor fraction given)"
        )
    parts = [f"{head}: {number}."]
    if met.chrom_ratio is not None and status is not Status.NEUTRAL:
        parts.append(
            f"{met.gene}/{met.chrom} ratio {met.chrom_ratio:.1f}"
            f"{_interval(met.chrom_ratio_ci95)}, FISH-equivalent category {met.fish_category}."
        )
    if met.amplicon is not None and (met.focal or status in (Status.CHR7_GAIN, Status.BROAD_GAIN)):
        amplicon = met.amplicon  # a gain not focal says where it lies: arm, chromosome, >3 Mb
        start, end, size = (x / 1e6 for x in (amplicon.start, amplicon.end, amplicon.size))
        parts.append(
            f"{'Amplicon' if met.focal else 'Gained region'} {amplicon.chrom}:"
            f"{start:.2f}-{end:.2f} Mb ({size:.2f} Mb)."
        )
    if status is Status.NEUTRAL:
        parts.append(met.status_reason[0].upper() + met.status_reason[1:] + ".")
    if qc.status == "fail":
        parts.append(
            f"QC failed on noise ({', '.join(qc.failed)}): {met.gene} stands far above it "
            "(the interval holds the sample's own noise); review the sample."
        )
    return " ".join(parts)
