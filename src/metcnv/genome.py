"""Genome builds: contig naming, build detection from contig lengths, built-in coordinates.

Coordinates are 0-based half-open. Builds are never guessed: a contig set whose lengths
match neither GRCh37 nor GRCh38 is an error, and so is one that matches both partly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metcnv.errors import MetcnvError

PRIMARY = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]

# Primary assembled chromosome lengths (UCSC hg19/hg38, identical to GRCh37/GRCh38).
# fmt: off
LENGTHS: dict[str, dict[str, int]] = {
    "hg19": dict(zip(PRIMARY, [
        249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663,
        146364022, 141213431, 135534747, 135006516, 133851895, 115169878, 107349540,
        102531392, 90354753, 81195210, 78077248, 59128983, 63025520, 48129895, 51304566,
        155270560, 59373566,
    ], strict=True)),
    "hg38": dict(zip(PRIMARY, [
        248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973,
        145138636, 138394717, 133797422, 135086622, 133275309, 114364328, 107043718,
        101991189, 90338345, 83257441, 80373285, 58617616, 64444167, 46709983, 50818468,
        156040895, 57227415,
    ], strict=True)),
}
# fmt: on

BUILD_ALIASES = {"hg19": "hg19", "grch37": "hg19", "hg38": "hg38", "grch38": "hg38"}


@dataclass(frozen=True)
class Region:
    """A named genomic interval, 0-based half-open."""

    chrom: str
    start: int
    end: int


# Gene spans from ../shared/DOMAIN.md (published 1-based, stored 0-based half-open).
GENES: dict[str, dict[str, Region]] = {
    "hg19": {
        "MET": Region("chr7", 116312443, 116438440),
        "EGFR": Region("chr7", 55086724, 55275031),
        "ERBB2": Region("chr17", 37844166, 37886679),
        "KRAS": Region("chr12", 25358179, 25403854),
        "MYC": Region("chr8", 128748314, 128753680),
    },
    "hg38": {
        "MET": Region("chr7", 116672195, 116798377),
        "EGFR": Region("chr7", 55019016, 55211628),
        "ERBB2": Region("chr17", 39688093, 39728658),
        "KRAS": Region("chr12", 25205245, 25250929),
        "MYC": Region("chr8", 127735433, 127742951),
    },
}

# chr7 centromere (acen bands); FISH's CEP7 probe sits here.
CHR7_CENTROMERE = {
    "hg19": Region("chr7", 58000000, 61700000),
    "hg38": Region("chr7", 58100000, 62100000),
}


def canonical(contig: str) -> str:
    """Map '7', 'chr7', 'MT', 'chrM' to one spelling ('chr7', 'chrM')."""
    name = contig[3:] if contig.lower().startswith("chr") else contig
    if name in ("MT", "M"):
        name = "M"
    return f"chr{name}"


def normalize_build(build: str) -> str:
    """Turn a user's build name (hg38, GRCh38, ...) into 'hg19' or 'hg38'."""
    key = build.strip().lower()
    if key not in BUILD_ALIASES:
        raise MetcnvError(f"unknown genome build {build!r}; use one of hg19, GRCh37, hg38, GRCh38")
    return BUILD_ALIASES[key]


def detect_build(contig_lengths: Mapping[str, int], source: str) -> str:
    """Name the build whose primary chromosome lengths the given contigs match.

    Every primary chromosome present must match one build; chr7 must be present because
    MET lives there. `source` names the file in the error message.
    """
    lengths = {canonical(c): n for c, n in contig_lengths.items()}
    if "chr7" not in lengths:
        raise MetcnvError(
            f"{source}: no chr7 (or 7) contig in the header; metcnv needs reads aligned to a "
            "human reference with chromosome 7"
        )
    present = [c for c in PRIMARY if c in lengths]
    matches = [b for b, table in LENGTHS.items() if all(lengths[c] == table[c] for c in present)]
    if len(matches) != 1:
        raise MetcnvError(f"{source}: {_mismatch(lengths, present)}; align to one of these builds")
    return matches[0]


def _mismatch(lengths: Mapping[str, int], present: list[str]) -> str:
    """Why contig lengths match no build: the first contig that differs from the build
    chr7 matches (or chr7 itself, when it matches neither)."""
    build = next((b for b, table in LENGTHS.items() if table["chr7"] == lengths["chr7"]), None)
    if build is None:
        return (
            f"chr7 is {lengths['chr7']:,} bp, which is neither hg19/GRCh37's "
            f"({LENGTHS['hg19']['chr7']:,}) nor hg38/GRCh38's ({LENGTHS['hg38']['chr7']:,})"
        )
    other = next(c for c in present if lengths[c] != LENGTHS[build][c])
    return (
        f"chr7 has {build}'s length but {other} is {lengths[other]:,} bp, not {build}'s "
        f"{LENGTHS[build][other]:,}: contigs of different builds"
    )


def contig_order(chrom: str) -> int:
    """Sort key putting chr1..chr22, chrX, chrY in karyotype order and the rest after."""
    return PRIMARY.index(chrom) if chrom in PRIMARY else len(PRIMARY)
