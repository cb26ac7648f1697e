"""Command-line interface: parses options, calls the Python API (metcnv.api) and prints.

A MetcnvError becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from metcnv import __version__, api, params
from metcnv.alleles import SKIP_REASONS
from metcnv.cohort import write_summary
from metcnv.coverage import SampleCoverage, alleles_path, write_coverage
from metcnv.errors import MetcnvError
from metcnv.model import SAMPLE_TYPES, CallSettings, Result, Sample
from metcnv.pon import PanelOfNormals
from metcnv.report import write_sample_reports
from metcnv.results import output_paths

EXAMPLES = """examples:
  metcnv pon build --targets panel.bed --fasta ref.fa --out panel.pon normal*.bam
  metcnv run tumor.bam --pon panel.pon --out results/ --sample-type tumor --purity 0.4
  metcnv coverage tumor.bam --targets panel.bed --out tumor.coverage.tsv.gz
  metcnv call tumor.coverage.tsv.gz --pon panel.pon --out results/ --purity 0.4
  metcnv call tumor.cnr tumor.cns --out results/         # a CNVkit run's copy ratios
  metcnv report results/tumor.metcnv.json
"""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


RANGES = {  # what a refused --purity or --ploidy must be, in words
    "purity": "a tumor fraction is in (0, 1]; e.g. 0.3",
    "ploidy": f"a tumor ploidy is in (0, {params.MAX_PLOIDY:g}]; e.g. 2",
}


def _refused(error: ValidationError, values: dict) -> MetcnvError:
    """A refused setting as one line: the option, the value given and what it must be."""
    problem = error.errors()[0]
    where = str(problem["loc"][0]) if problem["loc"] else ""
    given = f" {values[where]}" if where in values else ""
    option = _flag(where) if where else "options"
    return MetcnvError(f"{option}{given}: {RANGES.get(where, problem['msg'])}")


def bin_settings(args) -> api.BinSettings:
    return api.BinSettings(
        target_bin_size=args.target_bin_size,
        offtarget_bin_size=args.offtarget_bin_size,
        access=args.access,
        offtarget=not args.no_offtarget,
    )


def read_settings(args) -> api.ReadSettings:
    return api.ReadSettings(fasta=args.fasta, min_mapq=args.min_mapq, threads=args.threads)


def allele_settings(args) -> dict:
    """The sites VCF and base quality filter, as keyword arguments of api.count/count_panel/run."""
    return {"snps": args.snps, "min_baseq": args.min_baseq}


def call_settings(args) -> CallSettings:
    values = {name: getattr(args, name) for name in CallSettings.model_fields}
    try:
        return CallSettings(**values)
    except ValidationError as error:
        raise _refused(error, values) from None


def sample_of(args) -> Sample:
    """The sample as the user described it (named "sample" until its file says otherwise);
    purity and ploidy checked (finite, in range) before any file is read."""
    values = {"sample": args.sample or "sample", "purity": args.purity, "ploidy": args.ploidy}
    try:
        return Sample.given(values["sample"], args.sample_type, args.purity, args.ploidy)
    except ValidationError as error:
        raise _refused(error, values) from None


# --- commands ------------------------------------------------------------------------------
def _cmd_coverage(args) -> None:
    reads, alleles = read_settings(args), allele_settings(args)
    if args.snps:
        alleles_path(args.out)  # a name the allele table cannot go beside fails before counting
    if args.pon:
        pon = PanelOfNormals.load(args.pon)
        coverage = api.count(args.alignments, pon, reads, args.sample, **alleles)
    else:
        coverage = api.count_panel(
            args.alignments, args.targets, bin_settings(args), reads, args.sample, **alleles
        )
    write_coverage(coverage, args.out)
    print(
        f"{coverage.sample}: {coverage.total_fragments} fragments, "
        f"{coverage.on_target_fraction:.1%} on target -> {args.out}"
    )
    if coverage.alleles is not None:
        print(f"{coverage.sample}: {_snp_summary(coverage)} -> {alleles_path(args.out)}")


def _snp_summary(coverage: SampleCoverage) -> str:
    """How many SNPs were counted and how many sites were skipped, and why."""
    meta = coverage.meta
    skipped = ", ".join(
        f"{meta[f'snps_skipped_{reason}']} {reason.replace('_', ' ')}" for reason in SKIP_REASONS
    )
    return f"alleles at {meta['snps_kept']} SNPs (sites skipped: {skipped})"


def _cmd_pon_build(args) -> None:
    pon = api.build_panel_of_normals(
        args.inputs, args.targets, bin_settings(args), read_settings(args), **allele_settings(args)
    )
    pon.save(args.out)
    for warning in pon.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"panel of normals: {len(pon.normals)} normals, {int(pon.used.sum())} of "
        f"{len(pon.used)} bins used, {len(pon.components)} components -> {args.out}"
    )


def _cmd_pon_flat(args) -> None:
    pon = api.flat_reference(args.targets, args.fasta, bin_settings(args), args.min_mapq)
    pon.save(args.out)
    print(f"flat reference ({len(pon.bins)} bins, no normals) -> {args.out}")


def _cmd_call(args) -> None:
    settings, sample = call_settings(args), sample_of(args)
    result = api.call_files(
        args.coverage, args.pon, sample, settings, args.out, named=args.sample is not None
    )
    _print_call(result)


def _cmd_run(args) -> None:
    settings = call_settings(args)
    sample_of(args)  # a bad purity or ploidy is refused before the BAM is read
    result = api.run(
        args.alignments,
        args.pon,
        args.out,
        sample=args.sample,
        sample_type=args.sample_type,
        purity=args.purity,
        ploidy=args.ploidy,
        settings=settings,
        reads=read_settings(args),
        **allele_settings(args),
    )
    _print_call(result)
    _print_written(
        write_sample_reports(output_paths(Path(args.out), result.sample)["json"], pdf=args.pdf)
    )


def _cmd_report(args) -> None:
    for path in args.results:
        _print_written(write_sample_reports(path, args.out, pdf=args.pdf))


def _cmd_summary(args) -> None:
    _print_written(write_summary(args.results, args.out, args.samples))


def _print_written(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")


def _print_call(result: Result) -> None:
    print(f"{result.sample}: {result.met.status.value} (QC {result.qc.status})")
    print(result.verdict)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)


# --- parser --------------------------------------------------------------------------------
def _bin_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bins")
    group.add_argument(
        "--target-bin-size",
        type=int,
        default=params.TARGET_BIN_SIZE,
        help="split targets into bins of about this size (default %(default)s)",
    )
    group.add_argument(
        "--offtarget-bin-size",
        type=int,
        default=params.OFFTARGET_BIN_SIZE,
        help="off-target background bin size (default %(default)s)",
    )
    group.add_argument(
        "--access", type=Path, help="BED of accessible regions; off-target bins only there"
    )
    group.add_argument(
        "--no-offtarget", action="store_true", help="no off-target bins (amplicon panels)"
    )


def _read_options(parser: argparse.ArgumentParser, fasta_required: bool = False) -> None:
    group = parser.add_argument_group("reads")
    group.add_argument(
        "--min-mapq",
        type=int,
        default=params.MIN_MAPQ,
        help="ignore reads below this mapping quality (default %(default)s)",
    )
    group.add_argument(
        "--reference",
        "--fasta",
        dest="fasta",
        type=Path,
        required=fasta_required,
        help="indexed reference FASTA (needed for CRAM and to build a PoN)",
    )
    group.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BAM/CRAM decompression threads (default %(default)s)",
    )


def _allele_options(parser: argparse.ArgumentParser, whose: str = "") -> None:
    group = parser.add_argument_group("alleles (for tumor purity from SNPs)")
    group.add_argument(
        "--snps",
        type=Path,
        help=f"{whose}sites VCF of germline SNPs (bgzipped, tabix-indexed): count ref/alt "
        "reads at its biallelic SNVs in the bins",
    )
    group.add_argument(
        "--min-baseq",
        type=int,
        default=params.MIN_BASEQ,
        help="with --snps: ignore bases below this base quality (default %(default)s)",
    )


def _call_options(parser: argparse.ArgumentParser, pon_required: bool = True) -> None:
    parser.add_argument(
        "--pon",
        type=Path,
        required=pon_required,
        help="panel of normals (.pon)"
        + ("" if pon_required else "; not with copy ratios another tool normalised"),
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--sample", help="sample name (default: the BAM's SM or file name)")
    parser.add_argument("--sample-type", choices=SAMPLE_TYPES, default="tumor")
    parser.add_argument("--purity", type=float, help="tumor fraction in (0, 1], if known")
    parser.add_argument(
        "--ploidy", type=float, help=f"tumor ploidy (default {params.PLOIDY:g}, assumed)"
    )
    group = parser.add_argument_group("calling thresholds")
    for name, field in CallSettings.model_fields.items():
        group.add_argument(
            _flag(name),
            type=field.annotation if isinstance(field.annotation, type) else float,
            default=field.default,
            help=f"{field.description} (default %(default)s)",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="metcnv",
        description="MET copy number and MET amplification from NGS reads.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"metcnv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    coverage = commands.add_parser("coverage", help="count reads per bin of one BAM/CRAM")
    coverage.add_argument("alignments", type=Path, help="indexed BAM or CRAM")
    coverage.add_argument("--out", type=Path, required=True, help="X.coverage.tsv.gz")
    source = coverage.add_mutually_exclusive_group(required=True)
    source.add_argument("--targets", type=Path, help="panel BED (bins made from it)")
    source.add_argument("--pon", type=Path, help="take the bins of this panel of normals")
    coverage.add_argument("--sample", help="sample name (default: SM or file name)")
    _bin_options(coverage)
    _read_options(coverage)
    _allele_options(coverage)
    coverage.set_defaults(func=_cmd_coverage)

    pon = commands.add_parser("pon", help="build a panel of normals").add_subparsers(
        dest="pon_command", required=True, metavar="ACTION"
    )
    build = pon.add_parser("build", help="from normal BAM/CRAMs or their coverage files")
    build.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        help="normals: BAM/CRAM, .coverage.tsv.gz, or other tools' coverage (CNVkit .cnn, "
        "Picard per-target CSV, GATK read counts, mosdepth regions), which bring their bins",
    )
    flat = pon.add_parser("flat", help="flat reference without normals (noisier)")
    for sub, func in ((build, _cmd_pon_build), (flat, _cmd_pon_flat)):
        imports = sub is build  # other tools' coverage brings its bins, build and maybe GC
        sub.add_argument(
            "--targets",
            type=Path,
            required=not imports,
            help="panel BED" + (" (BAM/CRAM normals)" if imports else ""),
        )
        sub.add_argument("--out", type=Path, required=True, help="PANEL.pon")
        _bin_options(sub)
        _read_options(sub, fasta_required=not imports)
        sub.set_defaults(func=func)
    _allele_options(build, "BAM/CRAM normals: ")

    call = commands.add_parser("call", help="call a coverage file against a panel of normals")
    call.add_argument(
        "coverage",
        type=Path,
        nargs="+",
        help="one sample's X.coverage.tsv.gz from `metcnv coverage`, or its files from other "
        "tools: coverage (CNVkit .cnn target and antitarget, Picard, GATK, mosdepth) with "
        "--pon, or normalised copy ratios (CNVkit .cnr, GATK denoised) with their segments "
        "(.cns, .modelFinal.seg) without; and allele counts (GATK, a VCF with AD)",
    )
    _call_options(call, pon_required=False)
    call.set_defaults(func=_cmd_call)

    run = commands.add_parser("run", help="coverage + call + report of one BAM/CRAM")
    run.add_argument("alignments", type=Path, help="indexed BAM or CRAM")
    _call_options(run)
    _read_options(run)
    _allele_options(run)
    run.add_argument("--pdf", action="store_true", help="also print the report to PDF")
    run.set_defaults(func=_cmd_run)

    report = commands.add_parser(
        "report", help="HTML report, VCF, IGV SEG and MultiQC table of results"
    )
    report.add_argument("results", type=Path, nargs="+", help="{sample}.metcnv.json files")
    report.add_argument("--out", type=Path, help="output folder (default: beside each JSON)")
    report.add_argument("--pdf", action="store_true", help="also a PDF (headless Chromium)")
    report.set_defaults(func=_cmd_report)

    summary = commands.add_parser("summary", help="cohort table and per-patient timelines")
    summary.add_argument("results", type=Path, nargs="+", help="{sample}.metcnv.json files")
    summary.add_argument("--out", type=Path, required=True, help="output folder")
    summary.add_argument("--samples", type=Path, help="sample sheet (patient, dates, site)")
    summary.set_defaults(func=_cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except MetcnvError as error:
        print(f"metcnv: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
