"""The pipeline's steps as Python functions with typed parameters (the CLI only parses and
calls these):

    from metcnv import api
    result = api.run("sample.bam", pon="panel.pon", out="results/", sample_type="blood")
    print(result.met.status.headline(), result.met.copy_number, result.verdict)

`bins` -> `count` -> `build_panel_of_normals` / `flat_reference` once per panel; then per
sample `call_sample` (the calls, in memory), `call_and_write` (and the result files) or
`run` (count, call and write in one step).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metcnv import params
from metcnv.bins import make_bins, read_bed
from metcnv.call import call_sample
from metcnv.coverage import (
    SampleCoverage,
    count_bins,
    header_lengths,
    open_alignments,
    read_coverage,
    write_coverage,
)
from metcnv.errors import MetcnvError
from metcnv.files import md5sum, require_file, safe_stem
from metcnv.gc import bin_gc, fasta_lengths
from metcnv.genome import canonical, detect_build
from metcnv.model import CallSettings, Result, Sample
from metcnv.pon import PanelOfNormals, build_pon, flat_pon
from metcnv.results import make_result, output_paths, write_results

__all__ = [
    "BinSettings",
    "ReadSettings",
    "bins",
    "build_panel_of_normals",
    "call_and_write",
    "call_sample",
    "count",
    "count_panel",
    "flat_reference",
    "run",
]
ALIGNMENT_SUFFIXES = (".bam", ".cram")


@dataclass(frozen=True)
class BinSettings:
    """How a panel BED becomes bins; stored in the panel of normals with the read filter."""

    target_bin_size: int = params.TARGET_BIN_SIZE
    offtarget_bin_size: int = params.OFFTARGET_BIN_SIZE
    access: Path | None = None
    offtarget: bool = True


@dataclass(frozen=True)
class ReadSettings:
    """How a BAM/CRAM is read: its reference (CRAM), the MAPQ filter, decoding threads and,
    in MET-first mode, the one chromosome read (`region`, e.g. "chr7"; None: all)."""

    fasta: Path | None = None
    min_mapq: int = params.MIN_MAPQ
    threads: int = 1
    region: str | None = None


def bins(targets: Path, lengths: dict[str, int], build: str, settings: BinSettings) -> pd.DataFrame:
    """The panel's bins on a genome with these contig lengths."""
    return make_bins(
        read_bed(require_file(targets, "the panel's target BED"), build),
        lengths,
        target_bin_size=settings.target_bin_size,
        offtarget_bin_size=settings.offtarget_bin_size,
        access=read_bed(settings.access) if settings.access else None,
        offtarget=settings.offtarget,
    )


def alignment_genome(path: Path, fasta: Path | None) -> tuple[dict[str, int], str]:
    """Contig lengths and build of a BAM/CRAM header."""
    with open_alignments(path, fasta, 1) as handle:
        lengths = header_lengths(handle)
    return lengths, detect_build(lengths, str(path))


def count(
    alignments: Path,
    bins_or_pon: pd.DataFrame | PanelOfNormals,
    reads: ReadSettings = ReadSettings(),
    sample: str | None = None,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> SampleCoverage:
    """Count a BAM/CRAM on a table of bins, or on a panel of normals' bins (a BAM of another
    build than the normals' is refused before any read is counted); with `snps`, a sites
    VCF, also the alleles at its SNPs in the bins (bases of quality >= `min_baseq`). With
    `reads.region`, only that chromosome and its bins."""
    pon = bins_or_pon if isinstance(bins_or_pon, PanelOfNormals) else None
    table = pon.bins if pon else bins_or_pon
    region = None if reads.region is None else canonical(reads.region)
    if region is not None:
        table = region_bins(table, region)
    return count_bins(
        alignments,
        table,
        fasta=reads.fasta,
        min_mapq=reads.min_mapq,
        threads=reads.threads,
        sample=sample,
        check_build=pon.check_build if pon else None,
        snps=snps,
        min_baseq=min_baseq,
        region=region,
    )


def region_bins(table: pd.DataFrame, region: str) -> pd.DataFrame:
    """The bins of one chromosome (MET-first mode), refused when the panel has none there."""
    rows = table["chrom"] == region
    if not rows.any():
        raise MetcnvError(
            f"--region {region}: the panel has no bins there; give one of its chromosomes "
            f"({', '.join(dict.fromkeys(table['chrom']))})"
        )
    return table[rows].reset_index(drop=True)


def count_panel(
    alignments: Path,
    targets: Path,
    settings: BinSettings,
    reads: ReadSettings,
    sample: str | None,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> SampleCoverage:
    """Count a BAM/CRAM on bins made from a panel BED on the BAM's own genome (and with
    `snps` its alleles, as `count`)."""
    lengths, build = alignment_genome(alignments, reads.fasta)
    table = bins(targets, lengths, build, settings)
    return count(alignments, table, reads, sample, snps=snps, min_baseq=min_baseq)


def _panel(
    targets: Path, fasta: Path, settings: BinSettings, min_mapq: int
) -> tuple[pd.DataFrame, np.ndarray, str, dict]:
    """Bins, their GC and build from the reference FASTA, and what fixes them (for the PoN)."""
    lengths = fasta_lengths(fasta)
    build = detect_build(lengths, str(fasta))
    table = bins(targets, lengths, build, settings)
    stored = {
        "panel": Path(targets).name,
        "panel_md5": md5sum(targets),
        "target_bin_size": settings.target_bin_size,
        "offtarget_bin_size": settings.offtarget_bin_size,
        "offtarget": settings.offtarget,
        "access": Path(settings.access).name if settings.access else None,
        "min_mapq": min_mapq,
    }
    return table, bin_gc(table, fasta), build, stored


def build_panel_of_normals(
    inputs: list[Path],
    targets: Path,
    settings: BinSettings,
    reads: ReadSettings,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> PanelOfNormals:
    """Count (or read) every normal on the panel's bins and fit the panel of normals; BAM/CRAM
    normals counted with `snps` give it their SNP statistics (coverage files bring theirs)."""
    if reads.fasta is None:
        raise MetcnvError(f"{targets}: building a panel of normals needs --fasta REF.fa")
    table, gc, build, stored = _panel(targets, reads.fasta, settings, reads.min_mapq)
    normals = []
    for path in map(Path, inputs):
        if path.suffix.lower() in ALIGNMENT_SUFFIXES:
            coverage = count(path, table, reads, snps=snps, min_baseq=min_baseq)
        else:
            coverage = read_coverage(path)
        if coverage.build != build:
            raise MetcnvError(
                f"{path}: aligned to {coverage.build} but {reads.fasta} is {build}; "
                "use normals and a reference of one genome build"
            )
        normals.append(coverage)
    return build_pon(normals, gc, stored)


def flat_reference(
    targets: Path, fasta: Path, settings: BinSettings, min_mapq: int = params.MIN_MAPQ
) -> PanelOfNormals:
    """A reference without normals (noisier; every result made with it says so), for
    samples counted with `min_mapq`."""
    table, gc, build, stored = _panel(targets, fasta, settings, min_mapq)
    return flat_pon(table, gc, build, stored)


def call_and_write(
    coverage: SampleCoverage,
    coverage_path: Path | None,
    pon: PanelOfNormals,
    pon_path: Path,
    sample: Sample,
    settings: CallSettings,
    out: Path,
) -> Result:
    """Call a counted sample and write the four result files into `out`; returns the result.

    A coverage of one chromosome (MET-first mode, its `region`) is called on the panel's
    bins there, without a tumor fraction estimated from the reads (see
    PanelOfNormals.restricted)."""
    region = coverage.meta.get("region")
    if region is not None:
        pon = pon.restricted(region)
        if sample.purity.source == "none":
            reason = f"no tumor fraction was given, and MET-first mode (--region {region}) "
            reason += "does not estimate one: the fit needs the other chromosomes"
            sample = sample.model_copy(
                update={"purity": sample.purity.model_copy(update={"reason": reason})}
            )
    pon.check_sample(coverage, str(coverage_path or coverage.meta.get("source")))
    called = call_sample(
        coverage, pon, sample.purity, sample.ploidy, settings, estimate_purity=region is None
    )
    outputs = output_paths(Path(out), sample.name)
    result = make_result(called, sample, settings, coverage, coverage_path, pon, pon_path, outputs)
    write_results(called, result, outputs)
    return result


def run(
    alignments: str | Path,
    pon: str | Path,
    out: str | Path,
    *,
    sample: str | None = None,
    sample_type: str = "tumor",
    purity: float | None = None,
    ploidy: float | None = None,
    settings: CallSettings | None = None,
    reads: ReadSettings = ReadSettings(),
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> Result:
    """Count and call one BAM/CRAM, writing its coverage (with `snps`, and its allele
    counts) and result files into `out` (`metcnv run` then writes the report from them)."""
    alignments, out, pon_path = Path(alignments), Path(out), Path(pon)
    panel = PanelOfNormals.load(pon_path)
    coverage = count(alignments, panel, reads, sample, snps=snps, min_baseq=min_baseq)
    who = Sample.given(sample or coverage.sample, sample_type, purity, ploidy)
    path = out / f"{safe_stem(who.name)}.coverage.tsv.gz"
    write_coverage(coverage, path)
    return call_and_write(coverage, path, panel, pon_path, who, settings or CallSettings(), out)
