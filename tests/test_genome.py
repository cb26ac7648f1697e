import pytest

from metcnv.errors import MetcnvError
from metcnv.genome import LENGTHS, canonical, detect_build, normalize_build


def test_detect_build_from_lengths_with_either_naming():
    assert detect_build({"7": LENGTHS["hg19"]["chr7"]}, "x.bam") == "hg19"
    assert detect_build({"chr7": LENGTHS["hg38"]["chr7"], "chrUn_x": 5}, "x.bam") == "hg38"


def test_detect_build_refuses_mixed_or_unknown():
    mixed = {"chr7": LENGTHS["hg38"]["chr7"], "chr8": LENGTHS["hg19"]["chr8"]}
    with pytest.raises(MetcnvError, match="x.bam: chr7 is 159,345,973 bp"):
        detect_build(mixed, "x.bam")
    with pytest.raises(MetcnvError, match="no chr7"):
        detect_build({"chr8": 1}, "x.bam")


def test_names():
    assert canonical("7") == canonical("chr7") == "chr7"
    assert canonical("MT") == "chrM"
    assert normalize_build("GRCh38") == "hg38"
    with pytest.raises(MetcnvError, match="unknown genome build"):
        normalize_build("hg18")
