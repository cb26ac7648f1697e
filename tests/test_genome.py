import pytest

from metcnv.errors import MetcnvError
from metcnv.genome import LENGTHS, canonical, detect_build, normalize_build


def test_detect_build_from_lengths_with_either_naming():
    assert detect_build({"7": LENGTHS["hg19"]["chr7"]}, "x.bam") == "hg19"
    assert detect_build({"chr7": LENGTHS["hg38"]["chr7"], "chrUn_x": 5}, "x.bam") == "hg38"


def test_detect_build_refuses_mixed_or_unknown():
    mixed = {"chr7": LENGTHS["hg38"]["chr7"], "chr8": LENGTHS["hg19"]["chr8"]}
    with pytest.raises(MetcnvError, match="x.bam: chr7 has hg38's length but chr8 is 146,364,022"):
        detect_build(mixed, "x.bam")
    # chr7 of exactly hg19's length, another contig not: the message names that contig
    hg19_chr7 = {"chr7": LENGTHS["hg19"]["chr7"], "chr8": LENGTHS["hg38"]["chr8"]}
    with pytest.raises(MetcnvError, match="chr7 has hg19's length but chr8 is 145,138,636 bp, not"):
        detect_build(hg19_chr7, "x.bam")
    with pytest.raises(MetcnvError, match="chr7 is 1,000 bp, which is neither hg19/GRCh37's"):
        detect_build({"chr7": 1000}, "x.bam")
    with pytest.raises(MetcnvError, match="no chr7"):
        detect_build({"chr8": 1}, "x.bam")


def test_names():
    assert canonical("7") == canonical("chr7") == "chr7"
    assert canonical("MT") == "chrM"
    assert normalize_build("GRCh38") == "hg38"
    with pytest.raises(MetcnvError, match="unknown genome build"):
        normalize_build("hg18")
