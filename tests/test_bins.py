import numpy as np
import pandas as pd
import pytest

from metcnv.bins import bins_checksum, make_bins, read_bed, split_evenly
from metcnv.errors import MetcnvError
from metcnv.genome import LENGTHS


def write(tmp_path, text, name="panel.bed"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_bed_names_and_builtin_genes(tmp_path):
    bed = write(tmp_path, "7\t116672300\t116672500\n7\t55019100\t55019300\tmyEGFR\n")
    table = read_bed(bed, "hg38")
    assert list(table["chrom"]) == ["chr7", "chr7"]
    assert list(table["gene"]) == ["myEGFR", "MET"]  # sorted by position; name kept


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chr7\tx\t10\n", "line 1: expected tab-separated"),
        ("chr7\t10\t5\n", "empty or negative"),
        ("# only a comment\n", "no intervals"),
    ],
)
def test_read_bed_errors_name_the_file_and_line(tmp_path, text, message):
    bed = write(tmp_path, text)
    with pytest.raises(MetcnvError, match=message) as error:
        read_bed(bed, "hg38")
    assert str(bed) in str(error.value)


def test_split_evenly_covers_each_interval_exactly():
    starts, ends, parent = split_evenly(np.array([0, 1000]), np.array([700, 1100]), 300)
    assert list(zip(starts, ends, strict=True)) == [(0, 233), (233, 466), (466, 700), (1000, 1100)]
    assert list(parent) == [0, 0, 0, 1]


def test_offtarget_bins_avoid_padded_targets_and_tile_the_rest():
    targets = pd.DataFrame(
        {"chrom": ["chr7"], "start": [1_000_000], "end": [1_000_200], "gene": ["X"]}
    )
    lengths = {"chr7": LENGTHS["hg38"]["chr7"], "chr8": LENGTHS["hg38"]["chr8"]}
    bins = make_bins(targets, lengths, offtarget_bin_size=150_000)
    target = bins[bins["kind"] == "target"]
    off = bins[bins["kind"] == "offtarget"]
    assert len(target) == 1 and target["gene"].iloc[0] == "X"
    chr7 = off[off["chrom"] == "chr7"]
    assert not ((chr7["start"] < 1_001_200) & (chr7["end"] > 999_000)).any()
    assert chr7["end"].max() == lengths["chr7"]
    assert (off["end"] - off["start"]).between(100_000, 150_000).all()
    assert list(bins["chrom"].unique()) == ["chr7", "chr8"]


def test_no_offtarget_and_unknown_contig():
    targets = pd.DataFrame({"chrom": ["chr7"], "start": [0], "end": [650], "gene": ["X"]})
    bins = make_bins(targets, {"chr7": 10_000_000}, offtarget=False, target_bin_size=300)
    assert list(bins["kind"].unique()) == ["target"] and len(bins) == 3
    with pytest.raises(MetcnvError, match="absent from the alignments"):
        make_bins(targets, {"chr8": 10_000_000})


def test_checksum_changes_with_bins():
    targets = pd.DataFrame({"chrom": ["chr7"], "start": [0], "end": [650], "gene": ["X"]})
    a = make_bins(targets, {"chr7": 10_000_000}, target_bin_size=300)
    b = make_bins(targets, {"chr7": 10_000_000}, target_bin_size=200)
    assert bins_checksum(a) == bins_checksum(a.copy()) != bins_checksum(b)


def test_access_bed_limits_offtarget_bins():
    targets = pd.DataFrame(
        {"chrom": ["chr7"], "start": [1_000_000], "end": [1_000_200], "gene": ["X"]}
    )
    access = pd.DataFrame({"chrom": ["chr7"], "start": [2_000_000], "end": [2_600_000]})
    bins = make_bins(targets, {"chr7": 10_000_000}, offtarget_bin_size=150_000, access=access)
    off = bins[bins["kind"] == "offtarget"]
    assert off["start"].min() == 2_000_000 and off["end"].max() == 2_600_000 and len(off) == 4
