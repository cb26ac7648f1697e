"""Outlier normals (metcnv.outliers) and the sample's identity: a tumor, a failed library or
a sample swap among the inputs is named, recorded and shown, never silently used."""

from __future__ import annotations

import json

import pytest
from conftest import pon_build
from synthetic import GC, MET, sample

from metcnv import api
from metcnv.cli import EXIT_INPUT, main
from metcnv.errors import MetcnvError
from metcnv.model import CallSettings, Sample
from metcnv.pon import PanelOfNormals, build_pon
from metcnv.report import write_sample_reports

AMPLIFIED = [("chr7", MET[0] - 500_000, MET[1] + 500_000, 20)]


def normals(n: int, first: int = 0) -> list:
    return [sample(f"n{i}", i) for i in range(first, first + n)]


def test_a_tumor_among_the_normals_is_left_out_with_the_reason(tmp_path):
    tumor = sample("t", 40, purity=0.6, events=AMPLIFIED)
    tumor.meta["source"] = "/data/t.bam"
    pon = build_pon([*normals(5), tumor], GC, {"min_mapq": 20})
    assert pon.normals == [f"n{i}" for i in range(5)] and list(pon.excluded) == ["t"]
    reason = pon.excluded["t"]
    assert "a copy-number change against the other normals, chr7:" in reason
    assert "(MET)" in reason and "a tumor among the normals?" in reason
    assert pon.warnings[0] == f"normal 't' was left out of the panel of normals: {reason}"
    pon.save(tmp_path / "p.pon")
    assert PanelOfNormals.load(tmp_path / "p.pon").excluded == pon.excluded
    with pytest.raises(MetcnvError, match=r"/data/t.bam: normal 't' is an outlier .*--strict"):
        build_pon([*normals(5), tumor], GC, {}, strict=True)


def test_a_failed_library_among_the_normals_is_left_out():
    shallow = sample("thin", 41, depth=4.0)  # ~1/150 of the others' reads: noisy
    pon = build_pon([*normals(5), shallow], GC, {})
    assert list(pon.excluded) == ["thin"] and pon.excluded["thin"].startswith("noisy: MAPD")


def test_a_male_normal_among_female_normals_is_no_outlier():
    """One X where the others have two is no copy-number event of a normal."""

    def chr12_as_x(coverage):  # the simulated genome's chr12 plays chrX
        coverage.bins = coverage.bins.assign(chrom=coverage.bins["chrom"].replace("chr12", "chrX"))
        return coverage

    male = sample("m", 40, events=[("chr12", 0, 134_000_000, 1)])
    assert build_pon([chr12_as_x(c) for c in [*normals(5), male]], GC, {}).excluded == {}


def test_a_germline_deletion_is_no_outlier_but_a_tumor_sized_loss_is():
    """A homozygous deletion under 3 Mb (as HLA-DRB in one of CNVkit's real p2 normals; here
    of the simulated panel's one dense gene) is a common germline CNV, not a tumor among the
    normals (the normals' median centre absorbs it); a 10 Mb loss is."""
    small = [("chr7", *MET, 0)]
    assert build_pon([*normals(5), sample("g", 42, events=small)], GC, {}).excluded == {}
    large = [("chr12", 20_000_000, 30_000_000, 1)]
    assert list(build_pon([*normals(5), sample("l", 43, events=large)], GC, {}).excluded) == ["l"]


def test_clean_normals_stay_and_too_few_cannot_be_judged():
    assert build_pon(normals(6), GC, {}).excluded == {}
    pair = build_pon([*normals(1), sample("t", 40, purity=0.6, events=AMPLIFIED)], GC, {})
    assert pair.excluded == {}  # with two, either one's event is the other's
    assert any("with 2 normals, a tumor or a failed library" in w for w in pair.warnings)


def test_normals_that_mostly_disagree_are_refused():
    """Three tumors, each with its own amplicon (MET, MYC, KRAS), and two normals: over
    half would go."""
    others = [("chr8", 126_000_000, 130_000_000, 20)], [("chr12", 24_000_000, 28_000_000, 20)]
    events = [AMPLIFIED, *others]
    tumors = [sample(f"t{i}", 40 + i, purity=0.6, events=e) for i, e in enumerate(events)]
    with pytest.raises(MetcnvError, match=r"3 of 5 normals are outliers against the others"):
        build_pon([*normals(2), *tumors], GC, {})


def test_a_sample_that_is_one_of_the_normals_is_warned_about(tmp_path):
    group = normals(6)
    pon = build_pon(group, GC, {"min_mapq": 20})
    pon.save(tmp_path / "p.pon")
    given = Sample.given("n3", "normal", None, None)
    result = api.call_and_write(
        group[3], None, pon, tmp_path / "p.pon", given, CallSettings(), tmp_path
    )
    assert any("read counts equal those of normal 'n3'" in w for w in result.warnings)
    other = api.call_and_write(
        sample("x", 99), None, pon, tmp_path / "p.pon", given, CallSettings(), tmp_path / "x"
    )
    assert not any("read counts equal" in w for w in other.warnings)


def test_the_issues_focal_tumor_filed_as_a_normal(
    tmp_path, normal_coverages, example_results, capsys
):
    """The issue's case: the bundled focal tumor as the 6th normal. It is left out, every
    result made with the panel says so, and the bundled effusion keeps its high-level
    focal amplification (inconclusive, QC pass, no reason, against the unchecked panel)."""
    tumor = example_results["tumor_focal"] / "tumor_focal.coverage.tsv.gz"
    pon_build(tmp_path / "bad.pon", [*map(str, normal_coverages[:5]), str(tumor)])
    pon = PanelOfNormals.load(tmp_path / "bad.pon")
    assert pon.normals == [f"normal{i}" for i in range(1, 6)]
    assert "(MET) at log2 +2." in pon.excluded["tumor_focal"]
    assert "normal 'tumor_focal' was left out" in capsys.readouterr().err
    effusion = example_results["effusion_focal"] / "effusion_focal.coverage.tsv.gz"
    argv = ["call", str(effusion), "--pon", str(tmp_path / "bad.pon"), "--out", str(tmp_path)]
    assert main(argv) == 0
    result = json.loads((tmp_path / "effusion_focal.metcnv.json").read_text())
    assert result["met"]["status"] == "high_level_focal_amplification"
    assert result["reference"]["excluded"] == pon.excluded
    assert result["warnings"][0].startswith("normal 'tumor_focal' was left out")


def test_a_sample_name_the_reads_contradict_is_a_warning_or_with_strict_an_error(
    tmp_path, example_results, example_pon, capsys
):
    coverage = example_results["tumor_focal"] / "tumor_focal.coverage.tsv.gz"
    argv = ["call", str(coverage), "--pon", str(example_pon), "--out", str(tmp_path)]
    argv += ["--purity", "0.6", "--sample", "P7-tumor"]
    assert main([*argv, "--strict"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "sample name 'P7-tumor' is not the BAM's read-group SM 'tumor_focal'" in error
    assert not (tmp_path / "P7-tumor.metcnv.json").exists()
    assert main(argv) == 0
    warning = "sample name 'P7-tumor' is not the BAM's read-group SM 'tumor_focal'"
    assert warning in capsys.readouterr().err
    result = json.loads((tmp_path / "P7-tumor.metcnv.json").read_text())
    assert result["read_groups_sm"] == ["tumor_focal"]
    assert result["warnings"][0].startswith(warning)
    write_sample_reports(tmp_path / "P7-tumor.metcnv.json")
    report = (tmp_path / "P7-tumor.report.html").read_text()
    assert "(read groups' SM\n<b>tumor_focal</b>)" in report
    assert warning.replace("'", "&#39;") in report
