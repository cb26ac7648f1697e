"""The pipeline's steps as Python functions with typed parameters (the CLI only parses and
calls these):

    from metcnv import api
    result = api.run("sample.bam", pon="panel.pon", out="results/", sample_type="blood")
    print(result.met.status.headline(), result.met.copy_number, result.verdict)

`bins` -> `count` -> `build_panel_of_normals` / `flat_reference` once per panel; then per
sample `call_sample` (the calls, in memory), `call_and_write` (and the result files) or
`run` (count, call and write in one step). Other tools' files (metcnv.formats) enter the
same path: `build_panel_of_normals` takes their coverage, and `call_files` calls one
sample's coverage, or copy ratios another tool normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from metcnv import params
from metcnv.bins import BIN_COLUMNS, make_bins, read_bed
from metcnv.call import call_bins, call_sample
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
from metcnv.formats import RATIOS, Imported, is_foreign, read_samples
from metcnv.gc import bin_gc, fasta_lengths
from metcnv.genome import detect_build
from metcnv.model import CallSettings, Result, Sample
from metcnv.pon import PanelOfNormals, build_pon, external_reference, flat_pon
from metcnv.results import make_result, output_paths, write_results

__all__ = [
    "BinSettings",
    "ReadSettings",
    "bins",
    "build_panel_of_normals",
    "call_and_write",
    "call_files",
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
    """How a BAM/CRAM is read: its reference (CRAM), the MAPQ filter and decoding threads."""

    fasta: Path | None = None
    min_mapq: int = params.MIN_MAPQ
    threads: int = 1


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
    VCF, also the alleles at its SNPs in the bins (bases of quality >= `min_baseq`)."""
    pon = bins_or_pon if isinstance(bins_or_pon, PanelOfNormals) else None
    return count_bins(
        alignments,
        pon.bins if pon else bins_or_pon,
        fasta=reads.fasta,
        min_mapq=reads.min_mapq,
        threads=reads.threads,
        sample=sample,
        check_build=pon.check_build if pon else None,
        snps=snps,
        min_baseq=min_baseq,
    )


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
    targets: Path | None,
    settings: BinSettings,
    reads: ReadSettings,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> PanelOfNormals:
    """Count (or read) every normal on the panel's bins and fit the panel of normals; BAM/CRAM
    normals counted with `snps` give it their SNP statistics (coverage files bring theirs).
    Other tools' coverage files (metcnv.formats) bring their own bins instead of `targets`."""
    foreign = [p for p in map(Path, inputs) if _foreign(p)]
    if foreign:
        if len(foreign) != len(inputs):
            raise MetcnvError(
                f"{foreign[0]}: another tool's coverage among BAM/CRAM or metcnv coverage "
                "normals; give normals of one kind"
            )
        return _imported_panel(foreign, reads.fasta)
    if targets is None:
        raise MetcnvError("building a panel of normals from BAM/CRAMs needs --targets panel.bed")
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


def _foreign(path: Path) -> bool:
    """Another tool's file, not a BAM/CRAM or a metcnv coverage file."""
    return path.suffix.lower() not in ALIGNMENT_SUFFIXES and is_foreign(path)


def _imported_panel(inputs: list[Path], fasta: Path | None) -> PanelOfNormals:
    """A panel of normals on the bins of other tools' coverage files (CNVkit .cnn, Picard,
    GATK, mosdepth, DepthOfCoverage): the build and GC content from `fasta` when given,
    else the build the files imply and the GC they carry (Picard's; none: not corrected)."""
    samples = read_samples(inputs)
    for sample in samples:
        if sample.normalised:
            raise MetcnvError(
                f"{sample.label}: copy ratios already normalised by {sample.normalised_by}; a "
                "panel of normals is built from the normals' raw coverage "
                "(e.g. CNVkit's .targetcoverage.cnn and .antitargetcoverage.cnn)"
            )
    build = detect_build(fasta_lengths(fasta), str(fasta)) if fasta else samples[0].own_build()
    samples = [sample.on_build(build) for sample in samples]
    first, warnings = samples[0], []
    if fasta is not None:
        gc, gc_from = bin_gc(first.bins, fasta), Path(fasta).name
    elif first.gc is not None:
        gc, gc_from = first.gc, f"{first.parts[0].format.name} %gc"
    else:
        gc, gc_from = np.full(len(first.bins), np.nan), "none"
        warnings.append(
            "no GC content per bin (no --fasta, and the files carry none): GC bias is not "
            "corrected; pass --fasta REF.fa"
        )
    formats = sorted({p.format.name for s in samples for p in s.parts})
    stored = {
        "panel": "the bins of the normals' files",
        "formats": ", ".join(formats),
        "gc": gc_from,
    }
    pon = build_pon([s.coverage() for s in samples], gc, stored)
    pon.warnings += warnings
    return pon


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
    imported: Imported | None = None,
) -> Result:
    """Call a counted sample and write the four result files into `out`; returns the result
    (`imported`: the other tools' files the coverage came from)."""
    pon.check_sample(coverage, str(coverage_path or coverage.meta.get("source")))
    called = call_sample(coverage, pon, sample.purity, sample.ploidy, settings)
    outputs = output_paths(Path(out), sample.name)
    result = make_result(
        called, sample, settings, coverage, coverage_path, pon, pon_path, outputs, imported
    )
    write_results(called, result, outputs)
    return result


def call_files(
    paths: list[Path],
    pon_path: Path | None,
    sample: Sample,
    settings: CallSettings,
    out: Path,
    *,
    named: bool = False,
) -> Result:
    """Call one sample from its files and write its results into `out`: a metcnv coverage
    file or other tools' coverage (both against the panel of normals `pon_path`), or
    copy ratios another tool normalised (with its segments, if given; no panel of normals).
    The sample is named as the files say unless `named` (the user gave `sample.name`)."""
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and not _foreign(paths[0]):
        coverage = read_coverage(paths[0])
        sample = sample if named else sample.model_copy(update={"name": coverage.sample})
        return call_and_write(
            coverage, paths[0], _load_pon(pon_path, paths[0]), pon_path, sample, settings, out
        )
    samples = read_samples(paths, sample.name if named else None)
    if len(samples) != 1:
        names = ", ".join(s.sample for s in samples)
        raise MetcnvError(
            f"{paths[0]}: files of {len(samples)} samples ({names}); call one at a time"
        )
    imported = samples[0]
    sample = sample if named else sample.model_copy(update={"name": imported.sample})
    if not imported.normalised:
        pon = _load_pon(pon_path, paths[0])
        imported = imported.on_build(pon.build)
        coverage = imported.coverage()
        if coverage.bins_md5 != pon.bins_md5:
            raise MetcnvError(
                f"{imported.label}: bins differ from the panel of normals' (another panel, or a "
                "target file without its antitarget file); build the panel from normals of "
                "the same bins"
            )
        return call_and_write(coverage, None, pon, pon_path, sample, settings, out, imported)
    if pon_path is not None:
        raise MetcnvError(
            f"{imported.label}: copy ratios already normalised by {imported.normalised_by}; "
            "call them without --pon, or give the raw coverage with --pon"
        )
    imported = imported.on_build(imported.own_build())
    bins = imported.ratio_bins()
    pon = external_reference(bins, imported.build, imported.normalised_by)
    coverage = SampleCoverage(
        imported.sample,
        imported.build,
        bins[[*BIN_COLUMNS, "count", "depth"]],
        0,
        {"source": imported.label},
        imported.alleles,
    )
    called = call_bins(
        bins,
        list(pon.warnings),
        coverage,
        pon,
        sample.purity,
        sample.ploidy,
        settings,
        imported.segments,
    )
    outputs = output_paths(Path(out), sample.name)
    ratios = next(p.path for p in imported.parts if p.format.part == RATIOS)
    result = make_result(called, sample, settings, coverage, None, pon, ratios, outputs, imported)
    write_results(called, result, outputs)
    return result


def _load_pon(pon_path: Path | None, source: Path) -> PanelOfNormals:
    """The panel of normals a coverage file is called against (which it needs)."""
    if pon_path is None:
        raise MetcnvError(f"{source}: raw coverage is called against normals; pass --pon PANEL.pon")
    return PanelOfNormals.load(pon_path)


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
