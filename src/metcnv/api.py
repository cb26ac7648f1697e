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

from pathlib import Path

import numpy as np
import pandas as pd

from metcnv import params
from metcnv.alleles import read_mutations, read_sites
from metcnv.bins import BIN_COLUMNS, bins_checksum, make_bins, read_bed
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
from metcnv.files import locked, md5sum, output_folder, require_file, safe_stem
from metcnv.formats import RATIOS, Imported, is_foreign, read_samples
from metcnv.gc import bin_gc, fasta_lengths
from metcnv.genome import canonical, detect_build
from metcnv.inputs import alignment_facts, identity_problem, reading
from metcnv.model import AlleleSettings, BinSettings, CallSettings, ReadSettings, Result, Sample
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
    mutations: Path | None = None,
) -> SampleCoverage:
    """Count a BAM/CRAM on a table of bins, or on a panel of normals' bins (a BAM of another
    build than the normals' is refused before any read is counted); with `snps`, a sites
    VCF, also the alleles at its SNPs in the bins (bases of quality >= `min_baseq`), and
    without it at the sites the normals were counted at, when the panel has them; with
    `mutations`, a VCF of the sample's somatic SNVs, also theirs. With `reads.region`, only
    that chromosome and its bins. The coverage records the read groups' SM and what the
    read filters drop (metcnv.inputs.alignment_facts); a file damaged part-way is one
    MetcnvError line."""
    pon = bins_or_pon if isinstance(bins_or_pon, PanelOfNormals) else None
    table = pon.bins if pon else bins_or_pon
    region = None if reads.region is None else canonical(reads.region)
    if region is not None:
        table = region_bins(table, region)
    alleles = AlleleSettings(snps=snps, min_baseq=min_baseq)
    sites = read_sites(alleles.snps, table) if alleles.snps else (pon.sites(table) if pon else None)
    somatic = None if mutations is None else read_mutations(mutations, table, sites)
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
            snps=sites,
            min_baseq=alleles.min_baseq,
            region=region,
            mutations=somatic,
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
    mutations: Path | None = None,
) -> SampleCoverage:
    """Count a BAM/CRAM on bins made from a panel BED on the BAM's own genome (and with
    `snps` and `mutations` their alleles, as `count`)."""
    lengths, build = alignment_genome(alignments, reads.fasta)
    table = bins(targets, lengths, build, settings)
    return count(
        alignments, table, reads, sample, snps=snps, min_baseq=min_baseq, mutations=mutations
    )


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
    targets: Path | None,
    settings: BinSettings,
    reads: ReadSettings,
    *,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
    strict: bool = False,
) -> PanelOfNormals:
    """Count (or read) every normal on the panel's bins and fit the panel of normals; BAM/CRAM
    normals counted with `snps` give it their SNP statistics (coverage files bring theirs).
    Outlier normals are left out, or with `strict` refused (pon.build_pon). Other tools'
    coverage files (metcnv.formats) bring their own bins instead of `targets`."""
    foreign = [p for p in map(Path, inputs) if _foreign(p)]
    if foreign:
        if len(foreign) != len(inputs):
            raise MetcnvError(
                f"{foreign[0]}: another tool's coverage among BAM/CRAM or metcnv coverage "
                "normals; give normals of one kind"
            )
        return _imported_panel(foreign, reads.fasta, strict)
    if targets is None:
        raise MetcnvError("building a panel of normals from BAM/CRAMs needs --targets panel.bed")
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


def _foreign(path: Path) -> bool:
    """Another tool's file, not a BAM/CRAM or a metcnv coverage file."""
    return path.suffix.lower() not in ALIGNMENT_SUFFIXES and is_foreign(path)


def _imported_panel(inputs: list[Path], fasta: Path | None, strict: bool) -> PanelOfNormals:
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
    pon = build_pon([s.coverage() for s in samples], gc, stored, strict)
    pon.warnings += warnings
    return pon


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
    imported: Imported | None = None,
) -> Result:
    """Call a counted sample and write the result files into `out` (with `save_coverage`,
    its coverage first, to `coverage_path`); returns the result (`imported`: the other
    tools' files the coverage came from).

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
        coverage,
        pon,
        sample.purity,
        sample.ploidy,
        settings,
        estimate_purity=region is None,
        sample_type=sample.sample_type,
    )
    called.warnings[:0] = notes
    outputs = output_paths(Path(out), sample.name)
    with locked(out):
        if save_coverage and coverage_path is not None:
            write_coverage(coverage, coverage_path)
        result = make_result(
            called, sample, settings, coverage, coverage_path, pon, pon_path, outputs, imported
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


def call_files(
    paths: list[Path],
    pon_path: Path | None,
    sample: Sample,
    settings: CallSettings,
    out: Path,
    *,
    named: bool = False,
    strict: bool = False,
) -> Result:
    """Call one sample from its files and write its results into `out`: a metcnv coverage
    file or other tools' coverage (both against the panel of normals `pon_path`), or
    copy ratios another tool normalised (with its segments, if given; no panel of normals).
    The sample is named as the files say unless `named` (the user gave `sample.name`);
    `strict` as in `call_and_write`."""
    paths = [Path(p) for p in paths]
    if len(paths) == 1 and not _foreign(paths[0]):
        coverage = read_coverage(paths[0])
        sample = sample if named else sample.model_copy(update={"name": coverage.sample})
        pon = _load_pon(pon_path, paths[0])
        return call_and_write(
            coverage, paths[0], pon, pon_path, sample, settings, out, strict=strict
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
        return call_and_write(
            coverage, None, pon, pon_path, sample, settings, out, strict=strict, imported=imported
        )
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
        sample_type=sample.sample_type,
    )
    outputs = output_paths(Path(out), sample.name)
    ratios = next(p.path for p in imported.parts if p.format.part == RATIOS)
    with locked(out):
        result = make_result(
            called, sample, settings, coverage, None, pon, ratios, outputs, imported
        )
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
    reads: ReadSettings = DEFAULT_READS,
    snps: Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
    mutations: Path | None = None,
    strict: bool = False,
) -> Result:
    """Count and call one BAM/CRAM, writing its coverage (with `snps` and `mutations`, and
    their allele counts) and result files into `out` (`metcnv run` then writes the report
    from them); `strict` as in `call_and_write`. The folder is checked before any read is
    counted."""
    alignments, out, pon_path = Path(alignments), output_folder(out, "--out"), Path(pon)
    panel = PanelOfNormals.load(pon_path)
    Sample.given(sample or "sample", sample_type, purity, ploidy)  # refused before counting
    coverage = count(
        alignments, panel, reads, sample, snps=snps, min_baseq=min_baseq, mutations=mutations
    )
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
