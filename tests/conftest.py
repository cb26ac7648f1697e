"""Shared fixtures for the end-to-end workflow tests (test_workflow.py, test_slurm.py).

The bundled example (config/example.yaml over tests/data) runs once per session in a
temporary working directory, so the repository is never written to: the directory holds
symlinks to the repository's `config` and `tests`, and the relative paths of the example
config resolve through them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
DATA = REPO / "tests" / "data"
EXAMPLE_CONFIG = "config/example.yaml"
BIN = Path(sys.executable).parent  # the environment running pytest: snakemake and metcnv


def tool_env() -> dict[str, str]:
    """The environment for subprocesses: this Python's scripts first on PATH (rules call
    `metcnv`; SLURM jobs inherit the submitting environment)."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def make_workdir(path: Path) -> Path:
    """A working directory in which the example's relative paths resolve."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("config", "tests"):
        link = path / name
        if not link.exists():
            link.symlink_to(REPO / name, target_is_directory=True)
    return path


@dataclass
class Run:
    args: list[str]
    returncode: int
    output: str  # stdout and stderr together, in order
    seconds: float


def snakemake(workdir: Path, *args: str, timeout: float = 900, check: bool = True) -> Run:
    """Run snakemake on the repository's Snakefile in `workdir`; fail with its output."""
    command = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), *args]
    began = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            env=tool_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{' '.join(command)} did not finish in {timeout} s:\n{error.output}")
    run = Run(command, done.returncode, done.stdout, time.perf_counter() - began)
    if check and run.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({run.returncode}) in {workdir}:\n{run.output}")
    return run


@pytest.fixture(scope="session")
def example_run(tmp_path_factory) -> Path:
    """The bundled example run locally, end to end; returns its working directory."""
    missing = [p.name for p in (DATA / "truth.tsv", DATA / "panel.bed") if not p.is_file()]
    if missing:
        pytest.fail(
            f"bundled test data missing ({', '.join(missing)}): run tests/data/make_test_data.py"
        )
    workdir = make_workdir(tmp_path_factory.mktemp("example"))
    run = snakemake(workdir, "--cores", "2", "--configfile", EXAMPLE_CONFIG)
    print(f"\nlocal example run: {run.seconds:.1f} s")
    return workdir


# --- the bundled data called with the CLI alone (no Snakemake) ---------------------------
TEST_BIN_OPTIONS = ["--offtarget-bin-size", "1000000"]  # as in config/example.yaml


def read_truth() -> list[dict[str, str]]:
    """tests/data/truth.tsv as a list of rows."""
    import csv

    with open(DATA / "truth.tsv") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def pon_build(out: Path, inputs: list[str]) -> None:
    """`metcnv pon build` on the bundled panel and reference."""
    from metcnv.cli import main

    argv = [
        "pon",
        "build",
        "--targets",
        str(DATA / "panel.bed"),
        "--fasta",
        str(DATA / "ref.fa.gz"),
        "--out",
        str(out),
        "--snps",
        str(DATA / "snps.vcf.gz"),
        *TEST_BIN_OPTIONS,
        *inputs,
    ]
    assert main(argv) == 0


@pytest.fixture(scope="session")
def example_pon(tmp_path_factory) -> Path:
    """A panel of normals built by `metcnv pon build` from the bundled normals."""
    path = tmp_path_factory.mktemp("pon") / "panel.pon"
    pon_build(path, sorted(str(p) for p in DATA.glob("normal*.bam")))
    return path


def run_cases(
    out: Path, pon: Path, with_purity: bool, with_mutations: bool = False
) -> dict[str, Path]:
    """`metcnv run --snps` on every bundled case, with its true purity or none, and with
    `with_mutations` its somatic mutations' VCF; sample -> result folder."""
    from metcnv.cli import main

    folders = {}
    for row in read_truth():
        argv = [
            "run",
            str(DATA / row["bam"]),
            "--pon",
            str(pon),
            "--snps",
            str(DATA / "snps.vcf.gz"),
            "--out",
            str(out),
            "--sample",
            row["sample"],
            "--sample-type",
            row["sample_type"],
        ]
        if with_purity:
            argv += ["--purity", row["purity"]]
        if with_mutations:
            argv += ["--mutations", str(DATA / f"{row['sample']}.somatic.vcf.gz")]
        assert main(argv) == exit_code(out / f"{row['sample']}.metcnv.json"), row["sample"]
        folders[row["sample"]] = out
    return folders


@pytest.fixture(scope="session")
def normal_coverages(tmp_path_factory) -> list[Path]:
    """`metcnv coverage --snps` of every bundled normal on the example's bins."""
    from metcnv.cli import main

    folder, paths = tmp_path_factory.mktemp("normals"), []
    for bam in sorted(DATA.glob("normal*.bam")):
        paths.append(folder / f"{bam.stem}.coverage.tsv.gz")
        argv = ["coverage", str(bam), "--targets", str(DATA / "panel.bed"), "--out", str(paths[-1])]
        assert main([*argv, "--snps", str(DATA / "snps.vcf.gz"), *TEST_BIN_OPTIONS]) == 0
    return paths


def exit_code(result: Path) -> int:
    """The exit code `metcnv call`/`run` owes this result (metcnv.cli.EXIT_CODES)."""
    import json

    from metcnv import cli

    document = json.loads(result.read_text())
    if document["met"]["status"] != "inconclusive":
        return cli.EXIT_OK
    return cli.EXIT_QC_FAIL if document["qc"]["status"] == "fail" else cli.EXIT_INCONCLUSIVE


@pytest.fixture(scope="session")
def example_results(tmp_path_factory, example_pon) -> dict[str, Path]:
    """Every bundled case called by `metcnv run` with its true purity."""
    return run_cases(tmp_path_factory.mktemp("results"), example_pon, with_purity=True)


@pytest.fixture(scope="session")
def estimated_results(tmp_path_factory, example_pon) -> dict[str, Path]:
    """Every bundled case called by `metcnv run` without a purity: estimated from its reads."""
    return run_cases(tmp_path_factory.mktemp("estimated"), example_pon, with_purity=False)


@pytest.fixture(scope="session")
def mutation_results(tmp_path_factory, example_pon) -> dict[str, Path]:
    """Every bundled case called by `metcnv run --mutations` without a purity."""
    out = tmp_path_factory.mktemp("mutations")
    return run_cases(out, example_pon, with_purity=False, with_mutations=True)


# --- external programs the report tests drive (installed by the README's test command) ---
def _require(found: bool, what: str, install: str) -> None:
    if not found:
        pytest.fail(f"{what} is not installed; {install} (the README's test command does)")


@pytest.fixture(scope="session")
def require_chromium() -> None:
    from metcnv.chromium import find_chromium

    _require(find_chromium() is not None, "headless Chromium", "apt-get install chromium")


@pytest.fixture(scope="session")
def require_bcftools() -> None:
    import shutil

    _require(shutil.which("bcftools") is not None, "bcftools", "apt-get install bcftools")


@pytest.fixture(scope="session")
def require_multiqc() -> None:
    _require((BIN / "multiqc").exists(), "MultiQC", "pip install -e '.[test]'")
