import gzip
import itertools

import numpy as np
import pandas as pd
import pysam
import pytest

from metcnv.coverage import bin_depth_sums, count_bins, read_coverage, write_coverage
from metcnv.errors import MetcnvError
from metcnv.genome import LENGTHS

CHR7 = LENGTHS["hg38"]["chr7"]


def make_bam(path, reads, chr7_length=CHR7, index=True):
    """reads: (name, flag, pos, mapq, next_pos, tlen) of 50M reads on chr7; mates of the
    same name get each other's MAPQ as their MQ tag."""
    mapq_of = {(r[0], bool(r[1] & 0x40)): r[3] for r in reads}
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": "7", "LN": chr7_length}],
        "RG": [{"ID": "rg", "SM": "S1"}],
    }
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for name, flag, pos, mapq, next_pos, tlen in sorted(reads, key=lambda r: r[2]):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.flag, read.reference_id = name, flag, 0
            read.reference_start, read.mapping_quality, read.cigarstring = pos, mapq, "50M"
            read.next_reference_id, read.next_reference_start = 0, next_pos
            read.template_length, read.query_sequence = tlen, "A" * 50
            if flag & 0x1:
                read.set_tag("MQ", mapq_of[(name, not flag & 0x40)])
            out.write(read)
    if index:
        pysam.index(str(path))
    return path


BINS = pd.DataFrame(
    {
        "chrom": ["chr7"] * 3,
        "start": [1000, 1200, 5000],
        "end": [1200, 1400, 5100],
        "gene": ["MET", "MET", "-"],
        "kind": ["target", "target", "offtarget"],
    }
)
READS = [
    ("pair", 0x1 | 0x2 | 0x20 | 0x40, 1000, 60, 1150, 200),
    ("pair", 0x1 | 0x2 | 0x10 | 0x80, 1150, 60, 1000, -200),
    ("dup", 0x1 | 0x2 | 0x20 | 0x40 | 0x400, 1000, 60, 1150, 200),
    ("dup", 0x1 | 0x2 | 0x10 | 0x80 | 0x400, 1150, 60, 1000, -200),
    ("lowq", 0, 1210, 5, 0, 0),
    ("second", 0x100, 1220, 60, 0, 0),
    ("single", 0, 5020, 60, 0, 0),
    ("r1low", 0x1 | 0x2 | 0x20 | 0x40, 1250, 3, 1300, 100),  # read 1 fails MAPQ ...
    ("r1low", 0x1 | 0x2 | 0x10 | 0x80, 1300, 60, 1250, -100),  # ... read 2 counts (MQ 3)
]


def test_counts_fragments_once_and_filters_flags_and_mapq(tmp_path):
    coverage = count_bins(make_bam(tmp_path / "s.bam", READS), BINS)
    assert list(coverage.bins["count"]) == [1, 1, 1]  # pairs once, at midpoints 1100, 1300
    assert list(coverage.bins["depth"]) == [0.5, 0.25, 0.5]
    assert coverage.total_fragments == 3 and coverage.sample == "S1"
    assert coverage.build == "hg38"
    low = count_bins(tmp_path / "s.bam", BINS, min_mapq=0)
    assert list(low.bins["count"]) == [1, 2, 1]


def test_depth_matches_pysam_per_base_coverage():
    rng = np.random.default_rng(0)
    starts = np.sort(rng.integers(0, 10_000, 3000))
    ends = starts + rng.integers(30, 300, 3000)
    edges = np.arange(0, 10_001, 500)
    per_base = np.zeros(11_000)
    for s, e in zip(starts, ends, strict=True):
        per_base[s:e] += 1
    expected = [per_base[a:b].sum() for a, b in itertools.pairwise(edges)]
    assert bin_depth_sums(starts, ends, edges[:-1], edges[1:]) == pytest.approx(expected)


def test_coverage_file_round_trip_and_tamper_check(tmp_path):
    coverage = count_bins(make_bam(tmp_path / "s.bam", READS), BINS)
    write_coverage(coverage, tmp_path / "s.coverage.tsv.gz")
    back = read_coverage(tmp_path / "s.coverage.tsv.gz")
    pd.testing.assert_frame_equal(back.bins, coverage.bins, check_dtype=False)
    assert back.meta == coverage.meta and back.build == "hg38"
    plain = tmp_path / "edited.tsv"

    with gzip.open(tmp_path / "s.coverage.tsv.gz", "rt") as handle:
        plain.write_text(handle.read().replace("\t5000\t", "\t5001\t"))
    with pytest.raises(MetcnvError, match="edited.tsv: bin checksum"):
        read_coverage(plain)


def test_bad_inputs_fail_with_the_fix(tmp_path):
    bam = make_bam(tmp_path / "noindex.bam", READS, index=False)
    with pytest.raises(
        MetcnvError, match=r"noindex.bam: no index found; create one with `samtools"
    ):
        count_bins(bam, BINS)
    junk = tmp_path / "junk.bam"
    junk.write_text("not a bam")
    with pytest.raises(MetcnvError, match="junk.bam: not a readable BAM/CRAM"):
        count_bins(junk, BINS)
    with pytest.raises(MetcnvError, match="missing.bam: no such file"):
        count_bins(tmp_path / "missing.bam", BINS)
    odd = make_bam(tmp_path / "odd.bam", READS, chr7_length=1_000_000)
    with pytest.raises(MetcnvError, match="odd.bam: chr7 is 1,000,000 bp"):
        count_bins(odd, BINS)
    with pytest.raises(MetcnvError, match="x.cram: a CRAM needs its reference"):
        (tmp_path / "x.cram").write_text("")
        count_bins(tmp_path / "x.cram", BINS)


def test_no_depth_cap_at_very_high_depth(tmp_path):
    deep = [(f"r{i}", 0, 1000, 60, 0, 0) for i in range(24_000)]
    coverage = count_bins(make_bam(tmp_path / "deep.bam", deep), BINS)
    assert coverage.bins["count"].iloc[0] == 24_000
    assert coverage.bins["depth"].iloc[0] == 6000.0  # 24,000 x 50 bp over 200 bp


def test_outputs_are_readable_by_others(tmp_path):
    coverage = count_bins(make_bam(tmp_path / "s.bam", READS), BINS)
    write_coverage(coverage, tmp_path / "s.coverage.tsv.gz")
    assert (tmp_path / "s.coverage.tsv.gz").stat().st_mode & 0o044 == 0o044
