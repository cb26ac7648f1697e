"""Command-line interface: parses and checks options, calls the Python API (metcnv.api)
and prints.

Every option is checked by the models of metcnv.model (metcnv.validation) before any file
is read. Exit codes (EXIT_CODES, also in `metcnv --help`): 0 done (for `call` and `run`:
MET called), 2 bad input or settings (one line naming the file or option, what is wrong
and the fix), 3 MET inconclusive, 4 QC failed and MET not called (3 and 4 exit 0 with
--exit-zero), 1 an internal error (a bug; one line, the traceback with --debug).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metcnv import __version__, api, params
from metcnv.alleles import MUTATION_SKIP_REASONS, SKIP_REASONS
from metcnv.coverage import MUTATIONS_SUFFIX, SampleCoverage, alleles_path, write_coverage
from metcnv.errors import MetcnvError
from metcnv.files import output_file, output_folder
from metcnv.inputs import quiet_htslib
from metcnv.model import (
    SAMPLE_TYPES,
    AlleleSettings,
    BinSettings,
    CallSettings,
    ReadSettings,
    Result,
    Sample,
    Status,
)
from metcnv.pon import PanelOfNormals
from metcnv.results import output_paths
from metcnv.validation import checked, flag

EXIT_OK, EXIT_BUG, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_QC_FAIL = 0, 1, 2, 3, 4
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  done; for call and run: MET called (a focal amplification far above a
     noise that failed QC too, with a note)
  {EXIT_INPUT}  bad input or settings (one line: the file or option, what is wrong, the fix)
  {EXIT_INCONCLUSIVE}  call, run: MET inconclusive (the reason is printed)
  {EXIT_QC_FAIL}  call, run: QC failed, MET not called (the reasons are printed);
     --exit-zero: 0 for 3 and 4
  {EXIT_BUG}  an internal error, a bug (one line; --debug shows the traceback)
"""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, like every other metcnv error."""

    def error(self, message: str):
        self.exit(EXIT_INPUT, f"metcnv: error: {message}; see `{self.prog} --help`\n")


EXAMPLES = """examples:
  metcnv pon build --targets panel.bed --fasta ref.fa --out panel.pon normal*.bam
  metcnv run tumor.bam --pon panel.pon --out results/ --sample-type tumor --purity 0.4
  metcnv run tumor.bam --pon panel.pon --out urgent/ --region chr7   # MET-first, seconds
  metcnv coverage tumor.bam --targets panel.bed --out tumor.coverage.tsv.gz
  metcnv call tumor.coverage.tsv.gz --pon panel.pon --out results/ --purity 0.4
  metcnv call tumor.cnr tumor.cns --out results/         # a CNVkit run's copy ratios
  metcnv report results/tumor.metcnv.json
"""


def bin_settings(args) -> BinSettings:
    values = {
        "target_bin_size": args.target_bin_size,
        "offtarget_bin_size": args.offtarget_bin_size,
        "access": args.access,
        "offtarget": not args.no_offtarget,
    }
    return checked(BinSettings, BinSettings, values)


def read_settings(args) -> ReadSettings:
    values = {
        "fasta": args.fasta,
        "min_mapq": args.min_mapq,
        "threads": args.threads,
        "region": getattr(args, "region", None),  # `coverage` and `run` only
    }
    return checked(ReadSettings, ReadSettings, values)


def allele_settings(args) -> dict:
    """The sites VCF and base quality filter, as keyword arguments of api.count/count_panel/run."""
    values = {"snps": args.snps, "min_baseq": args.min_baseq}
    return dict(checked(AlleleSettings, AlleleSettings, values))


def call_settings(args) -> CallSettings:
    values = {name: getattr(args, name) for name in CallSettings.model_fields}
    return checked(CallSettings, CallSettings, values)


def sample_of(args) -> Sample:
    """The sample as the user described it (named "sample" until its file says otherwise);
    purity and ploidy checked (finite, in range) before any file is read."""
    values = {
        "name": args.sample or "sample",
        "sample_type": args.sample_type,
        "purity": args.purity,
        "ploidy": args.ploidy,
    }
    return checked(Sample.given, Sample, values)


# --- commands ------------------------------------------------------------------------------
def _cmd_coverage(args) -> int:
    reads, alleles = read_settings(args), allele_settings(args) | {"mutations": args.mutations}
    bins = None if args.pon else bin_settings(args)
    output_file(args.out, "--out")
    pon = PanelOfNormals.load(args.pon) if args.pon else None
    if args.snps or (pon and pon.snps is not None):  # alleles too: the normals' sites at least
        alleles_path(args.out)  # a name the allele table cannot go beside fails before counting
    if args.mutations:
        alleles_path(args.out, MUTATIONS_SUFFIX)
    if pon:
        coverage = api.count(args.alignments, pon, reads, args.sample, **alleles)
    else:
        coverage = api.count_panel(
            args.alignments, args.targets, bins, reads, args.sample, **alleles
        )
    write_coverage(coverage, args.out)
    print(
        f"{coverage.sample}: {coverage.total_fragments} fragments, "
        f"{coverage.on_target_fraction:.1%} on target -> {args.out}"
    )
    if coverage.alleles is not None:
        print(f"{coverage.sample}: {_snp_summary(coverage)} -> {alleles_path(args.out)}")
    if coverage.mutations is not None:
        counts = alleles_path(args.out, MUTATIONS_SUFFIX)
        print(f"{coverage.sample}: {_snp_summary(coverage, 'mutations')} -> {counts}")
    return EXIT_OK


def _snp_summary(coverage: SampleCoverage, kind: str = "snps") -> str:
    """How many SNPs (`kind` "mutations": somatic mutations) were counted and how many
    sites were skipped, and why."""
    meta = coverage.meta
    reasons = SKIP_REASONS if kind == "snps" else MUTATION_SKIP_REASONS
    skipped = ", ".join(
        f"{meta[f'{kind}_skipped_{reason}']} {reason.replace('_', ' ')}" for reason in reasons
    )
    what = "SNPs" if kind == "snps" else "somatic mutations"
    return f"alleles at {meta[f'{kind}_kept']} {what} (sites skipped: {skipped})"


def _cmd_pon_build(args) -> int:
    bins, reads, alleles = bin_settings(args), read_settings(args), allele_settings(args)
    output_file(args.out, "--out")
    pon = api.build_panel_of_normals(
        args.inputs, args.targets, bins, reads, **alleles, strict=args.strict
    )
    pon.save(args.out)
    for warning in pon.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"panel of normals: {len(pon.normals)} normals, {int(pon.used.sum())} of "
        f"{len(pon.used)} bins used, {len(pon.components)} components -> {args.out}"
    )
    return EXIT_OK


def _cmd_pon_flat(args) -> int:
    bins, reads = bin_settings(args), read_settings(args)
    output_file(args.out, "--out")
    pon = api.flat_reference(args.targets, args.fasta, bins, reads.min_mapq)
    pon.save(args.out)
    print(f"flat reference ({len(pon.bins)} bins, no normals) -> {args.out}")
    return EXIT_OK


def _cmd_call(args) -> int:
    settings, sample = call_settings(args), sample_of(args)
    output_folder(args.out, "--out")
    result = api.call_files(
        args.coverage,
        args.pon,
        sample,
        settings,
        args.out,
        named=args.sample is not None,
        strict=args.strict,
    )
    _print_call(result)
    return _call_exit(result, args.exit_zero)


def _cmd_run(args) -> int:
    settings, reads = call_settings(args), read_settings(args)
    alleles = allele_settings(args) | {"mutations": args.mutations}
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
        reads=reads,
        strict=args.strict,
        **alleles,
    )
    _print_call(result)
    from metcnv.report import write_sample_reports  # matplotlib only where figures are drawn

    _print_written(
        write_sample_reports(output_paths(Path(args.out), result.sample)["json"], pdf=args.pdf)
    )
    return _call_exit(result, args.exit_zero)


def _call_exit(result: Result, exit_zero: bool) -> int:
    """The exit code of a call (module docstring), and the cause on stderr when not 0."""
    failed = "QC failed: " + "; ".join(result.qc.reasons)
    if result.met.status is not Status.INCONCLUSIVE:
        if result.qc.status == "fail":  # a focal amplification far above the noise (call.py)
            print(f"metcnv: {result.sample}: MET called although {failed}", file=sys.stderr)
        return EXIT_OK
    if result.qc.status == "fail":
        code, why = EXIT_QC_FAIL, failed
    else:
        code, why = EXIT_INCONCLUSIVE, f"MET inconclusive: {result.met.status_reason}"
    keep = ", exit 0 with --exit-zero" if exit_zero else " (--exit-zero: exit 0)"
    print(f"metcnv: {result.sample}: {why}{keep}", file=sys.stderr)
    return EXIT_OK if exit_zero else code


def _cmd_report(args) -> int:
    from metcnv.report import write_sample_reports  # matplotlib only where figures are drawn

    for path in args.results:
        _print_written(write_sample_reports(path, args.out, pdf=args.pdf))
    return EXIT_OK


def _cmd_summary(args) -> int:
    from metcnv.cohort import write_summary  # matplotlib only where figures are drawn

    _print_written(write_summary(args.results, args.out, args.samples))
    return EXIT_OK


def _print_written(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {path}")


def _print_call(result: Result) -> None:
    print(f"{result.sample}: {result.met.status.value} (QC {result.qc.status})")
    print(result.verdict)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)


# --- parser --------------------------------------------------------------------------------
def _option(group, model, name: str) -> None:
    """An option made from a settings model's field: its name, type, default and help
    (a list of names as one comma-separated value)."""
    field = model.model_fields[name]
    if field.annotation == list[str]:
        kind, shown = _names, ",".join(field.default) or "none"
    else:
        kind = field.annotation if field.annotation in (int, float) else float
        shown = "%(default)s"
    group.add_argument(
        flag(name), type=kind, default=field.default, help=f"{field.description} (default {shown})"
    )


def _names(text: str) -> list[str]:
    """Comma-separated names as a list ('' for none)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _bin_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("bins")
    _option(group, BinSettings, "target_bin_size")
    _option(group, BinSettings, "offtarget_bin_size")
    group.add_argument(
        "--access", type=Path, help="BED of accessible regions; off-target bins only there"
    )
    group.add_argument(
        "--no-offtarget", action="store_true", help="no off-target bins (amplicon panels)"
    )


def _read_options(parser: argparse.ArgumentParser, fasta_required: bool = False) -> None:
    group = parser.add_argument_group("reads")
    _option(group, ReadSettings, "min_mapq")
    group.add_argument(
        "--reference",
        "--fasta",
        dest="fasta",
        type=Path,
        required=fasta_required,
        help="indexed reference FASTA (needed for CRAM and to build a PoN)",
    )
    _option(group, ReadSettings, "threads")


def _region_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        metavar="CHROM",
        help="MET-first mode: read only this chromosome (e.g. chr7) through the index; the "
        "call is relative to it and says what it could not use",
    )


def _allele_options(parser: argparse.ArgumentParser, whose: str = "") -> None:
    """--snps and --min-baseq; `whose` names the inputs for `pon build` (no panel to lend
    its normals' sites there)."""
    group = parser.add_argument_group("alleles (for tumor purity from SNPs)")
    default = "" if whose else " (default with --pon: the sites its normals were counted at)"
    group.add_argument(
        "--snps",
        type=Path,
        help=f"{whose}sites VCF of germline SNPs (bgzipped, tabix-indexed): count ref/alt "
        f"reads at its biallelic SNVs in the bins{default}",
    )
    _option(group, AlleleSettings, "min_baseq")
    if not whose:  # a sample's, not normals'
        group.add_argument(
            "--mutations",
            type=Path,
            help="VCF of the sample's somatic SNVs from its variant caller (bgzipped, "
            "tabix-indexed; PASS records): count ref/alt reads at them too, and use their "
            "allele fractions for the tumor fraction",
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
        "--ploidy",
        type=float,
        help=f"tumor ploidy in (0, {params.MAX_PLOIDY:g}] (default {params.PLOIDY:g}, assumed)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse (exit 2) a sample name its reads' read-group SM contradicts, instead of "
        "warning",
    )
    parser.add_argument(
        "--exit-zero",
        action="store_true",
        help=f"exit 0 also when MET is inconclusive ({EXIT_INCONCLUSIVE}) or QC fails "
        f"({EXIT_QC_FAIL})",
    )
    group = parser.add_argument_group("calling thresholds")
    for name in CallSettings.model_fields:
        _option(group, CallSettings, name)


DEBUG_HELP = "on an error, show the traceback (for a bug report)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="metcnv",
        description="MET copy number and MET amplification from NGS reads.",
        epilog=EXAMPLES + "\n" + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"metcnv {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    common = argparse.ArgumentParser(add_help=False)  # options every command takes, too
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )

    coverage = commands.add_parser(
        "coverage", help="count reads per bin of one BAM/CRAM", parents=[common]
    )
    coverage.add_argument("alignments", type=Path, help="indexed BAM or CRAM")
    coverage.add_argument("--out", type=Path, required=True, help="X.coverage.tsv.gz")
    source = coverage.add_mutually_exclusive_group(required=True)
    source.add_argument("--targets", type=Path, help="panel BED (bins made from it)")
    source.add_argument("--pon", type=Path, help="take the bins of this panel of normals")
    coverage.add_argument("--sample", help="sample name (default: SM or file name)")
    _bin_options(coverage)
    _read_options(coverage)
    _region_option(coverage)
    _allele_options(coverage)
    coverage.set_defaults(func=_cmd_coverage)

    pon = commands.add_parser("pon", help="build a panel of normals").add_subparsers(
        dest="pon_command", required=True, metavar="ACTION"
    )
    build = pon.add_parser(
        "build", help="from normal BAM/CRAMs or their coverage files", parents=[common]
    )
    build.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        help="normals: BAM/CRAM, .coverage.tsv.gz, or other tools' coverage (CNVkit .cnn, "
        "Picard per-target CSV, GATK read counts, mosdepth regions), which bring their bins",
    )
    build.add_argument(
        "--strict",
        action="store_true",
        help="refuse (exit 2) a normal that is an outlier against the others, instead of "
        "leaving it out",
    )
    flat = pon.add_parser("flat", help="flat reference without normals (noisier)", parents=[common])
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

    call = commands.add_parser(
        "call", help="call a coverage file against a panel of normals", parents=[common]
    )
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

    run = commands.add_parser(
        "run", help="coverage + call + report of one BAM/CRAM", parents=[common]
    )
    run.add_argument("alignments", type=Path, help="indexed BAM or CRAM")
    _call_options(run)
    _read_options(run)
    _region_option(run)
    _allele_options(run)
    run.add_argument("--pdf", action="store_true", help="also print the report to PDF")
    run.set_defaults(func=_cmd_run)

    report = commands.add_parser(
        "report", help="HTML report, VCF, IGV SEG and MultiQC table of results", parents=[common]
    )
    report.add_argument("results", type=Path, nargs="+", help="{sample}.metcnv.json files")
    report.add_argument("--out", type=Path, help="output folder (default: beside each JSON)")
    report.add_argument("--pdf", action="store_true", help="also a PDF (headless Chromium)")
    report.set_defaults(func=_cmd_report)

    summary = commands.add_parser(
        "summary", help="cohort table and per-patient timelines", parents=[common]
    )
    summary.add_argument("results", type=Path, nargs="+", help="{sample}.metcnv.json files")
    summary.add_argument("--out", type=Path, required=True, help="output folder")
    summary.add_argument("--samples", type=Path, help="sample sheet (patient, dates, site)")
    summary.set_defaults(func=_cmd_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; every failure is one line on stderr and an exit code (EXIT_CODES)."""
    args = build_parser().parse_args(argv)
    if args.debug:
        return args.func(args)
    quiet_htslib()
    try:
        return args.func(args)
    except MetcnvError as error:
        print(f"metcnv: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("metcnv: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: one line, and how to see more
        print(
            f"metcnv: internal error: {type(error).__name__}: {_one_line(error)}; this is a "
            "bug: re-run with --debug and report the traceback",
            file=sys.stderr,
        )
        return EXIT_BUG


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


if __name__ == "__main__":
    sys.exit(main())
