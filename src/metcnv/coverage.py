"""Read counts and mean depth per bin from a BAM or CRAM, in one pass over the file.

Counting follows GATK's CollectReadCounts and mosdepth:
- reads with any of `exclude_flags` (default 0x704: unmapped, secondary, QC-fail,
  duplicate) or a mapping quality below `min_mapq` are ignored;
- a fragment is counted once, in the bin holding its midpoint: properly paired reads
  are counted through read 1 at the midpoint of the template (from POS, PNEXT and
  TLEN), or through read 2 when its MQ tag (mate MAPQ, set by BWA and most aligners)
  shows that read 1 fails the MAPQ filter; other reads at the midpoint of their own
  alignment;
- mean depth is the summed aligned span (deletions included, like `samtools bedcov`)
  of every passing read overlapping the bin, divided by the bin's length. It is
  computed exactly from sorted read starts and ends (no per-base array, no pileup),
  so there is no depth cap.
pysam creates one record object per read in C; the loop below only reads a few of its
integer fields, and all binning is vectorised numpy per chromosome.

With a sites VCF, the same loop also counts alleles at its SNPs (metcnv.alleles): the
reads are read once. The allele table is written beside the coverage file, as
`{stem}.alleles.tsv.gz` for `{stem}.coverage.tsv.gz`, and the coverage header names it
with its MD5, so that neither file is used with another's counts.
"""

from __future__ import annotations

import gzip
from array import array
from bisect import bisect_left
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv import __version__, params
from metcnv.alleles import (
    ALLELE_COLUMNS,
    ALLELE_DTYPES,
    SKIP_REASONS,
    ContigSites,
    allele_table,
    read_sites,
)
from metcnv.bins import BIN_COLUMNS, bin_index, bins_checksum
from metcnv.errors import MetcnvError
from metcnv.files import atomic_write, md5sum, require_file
from metcnv.genome import canonical, detect_build

FORMAT = "metcnv-coverage"
FORMAT_VERSION = "1"

PAIRED, PROPER, MATE_UNMAPPED, READ2 = 0x1, 0x2, 0x8, 0x80
META_KEYS = ("source", "source_md5", "min_mapq", "exclude_flags")
SNP_META_KEYS = (
    "snps_source",
    "snps_md5",
    "min_baseq",
    "snps_kept",
    *(f"snps_skipped_{reason}" for reason in SKIP_REASONS),
    "snps_reads_without_bases",
)
COVERAGE_SUFFIX, ALLELES_SUFFIX = ".coverage.tsv.gz", ".alleles.tsv.gz"


@dataclass
class SampleCoverage:
    """A sample's per-bin counts and the facts needed to trust them later."""

    sample: str
    build: str
    bins: pd.DataFrame  # BIN_COLUMNS + count, depth
    total_fragments: int
    meta: dict[str, str] = field(default_factory=dict)
    alleles: pd.DataFrame | None = None  # ALLELE_COLUMNS, one row per kept SNP; None: no --snps

    @cached_property
    def bins_md5(self) -> str:
        return bins_checksum(self.bins)

    @property
    def on_target_fraction(self) -> float:
        """Fragments in target bins over all fragments; NaN when nothing was counted (copy
        ratios another tool normalised, whose reads metcnv never saw)."""
        if self.bins["count"].isna().all():
            return float("nan")
        on_target = self.bins.loc[self.bins["kind"] == "target", "count"].sum()
        return float(on_target / self.total_fragments) if self.total_fragments else 0.0


def open_alignments(
    path: str | Path, fasta: str | Path | None, threads: int
) -> pysam.AlignmentFile:
    """Open an indexed BAM/CRAM, failing with the fix when the index or reference is missing."""
    path = require_file(path, "a BAM or CRAM file")
    is_cram = path.suffix.lower() == ".cram"
    if is_cram and fasta is None:
        raise MetcnvError(f"{path}: a CRAM needs its reference; pass --reference REF.fa")
    try:
        handle = pysam.AlignmentFile(
            str(path),
            "rc" if is_cram else "rb",
            reference_filename=str(fasta) if is_cram else None,
            threads=threads,
        )
    except (ValueError, OSError) as error:
        raise MetcnvError(f"{path}: not a readable BAM/CRAM ({error}); check the file") from None
    if not handle.has_index():
        handle.close()
        raise MetcnvError(f"{path}: no index found; create one with `samtools index {path}`")
    return handle


def sample_name(handle: pysam.AlignmentFile, path: str | Path) -> str:
    """The single SM of the read groups, else the file name without extension."""
    names = {rg.get("SM") for rg in handle.header.to_dict().get("RG", []) if rg.get("SM")}
    return names.pop() if len(names) == 1 else Path(path).name.split(".")[0]


def header_lengths(handle: pysam.AlignmentFile) -> dict[str, int]:
    """Contig lengths keyed by canonical name ('chr7')."""
    return {canonical(c): n for c, n in zip(handle.references, handle.lengths, strict=True)}


def _passing_reads(handle, contig, min_mapq, exclude_flags, sites: ContigSites | None = None):
    """Aligned spans of passing reads and the midpoints of their fragments, as arrays;
    alleles of the passing reads counted into `sites` on the way."""
    starts, ends, mids = array("q"), array("q"), array("q")
    add_start, add_end, add_mid = starts.append, ends.append, mids.append
    positions = sites.positions if sites is not None else None
    n_sites = len(positions) if positions is not None else 0
    for read in handle.fetch(contig):
        flag = read.flag
        if flag & exclude_flags or read.mapping_quality < min_mapq:
            continue
        start, end = read.reference_start, read.reference_end
        add_start(start)
        add_end(end)
        if positions is not None:
            first = bisect_left(positions, start)  # sites checked here: most reads have none
            if first < n_sites and positions[first] < end:
                sites.count(read, first, end)
        if flag & PAIRED and not flag & MATE_UNMAPPED:
            if flag & READ2 and not (read.has_tag("MQ") and read.get_tag("MQ") < min_mapq):
                continue  # counted through read 1, unless its MQ tag says read 1 fails MAPQ
            tlen = read.template_length
            if flag & PROPER and tlen:
                add_mid(min(start, read.next_reference_start) + abs(tlen) // 2)
                continue
        add_mid((start + end) // 2)
    return (np.frombuffer(a, dtype=np.int64) for a in (starts, ends, mids))


def bin_counts(mids: np.ndarray, bin_starts: np.ndarray, bin_ends: np.ndarray) -> np.ndarray:
    """Number of midpoints inside each of the sorted, non-overlapping bins."""
    index = bin_index(mids, bin_starts, bin_ends)
    return np.bincount(index[index >= 0], minlength=len(bin_starts))


def bin_depth_sums(
    starts: np.ndarray, ends: np.ndarray, bin_starts: np.ndarray, bin_ends: np.ndarray
) -> np.ndarray:
    """Summed per-base depth of reads [start, end) over each bin, exactly, without pileup.

    Covered(x) = sum_i clip(x - s_i, 0, e_i - s_i)
               = (x * #{s < x} - sum_{s < x} s) - (x * #{e < x} - sum_{e < x} e),
    so a bin's depth sum is Covered(end) - Covered(start), evaluated with sorted arrays.
    """

    def covered(x: np.ndarray) -> np.ndarray:
        total = np.zeros(len(x), dtype=np.int64)
        for points, sign in ((np.sort(starts), 1), (np.sort(ends), -1)):
            below = np.searchsorted(points, x, side="left")
            prefix = np.concatenate(([0], np.cumsum(points)))
            total += sign * (x * below - prefix[below])
        return total

    return covered(bin_ends) - covered(bin_starts)


def count_bins(
    path: str | Path,
    bins: pd.DataFrame,
    *,
    fasta: str | Path | None = None,
    min_mapq: int = params.MIN_MAPQ,
    exclude_flags: int = params.EXCLUDE_FLAGS,
    threads: int = 1,
    sample: str | None = None,
    check_build: Callable[[str, str], None] | None = None,
    snps: str | Path | None = None,
    min_baseq: int = params.MIN_BASEQ,
) -> SampleCoverage:
    """Count fragments and depth of one BAM/CRAM over `bins` (from its own build), and
    with `snps` (a sites VCF) the alleles at its SNPs in the bins, in the same pass.

    `check_build(build, path)` may refuse the file's genome build before anything is read.
    """
    with ThreadPoolExecutor(max_workers=1) as pool, open_alignments(path, fasta, threads) as handle:
        checksum = pool.submit(md5sum, path)  # hashing overlaps with counting
        build = detect_build(header_lengths(handle), str(path))
        if check_build is not None:
            check_build(build, str(path))
        by_name = {canonical(c): c for c in handle.references}
        missing = sorted(set(bins["chrom"]) - set(by_name))
        if missing:
            raise MetcnvError(
                f"{path}: header lacks contigs {', '.join(missing)} used by the bins; "
                "align to the same reference as the panel of normals"
            )
        sites = read_sites(snps, bins) if snps is not None else None
        counters = sites.for_contigs(min_baseq) if sites is not None else {}
        counts = np.zeros(len(bins), dtype=np.int64)
        depth = np.zeros(len(bins), dtype=np.float64)
        total = 0
        rows_by_chrom = bins.groupby("chrom", sort=False).indices
        for contig in handle.references:
            starts, ends, mids = _passing_reads(
                handle, contig, min_mapq, exclude_flags, counters.get(canonical(contig))
            )
            total += len(mids)
            rows = rows_by_chrom.get(canonical(contig))
            if rows is None:
                continue
            b_start = bins["start"].to_numpy(np.int64)[rows]
            b_end = bins["end"].to_numpy(np.int64)[rows]
            counts[rows] = bin_counts(mids, b_start, b_end)
            depth[rows] = bin_depth_sums(starts, ends, b_start, b_end) / (b_end - b_start)
        name = sample or sample_name(handle, path)
        meta = {
            "source": str(path),
            "source_md5": checksum.result(),
            "min_mapq": str(min_mapq),
            "exclude_flags": hex(exclude_flags),
        }
    table = bins[BIN_COLUMNS].assign(count=counts, depth=np.round(depth, 3))
    if sites is None:
        return SampleCoverage(name, build, table, total, meta)
    meta |= {
        "snps_source": sites.source,
        "snps_md5": sites.md5,
        "min_baseq": str(min_baseq),
        "snps_kept": str(len(sites.table)),
        **{f"snps_skipped_{reason}": str(n) for reason, n in sites.skipped.items()},
        "snps_reads_without_bases": str(sum(c.reads_without_bases for c in counters.values())),
    }
    return SampleCoverage(name, build, table, total, meta, allele_table(sites, counters))


def alleles_path(coverage_path: str | Path) -> Path:
    """Where the allele counts of `{stem}.coverage.tsv.gz` go: `{stem}.alleles.tsv.gz`."""
    path = Path(coverage_path)
    if not path.name.endswith(COVERAGE_SUFFIX):
        raise MetcnvError(
            f"{path}: a coverage file with allele counts must be named "
            f"STEM{COVERAGE_SUFFIX} (its alleles go to STEM{ALLELES_SUFFIX}); rename it"
        )
    return path.with_name(path.name[: -len(COVERAGE_SUFFIX)] + ALLELES_SUFFIX)


def write_coverage(coverage: SampleCoverage, path: str | Path) -> None:
    """Write a coverage table: '#key<TAB>value' header lines, then a TSV (gzipped if .gz);
    allele counts, if any, first, to alleles_path(path)."""
    header = {
        FORMAT: FORMAT_VERSION,
        "metcnv_version": __version__,
        "sample": coverage.sample,
        "build": coverage.build,
        "total_fragments": str(coverage.total_fragments),
        "bins_md5": coverage.bins_md5,
        **coverage.meta,
    }
    if coverage.alleles is not None:
        alleles = alleles_path(path)
        with atomic_write(alleles, "wt") as handle:
            coverage.alleles[ALLELE_COLUMNS].to_csv(handle, sep="\t", index=False)
        header |= {"alleles_file": alleles.name, "alleles_md5": md5sum(alleles)}
    with atomic_write(path, "wt") as handle:
        handle.writelines(f"#{key}\t{value}\n" for key, value in header.items())
        coverage.bins.to_csv(handle, sep="\t", index=False)


def read_coverage(path: str | Path) -> SampleCoverage:
    """Read a file written by write_coverage, checking its format and bin checksum, and the
    allele counts its header names (None if none)."""
    path = require_file(path, "a metcnv coverage file (*.coverage.tsv.gz)")
    opener = gzip.open if path.suffix == ".gz" else open
    header: dict[str, str] = {}
    try:
        with opener(path, "rt") as handle:
            for line in handle:
                if not line.startswith("#"):
                    break
                key, _, value = line[1:].rstrip("\n").partition("\t")
                header[key] = value
        bins = pd.read_csv(path, sep="\t", comment="#", dtype={"chrom": str, "gene": str})
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise MetcnvError(f"{path}: not a metcnv coverage file ({error})") from None
    if header.get(FORMAT) != FORMAT_VERSION:
        raise MetcnvError(
            f"{path}: not a metcnv coverage file of format {FORMAT_VERSION}; "
            "make it with `metcnv coverage`"
        )
    coverage = SampleCoverage(
        sample=header["sample"],
        build=header["build"],
        bins=bins,
        total_fragments=int(header["total_fragments"]),
        meta={k: header[k] for k in META_KEYS + (SNP_META_KEYS if "snps_md5" in header else ())},
    )
    if coverage.bins_md5 != header["bins_md5"]:
        raise MetcnvError(f"{path}: bin checksum does not match its header; the file was edited")
    if "alleles_file" in header:
        coverage.alleles = _read_alleles(path, header["alleles_file"], header["alleles_md5"])
    return coverage


def _read_alleles(coverage_path: Path, name: str, md5: str) -> pd.DataFrame:
    """The allele table a coverage header names, refused if missing or not the one counted."""
    path = coverage_path.with_name(name)
    if not path.is_file():
        raise MetcnvError(
            f"{path}: missing, but {coverage_path.name} names it for its allele counts; keep "
            "the two files together or recount with `metcnv coverage --snps`"
        )
    if md5sum(path) != md5:
        raise MetcnvError(
            f"{path}: MD5 differs from the one in {coverage_path.name}; the allele counts were "
            "edited or replaced, recount with `metcnv coverage --snps`"
        )
    try:
        table = pd.read_csv(path, sep="\t", dtype={"chrom": str, "ref": str, "alt": str})
        return table[ALLELE_COLUMNS].astype(ALLELE_DTYPES)
    except (OSError, UnicodeDecodeError, KeyError, ValueError) as error:
        raise MetcnvError(
            f"{path}: not a metcnv allele table ({error}); recount with `metcnv coverage --snps`"
        ) from None
