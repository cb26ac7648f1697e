"""Other tools' files (metcnv.formats), and real public tumors called through them.

The real data are the examples Debian ships (installed by the README's test command):
CNVkit's test profiles (`cnvkit`: hybrid-capture panel p2 as Picard per-target coverage, 3
normals `p2-*_5` as CNVkit's own test Makefile uses them and 8 tumors; a MET-amplified
amplicon-panel tumor as `.cnr`/`.cns`) and PureCN's (`r-bioc-purecn`: a tumor and two
normals as DepthOfCoverage interval summaries, the tumor's SNP allele counts in a VCF, and
small files of every other format).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import exit_code

from metcnv import formats
from metcnv.cli import EXIT_INCONCLUSIVE, main
from metcnv.errors import MetcnvError
from metcnv.report import write_sample_reports

CNVKIT = Path("/usr/share/doc/cnvkit/examples/test")
PICARD = CNVKIT / "picard"
AMPLICON = CNVKIT / "formats"
PURECN = Path("/usr/lib/R/site-library/PureCN/extdata")
P2_NORMALS = ["p2-5_5", "p2-9_5", "p2-20_5"]  # CNVkit's Makefile: picard/p2-*_5 -> reference
P2_TUMORS = ["p2-5_1", "p2-5_2", "p2-9_1", "p2-9_2", "p2-20_1", "p2-20_2", "p2-20_3", "p2-20_4"]
AMPLIFIED = {"high_level_focal_amplification", "focal_amplification"}
PURECN_PURITY = 0.63  # PureCN's best solution on its example tumor (see the test below)


@pytest.fixture(scope="module", autouse=True)
def require_examples() -> None:
    for folder, package in ((PICARD, "cnvkit"), (PURECN, "r-bioc-purecn")):
        if not folder.is_dir():
            pytest.fail(
                f"{folder} is missing; apt-get install {package} (the README's test command does)"
            )


def picard(sample: str) -> list[str]:
    return [str(PICARD / f"{sample}.{kind}coverage.csv") for kind in ("target", "antitarget")]


def run(argv: list[str], capsys) -> tuple[int, str]:
    """The CLI, and its stderr."""
    capsys.readouterr()
    code = main(argv)
    return code, capsys.readouterr().err


def result(folder: Path, sample: str) -> dict:
    return json.loads((folder / f"{sample}.metcnv.json").read_text())


# --- formats, told from content ---------------------------------------------------------
@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Files of the formats no package ships: GATK read counts as TSV (from PureCN's HDF5
    example, as GATK writes it) and mosdepth --by regions (from a p2 normal's depths)."""
    folder = tmp_path_factory.mktemp("formats")
    hdf5 = formats.read_part(PURECN / "example_normal5.hdf5", "GATK CollectReadCounts").table
    tsv = folder / "normal5.counts.tsv"
    header = "@HD\tVN:1.6\n" + "".join(
        f"@SQ\tSN:chr{c}\tLN:{n}\n" for c, n in (("7", 159138663), ("1", 249250621))
    )
    rows = [
        f"{c}\t{s + 1}\t{e}\t{n}\n"
        for c, s, e, n in hdf5[["chrom", "start", "end", "count"]].itertuples(False)
    ]
    tsv.write_text(header + "@RG\tID:x\tSM:normal5\nCONTIG\tSTART\tEND\tCOUNT\n" + "".join(rows))
    bed = folder / "p2-5_5.regions.bed.gz"
    target = pd.read_csv(PICARD / "p2-5_5.targetcoverage.csv", sep="\t")
    target = target[(target.index < 30) | (target["name"] == "MET")]  # MET tells the build
    with gzip.open(bed, "wt") as handle:
        for row in target.itertuples(False):
            handle.write(
                f"{row.chrom}\t{row.start - 1}\t{row.end}\t{row.name}\t{row.mean_coverage:.2f}\n"
            )
    return {"gatk-tsv": tsv, "mosdepth": bed}


FORMAT_OF = {
    PICARD / "p2-5_5.targetcoverage.csv": "Picard per-target coverage",
    PURECN / "example_normal3.cnn": "CNVkit .cnn",
    PURECN / "example_normal4.cnr": "CNVkit .cnr",
    AMPLICON / "amplicon.cns": "CNVkit .cns",
    AMPLICON / "reference-tr.cnn": "CNVkit reference",
    PURECN / "example_normal5.hdf5": "GATK CollectReadCounts",
    PURECN / "example_gatk4_denoised_cr.tsv.gz": "GATK denoised copy ratios",
    PURECN / "example_gatk4_modelfinal.seg.gz": "GATK ModelSegments",
    PURECN / "example_allelic_counts.tsv": "GATK CollectAllelicCounts",
    PURECN / "example_tumor.txt.gz": "GATK DepthOfCoverage",
    PURECN / "example_vcf.vcf.gz": "VCF with allele depths",
}


@pytest.mark.parametrize("path", FORMAT_OF, ids=lambda p: p.name)
def test_format_is_told_from_content(path, tmp_path):
    copy = tmp_path / "renamed.txt"  # the name says nothing
    shutil.copy(path, copy)
    assert formats.detect_format(copy) == FORMAT_OF[path]


def test_made_formats_are_told_and_read(made):
    assert formats.detect_format(made["gatk-tsv"]) == "GATK CollectReadCounts"
    assert formats.detect_format(made["mosdepth"]) == "mosdepth regions"
    tsv = formats.read_samples([made["gatk-tsv"]])[0]
    hdf5 = formats.read_samples([PURECN / "example_normal5.hdf5"])[0]
    assert tsv.sample == "normal5" and tsv.build == hdf5.build == "hg19"
    pd.testing.assert_frame_equal(tsv.bins, hdf5.bins)
    regions = formats.read_samples([made["mosdepth"]])[0]
    assert regions.own_build() == "hg19"


def test_coordinates_become_zero_based():
    """Picard and GATK count from 1 (closed), CNVkit and BED from 0 (half-open)."""
    (first,) = formats.read_samples([PICARD / "p2-5_5.targetcoverage.csv"])
    assert first.bins.iloc[0][["chrom", "start", "end"]].tolist() == ["chr1", 1508981, 1509154]
    gatk = formats.read_samples([PURECN / "example_normal5.hdf5"])[0].bins
    assert gatk.iloc[0][["start", "end"]].tolist() == [3598832, 3599006]
    doc = formats.read_samples([PURECN / "example_tumor.txt.gz"])[0].bins
    assert doc.iloc[0][["start", "end"]].tolist() == [1216041, 1216047]


def test_vcf_alleles_at_known_snps_of_the_named_sample():
    part = formats.read_vcf_alleles(PURECN / "example_vcf.vcf.gz", "LIB-02240e4")
    first = part.table.iloc[0]
    assert (first.chrom, first.pos, first.ref_count, first.alt_count) == ("chr1", 909276, 60, 97)
    assert part.build == "hg19" and len(part.table) > 2000
    with pytest.raises(MetcnvError, match="name the tumor's column with --sample"):
        formats.read_vcf_alleles(PURECN / "example_vcf.vcf.gz", None)


# --- real data: CNVkit's p2 panel (Picard per-target coverage) ----------------------------
@pytest.fixture(scope="module")
def p2(tmp_path_factory) -> dict:
    """The PoN of the 3 real p2 normals, and every real p2 tumor called against it."""
    folder = tmp_path_factory.mktemp("p2")
    pon = folder / "p2.pon"
    normals = [path for sample in P2_NORMALS for path in picard(sample)]
    assert main(["pon", "build", "--out", str(pon), *normals]) == 0
    for sample in P2_TUMORS:
        code = main(["call", *picard(sample), "--pon", str(pon), "--out", str(folder)])
        assert code == exit_code(folder / f"{sample}.metcnv.json")
    return {"pon": pon, "out": folder}


def test_p2_panel_of_normals_from_real_normals(p2):
    from metcnv.pon import PanelOfNormals

    pon = PanelOfNormals.load(p2["pon"])
    assert pon.normals == P2_NORMALS and pon.build == "hg19"
    assert len(pon.bins) == 19209 and pon.settings["gc"] == "Picard per-target coverage %gc"
    assert set(pon.bins["kind"]) == {"target", "offtarget"}
    assert np.isfinite(pon.gc).mean() > 0.99


def test_real_p2_tumors_have_no_false_focal_met_amplification(p2):
    """No p2 tumor is known to be MET-amplified (CNVkit's own .cnr of p2-20_1 and p2-20_2
    put MET's 18 bins at log2 -0.07): none may be called a focal amplification."""
    for sample in P2_TUMORS:
        document = result(p2["out"], sample)
        met = document["met"]
        assert met["status"] not in AMPLIFIED, (sample, met["status_reason"])
        assert met["focal"] is not True, (sample, met["focal_reason"])
        assert document["inputs"]["imported"][0]["format"] == "Picard per-target coverage"
        assert document["inputs"]["steps_done_elsewhere"] == ["read counting (Picard)"]


def test_cnvkit_reads_metcnv_cnr_and_cns(p2, tmp_path):
    """Debian's CNVkit draws and exports metcnv's profile: scatter, diagram, export seg."""
    cnvkit = shutil.which("cnvkit") or shutil.which("cnvkit.py")
    assert cnvkit, "CNVkit is not installed; apt-get install cnvkit"
    write_sample_reports(p2["out"] / "p2-9_2.metcnv.json", tmp_path)
    cnr, cns = tmp_path / "p2-9_2.cnr", tmp_path / "p2-9_2.cns"
    commands = {
        "scatter.png": ["scatter", str(cnr), "-s", str(cns), "-o"],
        "diagram.pdf": ["diagram", str(cnr), "-s", str(cns), "-o"],
        "all.seg": ["export", "seg", str(cns), "-o"],
    }
    for name, args in commands.items():
        done = subprocess.run([cnvkit, *args, str(tmp_path / name)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / name).stat().st_size > 0
    seg = pd.read_csv(tmp_path / "all.seg", sep="\t")
    ours = pd.read_csv(p2["out"] / "p2-9_2.segments.tsv", sep="\t")
    assert len(seg) == len(ours)
    assert seg.iloc[:, -1].to_numpy() == pytest.approx(ours["log2"].to_numpy(), abs=1e-3)


def test_one_command_on_a_real_cnvkit_run(tmp_path):
    """The README's one command for a CNVkit user: a real p2 tumor's .cnr, normalised by
    CNVkit against its reference of the p2 normals, called as it is."""
    assert main(["call", str(AMPLICON / "p2-20_1.cnr"), "--out", str(tmp_path)]) == 0
    document = result(tmp_path, "p2-20_1")
    assert document["met"]["status"] not in AMPLIFIED and document["met"]["n_bins"] >= 18
    assert document["reference"]["normalised_by"] == "CNVkit fix (.cnr)"
    assert document["reference"]["n_normals"] == 0
    assert document["qc"]["met_median_depth"] > 100  # CNVkit's depth column: the reads'
    assert any("metcnv did not count, normalise" in w for w in document["warnings"])
    assert document["inputs"]["steps_done_elsewhere"] == [
        "read counting (CNVkit coverage)",
        "normalisation against normals, GC and capture bias correction (CNVkit fix)",
    ]


def test_gatk_denoised_ratios_and_segments_are_called(tmp_path):
    """GATK's denoised copy ratios with ModelSegments' segments (PureCN's hg38 example, which
    has no MET bins): called, with GATK's steps recorded and its build from the header."""
    files = [
        PURECN / "example_gatk4_denoised_cr.tsv.gz",
        PURECN / "example_gatk4_modelfinal.seg.gz",
    ]
    assert main(["call", *map(str, files), "--out", str(tmp_path)]) == EXIT_INCONCLUSIVE
    document = result(tmp_path, "example_gatk4_denoised_cr")  # its file has no SM
    assert document["build"] == "hg38" and document["met"]["status"] == "inconclusive"
    assert [f["format"] for f in document["inputs"]["imported"]] == [
        "GATK denoised copy ratios",
        "GATK ModelSegments",
    ]
    assert document["inputs"]["steps_done_elsewhere"][-1] == "segmentation (GATK ModelSegments)"


# --- mismatches are refused in one line --------------------------------------------------
def test_a_cnr_is_refused_for_a_panel_of_normals(tmp_path, capsys):
    code, err = run(
        [
            "pon",
            "build",
            "--out",
            str(tmp_path / "x.pon"),
            str(AMPLICON / "p2-20_1.cnr"),
            str(AMPLICON / "p2-20_2.cnr"),
        ],
        capsys,
    )
    assert code == 2 and err.count("\n") == 1
    assert "already normalised" in err and not (tmp_path / "x.pon").exists()


def test_a_cnvkit_reference_is_refused(tmp_path, capsys):
    code, err = run(
        ["pon", "build", "--out", str(tmp_path / "x.pon"), str(AMPLICON / "reference-tr.cnn")],
        capsys,
    )
    assert code == 2 and "a CNVkit reference" in err and err.count("\n") == 1


def test_other_bins_and_other_build_are_refused(p2, tmp_path, capsys):
    """A target file without its antitarget file, another panel's coverage, another
    build's coordinates: each one line, no result written."""
    out = tmp_path / "out"
    code, err = run(
        ["call", picard("p2-9_2")[0], "--pon", str(p2["pon"]), "--out", str(out)], capsys
    )
    assert code == 2 and "without its antitarget file" in err and err.count("\n") == 1
    code, err = run(
        ["call", str(PURECN / "example_tumor.txt.gz"), "--pon", str(p2["pon"]), "--out", str(out)],
        capsys,
    )
    assert code == 2 and "bins differ" in err
    shifted = pd.read_csv(PICARD / "p2-9_2.targetcoverage.csv", sep="\t")
    met = shifted["name"].str.split("|").map(lambda names: "MET" in names)
    shifted.loc[met, ["start", "end"]] += 116672196 - 116312444  # MET where hg38 has it
    hg38 = tmp_path / "p2-9_2.targetcoverage.csv"
    shifted.to_csv(hg38, sep="\t", index=False)
    code, err = run(
        ["call", str(hg38), picard("p2-9_2")[1], "--pon", str(p2["pon"]), "--out", str(out)], capsys
    )
    assert code == 2 and "not on hg19" in err and "MET bins at chr7:116,6" in err
    assert not list(out.iterdir())  # checked to be writable first, then left empty


def test_unknown_files_and_mixed_samples_are_refused(p2, tmp_path, capsys):
    junk = tmp_path / "junk.txt"
    junk.write_text("a\tb\nc\td\n")
    code, err = run(["call", str(junk), "--out", str(tmp_path)], capsys)
    assert code == 2 and "unknown format" in err
    code, err = run(
        [
            "call",
            *picard("p2-9_2")[:1],
            *picard("p2-9_1")[1:],
            "--pon",
            str(p2["pon"]),
            "--out",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 2 and "2 samples" in err
    code, err = run(
        ["call", str(AMPLICON / "amplicon.cnr"), "--pon", str(p2["pon"]), "--out", str(tmp_path)],
        capsys,
    )
    assert code == 2 and "without --pon" in err


# --- real data: CNVkit's MET-amplified amplicon tumor ----------------------------------------
@pytest.mark.parametrize("purity", [None, "0.5"], ids=["no purity", "purity 0.5"])
def test_real_amplicon_tumor_is_a_high_level_focal_amplification(tmp_path, capsys, purity):
    """CNVkit's amplicon-panel tumor (MET log2 about 3.5 over 26 amplicons) from its .cnr and
    .cns: a high-level focal MET amplification on a 0.1 Mb amplicon, with or without a
    purity, since even the lower 95% bound of its sample-average copy number is above 10.

    QC fails on noise: the .cnr was normalised against a flat reference (its weights are bin
    size / 399 bp, CNVkit's weights without normals), so amplicon efficiencies were never
    corrected (MAPD 1.13 > 0.6). The call still stands because MET's standard error holds
    the sample's own noise of a 26-bin mean, measured on every such window off chr7
    (qc.window_noise), and MET is over 10 of those above the normals; the verdict says QC
    failed, and a result without amplification would not have been called."""
    argv = ["call", str(AMPLICON / "amplicon.cnr"), str(AMPLICON / "amplicon.cns")]
    code = main([*argv, "--out", str(tmp_path), *(["--purity", purity] if purity else [])])
    assert code == 0 and "MET called although QC failed" in capsys.readouterr().err
    document = result(tmp_path, "amplicon")
    met = document["met"]
    assert met["status"] == "high_level_focal_amplification" and met["over_10_copies"] is True
    assert met["focal"] is True and met["amplicon"]["size"] < 3_000_000
    assert met["copy_number_ci95"][0] > 10  # even the sample-average lower bound
    assert document["qc"]["status"] == "fail" and document["qc"]["failed"] == ["mapd_target"]
    assert document["qc"]["reasons"][0].startswith("fail: noise (MAPD of target log2 ratios) 1.1")
    noise = float(met["status_reason"].split("-bin mean (")[1].split(" log2")[0])
    assert 0.2 < noise < 0.4 and met["log2_se"] >= noise - 0.005  # the SE's floor (2 decimals)
    assert "QC failed on noise" in document["verdict"]
    assert document["reference"]["normalised_by"] == "CNVkit fix (.cnr)"
    assert document["inputs"]["steps_done_elsewhere"][-1] == "segmentation (CNVkit segment)"


# --- real data: PureCN's example tumor -------------------------------------------------------
def test_purecn_example_tumor_purity_beside_purecn(tmp_path):
    """PureCN's example tumor (DepthOfCoverage summaries, SNP allele counts in a VCF) called
    against a PoN of PureCN's two example normals, its purity estimated from depth and
    allele counts.

    PureCN's own estimate on the same files, PURECN_PURITY, came from one run of Debian's
    PureCN 2.4.0 (R 4.2.2; 5.9 min, so not repeated here) with `Rscript`:
        normalDB <- createNormalDatabase(c(ext("example_normal.txt.gz"),
                                           ext("example_normal2.txt.gz")))
        pool <- calculateTangentNormal(ext("example_tumor.txt.gz"), normalDB)
        ret <- runAbsoluteCN(normal.coverage.file = pool,
            tumor.coverage.file = ext("example_tumor.txt.gz"),
            vcf.file = ext("example_vcf.vcf.gz"), genome = "hg19",
            interval.file = ext("example_intervals.txt"), normalDB = normalDB,
            post.optimize = FALSE, plot.cnv = FALSE)
    (`ext(f)`: system.file("extdata", f, package = "PureCN"); set.seed(123)). PureCN took
    LIB-02240e4 as the tumor and ranked purity 0.63 / ploidy 1.74 first, 0.50 / 3.40 second.

    metcnv (this test, when written): 0.46 (95% interval 0.44-0.47), ploidy 4.9, from 1,902
    SNPs (PureCN used 113, those inside its intervals) and without GC correction (no FASTA,
    and DepthOfCoverage files carry no GC). The two tools disagree: metcnv's interval
    excludes PureCN's first solution, and its ploidy is far from both of PureCN's. The test
    holds the estimate within 0.2 of PureCN's, as close as two such fits are known to be.
    """
    pon = tmp_path / "purecn.pon"
    normals = [str(PURECN / f"example_normal{n}.txt.gz") for n in ("", "2")]
    assert main(["pon", "build", "--out", str(pon), *normals]) == 0
    tumor = [str(PURECN / "example_tumor.txt.gz"), str(PURECN / "example_vcf.vcf.gz")]
    argv = ["call", *tumor, "--pon", str(pon), "--out", str(tmp_path), "--sample", "LIB-02240e4"]
    assert main(argv) == EXIT_INCONCLUSIVE
    document = result(tmp_path, "LIB-02240e4")
    assert document["met"]["status"] == "inconclusive"  # PureCN's example panel has no MET
    fit = document["purity"]["fit"]
    assert fit["n_snps"] > 500
    assert document["purity"]["source"] == "estimated", fit["reason"]
    assert document["purity"]["value"] == pytest.approx(PURECN_PURITY, abs=0.2)
