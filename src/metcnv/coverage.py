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
  of every passing read overlapping the bin, divided by the bin's length: each read adds
  its overlap with each bin it touches, an exact integer sum (no per-base array, no
  pileup), so there is no depth cap.
The per-read work runs compiled (metcnv.counting) over pysam's decoded records, filling
the bins as the reads arrive: memory holds the bins, never the reads, whatever the depth.

With a sites VCF, the same pass also counts alleles at its SNPs (metcnv.alleles): the
reads are read once. The allele table is written beside the coverage file, as
`{stem}.alleles.tsv.gz` for `{stem}.coverage.tsv.gz`, and the coverage header names it
with its MD5, so that neither file is used with another's counts. A VCF of the sample's
somatic mutations is counted in the same pass too, into `{stem}.somatic_alleles.tsv.gz`.
"""

from __future__ import annotations

import gzip
import queue
import threading
import zlib
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
    MUTATION_SKIP_REASONS,
    SKIP_REASONS,
    Sites,
    allele_table,
    counted_together,
    read_sites,
    split_counts,
)
from metcnv.bins import BIN_COLUMNS, bins_checksum
from metcnv.counting import PYSAM_VERSION, count_contig
from metcnv.errors import MetcnvError
from metcnv.files import atomic_write, md5sum, require_file
from metcnv.genome import canonical, detect_build
from metcnv.inputs import open_checked

FORMAT = "metcnv-coverage"
FORMAT_VERSION = "1"

META_KEYS = ("source", "source_md5", "min_mapq", "exclude_flags")
# what identifies the reads and how the filters treat them (metcnv.inputs.alignment_facts);
# absent from files counted before metcnv recorded them
FACT_KEYS = ("read_groups_sm", "reads_mapped", "read_filter_sample")
REGION_KEY = "region"  # MET-first mode counted one chromosome (--region)
SNP_META_KEYS = (
    "snps_source",
    "snps_md5",
    "min_baseq",
    "snps_kept",
    *(f"snps_skipped_{reason}" for reason in SKIP_REASONS),
    "snps_reads_without_bases",
)
MUTATION_META_KEYS = (
    "mutations_source",
    "mutations_md5",
    "mutations_kept",
    *(f"mutations_skipped_{reason}" for reason in MUTATION_SKIP_REASONS),
)
COVERAGE_SUFFIX, ALLELES_SUFFIX = ".coverage.tsv.gz", ".alleles.tsv.gz"
MUTATIONS_SUFFIX = ".somatic_alleles.tsv.gz"

if pysam.__version__ != PYSAM_VERSION:  # its C structures are pysam's, as compiled against
    raise ImportError(
        f"metcnv's counting core was compiled against pysam {PYSAM_VERSION}, but pysam "
        f"{pysam.__version__} is installed; reinstall metcnv (`pip install -e .`) to recompile"
    )


@dataclass
class SampleCoverage:
    """A sample's per-bin counts and the facts needed to trust them later."""

    sample: str
    build: str
    bins: pd.DataFrame  # BIN_COLUMNS + count, depth
    total_fragments: int
    meta: dict[str, str] = field(default_factory=dict)
    alleles: pd.DataFrame | None = None  # ALLELE_COLUMNS, one row per kept SNP; None: no --snps
    mutations: pd.DataFrame | None = None  # ALLELE_COLUMNS per somatic SNV; None: no --mutations

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
    """Open an indexed BAM/CRAM, failing with the fix when it is damaged, unsorted, its index
    missing or foreign, or (CRAM) its reference missing or wrong (metcnv.inputs)."""
    return open_checked(path, fasta, threads)


def _most_reads_first(handle: pysam.AlignmentFile, contigs: list[str]) -> list[str]:
    """The contigs, most mapped reads first (the BAM index's counts; a CRAM index has
    none: the longest first), so that threads counting them in parallel finish together."""
    if handle.is_cram:
        size = dict(zip(handle.references, handle.lengths, strict=True))
    else:
        size = {stat.contig: stat.mapped for stat in handle.get_index_statistics()}
    return sorted(contigs, key=lambda contig: -size.get(contig, 0))


def _count_in_parallel(
    path: str | Path,
    fasta: str | Path | None,
    contigs: list[str],
    threads: int,
    count: Callable[[pysam.AlignmentFile, str], int],
) -> int:
    """Count contigs on `threads` threads, each with its own file handle taking the next
    contig not yet counted; the fragments counted. The compiled pass runs without the GIL,
    and a contig's counts do not depend on the others', so the tables are those of one
    thread: parsing and counting, not only BGZF decoding, run in parallel. Once a contig
    fails (a damaged block), no thread starts another, so the error comes without waiting
    for the rest of the file."""
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for contig in contigs:
        todo.put(contig)
    failed = threading.Event()

    def work() -> int:
        fragments = 0
        with open_alignments(path, fasta, 1) as reads:
            while not failed.is_set():
                try:
                    contig = todo.get_nowait()
                except queue.Empty:
                    break
                try:
                    fragments += count(reads, contig)
                except BaseException:
                    failed.set()
                    raise
        return fragments

    workers = min(threads, len(contigs))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(job.result() for job in [pool.submit(work) for _ in range(workers)])


def sample_name(handle: pysam.AlignmentFile, path: str | Path) -> str:
    """The single SM of the read groups, else the file name without extension."""
    names = {rg.get("SM") for rg in handle.header.to_dict().get("RG", []) if rg.get("SM")}
    return names.pop() if len(names) == 1 else Path(path).name.split(".")[0]


def header_lengths(handle: pysam.AlignmentFile) -> dict[str, int]:
    """Contig lengths keyed by canonical name ('chr7')."""
    return {canonical(c): n for c, n in zip(handle.references, handle.lengths, strict=True)}


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
    snps: str | Path | Sites | None = None,
    min_baseq: int = params.MIN_BASEQ,
    region: str | None = None,
    mutations: Sites | None = None,
) -> SampleCoverage:
    """Count fragments and depth of one BAM/CRAM over `bins` (from its own build), and
    with `snps` (a sites VCF, or sites already read) the alleles at its SNPs in the bins,
    and at the sample's somatic `mutations` (alleles.read_mutations), in the same pass.

    `check_build(build, path)` may refuse the file's genome build before anything is read.
    With `region` (a canonical chromosome name, all of the bins' contig), only that
    chromosome is read, through the index, and the total counts its fragments alone; the
    file's MD5 is then not taken (no `source_md5`): hashing all of it would read every byte
    the region skips (a 10 GB exome BAM: ~15 s, several times the answer's cost).
    `threads`: contigs counted in parallel, each through its own handle; a single contig
    (`region`, or a file of one) gets them as htslib decoding threads instead.
    """
    with ThreadPoolExecutor(max_workers=1) as pool, open_alignments(path, fasta, threads) as handle:
        # hashing overlaps with counting
        checksum = pool.submit(md5sum, path) if region is None else None
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
        sites = read_sites(snps, bins) if isinstance(snps, (str, Path)) else snps
        counted = sites if mutations is None else counted_together(sites, mutations, bins)
        counters = counted.for_contigs(min_baseq) if counted is not None else {}
        counts = np.zeros(len(bins), dtype=np.int64)
        depth = np.zeros(len(bins), dtype=np.float64)
        rows_by_chrom = bins.groupby("chrom", sort=False).indices
        starts, ends = bins["start"].to_numpy(np.int64), bins["end"].to_numpy(np.int64)

        def count(reads: pysam.AlignmentFile, contig: str) -> int:
            """Count one contig into its rows of `counts` and `depth`; its fragments."""
            rows = rows_by_chrom.get(canonical(contig), np.zeros(0, dtype=np.int64))
            b_start, b_end = starts[rows], ends[rows]
            c_counts, c_depth = np.zeros(len(rows), np.int64), np.zeros(len(rows), np.int64)
            fragments = count_contig(
                reads.fetch(contig),
                b_start,
                b_end,
                c_counts,
                c_depth,
                min_mapq,
                exclude_flags,
                counters.get(canonical(contig)),
            )
            counts[rows] = c_counts
            depth[rows] = c_depth / (b_end - b_start)
            return fragments

        contigs = [c for c in handle.references if region is None or canonical(c) == region]
        if threads == 1 or len(contigs) == 1:  # one contig: the threads decode it
            total = sum(count(handle, contig) for contig in contigs)
        else:
            ordered = _most_reads_first(handle, contigs)
            total = _count_in_parallel(path, fasta, ordered, threads, count)
        name = sample or sample_name(handle, path)
        meta = {"source": str(path)}
        if checksum is not None:
            meta["source_md5"] = checksum.result()
        meta |= {"min_mapq": str(min_mapq), "exclude_flags": hex(exclude_flags)}
        if region is not None:
            meta["region"] = region
    table = bins[BIN_COLUMNS].assign(count=counts, depth=np.round(depth, 3))
    coverage = SampleCoverage(name, build, table, total, meta)
    if counted is None:
        return coverage
    alleles = allele_table(counted, counters)
    if sites is not None:
        meta |= {
            "snps_source": sites.source,
            "snps_md5": sites.md5,
            "min_baseq": str(min_baseq),
            "snps_kept": str(len(sites.table)),
            **{f"snps_skipped_{reason}": str(n) for reason, n in sites.skipped.items()},
            "snps_reads_without_bases": str(sum(c.reads_without_bases for c in counters.values())),
        }
    if mutations is not None:
        alleles, coverage.mutations = split_counts(alleles)
        meta |= {
            "min_baseq": str(min_baseq),
            "mutations_source": mutations.source,
            "mutations_md5": mutations.md5,
            "mutations_kept": str(len(mutations.table)),
            **{f"mutations_skipped_{reason}": str(n) for reason, n in mutations.skipped.items()},
        }
    if sites is not None:
        coverage.alleles = alleles
    return coverage


def alleles_path(coverage_path: str | Path, suffix: str = ALLELES_SUFFIX) -> Path:
    """Where the allele counts of `{stem}.coverage.tsv.gz` go: `{stem}.alleles.tsv.gz`
    (`{stem}.somatic_alleles.tsv.gz` for its somatic mutations' with MUTATIONS_SUFFIX)."""
    path = Path(coverage_path)
    if not path.name.endswith(COVERAGE_SUFFIX):
        raise MetcnvError(
            f"{path}: a coverage file with allele counts must be named "
            f"STEM{COVERAGE_SUFFIX} (its alleles go to STEM{suffix}); rename it"
        )
    return path.with_name(path.name[: -len(COVERAGE_SUFFIX)] + suffix)


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
    for key, table, suffix in [
        ("alleles", coverage.alleles, ALLELES_SUFFIX),
        ("mutations", coverage.mutations, MUTATIONS_SUFFIX),
    ]:
        if table is not None:
            counts = alleles_path(path, suffix)
            with atomic_write(counts, "wt") as handle:
                table[ALLELE_COLUMNS].to_csv(handle, sep="\t", index=False)
            header |= {f"{key}_file": counts.name, f"{key}_md5": md5sum(counts)}
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
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise MetcnvError(
            f"{path}: not a complete metcnv coverage file ({error}); it is damaged or was cut "
            "short: count it again with `metcnv coverage`"
        ) from None
    if header.get(FORMAT) != FORMAT_VERSION:
        raise MetcnvError(
            f"{path}: not a metcnv coverage file of format {FORMAT_VERSION}; "
            "make it with `metcnv coverage`"
        )
    missing = [k for k in ("sample", "build", "total_fragments", "bins_md5") if k not in header]
    if missing or not {*BIN_COLUMNS, "count", "depth"} <= set(bins):
        raise MetcnvError(
            f"{path}: header or columns incomplete ({', '.join(missing) or 'bin columns'}); "
            "count it again with `metcnv coverage`"
        )
    keys = (*META_KEYS, *FACT_KEYS, REGION_KEY, *SNP_META_KEYS, *MUTATION_META_KEYS)
    coverage = SampleCoverage(
        sample=header["sample"],
        build=header["build"],
        bins=bins,
        total_fragments=int(header["total_fragments"]),
        meta={k: header[k] for k in keys if k in header},
    )
    if coverage.bins_md5 != header["bins_md5"]:
        raise MetcnvError(f"{path}: bin checksum does not match its header; the file was edited")
    if "alleles_file" in header:
        coverage.alleles = _read_alleles(path, header["alleles_file"], header["alleles_md5"])
    if "mutations_file" in header:
        coverage.mutations = _read_alleles(
            path, header["mutations_file"], header["mutations_md5"], "--mutations"
        )
    return coverage


def _read_alleles(coverage_path: Path, name: str, md5: str, option: str = "--snps") -> pd.DataFrame:
    """The allele table a coverage header names (counted with `option`), refused if missing
    or not the one counted."""
    path = coverage_path.with_name(name)
    if not path.is_file():
        raise MetcnvError(
            f"{path}: missing, but {coverage_path.name} names it for its allele counts; keep "
            f"the two files together or recount with `metcnv coverage {option}`"
        )
    if md5sum(path) != md5:
        raise MetcnvError(
            f"{path}: MD5 differs from the one in {coverage_path.name}; the allele counts were "
            f"edited or replaced, recount with `metcnv coverage {option}`"
        )
    try:
        table = pd.read_csv(path, sep="\t", dtype={"chrom": str, "ref": str, "alt": str})
        return table[ALLELE_COLUMNS].astype(ALLELE_DTYPES)
    except (OSError, UnicodeDecodeError, KeyError, ValueError) as error:
        raise MetcnvError(
            f"{path}: not a metcnv allele table ({error}); recount with `metcnv coverage {option}`"
        ) from None
