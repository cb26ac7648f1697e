"""Damaged, foreign and mismatched inputs: each is one line naming the file, the problem and
the fix (metcnv.inputs and the readers), never a traceback or a silent partial count."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pysam
import pytest
from conftest import DATA
from test_coverage import READS, make_bam

from metcnv.bins import read_bed
from metcnv.cli import EXIT_INPUT, EXIT_OK, EXIT_QC_FAIL, main
from metcnv.coverage import open_alignments, read_coverage
from metcnv.errors import MetcnvError
from metcnv.pon import PanelOfNormals

MANY = [(f"r{i}", 0, 1000 + (i * 7) % 3000, 60, 0, 0) for i in range(30_000)]  # many blocks


def coverage(capfd, bam, tmp_path, *options) -> tuple[int, str]:
    """`metcnv coverage` of a test BAM on one MET target; the exit code and all of stderr
    (htslib's own messages included: they are written below Python)."""
    bed = tmp_path / "panel.bed"
    bed.write_text("chr7\t1000\t1200\tMET\n")
    out = tmp_path / "out.coverage.tsv.gz"
    argv = ["coverage", str(bam), "--targets", str(bed), "--no-offtarget", "--out", str(out)]
    code = main([*argv, *options])
    return code, capfd.readouterr().err


def one_line(error: str, *parts: str) -> None:
    assert error.count("\n") == 1 and error.startswith("metcnv: error: "), error
    assert all(part in error for part in parts), error


def test_a_bam_damaged_part_way_is_one_line(tmp_path, capfd):
    bam = make_bam(tmp_path / "damaged.bam", MANY)
    data = bytearray(bam.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(200)  # a block no longer inflates
    bam.write_bytes(bytes(data))
    code, error = coverage(capfd, bam, tmp_path)
    assert code == EXIT_INPUT
    one_line(error, "damaged.bam: reading failed part-way", "the file is damaged")
    assert not (tmp_path / "out.coverage.tsv.gz").exists()


def test_a_truncated_bam_is_one_line(tmp_path, capfd):
    bam = make_bam(tmp_path / "cut.bam", MANY)
    bam.write_bytes(bam.read_bytes()[:-28])  # without its end-of-file block
    code, error = coverage(capfd, bam, tmp_path)
    assert code == EXIT_INPUT
    one_line(error, "cut.bam: truncated (no end-of-file block", "samtools quickcheck")


def test_an_index_of_another_or_an_older_file_is_refused(tmp_path):
    """A foreign index would count a partial or empty set of reads without any error."""
    bam = make_bam(tmp_path / "s.bam", MANY)
    other = make_bam(tmp_path / "other.bam", READS)
    shutil.copy(other.with_suffix(".bam.bai"), bam.with_suffix(".bam.bai"))
    with pytest.raises(MetcnvError, match=r"s.bam.bai: does not belong to .*s.bam \("):
        open_alignments(bam, None, 1)
    stale = make_bam(tmp_path / "stale.bam", READS)
    index = stale.with_suffix(".bam.bai").read_bytes()
    make_bam(stale, READS + MANY[:5000], index=False)  # the BAM rewritten, its index kept
    stale.with_suffix(".bam.bai").write_bytes(index)
    with pytest.raises(MetcnvError, match=r"stale.bam.bai: does not belong to .*re-create it"):
        open_alignments(stale, None, 1)


def test_an_unreadable_index_is_not_called_missing(tmp_path):
    bam = make_bam(tmp_path / "s.bam", READS)
    bam.with_suffix(".bam.bai").write_bytes(b"")
    with pytest.raises(MetcnvError, match=r"s.bam.bai: cannot be read as the index of"):
        open_alignments(bam, None, 1)


def test_a_name_sorted_bam_is_told_to_be_sorted(tmp_path):
    header = {"HD": {"VN": "1.6", "SO": "queryname"}, "SQ": [{"SN": "chr7", "LN": 10_000}]}
    path = tmp_path / "names.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    with pytest.raises(MetcnvError, match=r"names.bam: not coordinate-sorted .*SO:queryname"):
        open_alignments(path, None, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty (0 bytes)"), (b"@HD\tVN:1.6\n", "is text (SAM or other), not BAM/CRAM")],
)
def test_empty_or_text_files_are_not_bams(tmp_path, content, message):
    path = tmp_path / "x.bam"
    path.write_bytes(content)
    with pytest.raises(
        MetcnvError, match=f"x.bam: {message}".replace("(", r"\(").replace(")", r"\)")
    ):
        open_alignments(path, None, 1)


def small_reference(path, seed: int, length: int = 10_000):
    """A FASTA of one random contig (chr7, short), indexed."""
    bases = np.random.default_rng(seed).choice(list("ACGT"), length)
    path.write_text(">chr7\n" + "".join(bases) + "\n")
    pysam.faidx(str(path))
    return path


def test_a_cram_read_with_another_reference_is_refused_before_counting(tmp_path):
    written, same_length, shorter = (
        small_reference(tmp_path / "a.fa", 1),
        small_reference(tmp_path / "b.fa", 2),
        small_reference(tmp_path / "c.fa", 1, 9_000),
    )
    sequence = pysam.FastaFile(str(written)).fetch("chr7")
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr7", "LN": 10_000}]}
    cram = tmp_path / "s.cram"
    with pysam.AlignmentFile(
        str(cram), "wc", header=header, reference_filename=str(written)
    ) as out:
        for k in range(200):
            read = pysam.AlignedSegment(out.header)
            start = 100 + 40 * k
            read.query_name, read.reference_id, read.reference_start = f"r{k}", 0, start
            read.cigarstring, read.mapping_quality = "50M", 60
            read.query_sequence, read.query_qualities = sequence[start : start + 50], [30] * 50
            out.write(read)
    pysam.index(str(cram))
    open_alignments(cram, written, 1).close()
    with pytest.raises(MetcnvError, match=r"s.cram: its reads on chr7 cannot be decoded .*b.fa"):
        open_alignments(cram, same_length, 1)
    with pytest.raises(MetcnvError, match=r"chr7 of 10,000 bp but the reference .*c.fa has 9,000"):
        open_alignments(cram, shorter, 1)


def test_bed_files_gzipped_binary_or_folders(tmp_path):
    bed = tmp_path / "panel.bed.gz"
    with gzip.open(bed, "wt") as handle:
        handle.write("chr7\t1000\t1200\tMET\n")
    assert read_bed(bed)["gene"].tolist() == ["MET"]  # a gzipped BED is read
    binary = tmp_path / "binary.bed"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(MetcnvError, match="binary.bed: not a readable text BED"):
        read_bed(binary)
    with pytest.raises(MetcnvError, match="is a folder; expected a BED file"):
        read_bed(tmp_path)


def test_panels_of_normals_that_are_empty_or_text(tmp_path):
    empty, text = tmp_path / "empty.pon", tmp_path / "text.pon"
    empty.write_bytes(b"")
    text.write_text("chr7\t1000\t1200\n")
    with pytest.raises(MetcnvError, match="empty.pon: is empty \\(0 bytes\\), so not a metcnv"):
        PanelOfNormals.load(empty)
    with pytest.raises(MetcnvError, match="text.pon: is not a .pon archive") as refused:
        PanelOfNormals.load(text)
    assert "pickle" not in str(refused.value)


def test_a_truncated_coverage_file_is_one_line(tmp_path, capfd):
    bam = make_bam(tmp_path / "s.bam", READS)
    assert coverage(capfd, bam, tmp_path)[0] == EXIT_OK
    whole = tmp_path / "out.coverage.tsv.gz"
    cut = tmp_path / "cut.coverage.tsv.gz"
    cut.write_bytes(whole.read_bytes()[:-12])
    with pytest.raises(MetcnvError, match="cut.coverage.tsv.gz: not a complete metcnv coverage"):
        read_coverage(cut)


def test_a_coverage_records_the_read_groups_and_the_read_filters(tmp_path, capfd):
    bam = make_bam(tmp_path / "s.bam", READS)
    assert coverage(capfd, bam, tmp_path)[0] == EXIT_OK
    meta = read_coverage(tmp_path / "out.coverage.tsv.gz").meta
    assert json.loads(meta["read_groups_sm"]) == ["S1"]
    tally = json.loads(meta["read_filter_sample"])
    assert (tally["reads"], tally["duplicate"], tally["passing"]) == (4, 2, 2)  # over MET


def test_call_names_the_coverage_file_it_was_given(tmp_path, capfd, example_pon):
    bam = make_bam(tmp_path / "s.bam", READS)
    assert coverage(capfd, bam, tmp_path)[0] == EXIT_OK
    given = tmp_path / "out.coverage.tsv.gz"
    assert main(["call", str(given), "--pon", str(example_pon), "--out", str(tmp_path)]) == 2
    error = capfd.readouterr().err
    one_line(error, f"{given}: bins differ from the panel of normals'")
    assert "s.bam" not in error


def duplicated_bam(path):
    """The bundled focal tumor's reads over MET, every one marked a duplicate."""
    source = pysam.AlignmentFile(str(DATA / "tumor_focal.bam"))
    with source, pysam.AlignmentFile(str(path), "wb", template=source) as out:
        for read in source.fetch("chr7", 116_600_000, 116_900_000):
            read.flag |= 0x400
            out.write(read)
    pysam.index(str(path))
    return path


def test_reads_all_dropped_by_the_filters_exit_4_naming_the_cause(tmp_path, capfd, example_pon):
    """All duplicates: QC fails, exit 4 (0 with --exit-zero), and the cause is named."""
    bam = duplicated_bam(tmp_path / "dups.bam")
    argv = ["run", str(bam), "--pon", str(example_pon), "--out", str(tmp_path), "--purity", "0.5"]
    assert main(argv) == EXIT_QC_FAIL
    error = capfd.readouterr().err.splitlines()[-1]
    assert error.startswith("metcnv: tumor_focal: QC failed: "), error
    assert "100% duplicates (flag 0x400)" in error and "--exit-zero" in error, error
    result = json.loads((tmp_path / "tumor_focal.metcnv.json").read_text())
    assert result["met"]["status"] == "inconclusive"
    assert any("duplicates" in reason for reason in result["qc"]["reasons"])
    assert "100% duplicates (flag 0x400)" in result["met"]["status_reason"]  # and the verdict
    assert main([*argv, "--exit-zero", "--min-mapq", "61"]) == EXIT_OK
    assert "below MAPQ 61 (--min-mapq)" in capfd.readouterr().err


@pytest.mark.parametrize(
    ("meta", "cause"),
    [
        ({"reads_mapped": "0"}, "the BAM has no mapped reads"),
        (
            {"read_filter_sample": '{"reads": 0}'},
            "no reads over the panel's targets; is the BAM from this panel?",
        ),
        (
            {
                "read_filter_sample": json.dumps(
                    {"reads": 100, "passing": 10, "low_mapq": 90, "min_mapq": 20}
                    | dict.fromkeys(["duplicate", "secondary", "qc_fail", "unmapped"], 0)
                )
            },
            "only 10% of 100 reads over the targets pass the read filters: 90% below MAPQ 20 "
            "(--min-mapq)",
        ),
        ({"read_filter_sample": '{"reads": 100, "passing": 80}'}, None),
        ({}, None),  # a coverage counted before metcnv recorded the read facts
    ],
)
def test_the_cause_of_few_counted_reads(meta, cause):
    from metcnv.inputs import read_filter_cause

    assert read_filter_cause(meta) == cause


def test_debug_shows_the_traceback_and_a_bug_is_one_line(tmp_path, capsys, monkeypatch):
    missing = ["call", str(tmp_path / "x.coverage.tsv.gz"), "--pon", "p", "--out", str(tmp_path)]
    with pytest.raises(MetcnvError, match="x.coverage.tsv.gz: no such file"):
        main(["--debug", *missing])
    with pytest.raises(MetcnvError):
        main([*missing, "--debug"])

    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero\nsomewhere")

    monkeypatch.setattr("metcnv.api.call_files", bug)
    capsys.readouterr()
    assert main(missing) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("metcnv: internal error: ZeroDivisionError: division by zero somewhere")
    assert "re-run with --debug" in error


def test_the_readme_troubleshooting_covers_these_messages_and_the_exit_codes():
    """Each message the tests here provoke, and the exit codes, are in the README."""
    from pathlib import Path

    from metcnv import cli

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    troubleshooting = readme.split("## Troubleshooting", 1)[1]
    for fragment in (
        "must be a finite number",
        "is empty (0 bytes)",
        "is text (SAM or other), not BAM/CRAM",
        "truncated (no end-of-file block",
        "reading failed part-way",
        "not coordinate-sorted (header @HD SO:queryname)",
        "cannot be read as the index of",
        "does not belong to",
        "cannot be decoded",
        "not a readable text BED",
        "is not a .pon archive",
        "not a complete metcnv coverage file",
        "bins differ from the panel of normals'",
        "counted on other bins than --targets",
        "is a file, not a folder",
        "cannot write there",
        "was left out of the panel of normals",
        "normals are outliers against the others",
        "is not the BAM's read-group SM",
        "read counts equal those of normal",
        "duplicates (flag 0x400)",
        "internal error",
    ):
        assert fragment in troubleshooting, fragment
    exit_codes = " ".join(readme.split("**Exit codes**", 1)[1].split("\n\n", 1)[0].split())
    for code, meaning in (
        (cli.EXIT_OK, "the call was made"),
        (cli.EXIT_INCONCLUSIVE, "MET is inconclusive"),
        (cli.EXIT_QC_FAIL, "QC failed"),
        (cli.EXIT_INPUT, "bad input or settings"),
        (cli.EXIT_BUG, "an internal error"),
    ):
        assert f"`{code}` {meaning}" in exit_codes, (code, meaning)


def test_pon_build_refuses_coverage_files_counted_on_another_panel(tmp_path):
    """Coverage files counted with another --targets than `pon build` is given (a
    traceback before): one line naming the file and the fix."""
    from synthetic import sample

    from metcnv import api
    from metcnv.coverage import write_coverage
    from metcnv.model import BinSettings, ReadSettings

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"n{i}.coverage.tsv.gz")
        write_coverage(sample(f"n{i}", i), paths[-1])
    with pytest.raises(MetcnvError, match=r"n0.coverage.tsv.gz: counted on other bins than"):
        api.build_panel_of_normals(
            paths,
            DATA / "panel.bed",
            BinSettings(offtarget_bin_size=1_000_000),
            ReadSettings(fasta=DATA / "ref.fa.gz"),
        )
