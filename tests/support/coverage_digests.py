"""MD5 digests of the coverage and allele files of every bundled BAM, with and without
--snps, so that a change to the counting code can be shown to change no count.

    python tests/support/coverage_digests.py   # rewrites tests/data/coverage_digests.tsv

Run it only on a commit whose counting is the reference (it was first run on main before
the compiled counting core replaced the Python read loop); tests/test_coverage.py
recounts every BAM and compares. Each BAM is counted on the bins of tests/data/panel.bed
(default bin settings, MAPQ 20), with tests/data/snps.vcf.gz or without, and written with
metcnv.coverage.write_coverage. The digest is of the decompressed text, with three header
lines made independent of the machine and of the release: `#source` and `#snps_source`
keep only the file name (the path differs between checkouts), `#metcnv_version` is
dropped, and so is `#alleles_md5` (the MD5 of gzip bytes, which another zlib may
compress differently; the allele file's own text has its digest), and so are the facts
metcnv.inputs.alignment_facts reads from the BAM's header and index rather than from the
counting (read groups' SM, mapped reads, a sample of the read filters' effect: added to
coverage files after the digests were recorded). Every count, depth, total, checksum and
setting is in the digest.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
import tempfile
from pathlib import Path

from metcnv import api
from metcnv.coverage import FACT_KEYS, alleles_path, write_coverage

DATA = Path(__file__).resolve().parents[1] / "data"
TABLE = DATA / "coverage_digests.tsv"
COLUMNS = ("bam", "snps", "coverage_md5", "alleles_md5")
DROPPED = ("#metcnv_version\t", "#alleles_md5\t", *(f"#{key}\t" for key in FACT_KEYS))
RENAMED = ("#source\t", "#snps_source\t")


def normalised(path: Path) -> str:
    """The decompressed text of a written file, made machine- and release-independent."""
    lines = []
    with gzip.open(path, "rt") as handle:
        for line in handle:
            if line.startswith(DROPPED):
                continue
            if line.startswith(RENAMED):
                key, _, value = line.rstrip("\n").partition("\t")
                line = f"{key}\t{Path(value).name}\n"
            lines.append(line)
    return "".join(lines)


def digest(bam: Path, snps: bool, work: Path, threads: int = 1) -> tuple[str, str]:
    """MD5s of the normalised coverage text and of the allele text ('-' without --snps)."""
    coverage = api.count_panel(
        bam,
        DATA / "panel.bed",
        api.BinSettings(),
        api.ReadSettings(threads=threads),
        None,
        snps=DATA / "snps.vcf.gz" if snps else None,
    )
    path = work / f"{bam.stem}.{'snps' if snps else 'plain'}.coverage.tsv.gz"
    write_coverage(coverage, path)
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
    alleles = md5(normalised(alleles_path(path))) if snps else "-"
    return md5(normalised(path)), alleles


def bundled_bams() -> list[Path]:
    return sorted(DATA.glob("*.bam"))


def recorded() -> dict[tuple[str, bool], tuple[str, str]]:
    """(BAM file name, with SNPs) -> (coverage MD5, alleles MD5), as recorded in TABLE."""
    rows = [line.split("\t") for line in TABLE.read_text().splitlines()[1:]]
    return {(bam, snps == "yes"): (cov, alleles) for bam, snps, cov, alleles in rows}


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        lines = ["\t".join(COLUMNS)]
        for bam in bundled_bams():
            for snps in (False, True):
                cov, alleles = digest(bam, snps, Path(work))
                lines.append(f"{bam.name}\t{'yes' if snps else 'no'}\t{cov}\t{alleles}")
                print(lines[-1], file=sys.stderr)
    TABLE.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
