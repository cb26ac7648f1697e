"""The Python API: the README's example runs, and gives what the CLI gives."""

from __future__ import annotations

import re
from pathlib import Path

from metcnv import api
from metcnv.cli import main
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
