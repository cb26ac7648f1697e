"""Files labs already have, read as metcnv's inputs: other tools' coverage, copy ratios,
segments and allele counts.

The format is told from a file's content (never from its name alone), and each file becomes
one of four parts of a sample:

- coverage, for `metcnv pon build` and `metcnv call --pon`: CNVkit `.cnn` (target and
  antitarget), Picard CalculateHsMetrics PER_TARGET_COVERAGE (as CNVkit's examples have
  it), GATK CollectReadCounts (TSV or HDF5), mosdepth `--by` regions, and GATK
  DepthOfCoverage interval summaries as PureCN reads them;
- normalised copy ratios, for the MET call alone: CNVkit `.cnr`, GATK DenoiseReadCounts;
- segments, beside those ratios: CNVkit `.cns`, GATK ModelSegments `.modelFinal.seg`;
- allele counts at SNPs: GATK CollectAllelicCounts, or a VCF with per-sample AD (Mutect,
  HaplotypeCaller), of which known germline sites (INFO DB or POP_AF) are used.

Files are grouped into samples by name (the file name up to its first dot; GATK files by
their header's SM), so a sample's target and antitarget `.cnn` go together. Coordinates
become 0-based half-open bins (Picard and GATK count from 1). Depth-only formats do not
say how many reads a bin holds: its count is taken as summed depth / IMPORTED_READ_LENGTH,
and GATK's counts give depth the same way. That sets only the counting part of a bin's
weight, which the sample's own scatter then rescales (call.normalized_bins).

A file without a sequence dictionary has its genome build read from its coordinates: the
build whose chromosome lengths hold every bin and whose built-in gene positions (MET,
EGFR, ...) hold the bins named after those genes. A contradiction with the panel of
normals' or the FASTA's build is refused, and so is every other mismatch, in one line.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from metcnv.alleles import ALLELE_COLUMNS, ALLELE_DTYPES
from metcnv.bins import BIN_COLUMNS, NO_GENE, builtin_gene, sort_bins
from metcnv.coverage import SampleCoverage
from metcnv.errors import MetcnvError
from metcnv.files import md5sum, require_file
from metcnv.genome import GENES, LENGTHS, canonical, detect_build
from metcnv.segment import noise_scale

IMPORTED_READ_LENGTH = 150  # bases of a read, to turn summed depth into reads and back
EMPTY_LOG2 = -15.0  # CNVkit writes -20 for a bin without reads; its drop_low_coverage: < -15
OFFTARGET_LABELS = {"Antitarget", "Background"}  # CNVkit's names of off-target bins
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
COVERAGE, RATIOS, SEGMENTS, ALLELES = "coverage", "normalised copy ratios", "segments", "alleles"


@dataclass(frozen=True)
class Format:
    """One foreign file format: its name, the part of a sample it gives, and the steps
    of metcnv's pipeline that the tool which wrote it did instead."""

    name: str
    part: str
    steps_done: tuple[str, ...] = ()
    normaliser: str | None = None  # normalised copy ratios: the tool and step that made them


FORMATS = {
    f.name: f
    for f in (
        Format("CNVkit .cnn", COVERAGE, ("read counting (CNVkit coverage)",)),
        Format("Picard per-target coverage", COVERAGE, ("read counting (Picard)",)),
        Format("GATK CollectReadCounts", COVERAGE, ("read counting (GATK)",)),
        Format("mosdepth regions", COVERAGE, ("read counting (mosdepth)",)),
        Format("GATK DepthOfCoverage", COVERAGE, ("read counting (GATK DepthOfCoverage)",)),
        Format(
            "CNVkit .cnr",
            RATIOS,
            (
                "read counting (CNVkit coverage)",
                "normalisation against normals, GC and capture bias correction (CNVkit fix)",
            ),
            "CNVkit fix (.cnr)",
        ),
        Format(
            "GATK denoised copy ratios",
            RATIOS,
            (
                "read counting (GATK CollectReadCounts)",
                "normalisation and denoising against a panel of normals (GATK DenoiseReadCounts)",
            ),
            "GATK DenoiseReadCounts",
        ),
        Format("CNVkit .cns", SEGMENTS, ("segmentation (CNVkit segment)",)),
        Format("GATK ModelSegments", SEGMENTS, ("segmentation (GATK ModelSegments)",)),
        Format("GATK CollectAllelicCounts", ALLELES, ("allele counting (GATK)",)),
        Format("VCF with allele depths", ALLELES, ("allele counting (the variant caller)",)),
    )
}


@dataclass
class Part:
    """What one file holds, before it joins its sample."""

    path: Path
    format: Format
    sample: str
    table: pd.DataFrame  # bins, segments (chrom, start, end) or ALLELE_COLUMNS
    build: str | None = None  # from the file's sequence dictionary, if it has one
    gc: np.ndarray | None = None  # per bin, where the file measures it (Picard)


@dataclass
class Imported:
    """One sample's files: its bins (coverage or normalised ratios), and optionally its
    segments and allele counts, with the genome build the files say or imply."""

    sample: str
    parts: list[Part]
    bins: pd.DataFrame  # BIN_COLUMNS + count, depth (coverage) or + log2, weight, depth
    normalised: bool
    gc: np.ndarray | None = None
    build: str | None = None
    segments: pd.DataFrame | None = None  # chrom, start, end of given segments
    alleles: pd.DataFrame | None = None

    @property
    def sources(self) -> list[tuple[str, str, str]]:
        """(path, md5, format) of every file read."""
        return [(str(p.path), md5sum(p.path), p.format.name) for p in self.parts]

    @property
    def steps_done_elsewhere(self) -> list[str]:
        """The steps of metcnv's pipeline another tool did for these files."""
        steps = [s for p in self.parts for s in p.format.steps_done]
        return list(dict.fromkeys(steps))

    @property
    def label(self) -> str:
        return ", ".join(str(p.path) for p in self.parts)

    @property
    def normalised_by(self) -> str:
        """The tool (and step) that normalised the copy ratios."""
        return next(p.format.normaliser for p in self.parts if p.format.part == RATIOS)

    def coverage(self) -> SampleCoverage:
        """The sample's raw coverage as metcnv's own (the counts are its reads)."""
        table = self.bins[[*BIN_COLUMNS, "count", "depth"]].reset_index(drop=True)
        meta = {"source": self.label}
        total = int(table["count"].sum())
        return SampleCoverage(self.sample, self.build, table, total, meta, self.alleles)

    def ratio_bins(self) -> pd.DataFrame:
        """The sample's normalised copy ratios as call.normalized_bins' table: a bin is used
        when its ratio is finite, its weight positive and it is not empty as CNVkit's
        drop_low_coverage says (log2 < -15 or depth 0); weights, relative in the file
        (CNVkit's) or absent (GATK's: 1), become inverse variances scaled by the bins' own
        scatter, per kind."""
        log2, weight = self.bins["log2"].to_numpy(float), self.bins["weight"].to_numpy(float)
        kinds = self.bins["kind"].to_numpy()
        empty = (log2 < EMPTY_LOG2) | (self.bins["depth"].to_numpy(float) == 0)
        used = np.isfinite(log2) & np.isfinite(weight) & (weight > 0) & ~empty
        weight = np.where(used, weight, 0.0)
        for kind in np.unique(kinds):
            rows = used & (kinds == kind)
            if rows.sum() > 2:
                weight[rows] /= noise_scale(log2[rows], weight[rows]) ** 2
        nothing = np.full(len(log2), np.nan)
        return (
            self.bins[BIN_COLUMNS]
            .assign(
                count=nothing,
                depth=self.bins["depth"].to_numpy(float),
                gc=nothing,
                log2=log2,
                weight=weight,
                used=used.astype(int),
                pon_spread=nothing,
            )
            .reset_index(drop=True)
        )

    def on_build(self, build: str) -> Imported:
        """The sample on `build` (refused if its coordinates or header say otherwise), with
        unnamed bins named after the built-in genes they overlap."""
        if self.build is not None and self.build != build:
            raise MetcnvError(
                f"{self.label}: aligned to {self.build} but the panel of normals or the "
                f"FASTA is {build}; use files of one genome build"
            )
        fitting = fitting_builds(self.bins)
        if build not in fitting:
            raise MetcnvError(
                f"{self.label}: coordinates are not on {build} ({_build_evidence(self.bins)}); "
                f"use files and a reference of one genome build"
            )
        bins = self.bins.copy()
        bins["gene"] = [
            g if g != NO_GENE else (builtin_gene(build, c, s, e) or NO_GENE)
            for c, s, e, g in bins[["chrom", "start", "end", "gene"]].itertuples(False)
        ]
        return replace(self, bins=bins, build=build)

    def own_build(self) -> str:
        """The build the files say or imply, or a one-line error when they cannot tell."""
        if self.build is not None:
            return self.build
        fitting = fitting_builds(self.bins)
        if len(fitting) == 1:
            return fitting[0]
        if not fitting:
            raise MetcnvError(
                f"{self.label}: coordinates fit neither hg19 nor hg38 "
                f"({_build_evidence(self.bins)}); use files of a human build with chr7"
            )
        raise MetcnvError(
            f"{self.label}: the genome build cannot be told from these coordinates (no MET or "
            "other known gene named, no sequence dictionary); pass --fasta REF.fa"
        )


# --- detection ------------------------------------------------------------------------
def _open_text(path: Path) -> IO[str]:
    """A text file, gunzipped when it is gzipped (whatever its name)."""
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gzipped else open(path)


def _head(path: Path, n: int = 400) -> tuple[list[str], bool]:
    """The first lines of a text file (gzipped or not), and whether it is HDF5."""
    with open(path, "rb") as raw:
        start = raw.read(8)
    if start.startswith(HDF5_MAGIC):
        return [], True
    lines = []
    try:
        with _open_text(path) as handle:
            for line in handle:
                lines.append(line.rstrip("\n"))
                if len(lines) >= n:
                    break
    except (OSError, UnicodeDecodeError, EOFError):
        raise MetcnvError(
            f"{path}: neither text nor HDF5; give a coverage, copy-ratio, segment or allele "
            "count file (docs/outputs.md lists the formats)"
        ) from None
    return lines, False


def detect_format(path: str | Path) -> str:
    """The name of the file's format (a key of FORMATS, or "metcnv coverage"), from its
    content; a one-line error naming what was found when no format matches."""
    path = require_file(path, "a coverage, copy-ratio, segment or allele-count file")
    lines, hdf5 = _head(path)
    if hdf5:
        return "GATK CollectReadCounts"
    body = [line for line in lines if not line.startswith("@")]
    if not body:
        raise MetcnvError(f"{path}: empty; give a coverage or copy-ratio file")
    first = body[0]
    if first.startswith("#metcnv-coverage"):
        return "metcnv coverage"
    if first.startswith("##fileformat=VCF"):
        return "VCF with allele depths"
    found = _format_of(first.split("\t")) or _format_of(first.split())
    if found is not None:
        return found
    if _is_bed_with_depth(body):
        return "mosdepth regions"
    raise MetcnvError(
        f"{path}: unknown format (header {first[:80]!r}); metcnv reads CNVkit .cnn/.cnr/.cns, "
        "Picard per-target coverage, GATK read counts, denoised copy ratios, segments and "
        "allelic counts, mosdepth regions, VCFs with AD and its own coverage files"
    )


def _format_of(columns: list[str]) -> str | None:
    """The format whose header these columns are, if any."""
    names = set(columns)
    if {"chromosome", "start", "end", "gene", "log2"} <= names:
        if "spread" in names:
            return "CNVkit reference"
        if "probes" in names:
            return "CNVkit .cns"
        if "weight" in names:
            return "CNVkit .cnr"
        if "depth" in names:
            return "CNVkit .cnn"
    if columns[:3] == ["chrom", "start", "end"] and {"%gc", "mean_coverage"} <= names:
        return "Picard per-target coverage"
    if columns[:4] == ["CONTIG", "START", "END", "COUNT"]:
        return "GATK CollectReadCounts"
    if columns[:4] == ["CONTIG", "START", "END", "LOG2_COPY_RATIO"]:
        return "GATK denoised copy ratios"
    if columns[:3] == ["CONTIG", "START", "END"] and "LOG2_COPY_RATIO_POSTERIOR_50" in names:
        return "GATK ModelSegments"
    if columns[:4] == ["CONTIG", "POSITION", "REF_COUNT", "ALT_COUNT"]:
        return "GATK CollectAllelicCounts"
    if columns[0] == "Target" and {"total_coverage", "average_coverage"} <= names:
        return "GATK DepthOfCoverage"
    return None


def _is_bed_with_depth(lines: list[str]) -> bool:
    """mosdepth --by output: chrom, start, end, [name,] mean depth, without a header."""
    for line in lines[:50]:
        fields = line.split("\t")
        if len(fields) not in (4, 5):
            return False
        try:
            int(fields[1]), int(fields[2]), float(fields[-1])
        except ValueError:
            return False
    return True


# --- readers --------------------------------------------------------------------------
def _stem(path: Path) -> str:
    """A sample's name from a file name: up to its first dot (CNVkit's convention)."""
    return path.name.split(".")[0]


def _sam_header(path: Path) -> tuple[int, dict[str, int], str | None]:
    """Lines of a GATK file's SAM-style header, its contig lengths and its SM."""
    header = []
    with _open_text(path) as handle:
        for line in handle:
            if not line.startswith("@"):
                break
            header.append(line.rstrip("\n"))
    return len(header), *_sequence_dictionary(header)


def _sequence_dictionary(lines: list[str]) -> tuple[dict[str, int], str | None]:
    lengths, sample = {}, None
    for line in lines:
        tags = dict(f.split(":", 1) for f in line.split("\t")[1:] if ":" in f)
        if line.startswith("@SQ") and "SN" in tags and "LN" in tags:
            lengths[tags["SN"]] = int(tags["LN"])
        elif line.startswith("@RG") and "SM" in tags:
            sample = tags["SM"]
    return lengths, sample


def _read_table(path: Path, skip: int = 0, sep: str = "\t", **options) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=sep, skiprows=skip, **options)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as error:
        raise MetcnvError(
            f"{path}: cannot be read as its format ({error}); check the file"
        ) from None


def _bins(chrom, start, end, gene, kind, **values) -> pd.DataFrame:
    """A bin table with canonical contig names, 0-based starts given."""
    frame = pd.DataFrame(
        {
            "chrom": [canonical(str(c)) for c in chrom],
            "start": np.asarray(start, dtype=np.int64),
            "end": np.asarray(end, dtype=np.int64),
            "gene": gene,
            "kind": kind,
            **values,
        }
    )
    return frame


def _depth_counts(depth: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Reads a bin holds, from its mean depth (see the module docstring)."""
    return np.round(np.nan_to_num(depth) * length / IMPORTED_READ_LENGTH).astype(np.int64)


def _cnvkit_genes(genes: pd.Series) -> tuple[list[str], list[str]]:
    """CNVkit gene labels to metcnv's (comma-separated, '-' for none) and bin kinds."""
    names, kinds = [], []
    for label in genes.fillna("-").astype(str):
        if label in OFFTARGET_LABELS:
            names.append(NO_GENE)
            kinds.append("offtarget")
            continue
        parts = [g for g in label.replace("|", ",").split(",") if g and g != "-"]
        names.append(",".join(dict.fromkeys(parts)) or NO_GENE)
        kinds.append("target")
    return names, kinds


def _read_cnvkit(path: Path, fmt: Format) -> Part:
    table = _read_table(path, dtype={"chromosome": str, "gene": str})
    genes, kinds = _cnvkit_genes(table["gene"])
    start, end = table["start"].to_numpy(), table["end"].to_numpy()
    if fmt.part == SEGMENTS:
        return Part(path, fmt, _stem(path), _segments(table["chromosome"], start, end))
    depth = table["depth"].to_numpy(float) if "depth" in table else np.full(len(table), np.nan)
    if fmt.part == COVERAGE:
        values = {"count": _depth_counts(depth, end - start), "depth": depth}
    else:
        log2, weight = table["log2"].to_numpy(float), table["weight"].to_numpy(float)
        if np.allclose(depth, 2**log2, rtol=1e-3, equal_nan=True):
            depth = np.full(len(table), np.nan)  # older CNVkit: 'depth' is the ratio, not reads
        values = {"log2": log2, "weight": weight, "depth": depth}
    return Part(
        path, fmt, _stem(path), _bins(table["chromosome"], start, end, genes, kinds, **values)
    )


def _read_picard(path: Path, fmt: Format) -> Part:
    table = _read_table(path, dtype={"chrom": str, "name": str}, na_filter=False)
    genes, kinds = _cnvkit_genes(table["name"])
    start, end = table["start"].to_numpy() - 1, table["end"].to_numpy()
    depth = table["mean_coverage"].to_numpy(float)
    bins = _bins(
        table["chrom"],
        start,
        end,
        genes,
        kinds,
        count=_depth_counts(depth, end - start),
        depth=depth,
    )
    gc = table["%gc"].to_numpy(float)
    return Part(path, fmt, _stem(path), bins, gc=gc)


def _read_gatk(path: Path, fmt: Format) -> Part:
    skip, lengths, sample = _sam_header(path)
    table = _read_table(path, skip, dtype={"CONTIG": str})
    build = detect_build(lengths, str(path)) if lengths else None
    start, end = table["START"].to_numpy() - 1, table["END"].to_numpy()
    name = sample or _stem(path)
    if fmt.part == SEGMENTS:
        return Part(path, fmt, name, _segments(table["CONTIG"], start, end), build)
    if fmt.part == RATIOS:
        values = {
            "log2": table["LOG2_COPY_RATIO"].to_numpy(float),
            "weight": np.ones(len(table)),
            "depth": np.full(len(table), np.nan),
        }
    else:
        count = table["COUNT"].to_numpy(np.int64)
        values = {"count": count, "depth": count * IMPORTED_READ_LENGTH / (end - start)}
    bins = _bins(table["CONTIG"], start, end, NO_GENE, "target", **values)
    return Part(path, fmt, name, bins, build)


def _read_gatk_hdf5(path: Path, fmt: Format) -> Part:
    """GATK CollectReadCounts HDF5 (the format GATK's CNV tools prefer): h5py reads it."""
    import h5py  # only this format needs it

    try:
        with h5py.File(path, "r") as hdf:
            contigs = [c.decode() for c in hdf["intervals/indexed_contig_names"][()]]
            index, start, end = hdf["intervals/transposed_index_start_end"][()].astype(np.int64)
            count = hdf["counts/values"][()][0].astype(np.int64)
            sample = hdf["sample_metadata/sample_name"][()][0].decode()
            dictionary = hdf["locatable_metadata/sequence_dictionary"][()][0].decode()
    except (OSError, KeyError, ValueError, IndexError) as error:
        raise MetcnvError(
            f"{path}: an HDF5 file but not GATK CollectReadCounts output ({error}); give "
            "the read counts of `gatk CollectReadCounts`"
        ) from None
    lengths, _ = _sequence_dictionary(dictionary.splitlines())
    build = detect_build(lengths, str(path)) if lengths else None
    chrom = np.array(contigs, dtype=object)[index]
    bins = _bins(
        chrom,
        start - 1,
        end,
        NO_GENE,
        "target",
        count=count,
        depth=count * IMPORTED_READ_LENGTH / (end - start + 1),
    )
    return Part(path, fmt, sample, bins, build)


def _read_mosdepth(path: Path, fmt: Format) -> Part:
    table = _read_table(path, header=None, dtype={0: str})
    depth = table[table.columns[-1]].to_numpy(float)
    start, end = table[1].to_numpy(), table[2].to_numpy()
    genes = _cnvkit_genes(table[3])[0] if len(table.columns) == 5 else [NO_GENE] * len(table)
    bins = _bins(
        table[0], start, end, genes, "target", count=_depth_counts(depth, end - start), depth=depth
    )
    return Part(path, fmt, _stem(path), bins)


def _read_depth_of_coverage(path: Path, fmt: Format) -> Part:
    """GATK3 DepthOfCoverage interval summary, as PureCN writes and reads it."""
    table = _read_table(path, sep=r"\s+")
    where = table["Target"].astype(str).str.extract(r"^(.+):(\d+)(?:-(\d+))?$")
    if where.isna()[0].any():
        raise MetcnvError(f"{path}: Target column is not chrom:start-end; check the file")
    start = where[1].astype(np.int64).to_numpy() - 1
    end = where[2].fillna(where[1]).astype(np.int64).to_numpy()
    kinds = "target"
    if "on_target" in table:
        on = table["on_target"].astype(str).str.upper() == "TRUE"
        kinds = np.where(on, "target", "offtarget")
    total = table["total_coverage"].to_numpy(float)
    bins = _bins(
        where[0],
        start,
        end,
        NO_GENE,
        kinds,
        count=np.round(np.nan_to_num(total) / IMPORTED_READ_LENGTH).astype(np.int64),
        depth=table["average_coverage"].to_numpy(float),
    )
    name = _stem(path)
    return Part(path, fmt, name, bins)


def _segments(chrom, start, end) -> pd.DataFrame:
    return pd.DataFrame(
        {"chrom": [canonical(str(c)) for c in chrom], "start": start, "end": end}
    ).astype({"start": np.int64, "end": np.int64})


def _read_allelic_counts(path: Path, fmt: Format) -> Part:
    skip, lengths, sample = _sam_header(path)
    table = _read_table(path, skip, dtype={"CONTIG": str})
    alleles = pd.DataFrame(
        {
            "chrom": [canonical(c) for c in table["CONTIG"]],
            "pos": table["POSITION"],
            "ref": table["REF_NUCLEOTIDE"],
            "alt": table["ALT_NUCLEOTIDE"],
            "pop_af": np.nan,
            "ref_count": table["REF_COUNT"],
            "alt_count": table["ALT_COUNT"],
            "other_count": 0,
        }
    )
    build = detect_build(lengths, str(path)) if lengths else None
    return Part(path, fmt, sample or _stem(path), alleles.astype(ALLELE_DTYPES), build)


def read_vcf_alleles(path: Path, sample: str | None) -> Part:
    """Allele counts of one sample of a VCF with FORMAT/AD at known germline SNPs (INFO
    DB or POP_AF): biallelic SNVs only. The sample is `sample`, the VCF's only one, or the
    tumor its header names (Mutect2's ##tumor_sample). Read as text, because VCFs of older
    callers often break their own header's types (PureCN's example has a float DP)."""
    fmt = FORMATS["VCF with allele depths"]
    lengths, tumor, rows, names, column = {}, None, [], [], -1
    with _open_text(path) as handle:
        for line in handle:
            if line.startswith("##contig=") and "length=" in line:
                tags = dict(t.split("=", 1) for t in line[10:].rstrip(">\n").split(",") if "=" in t)
                lengths[tags["ID"]] = int(tags["length"])
            elif line.startswith("##tumor_sample="):
                tumor = line.split("=", 1)[1].strip()
            elif line.startswith("#CHROM"):
                names = line.rstrip("\n").split("\t")[9:]
                pick = sample if sample in names else tumor if tumor in names else None
                pick = names[0] if pick is None and len(names) == 1 else pick
                if pick is None:
                    raise MetcnvError(
                        f"{path}: samples {', '.join(names) or 'none'}, none named {sample!r}; "
                        "name the tumor's column with --sample"
                    )
                column = 9 + names.index(pick)
            elif not line.startswith("#"):
                rows.extend(_vcf_site(line.rstrip("\n").split("\t"), column))
    alleles = pd.DataFrame(rows, columns=ALLELE_COLUMNS).astype(ALLELE_DTYPES)
    build = (
        detect_build(lengths, str(path)) if any(canonical(c) == "chr7" for c in lengths) else None
    )
    return Part(path, fmt, names[column - 9], alleles, build)


def _vcf_site(fields: list[str], column: int) -> list[tuple]:
    """The allele counts of one VCF line, if it is a biallelic SNV at a known germline SNP
    with the sample's AD."""
    ref, alt, info = fields[3], fields[4], fields[7].split(";")
    if len(ref) != 1 or len(alt) != 1 or ref not in "ACGT" or alt not in "ACGT":
        return []
    pop = next((float(i[7:]) for i in info if i.startswith("POP_AF=")), None)
    if pop is None and "DB" not in info:
        return []
    values = dict(zip(fields[8].split(":"), fields[column].split(":"), strict=False))
    depths = values.get("AD", ".").split(",")
    if len(depths) < 2 or not all(d.isdigit() for d in depths[:2]):
        return []
    pop_af = np.nan if pop is None else pop
    return [(canonical(fields[0]), int(fields[1]), ref, alt, pop_af, *map(int, depths[:2]), 0)]


READERS = {
    "CNVkit .cnn": _read_cnvkit,
    "CNVkit .cnr": _read_cnvkit,
    "CNVkit .cns": _read_cnvkit,
    "Picard per-target coverage": _read_picard,
    "mosdepth regions": _read_mosdepth,
    "GATK DepthOfCoverage": _read_depth_of_coverage,
    "GATK denoised copy ratios": _read_gatk,
    "GATK ModelSegments": _read_gatk,
    "GATK CollectAllelicCounts": _read_allelic_counts,
}


def read_part(path: Path, fmt_name: str, vcf_sample: str | None = None) -> Part:
    """One file of a known foreign format."""
    if fmt_name == "CNVkit reference":
        raise MetcnvError(
            f"{path}: a CNVkit reference (pooled normals), not one sample's coverage; give "
            "the normals' own *.targetcoverage.cnn and *.antitargetcoverage.cnn"
        )
    if fmt_name == "VCF with allele depths":
        return read_vcf_alleles(path, vcf_sample)
    fmt = FORMATS[fmt_name]
    if fmt_name == "GATK CollectReadCounts":
        _, hdf5 = _head(path, 1)
        return _read_gatk_hdf5(path, fmt) if hdf5 else _read_gatk(path, fmt)
    try:
        return READERS[fmt_name](path, fmt)
    except KeyError as error:
        raise MetcnvError(
            f"{path}: {fmt_name} without its column {error}; check the file"
        ) from None


# --- samples --------------------------------------------------------------------------
def is_foreign(path: str | Path) -> bool:
    """Whether a coverage input is another tool's file (not a BAM/CRAM or metcnv's own)."""
    return detect_format(path) != "metcnv coverage"


def read_samples(paths: list[Path], vcf_sample: str | None = None) -> list[Imported]:
    """Foreign files grouped into samples (in the order first named), each checked: one
    bin source (target and antitarget coverage, or ratios), at most one of each other part.
    Bins group by sample name; segments join the bins of their name, or the only sample's
    (GATK's denoised ratios may lack the SM its segments have), as allele counts do."""
    parts = [read_part(Path(p), detect_format(p), vcf_sample) for p in paths]
    groups: dict[str, list[Part]] = {}
    for part in parts:
        if part.format.part in (COVERAGE, RATIOS):
            groups.setdefault(part.sample, []).append(part)
    for part in parts:
        if part.format.part == SEGMENTS:
            name = part.sample if part.sample in groups or len(groups) != 1 else next(iter(groups))
            groups.setdefault(name, []).append(part)
    alleles = [p for p in parts if p.format.part == ALLELES]
    if alleles and len(groups) != 1:
        raise MetcnvError(
            f"{alleles[0].path}: allele counts given with files of {len(groups)} samples; give "
            "one sample's files with its allele counts"
        )
    samples = [_sample(name, group) for name, group in groups.items()]
    if alleles:
        samples[0] = _with_alleles(samples[0], alleles)
    return samples


def _sample(name: str, parts: list[Part]) -> Imported:
    """One sample from its files."""
    coverage = [p for p in parts if p.format.part == COVERAGE]
    ratios = [p for p in parts if p.format.part == RATIOS]
    segments = [p for p in parts if p.format.part == SEGMENTS]
    label = ", ".join(str(p.path) for p in parts)
    if coverage and ratios:
        raise MetcnvError(
            f"{label}: raw coverage and normalised copy ratios of one sample ({name}); give "
            "either the coverage (with --pon) or the copy ratios"
        )
    if not coverage and not ratios:
        raise MetcnvError(
            f"{label}: segments without bins; give {name}'s copy ratios (.cnr or denoised "
            "copy ratios) with its segments"
        )
    bin_parts = coverage or ratios
    kinds = [tuple(sorted(set(p.table["kind"]))) for p in bin_parts]
    if len(bin_parts) > 1 and (len(set(kinds)) != len(kinds) or any(len(k) != 1 for k in kinds)):
        raise MetcnvError(
            f"{label}: several files of {name} hold the same bins; give one target and at "
            "most one antitarget file per sample"
        )
    if len(segments) > 1:
        raise MetcnvError(f"{label}: several segment files of {name}; give one")
    if segments and coverage:
        raise MetcnvError(
            f"{segments[0].path}: segments go with the copy ratios they were made from (.cnr, "
            "denoised copy ratios); with raw coverage metcnv segments the sample itself"
        )
    frames = [p.table for p in bin_parts]
    gc = None
    if all(p.gc is not None for p in bin_parts):
        frames = [p.table.assign(_gc=p.gc) for p in bin_parts]
    bins = sort_bins(pd.concat(frames, ignore_index=True))
    if "_gc" in bins:
        gc = bins.pop("_gc").to_numpy(float)
    _check_bins(bins, label)
    builds = {p.build for p in parts if p.build is not None}
    if len(builds) > 1:
        raise MetcnvError(f"{label}: files of several genome builds ({', '.join(sorted(builds))})")
    return Imported(
        sample=name,
        parts=parts,
        bins=bins,
        normalised=bool(ratios),
        gc=gc,
        build=builds.pop() if builds else None,
        segments=segments[0].table if segments else None,
    )


def _check_bins(bins: pd.DataFrame, label: str) -> None:
    """Bins must be non-empty intervals."""
    if len(bins) == 0:
        raise MetcnvError(f"{label}: no bins; check the file")
    if (bins["end"] <= bins["start"]).any():
        row = bins[bins["end"] <= bins["start"]].iloc[0]
        raise MetcnvError(f"{label}: empty bin {row.chrom}:{row.start}-{row.end}; check the file")


def _with_alleles(sample: Imported, alleles: list[Part]) -> Imported:
    if len(alleles) > 1:
        raise MetcnvError(f"{alleles[1].path}: several allele-count files; give one")
    part = alleles[0]
    if part.build and sample.build and part.build != sample.build:
        raise MetcnvError(
            f"{part.path}: allele counts on {part.build} but {sample.label} on {sample.build}"
        )
    return replace(
        sample,
        parts=[*sample.parts, part],
        alleles=part.table,
        build=sample.build or part.build,
    )


# --- genome builds --------------------------------------------------------------------
def fitting_builds(bins: pd.DataFrame) -> list[str]:
    """Builds whose chromosome lengths hold every bin and whose built-in genes hold the bins
    named after them."""
    ends = bins.groupby("chrom")["end"].max()
    fitting = []
    for build, lengths in LENGTHS.items():
        if any(end > lengths[chrom] for chrom, end in ends.items() if chrom in lengths):
            continue
        if all(_gene_fits(bins, name, region) for name, region in GENES[build].items()):
            fitting.append(build)
    return fitting


def _gene_fits(bins: pd.DataFrame, name: str, region) -> bool:
    named = bins[bins["gene"].astype(str).str.split(",").map(lambda g: name in g)]
    if named.empty:
        return True
    inside = (named["chrom"] == region.chrom) & (named["start"] < region.end)
    return bool((inside & (named["end"] > region.start)).any())


def _build_evidence(bins: pd.DataFrame) -> str:
    met = bins[bins["gene"].astype(str).str.split(",").map(lambda g: "MET" in g)]
    if len(met):
        return f"MET bins at {met['chrom'].iloc[0]}:{int(met['start'].min()):,}"
    last = bins.loc[bins["end"].idxmax()]
    return f"a bin ends at {last['chrom']}:{int(last['end']):,}"
