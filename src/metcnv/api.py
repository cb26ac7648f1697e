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

from pathlib import Path

import pandas as pd

from metcnv import params
from metcnv.bins import bins_checksum, make_bins, read_bed
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
from metcnv.files import locked, md5sum, output_folder, require_file, safe_stem
from metcnv.gc import bin_gc, fasta_lengths
from metcnv.genome import canonical, detect_build
from metcnv.inputs import alignment_facts, identity_problem, reading
from metcnv.model import AlleleSettings, BinSettings, CallSettings, ReadSettings, Result, Sample
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
DEFAULT_READS = ReadSettings()


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
    reads: ReadSettings = DEFAULT_READS,
    sample: str | None = None,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> SampleCoverage:
    """Count a BAM/CRAM on a table of bins, or on a panel of normals' bins (a BAM of another
    build than the normals' is refused before any read is counted); with `snps`, a sites
    VCF, also the alleles at its SNPs in the bins (bases of quality >= `min_baseq`). With
    `reads.region`, only that chromosome and its bins. The coverage records the read
    groups' SM and what the read filters drop (metcnv.inputs.alignment_facts); a file
    damaged part-way is one MetcnvError line."""
    pon = bins_or_pon if isinstance(bins_or_pon, PanelOfNormals) else None
    table = pon.bins if pon else bins_or_pon
    region = None if reads.region is None else canonical(reads.region)
    if region is not None:
        table = region_bins(table, region)
    alleles = AlleleSettings(snps=snps, min_baseq=min_baseq)
    facts = alignment_facts(alignments, reads.fasta, table, reads.min_mapq)
    with reading(alignments):
        coverage = count_bins(
            alignments,
            table,
            fasta=reads.fasta,
            min_mapq=reads.min_mapq,
            threads=reads.threads,
            sample=sample,
            check_build=pon.check_build if pon else None,
            snps=alleles.snps,
            min_baseq=alleles.min_baseq,
            region=region,
        )
    coverage.meta |= facts
    return coverage


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
) -> tuple[pd.DataFrame, str, dict]:
    """Bins and build from the reference FASTA, and what fixes them (for the PoN); their GC
    (bin_gc, which reads the whole FASTA) is left to the caller."""
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
    return table, build, stored


def build_panel_of_normals(
    inputs: list[Path],
    targets: Path,
    settings: BinSettings,
    reads: ReadSettings,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
    strict: bool = False,
) -> PanelOfNormals:
    """Count (or read) every normal on the panel's bins and fit the panel of normals; BAM/CRAM
    normals counted with `snps` give it their SNP statistics (coverage files bring theirs).
    Outlier normals are left out, or with `strict` refused (pon.build_pon)."""
    if reads.fasta is None:
        raise MetcnvError(f"{targets}: building a panel of normals needs --fasta REF.fa")
    table, build, stored = _panel(targets, reads.fasta, settings, reads.min_mapq)
    normals = []
    for path in map(Path, inputs):
        if path.suffix.lower() in ALIGNMENT_SUFFIXES:
            coverage = count(path, table, reads, snps=snps, min_baseq=min_baseq)
        else:
            coverage = read_coverage(path)
            if coverage.bins_md5 != bins_checksum(table):
                raise MetcnvError(
                    f"{path}: counted on other bins than --targets {targets} and the bin "
                    "options give; count every normal with the same panel BED and bin options"
                )
        if coverage.build != build:
            raise MetcnvError(
                f"{path}: aligned to {coverage.build} but {reads.fasta} is {build}; "
                "use normals and a reference of one genome build"
            )
        normals.append(coverage)
    return build_pon(normals, bin_gc(table, reads.fasta), stored, strict)


def flat_reference(
    targets: Path, fasta: Path, settings: BinSettings, min_mapq: int = params.MIN_MAPQ
) -> PanelOfNormals:
    """A reference without normals (noisier; every result made with it says so), for
    samples counted with `min_mapq`."""
    table, build, stored = _panel(targets, fasta, settings, min_mapq)
    return flat_pon(table, bin_gc(table, fasta), build, stored)


def call_and_write(
    coverage: SampleCoverage,
    coverage_path: Path | None,
    pon: PanelOfNormals,
    pon_path: Path,
    sample: Sample,
    settings: CallSettings,
    out: Path,
    *,
    strict: bool = False,
    save_coverage: bool = False,
) -> Result:
    """Call a counted sample and write the result files into `out` (with `save_coverage`,
    its coverage first, to `coverage_path`); returns the result.

    A sample name its reads' read groups contradict is a warning (with `strict`, an
    error), and so is a sample whose counts are those of one of the panel's normals. The
    files are written while `out` is locked (files.locked): concurrent calls of one sample
    into one folder leave the complete set of one of them, never a mix.

    A coverage of one chromosome (MET-first mode, its `region`) is called on the panel's
    bins there, without a tumor fraction estimated from the reads (see
    PanelOfNormals.restricted).
    """
    region = coverage.meta.get("region")
    if region is not None:
        pon = pon.restricted(region)
        if sample.purity.source == "none":
            reason = f"no tumor fraction was given, and MET-first mode (--region {region}) "
            reason += "does not estimate one: the fit needs the other chromosomes"
            sample = sample.model_copy(
                update={"purity": sample.purity.model_copy(update={"reason": reason})}
            )
    source = str(coverage_path or coverage.meta.get("source"))
    pon.check_sample(coverage, source)
    notes = _sample_notes(coverage, pon, sample.name, strict)
    called = call_sample(
        coverage, pon, sample.purity, sample.ploidy, settings, estimate_purity=region is None
    )
    called.warnings[:0] = notes
    outputs = output_paths(Path(out), sample.name)
    with locked(out):
        if save_coverage and coverage_path is not None:
            write_coverage(coverage, coverage_path)
        result = make_result(
            called, sample, settings, coverage, coverage_path, pon, pon_path, outputs
        )
        write_results(called, result, outputs)
    return result


def _sample_notes(
    coverage: SampleCoverage, pon: PanelOfNormals, name: str, strict: bool
) -> list[str]:
    """Warnings about the sample's identity: a name its reads contradict (an error with
    `strict`), or counts equal to a normal's of the panel of normals."""
    notes = []
    problem = identity_problem(name, coverage.meta)
    if problem and strict:
        raise MetcnvError(
            f"{coverage.meta.get('source')}: {problem}; give the right BAM or --sample, or "
            "run without --strict"
        )
    if problem:
        notes.append(problem)
    member = pon.member_like(coverage)
    if member is not None:
        notes.append(
            f"the sample's read counts equal those of normal {member!r} in the panel of "
            "normals: it is called against a reference that contains it, so its noise looks "
            "lower and its limit of detection better than they are; call it against a panel "
            "of normals without it"
        )
    return notes


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
    reads: ReadSettings = DEFAULT_READS,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
    strict: bool = False,
) -> Result:
    """Count and call one BAM/CRAM, writing its coverage (with `snps`, and its allele
    counts) and result files into `out` (`metcnv run` then writes the report from them);
    `strict` as in `call_and_write`. The folder is checked before any read is counted."""
    alignments, out, pon_path = Path(alignments), output_folder(out, "--out"), Path(pon)
    panel = PanelOfNormals.load(pon_path)
    Sample.given(sample or "sample", sample_type, purity, ploidy)  # refused before counting
    coverage = count(alignments, panel, reads, sample, snps=snps, min_baseq=min_baseq)
    who = Sample.given(sample or coverage.sample, sample_type, purity, ploidy)
    path = out / f"{safe_stem(who.name)}.coverage.tsv.gz"
    return call_and_write(
        coverage,
        path,
        panel,
        pon_path,
        who,
        settings or CallSettings(),
        out,
        strict=strict,
        save_coverage=True,
    )
