"""Outputs: concurrent calls into one folder never mix files, distinct sample names never
share one, a killed run's temporary files go on the next run, unwritable outputs are one
line. Small simulated counts (tests/synthetic.py) keep every call well under a second."""

from __future__ import annotations

import contextlib
import copy
import multiprocessing
import time
from pathlib import Path

import pytest
from synthetic import GC, MET, sample

from metcnv import api, files, results
from metcnv.cli import main
from metcnv.errors import MetcnvError
from metcnv.files import LOCK_NAME, md5sum
from metcnv.model import CallSettings, Result, Sample
from metcnv.pon import PanelOfNormals, build_pon
from metcnv.report import write_sample_reports

RESULT_FILES = ("metcnv.json", "bins.tsv.gz", "segments.tsv", "genes.tsv", "snps.tsv.gz")
AMPLIFIED = [("chr7", MET[0] - 500_000, MET[1] + 500_000, 20)]


@pytest.fixture(scope="module")
def panel(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pon") / "panel.pon"
    build_pon([sample(f"n{i}", i) for i in range(6)], GC, {"min_mapq": 20}).save(path)
    return path


def two_samples() -> dict[str, object]:
    """Two different samples (a focal amplification, a flat tumor) given the same name."""
    return {"amplified": sample("S", 50, purity=0.6, events=AMPLIFIED), "flat": sample("S", 51)}


def call(coverage, panel: Path, out: Path, name: str = "S"):
    """`metcnv call` of a counted sample against the panel of normals at `panel`."""
    given = Sample.given(name, "tumor", 0.6, None)
    pon = PanelOfNormals.load(panel)
    return api.call_and_write(coverage, None, pon, panel, given, CallSettings(), out)


def slow_writes(monkeypatch) -> None:
    """Every result file takes 20 ms longer to write (a slow disk), so that two unlocked
    calls would interleave their files nearly every time."""
    real = files.atomic_write

    @contextlib.contextmanager
    def slow(path, mode="w"):
        with real(path, mode) as handle:
            yield handle
        time.sleep(0.02)

    monkeypatch.setattr(results, "atomic_write", slow)


def _concurrent_caller(which, panel, out, start, done, rounds):
    """One of two processes calling its sample `rounds` times into `out`, with a report
    every third round. The calls' numbers are computed once: only writing them races."""
    coverage = two_samples()[which]
    given = Sample.given("S", "tumor", 0.6, None)
    once = api.call_sample(
        coverage, PanelOfNormals.load(panel), given.purity, given.ploidy, CallSettings()
    )
    api.call_sample = lambda *args, **kwargs: copy.deepcopy(once)  # this process's own module
    for k in range(rounds):
        start.wait()
        call(coverage, panel, out)
        if k % 3 == 2:
            write_sample_reports(out / "S.metcnv.json")
        done.wait()


def test_two_concurrent_calls_into_one_folder_leave_one_complete_set(tmp_path, panel, monkeypatch):
    """The issue's race: two calls of one sample name into one folder, many times; every
    time the folder holds one call's complete set (the tables are the JSON's, and the
    report was made from that JSON), never a mix."""
    expected = {}
    for which, coverage in two_samples().items():
        call(coverage, panel, tmp_path / which)
        expected[which] = {k: md5sum(tmp_path / which / f"S.{k}") for k in RESULT_FILES}
    assert expected["amplified"]["metcnv.json"] != expected["flat"]["metcnv.json"]
    slow_writes(monkeypatch)
    out, rounds = tmp_path / "shared", 6
    fork = multiprocessing.get_context("fork")
    start, done = fork.Barrier(3), fork.Barrier(3)
    workers = [
        fork.Process(target=_concurrent_caller, args=(w, panel, out, start, done, rounds))
        for w in expected
    ]
    for worker in workers:
        worker.start()
    try:
        for k in range(rounds):
            start.wait(timeout=60)
            done.wait(timeout=60)
            found = {key: md5sum(out / f"S.{key}") for key in RESULT_FILES}
            assert found in expected.values(), "a mix of two calls' files"
            if k % 3 == 2:  # the reports (with the MD5 of the JSON they show) of this round's JSON
                report = (out / "S.report.html").read_text()
                assert found["metcnv.json"] in report, "a report of another call's JSON"
    except BaseException:
        start.abort()  # a failed round releases the workers
        done.abort()
        raise
    finally:
        for worker in workers:
            worker.join(timeout=60)
    assert all(worker.exitcode == 0 for worker in workers)
    hidden = {p.name for p in out.iterdir() if p.name.startswith(".")}
    assert hidden == {LOCK_NAME}  # no temporary file left behind


def test_distinct_names_never_share_files(tmp_path, panel):
    for name, coverage in zip(("a/b", "a_b"), two_samples().values(), strict=True):
        call(coverage, panel, tmp_path, name)
    names = {Result.from_json(p.read_text(), p).sample for p in tmp_path.glob("*.json")}
    assert names == {"a/b", "a_b"}


def test_a_killed_runs_temporary_files_go_on_the_next_run(tmp_path, panel):
    stale = [tmp_path / ".S.metcnv.json.x1y2.tmp", tmp_path / ".S.bins.tsv.gz.k9.tmp"]
    for path in stale:
        path.write_text("")  # what a kill -9 during writing leaves
    (tmp_path / ".S.cnv.vcf.gz.q7.tmp").mkdir()  # the VCF's temporary folder
    (tmp_path / ".other.metcnv.json.z.tmp").write_text("")  # another sample's: kept
    call(two_samples()["flat"], panel, tmp_path)
    write_sample_reports(tmp_path / "S.metcnv.json")
    hidden = {p.name for p in tmp_path.iterdir() if p.name.startswith(".")}
    assert hidden == {LOCK_NAME, ".other.metcnv.json.z.tmp"}


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("a-file", "--out {out}: is a file, not a folder; give a folder"),
        ("/sys/metcnv-cannot-write-here", "--out {out}: cannot write there"),
    ],
)
def test_an_unwritable_out_is_one_line_before_any_work(tmp_path, capsys, panel, out, message):
    (tmp_path / "a-file").write_text("")
    out = out if out.startswith("/") else str(tmp_path / out)
    coverage = tmp_path / "never-read.coverage.tsv.gz"
    assert main(["call", str(coverage), "--pon", str(panel), "--out", out]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message.format(out=out) in error, error


def test_a_failed_write_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "x.tsv").mkdir()  # a folder where the file should go
    refused = pytest.raises(MetcnvError, match=r"x.tsv: cannot be written \(Is a directory\)")
    with refused, files.atomic_write(tmp_path / "x.tsv") as handle:
        handle.write("text")
    assert {p.name for p in tmp_path.iterdir()} == {"x.tsv", LOCK_NAME}
