"""Command-line interface. `_cmd_*` functions parse and print; `do_*` functions do the work
(and are the Python API). A MetcnvError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd

from metcnv import __version__, params
from metcnv.bins import make_bins, read_bed
from metcnv.call import CallResult, CallSettings, call_sample
from metcnv.cohort import write_summary
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
from metcnv.genome import detect_build
from metcnv.pon import PanelOfNormals, build_pon, flat_pon
from metcnv.report import write_sample_reports
from metcnv.results import Sample, output_paths, result_document, write_results

SAMPLE_TYPES = ("tumor", "blood", "effusion", "normal")
ALIGNMENT_SUFFIXES = (".bam", ".cram")

EXAMPLES = """examples:
  metcnv pon build --targets panel.bed --fasta ref.fa --out panel.pon normal*.bam
  metcnv run tumor.bam --pon panel.pon --out results/ --sample-type tumor --purity 0.4
  metcnv coverage tumor.bam --targets panel.bed --out tumor.coverage.tsv.gz
  metcnv call tumor.coverage.tsv.gz --pon panel.pon --out results/ --purity 0.4
  metcnv report results/tumor.metcnv.json
"""


# --- the work ------------------------------------------------------------------------------
def do_bins(targets: Path, lengths: dict[str, int], build: str, args) -> pd.DataFrame:
    """The panel's bins on a genome with these contig lengths."""
    access = read_bed(args.access) if args.access else None
    return make_bins(
        read_bed(require_file(targets, "the panel's target BED"), build),
        lengths,
        target_bin_size=args.target_bin_size,
        offtarget_bin_size=args.offtarget_bin_size,
        access=access,
        offtarget=not args.no_offtarget,
    )


def do_coverage(alignments: Path, pon: PanelOfNormals, args) -> SampleCoverage:
    """Count a BAM/CRAM on the bins of a panel of normals, refusing another build first."""
    pon.check_build(alignment_genome(alignments, args.fasta)[1], str(alignments))
    coverage = count_bins(
        alignments,
        pon.bins,
        fasta=args.fasta,
        min_mapq=args.min_mapq,
        threads=args.threads,
        sample=args.sample,
    )
    pon.check_sample(coverage, str(alignments))
    return coverage


def alignment_genome(path: Path, fasta: Path | None) -> tuple[dict[str, int], str]:
    """Contig lengths and build of a BAM/CRAM header."""
    with open_alignments(path, fasta, 1) as handle:
        lengths = header_lengths(handle)
    return lengths, detect_build(lengths, str(path))


def bin_settings(args) -> dict:
    """What fixes a panel's bins and counts; stored in the panel of normals."""
    panel = Path(args.targets)
    return {
        "panel": panel.name,
        "panel_md5": md5sum(panel),
        "target_bin_size": args.target_bin_size,
        "offtarget_bin_size": args.offtarget_bin_size,
        "offtarget": not args.no_offtarget,
        "access": Path(args.access).name if args.access else None,
        "min_mapq": args.min_mapq,
    }


def do_pon_build(inputs: list[Path], args) -> PanelOfNormals:
    """Count (or read) every normal on the panel's bins and fit the panel of normals."""
    lengths = fasta_lengths(args.fasta)
    build = detect_build(lengths, str(args.fasta))
    bins = do_bins(args.targets, lengths, build, args)
    normals = []
    for path in inputs:
        if path.suffix.lower() in ALIGNMENT_SUFFIXES:
            coverage = count_bins(
                path, bins, fasta=args.fasta, min_mapq=args.min_mapq, threads=args.threads
            )
        else:
            coverage = read_coverage(path)
        if coverage.build != build:
            raise MetcnvError(
                f"{path}: aligned to {coverage.build} but {args.fasta} is {build}; "
                "use normals and a reference of one genome build"
            )
        normals.append(coverage)
    return build_pon(normals, bin_gc(bins, args.fasta), bin_settings(args))


def do_call(
    coverage: SampleCoverage, pon: PanelOfNormals, purity: float | None, settings: CallSettings
) -> CallResult:
    result = call_sample(coverage, pon, purity, settings)
    pon_mapq = pon.settings.get("min_mapq")
    if pon_mapq is not None and str(pon_mapq) != coverage.meta.get("min_mapq"):
        result.warnings.append(
            f"the sample was counted with MAPQ >= {coverage.meta.get('min_mapq')} but the "
            f"normals with MAPQ >= {pon_mapq}: counts are not comparable"
        )
    return result


def call_and_write(
    coverage: SampleCoverage,
    coverage_path: Path | None,
    pon: PanelOfNormals,
    settings: CallSettings,
    args,
) -> dict:
    """Call a counted sample and write the result files; returns the JSON."""
    pon.check_sample(coverage, coverage.meta.get("source", str(coverage_path)))
    sample = Sample(args.sample or coverage.sample, args.sample_type, args.purity, args.ploidy)
    result = do_call(coverage, pon, sample.purity, settings)
    outputs = output_paths(Path(args.out), sample.name)
    document = result_document(
        result, sample, settings, coverage, coverage_path, pon, Path(args.pon), outputs
    )
    write_results(result, document, outputs)
    return document


def call_settings(args) -> CallSettings:
    if args.purity is not None and not 0 < args.purity <= 1:
        raise MetcnvError(f"--purity {args.purity}: a tumor fraction is in (0, 1]; e.g. 0.3")
    if args.ploidy <= 0:
        raise MetcnvError(f"--ploidy {args.ploidy}: ploidy must be positive; e.g. 2")
    names = [f.name for f in fields(CallSettings) if hasattr(args, f.name)]
    return CallSettings(**{name: getattr(args, name) for name in names})


# --- commands ------------------------------------------------------------------------------
def _cmd_coverage(args) -> None:
    if args.pon:
        coverage = do_coverage(args.alignments, PanelOfNormals.load(args.pon), args)
    else:
        lengths, build = alignment_genome(args.alignments, args.fasta)
        bins = do_bins(args.targets, lengths, build, args)
        coverage = count_bins(
            args.alignments,
            bins,
            fasta=args.fasta,
            min_mapq=args.min_mapq,
            threads=args.threads,
            sample=args.sample,
        )
    write_coverage(coverage, args.out)
    print(
        f"{coverage.sample}: {coverage.total_fragments} fragments, "
        f"{coverage.on_target_fraction:.1%} on target -> {args.out}"
    )


def _cmd_pon_build(args) -> None:
    pon = do_pon_build(args.inputs, args)
    pon.save(args.out)
    for warning in pon.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"panel of normals: {len(pon.normals)} normals, {int(pon.used.sum())} of "
        f"{len(pon.used)} bins used, {len(pon.components)} components -> {args.out}"
    )


def _cmd_pon_flat(args) -> None:
    lengths = fasta_lengths(args.fasta)
    build = detect_build(lengths, str(args.fasta))
    bins = do_bins(args.targets, lengths, build, args)
    flat_pon(bins, bin_gc(bins, args.fasta), build, bin_settings(args)).save(args.out)
    print(f"flat reference ({len(bins)} bins, no normals) -> {args.out}")


def _cmd_call(args) -> None:
    settings, pon = call_settings(args), PanelOfNormals.load(args.pon)
    coverage = read_coverage(args.coverage)
    _print_call(call_and_write(coverage, Path(args.coverage), pon, settings, args))


def _cmd_run(args) -> None:
    settings, pon = call_settings(args), PanelOfNormals.load(args.pon)
    coverage = do_coverage(args.alignments, pon, args)
    path = Path(args.out) / f"{safe_stem(args.sample or coverage.sample)}.coverage.tsv.gz"
    write_coverage(coverage, path)
    document = call_and_write(coverage, path, pon, settings, args)
    _print_call(document)
    json_path = output_paths(Path(args.out), document["sample"])["json"]
    _print_written(write_sample_reports(json_path, pdf=args.pdf))


def _cmd_report(args) -> None:
    for path in args.results:
        _print_written(write_sample_reports(path, args.out, pdf=args.pdf))


def _cmd_summary(args) -> None:
    _print_written(write_summary(args.results, args.out, args.samples))


def _print_written(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")


def _print_call(document: dict) -> None:
    met, qc = document["met"], document["qc"]
    print(f"{document['sample']}: {met['status']} (QC {qc['status']})")
    print(document["verdict"])
    for warning in document["warnings"]:
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


def _call_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pon", type=Path, required=True, help="panel of normals (.pon)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--sample", help="sample name (default: the BAM's SM or file name)")
    parser.add_argument("--sample-type", choices=SAMPLE_TYPES, default="tumor")
    parser.add_argument("--purity", type=float, help="tumor fraction in (0, 1], if known")
    parser.add_argument(
        "--ploidy", type=float, default=params.PLOIDY, help="tumor ploidy (default %(default)s)"
    )
    group = parser.add_argument_group("calling thresholds")
    for flag, default, text in (
        ("--focal-max-size", params.FOCAL_MAX_SIZE, "longest focal amplicon, bp"),
        ("--amp-min-cn", params.AMP_MIN_CN, "tumor copies for amplification"),
        ("--high-level-cn", params.HIGH_LEVEL_CN, "high-level: strictly more tumor copies"),
        ("--min-z", params.MIN_Z, "standard errors for a gain or a focal contrast"),
        ("--fish-low", params.FISH_LOW, "MET/chr7 ratio for FISH-like 'low'"),
        ("--fish-intermediate", params.FISH_INTERMEDIATE, "ratio above which 'intermediate'"),
        ("--fish-high", params.FISH_HIGH, "ratio for 'high'"),
    ):
        group.add_argument(
            flag, type=type(default), default=default, help=f"{text} (default %(default)s)"
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
    coverage.set_defaults(func=_cmd_coverage)

    pon = commands.add_parser("pon", help="build a panel of normals").add_subparsers(
        dest="pon_command", required=True, metavar="ACTION"
    )
    build = pon.add_parser("build", help="from normal BAM/CRAMs or their coverage files")
    build.add_argument("inputs", type=Path, nargs="+", help="normals: BAM/CRAM or .coverage.tsv.gz")
    flat = pon.add_parser("flat", help="flat reference without normals (noisier)")
    for sub, func in ((build, _cmd_pon_build), (flat, _cmd_pon_flat)):
        sub.add_argument("--targets", type=Path, required=True, help="panel BED")
        sub.add_argument("--out", type=Path, required=True, help="PANEL.pon")
        _bin_options(sub)
        _read_options(sub, fasta_required=True)
        sub.set_defaults(func=func)

    call = commands.add_parser("call", help="call a coverage file against a panel of normals")
    call.add_argument("coverage", type=Path, help="X.coverage.tsv.gz from `metcnv coverage`")
    _call_options(call)
    call.set_defaults(func=_cmd_call)

    run = commands.add_parser("run", help="coverage + call + report of one BAM/CRAM")
    run.add_argument("alignments", type=Path, help="indexed BAM or CRAM")
    _call_options(run)
    _read_options(run)
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
