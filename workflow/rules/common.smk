"""Configuration, sample sheet and input functions shared by all rules.

Everything here runs while Snakemake reads the workflow, before any job starts: the config
and the sheet are checked against workflow/schemas/, and every problem in the sheet is
reported at once, by line, in one error. Rules only ever see the functions defined here.
"""

import re
import shlex
from functools import cache
from pathlib import Path

import pandas as pd
import yaml
from jsonschema import Draft202012Validator
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

try:  # the same rules as every job: metcnv installed beside snakemake (README)
    from metcnv import preflight
    from metcnv.errors import MetcnvError
    from metcnv.gc import fasta_lengths
    from metcnv.genome import detect_build, normalize_build
    from metcnv.inputs import find_index, index_candidates
except ImportError as error:
    raise WorkflowError(
        f"the workflow checks its inputs with metcnv, which Snakemake cannot import "
        f"({error}); install both together: pip install 'metcnv[workflow]'"
    )

validate(config, "../schemas/config.schema.yaml")

SCHEMA_DIR = Path(workflow.basedir) / "workflow" / "schemas"
SHEET_SCHEMA = yaml.safe_load((SCHEMA_DIR / "samples.schema.yaml").read_text())
# A sample ID as the sheet schema defines it, unanchored: the {sample} wildcard's
# constraint (an alternation of every ID would cost time quadratic in the sheet's rows)
SAMPLE_ID = (
    SHEET_SCHEMA["properties"]["sample"]["pattern"].removeprefix("^").removesuffix("$")
)
SHEET_COLUMNS = [
    "sample",
    "bam",
    "sample_type",
    "purity",
    "ploidy",
    "patient",
    "collection_date",
    "site",
    "mutations",
]
NUMERIC_COLUMNS = ["purity", "ploidy"]
EXTRA_CELLS = "extra_cells"  # a row with more cells than the header has columns
TEMPLATE_SHEET = "config/samples.tsv"  # the shipped sheet: placeholders until filled in
BUILD_PON = config["pon"] == "build"
PON = "results/pon/panel.pon" if BUILD_PON else config["pon"]
# a sites VCF, or None; with one, coverage also counts alleles at its SNPs
SNPS = config["coverage"]["snps"]
COVERAGE = "results/coverage/{sample}.coverage.tsv.gz"
ALLELES = "results/coverage/{sample}.alleles.tsv.gz"  # metcnv.coverage.alleles_path


def _number(value):
    """A numeric cell as a float; a cell that is not a number stays text (the schema says why)."""
    try:
        return float(value)
    except ValueError:
        return value


def read_sheet(path):
    """The sample sheet with every column as text, empty cells as None, numbers as float.

    Blank lines are skipped; the `line` column keeps each row's line number in the file
    for error messages.
    """
    if not Path(path).is_file():
        raise WorkflowError(
            f"sample sheet {path} not found; set `samples:` in the config file "
            "(columns: see config/README.md)"
        )
    numbered = [
        (number, line.rstrip("\r\n"))
        for number, line in enumerate(Path(path).read_text().splitlines(), start=1)
        if line.strip()
    ]
    if not numbered:
        raise WorkflowError(
            f"sample sheet {path} is empty; it needs a header line and rows"
        )
    header = [column.strip() for column in numbered[0][1].split("\t")]
    rows = []
    for number, line in numbered[1:]:
        cells = [cell.strip() for cell in line.split("\t")]
        cells += [""] * (len(header) - len(cells))
        row = dict(zip(header, cells))
        if len(cells) > len(header):
            row[EXTRA_CELLS] = len(cells) - len(header)
        rows.append({"line": number, **row})
    sheet = pd.DataFrame(rows, columns=["line", *header, EXTRA_CELLS], dtype=object)
    sheet = sheet.where(sheet != "", None)
    for column in NUMERIC_COLUMNS:
        if column in sheet:
            numbers = [None if v is None else _number(v) for v in sheet[column]]
            sheet[column] = pd.Series(
                numbers, index=sheet.index, dtype=object
            )  # None: empty
    return sheet


def _index_candidates(path):
    """Index files samtools would use for a BAM (.bai/.csi) or CRAM (.crai)."""
    return [str(p) for p in index_candidates(path)]


def alignment_index(path):
    """The existing index of a BAM/CRAM, or None."""
    found = find_index(path)
    return None if found is None else str(found)


def _describe(error):
    """One readable phrase for a JSON Schema error in one sheet row."""
    if error.validator == "required":
        column = error.message.split("'")[1]
        return f"{column}: empty, but every row needs it"
    column = ".".join(str(p) for p in error.absolute_path)
    value = error.instance
    shown = f"{value:g}" if isinstance(value, float) else repr(value)
    requirement = error.schema.get("description")
    return (
        f"{column} {shown}: must be {requirement}"
        if requirement
        else f"{column}: {error.message}"
    )


def sheet_problems(sheet):
    """Every problem of the sheet, each as 'line N (sample X): what is wrong'."""
    validator = Draft202012Validator(SHEET_SCHEMA)
    problems = []
    missing_columns = [c for c in SHEET_SCHEMA["required"] if c not in sheet.columns]
    if missing_columns:
        return [
            f"header: missing column(s) {', '.join(missing_columns)}; "
            f"the sheet needs {', '.join(SHEET_SCHEMA['required'])} (tab-separated)"
        ]
    first_line, builds = {}, {}
    for record in sheet.to_dict("records"):
        line, extra = record.pop("line"), record.pop(EXTRA_CELLS)
        record = {
            k: v for k, v in record.items() if v is not None
        }  # "nan" stays, refused
        where = f"line {line} (sample {record.get('sample', '?')!r})"
        errors = list(validator.iter_errors(record))
        found = [_describe(e) for e in errors]
        told = {str(e.absolute_path[0]) for e in errors if e.absolute_path}  # said once
        found += [p for p in preflight.row_problems(record) if p.split()[0] not in told]
        if extra and not pd.isna(extra):
            found.append(
                f"{extra} more cell(s) than the header has columns; check the tabs"
            )
        sample = record.get("sample")
        if sample is not None:
            if sample in first_line:
                found.append(
                    f"sample ID {sample!r} is already used on line {first_line[sample]}; "
                    "sample IDs must be unique"
                )
            else:
                first_line[sample] = line
        bam = record.get("bam")
        if isinstance(bam, str) and re.search(r"\.(bam|cram)$", bam):
            if not Path(bam).is_file():
                found.append(f"bam {bam!r}: does not exist (relative to {Path.cwd()})")
            elif bam.endswith(".cram") and not config["reference"]:
                found.append(
                    f"bam {bam!r}: a CRAM needs the reference FASTA; "
                    "set `reference:` in the config"
                )
            else:
                build, header = preflight.alignment_problems(bam, config["reference"])
                found += header
                if build is not None:
                    builds[line] = (where, bam, build)
                if not header and alignment_index(bam) is None:
                    found.append(
                        f"bam {bam!r}: no index ({' or '.join(_index_candidates(bam))}); "
                        f"make one with: samtools index {bam}"
                    )
        found += mutations_problems(record)
        problems.extend(f"{where}: {text}" for text in found)
    problems += build_mismatches(builds)
    if BUILD_PON and "sample_type" in sheet:
        normals = int((sheet["sample_type"] == "normal").sum())
        if normals < 2:
            problems.append(
                f"pon: build needs at least 2 rows with sample_type normal; found {normals}. "
                "Add normals or set `pon:` in the config to a ready panel of normals"
            )
    return problems


def config_problems():
    """Files named in the config that do not exist, or settings that do not fit together."""
    problems = preflight.config_problems(config)
    files = {"targets": config["targets"], "reference": config["reference"]}
    files["coverage.access"] = config["coverage"]["access"]
    files["coverage.snps"] = SNPS
    if not BUILD_PON:
        files["pon"] = config["pon"]
    for key, path in files.items():
        if path and not Path(path).is_file():
            problems.append(f"config {key}: {path} does not exist")
    if BUILD_PON and not config["reference"]:
        problems.append(
            "config reference: building a panel of normals (pon: build) needs the "
            "reference FASTA for GC content; set `reference:` or give a ready `pon:`"
        )
    reference = config["reference"]
    if (
        reference
        and Path(reference).is_file()
        and not Path(f"{reference}.fai").is_file()
    ):
        problems.append(
            f"config reference: {reference} has no index ({reference}.fai); "
            f"make one with: samtools faidx {reference}"
        )
    if SNPS and Path(SNPS).is_file() and sites_index() is None:
        problems.append(
            f"config coverage.snps: {SNPS} has no index ({SNPS}.tbi or {SNPS}.csi); "
            f"make one with: tabix -p vcf {SNPS}"
        )
    return problems


def mutations_problems(record):
    """What is wrong with a row's somatic mutations VCF (its pattern is the schema's)."""
    vcf = record.get("mutations")
    if not isinstance(vcf, str) or not vcf.endswith(".vcf.gz"):
        return []
    if record.get("sample_type") == "normal":
        return [f"mutations {vcf!r}: a normal has no somatic mutations; leave it empty"]
    if not Path(vcf).is_file():
        return [f"mutations {vcf!r}: does not exist (relative to {Path.cwd()})"]
    if vcf_index(vcf) is None:
        return [
            f"mutations {vcf!r}: no index ({vcf}.tbi or {vcf}.csi); make one with: tabix -p vcf {vcf}"
        ]
    return []


def vcf_index(vcf):
    """The existing tabix index of a VCF, or None."""
    for candidate in (f"{vcf}.tbi", f"{vcf}.csi"):
        if Path(candidate).is_file():
            return candidate
    return None


def sites_index():
    """The existing tabix index of the sites VCF, or None."""
    return vcf_index(SNPS)


@cache
def expected_build():
    """The genome build every BAM/CRAM must have, and what says so: the reference FASTA,
    or a ready panel of normals; None when neither can tell (then the BAMs must agree).
    """
    reference = config["reference"]
    try:
        if reference and Path(reference).is_file():
            return reference, detect_build(fasta_lengths(reference), reference)
        if not BUILD_PON and Path(config["pon"]).is_file():
            from metcnv.pon import (
                PanelOfNormals,
            )  # only for a ready PoN (imports scipy)

            return config["pon"], PanelOfNormals.load(config["pon"]).build
    except MetcnvError as error:
        raise WorkflowError(f"config: {error}")
    return None


def build_problems():
    """A `genome_build` other than auto must be the build of the reference FASTA (or of the
    ready PoN). metcnv itself detects each BAM/CRAM's build from its header and refuses a
    sample whose build differs from the PoN's; this catches a wrong reference up front.
    """
    wanted = config["genome_build"]
    try:
        found = expected_build()
    except WorkflowError as error:
        return [f"config genome_build: {error}"]
    if wanted == "auto" or found is None:
        return []
    if normalize_build(wanted) != found[1]:
        return [f"config genome_build: {wanted}, but {found[0]} is {found[1]}"]
    return []


def build_mismatches(builds):
    """Rows whose BAM/CRAM is of another genome build than the reference (or ready PoN),
    or, without either, than most of the sheet's. `builds`: line -> (where, bam, build).
    """
    try:
        source, expected = expected_build() or ("most rows", None)
    except WorkflowError:
        return []  # reported by build_problems
    if expected is None and builds:
        counts = pd.Series([b for _, _, b in builds.values()]).value_counts()
        expected = counts.index[0]
    return [
        f"{where}: bam {bam!r} is aligned to {build}, but {source} is {expected}; "
        "use one genome build (and its reference) for the whole sheet"
        for where, bam, build in builds.values()
        if build != expected
    ]


def load_samples():
    path = config["samples"]
    sheet = read_sheet(path)
    problems = config_problems() + build_problems() + sheet_problems(sheet)
    if problems:
        hint = (
            "\n(config/config.yaml and config/samples.tsv are templates to fill in; "
            "`snakemake --cores 2 --configfile config/example.yaml` runs the bundled example)"
            if path == TEMPLATE_SHEET
            else ""
        )
        raise WorkflowError(
            f"{len(problems)} problem(s) in the sample sheet {path} or the config; "
            "fix them all and run again:\n"
            + "\n".join(f"  {p}" for p in problems)
            + hint
        )
    sheet = sheet.drop(columns=[EXTRA_CELLS])
    validate(sheet, "../schemas/samples.schema.yaml")
    for column in SHEET_COLUMNS:
        if column not in sheet:
            sheet[column] = None
    return sheet.set_index("sample", drop=False)


SAMPLES = load_samples()
NORMALS = SAMPLES.index[SAMPLES["sample_type"] == "normal"].tolist()
# Normals that build the panel of normals are not called against it (they would look
# flatter than they are); with a ready panel of normals every row is called.
CALLED = SAMPLES.index[(SAMPLES["sample_type"] != "normal") | (not BUILD_PON)].tolist()
# Each sample's row as a dict, for the input functions of its jobs: made at once, as a
# pandas row lookup per job costs more than the rest of such a function
ROWS = SAMPLES.to_dict("index")


wildcard_constraints:
    sample=SAMPLE_ID,


# --- command-line arguments built from the config (recorded as params: a change re-runs) ---
def _join(args):
    return shlex.join(str(a) for a in args)


def _bin_args():
    """Binning options shared by `metcnv coverage --targets` and `metcnv pon build`."""
    options = config["coverage"]
    args = [
        "--targets",
        config["targets"],
        "--target-bin-size",
        options["target_bin_size"],
        "--offtarget-bin-size",
        options["offtarget_bin_size"],
    ]
    if not options["offtarget"]:
        args.append("--no-offtarget")
    if options["access"]:
        args += ["--access", options["access"]]
    return args


def get_coverage_args(wildcards):
    """`metcnv coverage` options: bins from the panel BED, or from a ready panel of normals."""
    row = ROWS[wildcards.sample]
    args = ["--sample", wildcards.sample]
    args += _bin_args() if BUILD_PON else ["--pon", PON]
    args += ["--min-mapq", config["coverage"]["min_mapq"]]
    if SNPS:
        args += ["--snps", SNPS, "--min-baseq", config["coverage"]["min_baseq"]]
    if pd.notna(row["mutations"]):
        # its counts go beside the coverage, named in its header with their MD5, and
        # `metcnv call` reads them with it (an output per sample cannot be declared)
        args += ["--mutations", row["mutations"]]
    if row["bam"].endswith(".cram"):
        args += ["--reference", config["reference"]]
    return _join(args)


def get_pon_args():
    return _join(
        _bin_args()
        + ["--fasta", config["reference"], "--min-mapq", config["coverage"]["min_mapq"]]
    )


def get_call_args(wildcards):
    """`metcnv call` options: this sample's type, purity and ploidy, and every threshold."""
    row = ROWS[wildcards.sample]
    thresholds = config["call"]
    ploidy = row["ploidy"] if pd.notna(row["ploidy"]) else thresholds["ploidy"]
    args = ["--sample", wildcards.sample, "--sample-type", row["sample_type"]]
    if pd.notna(row["purity"]):  # an empty cell: estimated from the reads
        args += ["--purity", row["purity"]]
    args += ["--ploidy", ploidy]
    # an inconclusive or QC-failed call is a result for the report and summary, not a
    # failed job (the exit code of `metcnv call` would stop the workflow)
    args.append("--exit-zero")
    # every metcnv.model.CallSettings field (tests/test_model.py ties them)
    for key, value in thresholds.items():
        if key != "ploidy":  # a list (chip_genes) as one comma-separated value
            value = ",".join(value) if isinstance(value, list) else value
            args += [f"--{key.replace('_', '-')}", value]
    return _join(args)


def get_report_args():
    return "--pdf" if config["report"]["pdf"] else ""


def get_report_pdf_output():
    """The report's PDF, an output only when the config asks for it."""
    if config["report"]["pdf"]:
        return {"pdf": "results/reports/{sample}/{sample}.report.pdf"}
    return {}


# --- inputs and outputs ----------------------------------------------------------------
def get_coverage_output():
    """A sample's coverage file, and with `coverage.snps` its allele table beside it."""
    return {"coverage": COVERAGE, **({"alleles": ALLELES} if SNPS else {})}


def get_coverage_input(wildcards):
    """The BAM/CRAM, its index, the files its bins (and CRAM decoding) come from, and the
    sites VCF with its index."""
    bam = ROWS[wildcards.sample]["bam"]
    inputs = {"bam": bam, "index": alignment_index(bam)}
    if BUILD_PON:
        inputs["targets"] = config["targets"]
        if config["coverage"]["access"]:
            inputs["access"] = config["coverage"]["access"]
    else:
        inputs["pon"] = PON
    if bam.endswith(".cram"):
        inputs["reference"] = config["reference"]
    if SNPS:
        inputs |= {"snps": SNPS, "snps_index": sites_index()}
    mutations = ROWS[wildcards.sample]["mutations"]
    if pd.notna(mutations):
        inputs |= {"mutations": mutations, "mutations_index": vcf_index(mutations)}
    return inputs


def get_call_input(wildcards):
    """The sample's coverage (with its allele table, which `metcnv call` reads with it)."""
    return {**get_coverage_output(), "pon": PON}


def get_pon_input(wildcards):
    inputs = {
        "coverage": expand(COVERAGE, sample=NORMALS),
        "targets": config["targets"],
        "reference": config["reference"],
    }
    if SNPS:
        inputs["alleles"] = expand(ALLELES, sample=NORMALS)
    if config["coverage"]["access"]:
        inputs["access"] = config["coverage"]["access"]
    return inputs


def get_summary_input(wildcards):
    return {
        "json": expand("results/calls/{sample}/{sample}.metcnv.json", sample=CALLED),
        "sheet": config["samples"],
    }


def get_final_outputs():
    per_sample = [
        "results/calls/{sample}/{sample}.metcnv.json",
        "results/reports/{sample}/{sample}.report.html",
        *get_report_pdf_output().values(),
    ]
    outputs = expand(per_sample, sample=CALLED)
    if CALLED:
        outputs.append("results/summary/summary.tsv")
    return outputs
