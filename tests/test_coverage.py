import gzip
import itertools
import time

import numpy as np
import pandas as pd
import pysam
import pytest
from conftest import DATA
from coverage_digests import bundled_bams, digest, recorded

from metcnv.coverage import (
    _count_in_parallel,
    alleles_path,
    count_bins,
    read_coverage,
    write_coverage,
)
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


def test_depth_matches_a_per_base_count(tmp_path):
    """Depth sums of reads with deletions, insertions and clips, against a per-base array."""
    rng = np.random.default_rng(0)
    cigars = ["50M", "20M5D30M", "10S40M", "20M3I27M", "45M5S"]
    reads = sorted(
        (int(rng.integers(0, 10_000)), cigars[int(rng.integers(len(cigars)))]) for _ in range(3000)
    )
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr7", "LN": CHR7}]}
    per_base = np.zeros(11_000)
    with pysam.AlignmentFile(str(tmp_path / "d.bam"), "wb", header=header) as out:
        for i, (pos, cigar) in enumerate(reads):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.reference_id, read.reference_start = f"r{i}", 0, pos
            read.mapping_quality, read.cigarstring, read.query_sequence = 60, cigar, "A" * 50
            per_base[pos : read.reference_end] += 1
            out.write(read)
    pysam.index(str(tmp_path / "d.bam"))
    edges = np.arange(0, 10_001, 500)
    bins = pd.DataFrame(
        {"chrom": "chr7", "start": edges[:-1], "end": edges[1:], "gene": "-", "kind": "target"}
    )
    expected = [per_base[a:b].sum() / (b - a) for a, b in itertools.pairwise(edges)]
    depth = count_bins(tmp_path / "d.bam", bins).bins["depth"]
    assert list(depth) == pytest.approx(np.round(expected, 3), abs=1e-12)


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
    with pytest.raises(MetcnvError, match=r"junk.bam: is text \(SAM or other\), not BAM/CRAM"):
        count_bins(junk, BINS)
    with pytest.raises(MetcnvError, match="missing.bam: no such file"):
        count_bins(tmp_path / "missing.bam", BINS)
    odd = make_bam(tmp_path / "odd.bam", READS, chr7_length=1_000_000)
    with pytest.raises(MetcnvError, match="odd.bam: chr7 is 1,000,000 bp"):
        count_bins(odd, BINS)
    with pytest.raises(MetcnvError, match="x.cram: a CRAM needs its reference"):
        (tmp_path / "x.cram").write_text("")
        count_bins(tmp_path / "x.cram", BINS)


def test_a_failing_contig_stops_the_other_threads_taking_more():
    """A damaged block on one contig ends the count there: the other thread finishes the
    contig it holds and takes no other, so the error does not wait for the whole file."""
    counted = []

    def count(reads, contig):
        if contig == "c0":
            raise MetcnvError("c0: damaged")
        time.sleep(0.2)
        counted.append(contig)
        return 1

    contigs = [f"c{i}" for i in range(20)]
    with pytest.raises(MetcnvError, match="c0: damaged"):
        _count_in_parallel(DATA / "tumor_focal.bam", None, contigs, 2, count)
    assert len(counted) <= 1, counted


def test_no_depth_cap_at_very_high_depth(tmp_path):
    deep = [(f"r{i}", 0, 1000, 60, 0, 0) for i in range(24_000)]
    coverage = count_bins(make_bam(tmp_path / "deep.bam", deep), BINS)
    assert coverage.bins["count"].iloc[0] == 24_000
    assert coverage.bins["depth"].iloc[0] == 6000.0  # 24,000 x 50 bp over 200 bp


def test_outputs_are_readable_by_others(tmp_path):
    coverage = count_bins(make_bam(tmp_path / "s.bam", READS), BINS)
    write_coverage(coverage, tmp_path / "s.coverage.tsv.gz")
    assert (tmp_path / "s.coverage.tsv.gz").stat().st_mode & 0o044 == 0o044


# --- allele counts at SNPs -------------------------------------------------------------------
SITE_A, SITE_B, SITE_C = 1010, 1100, 5050  # 0-based: C>T AF 0.3, G>A no AF, off-target A>G
SNP_READS = [  # name, flag, pos, cigar, {read offset: base} (others N), low-quality offsets, mapq
    ("ref", 0, 1000, "50M", {10: "C"}, (), 60),
    ("alt", 0, 990, "50M", {20: "T"}, (), 60),
    ("other", 0, 1005, "50M", {5: "G"}, (), 60),
    ("clipped", 0, 1000, "5S45M", {10: "C", 15: "T"}, (), 60),  # clip moves the read: T
    ("inserted", 0, 1000, "5M3I42M", {10: "C", 13: "T"}, (), 60),  # insertion before site: T
    ("deleted", 0, 1002, "8M4D42M", {8: "T"}, (), 60),  # the site falls in the deletion
    ("lowq", 0, 1000, "50M", {10: "T"}, (10,), 60),
    ("dup", 0x400, 1000, "50M", {10: "T"}, (), 60),
    ("mapq0", 0, 1000, "50M", {10: "T"}, (), 0),
    ("pair", 0x1 | 0x2 | 0x20 | 0x40, 1001, "50M", {9: "T"}, (), 60),  # one fragment ...
    ("pair", 0x1 | 0x2 | 0x10 | 0x80, 1008, "50M", {2: "T"}, (), 60),  # ... counts once
    ("pair2", 0x1 | 0x2 | 0x20 | 0x40, 1003, "50M", {7: "C"}, (7,), 60),  # low quality: ...
    ("pair2", 0x1 | 0x2 | 0x10 | 0x80, 1006, "50M", {4: "C"}, (), 60),  # ... the mate counts
    ("b_ref", 0, 1090, "50M", {10: "G"}, (), 60),
    ("no_seq", 0, 1095, "50M", None, (), 60),  # SEQ '*': no base
]


def make_snp_bam(path, reads=SNP_READS):
    """A BAM on hg38 chr7 whose reads carry the given bases (Q30, N elsewhere)."""
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr7", "LN": CHR7}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for name, flag, pos, cigar, bases, low, mapq in sorted(reads, key=lambda r: r[2]):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.flag, read.reference_id = name, flag, 0
            read.reference_start, read.mapping_quality, read.cigarstring = pos, mapq, cigar
            read.next_reference_id, read.next_reference_start = 0, pos
            if bases is not None:
                read.query_sequence = "".join(bases.get(i, "N") for i in range(50))
                read.query_qualities = pysam.qualitystring_to_array(
                    "".join("+" if i in low else "?" for i in range(50))
                )
            out.write(read)
    pysam.index(str(path))
    return path


def make_vcf(path, records):
    """A bgzipped, tabix-indexed sites VCF: records are (chrom, 1-based pos, ref, alts, af)."""
    header = pysam.VariantHeader()
    for chrom in ("chr7", "chr8"):
        header.contigs.add(chrom, length=LENGTHS["hg38"][chrom])
    header.info.add("AF", "A", "Float", "allele frequency")
    plain = path.with_suffix("")
    with pysam.VariantFile(str(plain), "w", header=header) as out:
        for chrom, pos, ref, alts, af in records:
            record = out.new_record(contig=chrom, start=pos - 1, alleles=(ref, *alts))
            if af is not None:
                record.info["AF"] = af
            out.write(record)
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return path


SITES = [
    ("chr7", SITE_A + 1, "C", ("T",), 0.3),
    ("chr7", 1051, "A", ("C", "G"), (0.1, 0.2)),  # multiallelic
    ("chr7", 1061, "AT", ("A",), 0.1),  # indel
    ("chr7", 1071, "A", ("C",), 0.1),  # a multiallelic site split into two records
    ("chr7", 1071, "A", ("G",), 0.1),
    ("chr7", SITE_B + 1, "G", ("A",), None),
    ("chr7", 3001, "A", ("G",), 0.5),  # between bins
    ("chr7", SITE_C + 1, "A", ("G",), 0.5),
    ("chr8", 1001, "A", ("G",), 0.5),  # a contig without bins
]


@pytest.fixture
def counted(tmp_path):
    bam, vcf = make_snp_bam(tmp_path / "s.bam"), make_vcf(tmp_path / "sites.vcf.gz", SITES)
    return count_bins(bam, BINS, snps=vcf), count_bins(bam, BINS)


def test_allele_counts_at_snps(counted):
    with_snps, without = counted
    expected = pd.DataFrame(
        {
            "chrom": ["chr7"] * 3,
            "pos": [SITE_A + 1, SITE_B + 1, SITE_C + 1],
            "ref": ["C", "G", "A"],
            "alt": ["T", "A", "G"],
            "pop_af": [0.3, np.nan, 0.5],
            "ref_count": [2, 1, 0],  # ref, pair2 (through its mate)
            "alt_count": [4, 0, 0],  # alt, clipped, inserted, pair (once)
            "other_count": [1, 0, 0],  # other; not: deleted, lowq, dup, mapq0
        }
    ).astype({"pos": np.int64, "ref_count": np.int64, "alt_count": np.int64})
    pd.testing.assert_frame_equal(with_snps.alleles, expected)
    skipped = {k: v for k, v in with_snps.meta.items() if k.startswith("snps_")}
    assert skipped.pop("snps_md5") and skipped.pop("snps_source").endswith("sites.vcf.gz")
    assert skipped == {
        "snps_kept": "3",
        "snps_skipped_multiallelic": "3",
        "snps_skipped_not_snv": "1",
        "snps_skipped_outside_bins": "2",
        "snps_reads_without_bases": "1",
    }
    assert with_snps.meta["min_baseq"] == "20"
    pd.testing.assert_frame_equal(with_snps.bins, without.bins)  # bin counts untouched
    low = count_bins(
        with_snps.meta["source"], BINS, snps=with_snps.meta["snps_source"], min_baseq=5
    )
    assert low.alleles["alt_count"].iloc[0] == 5  # the Q10 base counts too


def test_coverage_without_snps_is_unchanged(counted, tmp_path):
    """No --snps: the header has no SNP keys and no allele table is written."""
    _, without = counted
    path = tmp_path / "n.coverage.tsv.gz"
    write_coverage(without, path)
    with gzip.open(path, "rt") as handle:
        keys = [line.split("\t")[0] for line in handle if line.startswith("#")]
    assert keys == [
        "#metcnv-coverage",
        "#metcnv_version",
        "#sample",
        "#build",
        "#total_fragments",
        "#bins_md5",
        "#source",
        "#source_md5",
        "#min_mapq",
        "#exclude_flags",
    ]
    assert not alleles_path(path).exists() and read_coverage(path).alleles is None


def test_alleles_round_trip_and_tamper_check(counted, tmp_path):
    with_snps, _ = counted
    path = tmp_path / "s.coverage.tsv.gz"
    write_coverage(with_snps, path)
    assert alleles_path(path) == tmp_path / "s.alleles.tsv.gz"
    with gzip.open(path, "rt") as handle:
        header = dict(line[1:].rstrip("\n").split("\t") for line in handle if line[0] == "#")
    assert header["alleles_file"] == "s.alleles.tsv.gz" and len(header["alleles_md5"]) == 32
    back = read_coverage(path)
    pd.testing.assert_frame_equal(back.alleles, with_snps.alleles)
    assert back.meta == with_snps.meta

    table = alleles_path(path)
    with gzip.open(table, "rt") as handle:
        edited = handle.read().replace("\t4\t", "\t40\t")
    with gzip.open(table, "wt") as handle:
        handle.write(edited)
    with pytest.raises(MetcnvError, match=r"s.alleles.tsv.gz: MD5 differs .* recount"):
        read_coverage(path)
    table.unlink()
    with pytest.raises(MetcnvError, match=r"s.alleles.tsv.gz: missing, but s.coverage.tsv.gz"):
        read_coverage(path)
    with pytest.raises(MetcnvError, match=r"s.tsv.gz: a coverage file with allele counts"):
        write_coverage(with_snps, tmp_path / "s.tsv.gz")


def test_sites_vcf_must_be_indexed(tmp_path):
    vcf = make_vcf(tmp_path / "sites.vcf.gz", SITES)
    (tmp_path / "sites.vcf.gz.tbi").unlink()
    with pytest.raises(MetcnvError, match=r"sites.vcf.gz: no index found; .*tabix -p vcf"):
        count_bins(make_snp_bam(tmp_path / "s.bam"), BINS, snps=vcf)


def test_bundled_counts_are_those_recorded(tmp_path):
    """Every bundled BAM, with and without --snps, gives the coverage and allele files
    recorded by tests/support/coverage_digests.py before the counting core was compiled;
    with two threads too (contigs counted in parallel, each through its own handle)."""
    expected = recorded()
    for bam in bundled_bams():
        for snps, threads in ((False, 1), (True, 1), (True, 2)):
            found = digest(bam, snps, tmp_path, threads)
            assert found == expected[bam.name, snps], f"{bam.name}, snps {snps}, {threads}"
