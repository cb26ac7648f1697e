"""The Snakemake workflow end to end on the bundled example (config/example.yaml)."""

from __future__ import annotations

import gzip
import json
import math
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import (
    BIN,
    DATA,
    EXAMPLE_CONFIG,
    REPO,
    exit_code,
    make_workdir,
    read_truth,
    snakemake,
    tool_env,
)

pytestmark = pytest.mark.workflow

# What `metcnv run` records differently from the workflow's `metcnv call`: the coverage
# file it reads (its own, written beside the results). Every other field, and every
# number, must be equal.
STANDALONE_DIFFERS = {"inputs.coverage"}


def sheet() -> pd.DataFrame:
    return pd.read_csv(REPO / "config" / "example_samples.tsv", sep="\t", dtype=str)


def called_samples() -> list[str]:
    table = sheet()
    return table.loc[table["sample_type"] != "normal", "sample"].tolist()


def result(workdir: Path, sample: str) -> dict:
    return json.loads((workdir / f"results/calls/{sample}/{sample}.metcnv.json").read_text())


def job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from snakemake's 'Job stats' table (empty when nothing is to be done)."""
    counts = {}
    table = output.split("Job stats:", 1)
    if len(table) == 2:
        for line in table[1].splitlines()[3:]:
            cells = line.split()
            if len(cells) != 2 or cells[0] == "total":
                break
            counts[cells[0]] = int(cells[1])
    return counts


def assert_same(a, b, ignore: set[str] = frozenset(), where: str = "") -> None:
    """Equal JSON documents, except at the dotted paths in `ignore`."""
    if where.lstrip(".") in ignore:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ: {set(a) ^ set(b)}"
        for key in a:
            assert_same(a[key], b[key], ignore, f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, ignore, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        assert math.isnan(b), f"{where}: nan vs {b}"
    else:
        assert a == b, f"{where or 'document'}: {a!r} != {b!r}"


def assert_same_results(left: Path, right: Path, sample: str, ignore=frozenset()) -> None:
    """The call's JSON and its three tables are the same in two result folders."""
    assert_same(
        json.loads((left / f"{sample}.metcnv.json").read_text()),
        json.loads((right / f"{sample}.metcnv.json").read_text()),
        ignore,
    )
    for suffix in (".bins.tsv.gz", ".segments.tsv", ".genes.tsv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(left / f"{sample}{suffix}", sep="\t"),
            pd.read_csv(right / f"{sample}{suffix}", sep="\t"),
            check_exact=True,
            obj=f"{sample}{suffix}",
        )


# --- the example ------------------------------------------------------------------------------
def test_example_gives_the_expected_calls(example_run):
    for row in read_truth():
        if row["sample_type"] == "normal":
            continue
        met = result(example_run, row["sample"])["met"]
        if row["expected_status"] != "any":
            assert met["status"] == row["expected_status"], (row["sample"], met["status_reason"])
        if row["expected_over_10"] != "any":
            assert met["over_10_copies"] == (row["expected_over_10"] == "true"), row["sample"]


def test_example_writes_every_output(example_run):
    results = example_run / "results"
    for sample in called_samples():
        for name in (
            f"calls/{sample}/{sample}.bins.tsv.gz",
            f"calls/{sample}/{sample}.segments.tsv",
            f"calls/{sample}/{sample}.genes.tsv",
            f"reports/{sample}/{sample}.report.html",
            f"reports/{sample}/{sample}.cnv.vcf.gz",
            f"reports/{sample}/{sample}.cnv.vcf.gz.tbi",
            f"reports/{sample}/{sample}.seg",
            f"reports/{sample}/{sample}_mqc.tsv",
            f"reports/{sample}/{sample}_met_cn_mqc.tsv",
            f"reports/{sample}/{sample}.cnr",
            f"reports/{sample}/{sample}.cns",
        ):
            assert (results / name).stat().st_size > 0, name
        assert (example_run / f"logs/call/{sample}.log").is_file()
        assert (example_run / f"logs/call/{sample}.benchmark.tsv").is_file()
    summary = pd.read_csv(results / "summary/summary.tsv", sep="\t")
    assert sorted(summary["sample"]) == sorted(called_samples())
    for name in ("summary.html", "cohort.seg", "patients/P001.html"):
        assert (results / "summary" / name).stat().st_size > 0, name
    with gzip.open(results / "coverage/normal1.coverage.tsv.gz", "rt") as handle:
        assert handle.readline()


def test_snakemake_report_bundles_sample_reports_and_summary(example_run, tmp_path):
    """`snakemake --report` collects the files marked with report(): every sample's HTML
    report and the cohort summary page, as written (Snakemake files them by content hash)."""
    bundle = tmp_path / "report.zip"
    snakemake(example_run, "--configfile", EXAMPLE_CONFIG, "--report", str(bundle))
    results = example_run / "results"
    expected = {
        f"{s}.report.html": results / f"reports/{s}/{s}.report.html" for s in called_samples()
    }
    expected["summary.html"] = results / "summary/summary.html"
    with zipfile.ZipFile(bundle) as archive:
        bundled = {Path(n).name: n for n in archive.namelist() if "/data/raw/" in n}
        assert set(bundled) == set(expected), sorted(bundled)
        for name, path in expected.items():
            assert archive.read(bundled[name]) == path.read_bytes(), name


def test_rerun_has_nothing_to_do(example_run):
    run = snakemake(example_run, "-n", "--configfile", EXAMPLE_CONFIG)
    assert "Nothing to be done" in run.output, run.output
    assert job_counts(run.output) == {}


@pytest.mark.parametrize("sample", called_samples())
def test_numbers_equal_a_standalone_metcnv_run(example_run, tmp_path, sample):
    """`metcnv run` on the sample alone, with the workflow's PoN, gives the same numbers."""
    row = sheet().set_index("sample").loc[sample]
    config = yaml.safe_load((REPO / EXAMPLE_CONFIG).read_text())
    out = tmp_path / sample
    command = [
        str(BIN / "metcnv"), "run", row["bam"],
        "--pon", "results/pon/panel.pon",
        "--out", str(out),
        "--sample", sample,
        "--sample-type", row["sample_type"],
        "--ploidy", row["ploidy"] if pd.notna(row["ploidy"]) else str(config["call"]["ploidy"]),
        "--min-mapq", str(config["coverage"]["min_mapq"]),
        "--snps", config["coverage"]["snps"],
    ]  # fmt: skip
    if pd.notna(row["purity"]):  # else estimated from the reads, as the workflow does
        command += ["--purity", row["purity"]]
    if pd.notna(row["mutations"]):
        command += ["--mutations", row["mutations"]]
    done = subprocess.run(
        command, cwd=example_run, env=tool_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == exit_code(out / f"{sample}.metcnv.json"), done.stderr
    standalone = json.loads((out / f"{sample}.metcnv.json").read_text())
    assert standalone["met"]["status"] in done.stdout
    assert_same_results(example_run / f"results/calls/{sample}", out, sample, STANDALONE_DIFFERS)


def test_changing_a_threshold_reruns_call_but_not_coverage(example_run, tmp_path):
    workdir = tmp_path / "changed"
    shutil.copytree(example_run, workdir, symlinks=True)
    config = yaml.safe_load((REPO / EXAMPLE_CONFIG).read_text())
    config["call"]["high_level_cn"] = 12
    (workdir / "changed.yaml").write_text(yaml.safe_dump(config))

    dry = snakemake(workdir, "-n", "--configfile", "changed.yaml")
    n = len(called_samples())
    assert job_counts(dry.output) == {"call": n, "report": n, "summary": 1, "all": 1}, dry.output
    assert "Params have changed since last execution" in dry.output

    # re-run one sample's call for real: its coverage and the PoN stay as they are
    target = "results/calls/tumor_focal/tumor_focal.metcnv.json"
    inputs = [workdir / "results/coverage/tumor_focal.coverage.tsv.gz"]
    inputs.append(workdir / "results/pon/panel.pon")
    before = {path: path.stat().st_mtime_ns for path in inputs}
    run = snakemake(workdir, target, "--cores", "2", "--configfile", "changed.yaml")
    assert job_counts(run.output) == {"call": 1}, run.output
    assert {path: path.stat().st_mtime_ns for path in inputs} == before
    assert result(workdir, "tumor_focal")["settings"]["high_level_cn"] == 12


def test_a_ready_pon_gives_the_same_numbers(example_run, tmp_path):
    """With `pon:` a ready file, coverage takes the PoN's bins, no PoN is built and every
    row (normals too) is called; a sample's numbers equal those of the built-PoN run."""
    workdir = make_workdir(tmp_path)
    shutil.copy(example_run / "results/pon/panel.pon", workdir / "ready.pon")
    options = ["--configfile", EXAMPLE_CONFIG, "--config", "pon=ready.pon"]
    dry = snakemake(workdir, "-n", *options)
    n = len(sheet())
    assert job_counts(dry.output) == {"coverage": n, "call": n, "report": n, "summary": 1, "all": 1}
    assert "--pon ready.pon" in dry.output

    sample = "tumor_focal"
    snakemake(workdir, f"results/calls/{sample}/{sample}.metcnv.json", "--cores", "2", *options)
    assert_same_results(
        example_run / f"results/calls/{sample}",
        workdir / f"results/calls/{sample}",
        sample,
        ignore={"reference.path"},
    )


# --- checks that need no results --------------------------------------------------------------
def test_lint_and_snakefmt_are_clean(tmp_path):
    run = snakemake(make_workdir(tmp_path), "--lint", "--configfile", EXAMPLE_CONFIG)
    assert "Congratulations, your workflow is in a good condition!" in run.output, run.output
    files = [str(REPO / "Snakefile"), str(REPO / "workflow")]
    done = subprocess.run(
        [str(BIN / "snakefmt"), "--check", *files], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_sheet_and_config_are_rejected_with_every_problem_by_line(tmp_path):
    workdir = make_workdir(tmp_path)
    rows = [
        "sample\tbam\tsample_type\tpurity\tploidy\tpatient\tcollection_date\tsite\tmutations",
        "normal1\ttests/data/normal1.bam\tnormal\t\t\t\t\t\t",
        "normal2\ttests/data/normal2.bam\tnormal\t\t\t\t\t\ttests/data/tumor_focal.somatic.vcf.gz",
        "tumor_focal\ttests/data/tumor_focal.bam\ttumor\t0.6\t2\tP001\t2026-01-10\tstomach"
        "\ttests/data/tumor_focal.vcf.gz",
        "tumor_focal\ttests/data/tumor_neutral.bam\ttumor\t0.5\t2\tP003\t2026-02-17\tstomach\t",
        "lost\ttests/data/no_such.bam\ttumor\t0.5\t2\tP004\t2026-02-17\tstomach\t",
        "plasma1\ttests/data/blood_lowpurity.bam\tplasma\t0.1\t2\tP001\t2026-01-12\tplasma\t",
        "pct\ttests/data/effusion_focal.bam\teffusion\t40\t2\tP001\t2026-01-12\tpleura\t",
    ]
    (workdir / "broken.tsv").write_text("\n".join(rows) + "\n")
    run = snakemake(
        workdir,
        "-n",
        "--configfile",
        EXAMPLE_CONFIG,
        "--config",
        "samples=broken.tsv",
        "genome_build=GRCh37",
        check=False,
    )
    assert run.returncode != 0
    assert "7 problem(s) in the sample sheet broken.tsv" in run.output, run.output
    expected = [
        r"config genome_build: GRCh37, but tests/data/ref.fa.gz is hg38",
        r"line 3 \(sample 'normal2'\): mutations 'tests/data/tumor_focal.somatic.vcf.gz': a "
        "normal has no somatic mutations; leave it empty",
        r"line 4 \(sample 'tumor_focal'\): mutations 'tests/data/tumor_focal.vcf.gz': does "
        "not exist",
        r"line 5 \(sample 'tumor_focal'\): sample ID 'tumor_focal' is already used on line 4",
        r"line 6 \(sample 'lost'\): bam 'tests/data/no_such.bam': does not exist",
        r"line 7 \(sample 'plasma1'\): sample_type 'plasma': must be one of tumor",
        r"line 8 \(sample 'pct'\): purity 40: must be a tumor fraction in \(0, 1\]",
    ]
    for pattern in expected:
        assert re.search(pattern, run.output), f"{pattern!r} not in:\n{run.output}"
    assert not (workdir / "results").exists()


def test_the_shipped_template_config_points_to_the_example(tmp_path):
    # A new user's first `snakemake` runs on config/config.yaml, whose paths are placeholders.
    run = snakemake(make_workdir(tmp_path), "-n", "--cores", "1", check=False)
    assert run.returncode != 0
    assert "problem(s) in the sample sheet config/samples.tsv" in run.output, run.output
    assert "--configfile config/example.yaml` runs the bundled example" in run.output


def test_a_1000_sample_sheet_dry_runs(tmp_path):
    """A large cohort: the DAG of 1,000 samples (symlinks to one BAM) builds without error."""
    workdir = make_workdir(tmp_path)
    bams = workdir / "bams"
    bams.mkdir()
    lines = ["sample\tbam\tsample_type\tpurity\tploidy\tpatient\tcollection_date\tsite"]
    for i in range(1000):
        kind = "normal" if i < 20 else ("tumor", "blood", "effusion")[i % 3]
        name = f"S{i:04d}"
        (bams / f"{name}.bam").symlink_to(DATA / "tumor_focal.bam")
        (bams / f"{name}.bam.csi").symlink_to(DATA / "tumor_focal.bam.csi")
        purity = "" if kind == "normal" else "0.3"
        lines.append(f"{name}\tbams/{name}.bam\t{kind}\t{purity}\t\tP{i // 4:03d}\t2026-01-01\tx")
    (workdir / "big.tsv").write_text("\n".join(lines) + "\n")
    began = time.perf_counter()
    run = snakemake(
        workdir,
        "-n",
        "--quiet",
        "rules",
        "--configfile",
        EXAMPLE_CONFIG,
        "--config",
        "samples=big.tsv",
        timeout=600,
    )
    seconds = time.perf_counter() - began
    print(f"\n1,000-sample dry run: {seconds:.1f} s")
    counts = job_counts(run.output)
    assert counts["coverage"] == 1000, run.output
    assert counts["call"] == counts["report"] == 980
    assert counts["pon"] == counts["summary"] == 1


def test_a_sites_vcf_is_an_input_of_coverage_and_its_allele_tables_of_pon_and_call(tmp_path):
    """With `coverage.snps`, coverage counts alleles (and writes them as a declared output,
    which pon and call read); the VCF and its index are inputs, so a new VCF recounts."""
    import pysam

    workdir = make_workdir(tmp_path)
    header = pysam.VariantHeader()
    header.contigs.add("chr7", length=159_345_973)
    with pysam.VariantFile(str(workdir / "sites.vcf"), "w", header=header) as out:
        out.write(out.new_record(contig="chr7", start=116_700_000, alleles=("A", "G")))
    pysam.tabix_index(str(workdir / "sites.vcf"), preset="vcf", force=True)
    config = yaml.safe_load((REPO / EXAMPLE_CONFIG).read_text())
    config["coverage"]["snps"] = "sites.vcf.gz"
    (workdir / "snps.yaml").write_text(yaml.safe_dump(config))
    dry = snakemake(workdir, "-n", "-p", "--configfile", "snps.yaml")
    assert "--snps sites.vcf.gz --min-baseq 20" in dry.output, dry.output
    inputs = re.findall(r"rule (\w+):\n    input: (.*)\n    output: (.*)", dry.output)
    for rule, given, made in inputs:
        if rule == "coverage":
            assert "sites.vcf.gz, sites.vcf.gz.tbi" in given, given
            assert made.endswith(".alleles.tsv.gz"), made
            files = given.split(", ")  # and every case's somatic mutations, with the index
            vcf = [f for f in files if f.endswith(".somatic.vcf.gz")]
            assert ("normal" in given) == (not vcf), given
            assert all(f"{v}.tbi" in files for v in vcf), given
        if rule in ("pon", "call"):
            assert "alleles.tsv.gz" in given, (rule, given)
    assert {rule for rule, _, _ in inputs} >= {"coverage", "pon", "call"}
    (workdir / "sites.vcf.gz.tbi").unlink()
    run = snakemake(workdir, "-n", "--configfile", "snps.yaml", check=False)
    assert run.returncode != 0
    assert "config coverage.snps: sites.vcf.gz has no index" in run.output, run.output


def test_bad_bams_dates_and_numbers_are_refused_before_any_job(tmp_path):
    """What a job would refuse hours later, the dry run refuses at once, all together: a
    text, a truncated, a name-sorted and an hg19 BAM, an impossible date, a ploidy of nan
    and a config threshold of .nan."""
    import pysam

    workdir = make_workdir(tmp_path)
    (workdir / "text.bam").write_text("@HD\tVN:1.6\n")
    cut = (DATA / "tumor_flat.bam").read_bytes()
    (workdir / "cut.bam").write_bytes(cut[: len(cut) // 2])
    header = {"HD": {"VN": "1.6", "SO": "queryname"}, "SQ": [{"SN": "chr7", "LN": 159_345_973}]}
    with pysam.AlignmentFile(str(workdir / "names.bam"), "wb", header=header):
        pass
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr7", "LN": 159_138_663}]}
    with pysam.AlignmentFile(str(workdir / "hg19.bam"), "wb", header=header):
        pass
    for name in ("text", "cut", "names", "hg19"):
        (workdir / f"{name}.bam.csi").write_bytes(b"")  # an index is there (not read here)
    rows = [
        "sample\tbam\tsample_type\tpurity\tploidy\tpatient\tcollection_date\tsite",
        "normal1\ttests/data/normal1.bam\tnormal\t\t\t\t\t",
        "normal2\ttests/data/normal2.bam\tnormal\t\t\t\t\t",
        "a\ttests/data/tumor_focal.bam\ttumor\t0.6\tnan\tP1\t2026-02-30\tstomach",
        "b\ttext.bam\ttumor\t\t\tP1\t2026-01-10\tstomach",
        "c\tcut.bam\ttumor\t\t\tP1\t2026-01-10\tstomach",
        "d\tnames.bam\ttumor\t\t\tP1\t2026-01-10\tstomach",
        "e\thg19.bam\ttumor\t\t\tP1\t2026-01-10\tstomach",
    ]
    (workdir / "bad.tsv").write_text("\n".join(rows) + "\n")
    config = yaml.safe_load((REPO / EXAMPLE_CONFIG).read_text())
    config["samples"], config["call"]["min_z"] = "bad.tsv", float("nan")
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    run = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    assert run.returncode != 0
    expected = [
        r"config call.min_z nan: must be a finite number > 0",
        r"line 4 \(sample 'a'\): ploidy nan: must be a finite number in \(0, 8\]",
        r"line 4 \(sample 'a'\): collection_date '2026-02-30': not a date",
        r"line 5 \(sample 'b'\): text.bam: is text \(SAM or other\), not BAM/CRAM",
        r"line 6 \(sample 'c'\): cut.bam: truncated \(no end-of-file block",
        r"line 7 \(sample 'd'\): names.bam: not coordinate-sorted",
        r"line 8 \(sample 'e'\): bam 'hg19.bam' is aligned to hg19, but tests/data/ref.fa.gz",
    ]
    assert f"{len(expected)} problem(s) in the sample sheet bad.tsv" in run.output, run.output
    for pattern in expected:
        assert re.search(pattern, run.output), f"{pattern!r} not in:\n{run.output}"
    assert not (workdir / "results").exists()


def test_a_jobs_metcnv_error_reaches_the_snakemake_log_as_its_one_line(tmp_path):
    """A BAM whose index belongs to another BAM passes the header checks; its coverage job
    fails, and its one-line error is the job's log and shows in Snakemake's own log."""
    workdir = make_workdir(tmp_path)
    shutil.copy(DATA / "tumor_focal.bam", workdir / "t.bam")
    shutil.copy(DATA / "normal1.bam.csi", workdir / "t.bam.csi")
    rows = [
        "sample\tbam\tsample_type\tpurity\tploidy\tpatient\tcollection_date\tsite",
        "normal1\ttests/data/normal1.bam\tnormal\t\t\t\t\t",
        "normal2\ttests/data/normal2.bam\tnormal\t\t\t\t\t",
        "t\tt.bam\ttumor\t0.6\t2\tP1\t2026-01-10\tstomach",
    ]
    (workdir / "one.tsv").write_text("\n".join(rows) + "\n")
    options = ["--configfile", EXAMPLE_CONFIG, "--config", "samples=one.tsv"]
    target = "results/coverage/t.coverage.tsv.gz"
    run = snakemake(workdir, target, "--cores", "1", *options, check=False)
    assert run.returncode != 0
    log = (workdir / "logs/coverage/t.log").read_text()
    assert log.count("\n") == 1 and log.startswith("metcnv: error: t.bam.csi: does not belong")
    assert log.strip() in run.output
    snakemake_log = next((workdir / ".snakemake/log").glob("*.snakemake.log")).read_text()
    assert log.strip() in snakemake_log
