"""The Python API: the README's example runs, and gives what the CLI gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metcnv import api
from metcnv.cli import main
from metcnv.coverage import read_coverage
from metcnv.errors import MetcnvError
from metcnv.model import Result, Status

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example_runs_and_matches_the_cli(tmp_path, monkeypatch, capsys, example_pon):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[1]
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    (tmp_path / "panel.pon").symlink_to(example_pon)
    monkeypatch.chdir(tmp_path)
    exec(code, {})
    printed = capsys.readouterr().out
    result = Result.from_json((tmp_path / "results/blood_lowpurity.metcnv.json").read_text(), "x")
    assert printed.startswith(result.met.status.headline())
    bam = ROOT / "tests/data/blood_lowpurity.bam"
    snps = ROOT / "tests/data/snps.vcf.gz"
    argv = ["run", bam, "--pon", example_pon, "--out", tmp_path / "cli", "--sample-type", "blood"]
    argv += ["--snps", snps]
    assert main([str(word) for word in argv]) == 0
    cli = tmp_path / "cli/blood_lowpurity.metcnv.json"
    assert result.purity.source == "estimated"
    assert result.met == Result.from_json(cli.read_text(), cli).met


def test_run_without_purity_says_so(tmp_path, example_pon):
    """No purity given and none identifiable (one amplified allele, no other event)."""
    result = api.run(ROOT / "tests/data/tumor_flat.bam", example_pon, tmp_path)
    assert result.purity.source == "none" and result.purity.value is None
    assert "equally well" in result.purity.reason
    assert result.ploidy.source == "default"
    assert result.met.tumor_copy_number is None
    assert result.met.status in Status
    assert (tmp_path / "tumor_flat.metcnv.json").is_file()


def test_met_first_mode_reads_chr7_alone_and_says_what_it_lacks(tmp_path, example_pon):
    """`--region chr7`: only chr7 is counted; the call is made on its bins, says what it
    could not use, estimates no purity, and `metcnv call` on its coverage gives the same."""
    bam = ROOT / "tests/data/tumor_focal.bam"
    argv = ["run", str(bam), "--pon", str(example_pon), "--out", str(tmp_path / "run")]
    assert main([*argv, "--region", "chr7", "--purity", "0.6"]) == 0
    result = Result.from_json((tmp_path / "run/tumor_focal.metcnv.json").read_text(), "x")
    assert result.met.status == Status.HIGH_LEVEL_FOCAL_AMPLIFICATION and result.met.focal
    assert any(w.startswith("MET-first mode (--region chr7)") for w in result.warnings)
    assert [g.gene for g in result.genes if g.chrom != "chr7"] == []
    assert result.purity.fit is None  # no fit from one chromosome
    coverage = read_coverage(tmp_path / "run/tumor_focal.coverage.tsv.gz")
    assert coverage.meta["region"] == "chr7" and set(coverage.bins["chrom"]) == {"chr7"}
    # the whole file is not hashed for a part of it; the result says the MD5 is missing
    assert "source_md5" not in coverage.meta and result.inputs.alignments.md5 is None
    again = tmp_path / "call"
    call = ["call", str(tmp_path / "run/tumor_focal.coverage.tsv.gz"), "--pon", str(example_pon)]
    assert main([*call, "--out", str(again), "--purity", "0.6"]) == 0
    assert Result.from_json((again / "tumor_focal.metcnv.json").read_text(), "y").met == result.met

    unknown = api.run(bam, example_pon, tmp_path / "none", reads=api.ReadSettings(region="7"))
    assert unknown.purity.source == "none" and "MET-first mode" in unknown.purity.reason
    with pytest.raises(MetcnvError, match=r"--region chr5: the panel has no bins there; give"):
        api.run(bam, example_pon, tmp_path / "bad", reads=api.ReadSettings(region="chr5"))
