"""The bundled example through a real one-node SLURM with `--profile profiles/slurm`.

The `slurm_cluster` fixture runs tests/slurm/start-slurm.sh, which installs (if needed) and
starts munge, MariaDB, slurmdbd, slurmctld and slurmd on this machine; it is idempotent and
takes about a second when SLURM already runs. It needs root and apt-get: on a machine
without them the test fails and says so (it is never skipped).
"""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import EXAMPLE_CONFIG, REPO, make_workdir, snakemake
from test_workflow import assert_same_results, called_samples, sheet

pytestmark = pytest.mark.slurm

START = REPO / "tests" / "slurm" / "start-slurm.sh"
# Every SLURM job of the example: coverage of 13 BAMs, the PoN, call and report of each of
# the 7 non-normal samples together (profiles/slurm groups them as `sample`; the plugin
# names such a job after the group and its rules) and the summary.
EXPECTED_JOBS = {"coverage": 13, "pon": 1, "sample_call_report": 7, "summary": 1}


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    try:
        done = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{START} did not finish in 600 s:\n{error.stdout}\n{error.stderr}")
    if done.returncode != 0:
        pytest.fail(
            f"could not start the local SLURM these tests need ({START}, exit "
            f"{done.returncode}); it needs root on Debian/Ubuntu with apt-get:\n"
            f"{done.stdout}{done.stderr}"
        )


def sacct_jobs(run_id: str) -> list[dict[str, str]]:
    """The SLURM accounting records of the jobs of one snakemake run (job name = run ID)."""
    done = subprocess.run(
        ["sacct", "-X", "-n", "-P", "--name", run_id, "--starttime", "now-1days",
         "--format", "JobID,JobName,State,ExitCode,Comment"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    keys = ("id", "name", "state", "exit", "comment")
    return [dict(zip(keys, line.split("|", 4), strict=True)) for line in done.stdout.splitlines()]


def test_example_on_slurm_equals_the_local_run(slurm_cluster, example_run, tmp_path):
    workdir = make_workdir(tmp_path / "slurm")
    run = snakemake(
        workdir,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--configfile",
        EXAMPLE_CONFIG,
        # a quick first status check for a small test (the plugin's default waits 40 s)
        "--slurm-init-seconds-before-status-checks",
        "2",
        timeout=900,
    )
    print(f"\nSLURM example run: {run.seconds:.1f} s")
    run_id = re.search(r"SLURM run ID: (\S+)", run.output)
    assert run_id, run.output

    jobs = sacct_jobs(run_id.group(1))
    assert jobs, f"sacct knows no job named {run_id.group(1)}"
    assert {job["state"] for job in jobs} == {"COMPLETED"}, jobs
    per_rule: dict[str, int] = {}
    for job in jobs:
        rule = re.sub(r"^rule_|_wildcards_.*$", "", job["comment"])
        per_rule[rule] = per_rule.get(rule, 0) + 1
    assert per_rule == EXPECTED_JOBS, jobs

    for sample in sheet()["sample"]:
        name = f"results/coverage/{sample}.coverage.tsv.gz"
        assert (example_run / name).read_bytes() == (workdir / name).read_bytes(), name
    for sample in called_samples():
        assert_same_results(
            example_run / f"results/calls/{sample}", workdir / f"results/calls/{sample}", sample
        )
    assert (workdir / "results/summary/summary.tsv").read_text() == (
        example_run / "results/summary/summary.tsv"
    ).read_text()
