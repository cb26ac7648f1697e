"""The CLI on the bundled BAMs: the truth is recovered, and bad input fails cleanly."""

import json
import subprocess
import sys

import numpy as np
import pysam
import pytest
from conftest import DATA, TEST_BIN_OPTIONS, pon_build, read_truth

from metcnv.cli import main
from metcnv.coverage import read_coverage
from metcnv.files import md5sum
from metcnv.genome import LENGTHS
from metcnv.pon import PanelOfNormals

TRUTH = {row["sample"]: row for row in read_truth()}


def result(folders, sample):
    return json.loads((folders[sample] / f"{sample}.metcnv.json").read_text())


@pytest.mark.parametrize("sample", sorted(TRUTH))
def test_bundled_truth_is_recovered(example_results, sample):
    truth, document = TRUTH[sample], result(example_results, sample)
    met = document["met"]
    if truth["expected_status"] != "any":
        assert met["status"] == truth["expected_status"], met["status_reason"]
        assert str(met["over_10_copies"]).lower() == truth["expected_over_10"]
    if met["status"] != "inconclusive":
        low, high = met["tumor_copy_number_ci95"]
        expected = float(truth["met_tumor_cn"])
        assert low * 0.85 <= expected <= high * 1.15, (low, expected, high)
    assert document["qc"]["status"] in ("pass", "warn"), document["qc"]["reasons"]


def test_focal_and_polysomy_are_told_apart(example_results):
    focal = result(example_results, "tumor_focal")["met"]
    assert focal["focal"] is True and focal["amplicon"]["size"] < 3_000_000
    assert focal["fish_category"] == "high"
    polysomy = result(example_results, "tumor_polysomy")["met"]
    assert polysomy["focal"] is False and polysomy["status"] == "chr7_gain"
    assert polysomy["chrom_background"]["tumor_copy_number"] == pytest.approx(4, abs=0.8)


def test_result_files_and_json_keys(example_results):
    folder = example_results["tumor_focal"]
    document = result(example_results, "tumor_focal")
    for key in ("sample", "sample_type", "purity", "qc", "verdict", "settings", "software"):
        assert key in document
    for key in (
        "log2",
        "copy_ratio",
        "copy_number",
        "tumor_copy_number",
        "copy_number_ci95",
        "z",
        "focal",
        "segment",
        "chrom_ratio",
        "chrom_background",
        "fish_category",
        "over_10_copies",
        "status",
    ):
        assert key in document["met"], key
    assert document["reference"]["n_normals"] == 6
    assert document["inputs"]["alignments"]["md5"]
    for name in document["outputs"].values():
        assert (folder / name).stat().st_size > 0
    genes = {g["gene"] for g in document["genes"]}
    assert {"MET", "EGFR", "CDK6", "MYC", "KRAS", "ERBB2"} <= genes


def test_call_on_a_coverage_file_reproduces_run(example_results, example_pon, tmp_path):
    folder = example_results["tumor_neutral"]
    argv = [
        "call",
        str(folder / "tumor_neutral.coverage.tsv.gz"),
        "--pon",
        str(example_pon),
        "--out",
        str(tmp_path),
        "--purity",
        TRUTH["tumor_neutral"]["purity"],
    ]
    assert main(argv) == 0
    again = json.loads((tmp_path / "tumor_neutral.metcnv.json").read_text())
    assert again["met"] == result(example_results, "tumor_neutral")["met"]
    kras = next(g for g in again["genes"] if g["gene"] == "KRAS")
    assert kras["tumor_copy_number"] == pytest.approx(8, rel=0.25)


def test_cram_counts_equal_bam_counts(tmp_path, example_pon):
    cram = tmp_path / "tumor_focal.cram"
    pysam.samtools.view(
        "-C",
        "-T",
        str(DATA / "ref.fa.gz"),
        "-o",
        str(cram),
        str(DATA / "tumor_focal.bam"),
        catch_stdout=False,
    )
    pysam.index(str(cram))
    outputs = {}
    runs = (("bam", DATA / "tumor_focal.bam", 1), ("cram", cram, 1), ("cram, 2 threads", cram, 2))
    for name, path, threads in runs:  # 2 threads: contigs in parallel, each its own handle
        outputs[name] = tmp_path / f"{name.replace(', ', '_')}.coverage.tsv.gz"
        argv = [
            "coverage",
            str(path),
            "--pon",
            str(example_pon),
            "--out",
            str(outputs[name]),
            "--reference",
            str(DATA / "ref.fa.gz"),
            "--threads",
            str(threads),
        ]
        assert main(argv) == 0
    bam = read_coverage(outputs["bam"]).bins
    for name in ("cram", "cram, 2 threads"):
        cram_counts = read_coverage(outputs[name]).bins
        np.testing.assert_array_equal(bam["count"], cram_counts["count"])
        np.testing.assert_array_equal(bam["depth"], cram_counts["depth"])


def test_pon_from_coverage_files_equals_pon_from_bams(tmp_path, example_pon, normal_coverages):
    coverages = [str(path) for path in normal_coverages]
    pon_build(tmp_path / "p.pon", coverages)
    a, b = PanelOfNormals.load(example_pon), PanelOfNormals.load(tmp_path / "p.pon")
    np.testing.assert_array_equal(a.centre, b.centre)
    assert a.normals == b.normals
    # the same normals give the same bytes, so the PoN checksum in every result is stable
    assert md5sum(tmp_path / "p.pon") == md5sum(example_pon)


def test_coverage_files_are_byte_reproducible(tmp_path):
    """The same BAM gives the same bytes (no time stamp or temporary name in the gzip
    header), so the coverage checksum recorded in each result is stable across reruns."""
    paths = [tmp_path / "a" / "n.coverage.tsv.gz", tmp_path / "b" / "n.coverage.tsv.gz"]
    for path in paths:
        argv = ["coverage", str(DATA / "normal1.bam"), "--targets", str(DATA / "panel.bed")]
        assert main([*argv, "--out", str(path), *TEST_BIN_OPTIONS]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_flat_reference_says_so(tmp_path):
    argv = [
        "pon",
        "flat",
        "--targets",
        str(DATA / "panel.bed"),
        "--fasta",
        str(DATA / "ref.fa.gz"),
        "--out",
        str(tmp_path / "flat.pon"),
        *TEST_BIN_OPTIONS,
    ]
    assert main(argv) == 0
    argv = [
        "run",
        str(DATA / "tumor_focal.bam"),
        "--pon",
        str(tmp_path / "flat.pon"),
        "--out",
        str(tmp_path),
        "--purity",
        "0.6",
    ]
    assert main(argv) == 0
    document = json.loads((tmp_path / "tumor_focal.metcnv.json").read_text())
    assert document["reference"]["flat"] is True
    assert any("flat reference" in reason for reason in document["qc"]["reasons"])


def hg19_bam(path):
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": c, "LN": LENGTHS["hg19"][c]} for c in ("chr7", "chr8")],
    }
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        read = pysam.AlignedSegment(out.header)
        read.query_name, read.reference_id, read.reference_start = "r", 0, 1000
        read.cigarstring, read.mapping_quality, read.query_sequence = "50M", 60, "A" * 50
        out.write(read)
    pysam.index(str(path))
    return path


def run_cli(*argv):
    return subprocess.run(
        [sys.executable, "-m", "metcnv.cli", *map(str, argv)], capture_output=True, text=True
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "missing.bam: no such file"),
        ("hg19", "hg19.bam: aligned to hg19 but the panel of normals is hg38"),
        ("purity", "--purity 1.5: must be a finite number in (0, 1]"),
        ("pon", "junk.pon: is not a .pon archive (text or other), so not a metcnv panel"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, example_pon, case, message):
    bam, pon, extra = DATA / "tumor_focal.bam", example_pon, []
    if case == "missing":
        bam = tmp_path / "missing.bam"
    elif case == "hg19":
        bam = hg19_bam(tmp_path / "hg19.bam")
    elif case == "purity":
        extra = ["--purity", "1.5"]
    else:
        pon = tmp_path / "junk.pon"
        pon.write_text("junk")
    out = tmp_path / "out"
    done = run_cli("run", bam, "--pon", pon, "--out", out, *extra)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert not out.exists() or not any(out.iterdir())


def test_version_and_help():
    assert run_cli("--version").stdout.startswith("metcnv ")
    help_text = run_cli("--help").stdout
    assert "examples:" in help_text and "metcnv run" in help_text


def test_amplicon_panel_without_offtarget_bins(tmp_path):
    argv = [
        "pon",
        "build",
        "--targets",
        str(DATA / "panel.bed"),
        "--fasta",
        str(DATA / "ref.fa.gz"),
        "--out",
        str(tmp_path / "amp.pon"),
        "--no-offtarget",
        *sorted(str(p) for p in DATA.glob("normal*.bam")),
    ]
    assert main(argv) == 0
    assert set(PanelOfNormals.load(tmp_path / "amp.pon").bins["kind"]) == {"target"}
    argv = [
        "run",
        str(DATA / "tumor_focal.bam"),
        "--pon",
        str(tmp_path / "amp.pon"),
        "--out",
        str(tmp_path),
        "--purity",
        "0.6",
    ]
    assert main(argv) == 0
    met = json.loads((tmp_path / "tumor_focal.metcnv.json").read_text())["met"]
    assert met["status"] == "high_level_focal_amplification", met["status_reason"]


def test_coverage_with_snps_writes_alleles_beside_the_coverage(tmp_path, capsys):
    from test_coverage import SITES, make_snp_bam, make_vcf

    bam, vcf = make_snp_bam(tmp_path / "s.bam"), make_vcf(tmp_path / "sites.vcf.gz", SITES)
    bed = tmp_path / "panel.bed"
    bed.write_text("chr7\t1000\t1200\tMET\n")
    options = ["--targets", str(bed), "--no-offtarget", "--snps", str(vcf), "--min-baseq", "5"]
    out = tmp_path / "s.coverage.tsv.gz"
    assert main(["coverage", str(bam), "--out", str(out), *options]) == 0
    printed = capsys.readouterr().out
    assert "alleles at 2 SNPs (sites skipped: 3 multiallelic, 1 not snv, 3 outside bins)" in printed
    assert f"-> {tmp_path / 's.alleles.tsv.gz'}" in printed
    alleles = read_coverage(out).alleles
    assert list(alleles["pos"]) == [1011, 1101] and list(alleles["alt_count"]) == [5, 0]
    assert main(["coverage", str(bam), "--out", str(tmp_path / "s.tsv"), *options]) == 2
    assert "s.tsv: a coverage file with allele counts must be named" in capsys.readouterr().err
    assert not (tmp_path / "s.tsv").exists()
