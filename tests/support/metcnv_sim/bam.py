"""Simulated fragments as proper read pairs in a coordinate-sorted, indexed BAM.

Reads carry SEQ and QUAL '*', or the bases alleles.read_sequences gives them with one QUAL.

Written with pysam, or encoded with numpy (~20x faster, the same bytes) for the benchmarks'
deep BAMs.
"""

from __future__ import annotations

import gzip
from array import array
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv.genome import contig_order

PROPER_PAIR_FLAGS = 0x1 | 0x2
REVERSE, MATE_REVERSE, READ1, READ2, DUPLICATE = 0x10, 0x20, 0x40, 0x80, 0x400


def write_bam(
    fragments: pd.DataFrame,
    contigs: Mapping[str, int],
    sample: str,
    read_length: int,
    path: str | Path,
    csi: bool = False,
    writer: str = "pysam",
    level: int | None = None,
    sequences: np.ndarray | None = None,
    quality: int = 30,
) -> None:
    """Write fragments (sorted by position) as proper read pairs in a sorted, indexed BAM.

    `sequences` (alleles.read_sequences: left reads, then right reads, ASCII bases padded to
    one width) gives each read its bases, all of base quality `quality`; None writes SEQ
    and QUAL '*'.

    The leftmost read of a pair has TLEN = +fragment length, the other the negative; reads
    are named by fragment rank. Records are built with numpy and written in one loop. A
    .bai index stores 8 bytes per 16 kb of chromosome (~250 kB for a few hg38 chromosomes,
    uncompressed); `csi` writes the compressed .csi instead, ~10x smaller when reads are
    spread thinly over whole chromosomes.

    `writer="numpy"` encodes the BAM records with numpy instead of one pysam call per read
    (~20x faster, for benchmarks with millions of reads) and writes the same bytes: records
    go through htslib's BGZF writer in the blocks htslib's BAM writer would make.
    `level` (numpy writer only) is the BGZF compression level, 0-9 (None: htslib's
    default); 1 compresses several times faster into files ~15% larger.
    """
    if writer not in ("pysam", "numpy"):
        raise ValueError(f"writer {writer!r}: use 'pysam' or 'numpy'")
    if level is not None and writer != "numpy":
        raise ValueError("a compression level needs writer='numpy'")
    names = sorted(contigs, key=contig_order)
    tid = fragments["chrom"].map({c: i for i, c in enumerate(names)}).to_numpy()
    start = fragments["start"].to_numpy(np.int64)
    length = fragments["length"].to_numpy(np.int64)
    span = np.minimum(read_length, length)
    right = start + length - span
    rev1 = fragments["read1_reverse"].to_numpy()
    base = PROPER_PAIR_FLAGS | np.where(fragments["duplicate"].to_numpy(), DUPLICATE, 0)
    # Left read: forward, mate reverse; right read: reverse. READ1 is whichever rev1 says.
    left_flag = base | MATE_REVERSE | np.where(rev1, READ2, READ1)
    right_flag = base | REVERSE | np.where(rev1, READ1, READ2)
    rank = np.arange(len(start))
    reads = {
        "tid": np.concatenate([tid, tid]),
        "pos": np.concatenate([start, right]),
        "mate": np.concatenate([right, start]),
        "flag": np.concatenate([left_flag, right_flag]),
        "tlen": np.concatenate([length, -length]),
        "span": np.concatenate([span, span]),
        "mapq": np.tile(fragments["mapq"].to_numpy(), 2),
        "rank": np.concatenate([rank, rank]),
    }
    if sequences is not None:
        if len(sequences) != 2 * len(start):
            raise ValueError(f"{len(sequences)} read sequences for {len(start)} fragments")
        reads["seq"] = sequences
    order = np.lexsort((reads["rank"], reads["pos"], reads["tid"]))
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": c, "LN": contigs[c]} for c in names],
        "RG": [{"ID": sample, "SM": sample, "PL": "ILLUMINA", "LB": sample}],
    }
    mode = "wb" if level is None else f"wb{level}"
    if writer == "numpy":
        reads = {k: v[order] for k, v in reads.items()}
        _write_bam_records(reads, header, str(path), mode, quality)
        pysam.index(*(["-c"] if csi else []), str(path))
        return
    columns = [
        reads[k][order].tolist()
        for k in ("tid", "pos", "mate", "flag", "tlen", "span", "mapq", "rank")
    ]
    seqs = reads["seq"][order] if sequences is not None else None
    path = str(path)
    with pysam.AlignmentFile(path, mode, header=header) as out:
        read = pysam.AlignedSegment(out.header)
        cigars: dict[int, list[tuple[int, int]]] = {}
        quals: dict[int, array] = {}
        for i, (t, pos, mate, flag, tlen, width, mapq, name) in enumerate(
            zip(*columns, strict=True)
        ):
            read.query_name = f"{name:x}"
            if seqs is not None:  # the sequence first: setting it clears the qualities
                read.query_sequence = seqs[i, :width].tobytes().decode()
                read.query_qualities = quals.setdefault(width, array("B", [quality] * width))
            read.flag = flag
            read.reference_id = t
            read.reference_start = pos
            read.mapping_quality = mapq
            read.cigartuples = cigars.setdefault(width, [(0, width)])
            read.next_reference_id = t
            read.next_reference_start = mate
            read.template_length = tlen
            out.write(read)
    pysam.index(*(["-c"] if csi else []), path)


BGZF_BLOCK_SIZE = 0xFF00  # htslib: uncompressed bytes per BGZF block
HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
RECORD_FIELDS = np.dtype(  # the fixed part of a BAM record (SAM spec 4.2), little-endian
    [
        ("block_size", "<i4"),
        ("ref_id", "<i4"),
        ("pos", "<i4"),
        ("l_read_name", "u1"),
        ("mapq", "u1"),
        ("bin", "<u2"),
        ("n_cigar_op", "<u2"),
        ("flag", "<u2"),
        ("l_seq", "<i4"),
        ("next_ref_id", "<i4"),
        ("next_pos", "<i4"),
        ("tlen", "<i4"),
    ]
)
RECORD_CHUNK = 1 << 20  # records encoded at a time (bounds memory to ~50 MB without SEQ)
SEQ_CODES = np.zeros(256, np.uint8)  # BAM's 4-bit base codes, "=ACMGRSVTWYHKDBN"
SEQ_CODES[np.frombuffer(b"=ACMGRSVTWYHKDBN", np.uint8)] = np.arange(16, dtype=np.uint8)


def reg2bin(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The BAI bin of [start, end): htslib's hts_reg2bin(start, end, 14, 5), vectorised."""
    start, last = np.asarray(start, np.int64), np.asarray(end, np.int64) - 1
    out = np.zeros(len(start), np.int64)
    todo = np.ones(len(start), bool)
    for shift, offset in ((14, 4681), (17, 585), (20, 73), (23, 9), (26, 1)):
        hit = todo & (start >> shift == last >> shift)
        out[hit] = offset + (start[hit] >> shift)
        todo &= ~hit
    return out


def _header_bytes(header: dict, path: str) -> bytes:
    """The uncompressed BAM header htslib writes for `header` (via a header-only BAM)."""
    scratch = f"{path}.header.tmp"
    try:
        with pysam.AlignmentFile(scratch, "wbu", header=header):
            pass
        with open(scratch, "rb") as handle:
            return gzip.decompress(handle.read())
    finally:
        Path(scratch).unlink(missing_ok=True)


def _encode_records(
    reads: Mapping[str, np.ndarray], quality: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """BAM records (one M cigar op, hex names, SEQ/QUAL '*' unless reads has "seq") as
    bytes, and their sizes.

    Each part of a record (fixed fields, name, cigar, SEQ, QUAL) is a column block padded
    to its widest; a mask of each record's own widths picks its bytes, row by row.
    """
    rank = reads["rank"].astype(np.int64)
    digits = np.ones(len(rank), np.int64)
    for k in range(1, 16):
        digits += rank >= 16**k
    n = len(rank)
    span = reads["span"].astype(np.int64)
    seq = reads.get("seq")
    l_seq = span if seq is not None else np.zeros(n, np.int64)
    fixed = np.zeros(n, RECORD_FIELDS)
    fixed["block_size"] = 32 + digits + 1 + 4 + (l_seq + 1) // 2 + l_seq
    fixed["l_seq"] = l_seq
    fixed["ref_id"] = fixed["next_ref_id"] = reads["tid"]
    fixed["pos"] = reads["pos"]
    fixed["l_read_name"] = digits + 1
    fixed["mapq"] = reads["mapq"]
    fixed["bin"] = reg2bin(reads["pos"], reads["pos"] + reads["span"])
    fixed["n_cigar_op"] = 1
    fixed["flag"] = reads["flag"]
    fixed["next_pos"] = reads["mate"]
    fixed["tlen"] = reads["tlen"]
    sizes = 4 + fixed["block_size"].astype(np.int64)
    names = np.zeros((n, int(digits.max(initial=1)) + 1), np.uint8)
    for width in np.unique(digits):
        pick = np.flatnonzero(digits == width)
        for k in range(width):  # most significant hex digit first; the NUL stays 0
            names[pick, k] = HEX_DIGITS[(rank[pick] >> (4 * (width - 1 - k))) & 15]
    cigar = (span.astype("<u4") << 4).view(np.uint8).reshape(n, 4)
    if seq is None:
        packed, quals = np.zeros((n, 0), np.uint8), np.zeros((n, 0), np.uint8)
    else:
        codes = np.where(np.arange(seq.shape[1]) < span[:, None], SEQ_CODES[seq], 0)
        codes = np.pad(codes, ((0, 0), (0, seq.shape[1] % 2))).astype(np.uint8)
        packed = (codes[:, 0::2] << 4) | codes[:, 1::2]
        quals = np.full(seq.shape, quality, np.uint8)
    parts = [
        (fixed.view(np.uint8).reshape(n, -1), np.full(n, RECORD_FIELDS.itemsize)),
        (names, digits + 1),
        (cigar, np.full(n, 4)),
        (packed, (l_seq + 1) // 2),
        (quals, l_seq),
    ]
    rows = np.concatenate([block for block, _ in parts], axis=1)
    keep = np.concatenate([np.arange(b.shape[1]) < w[:, None] for b, w in parts], axis=1)
    return rows[keep], sizes


def _write_bam_records(
    reads: Mapping[str, np.ndarray], header: dict, path: str, mode: str = "wb", quality: int = 30
) -> None:
    """Write sorted read columns as a BAM, block for block as htslib's bam_write1 would.

    htslib flushes the header into its own block(s), then starts a new BGZF block before
    any record that would not fit in the current one; BGZFile writes through the same
    htslib code, so the compressed bytes match pysam.AlignmentFile's.
    """
    with pysam.BGZFile(path, mode) as out:
        out.write(_header_bytes(header, path))
        out.flush()
        total = len(reads["rank"])
        step = RECORD_CHUNK if "seq" not in reads else max(1, RECORD_CHUNK // 8)  # ~250 B each
        data, sizes = np.zeros(0, np.uint8), np.zeros(0, np.int64)
        for first in range(0, total, step):
            chunk = {k: v[first : first + step] for k, v in reads.items()}
            more, more_sizes = _encode_records(chunk, quality)
            data, sizes = np.concatenate([data, more]), np.concatenate([sizes, more_sizes])
            final = first + step >= total
            ends = np.cumsum(sizes)
            done, written = 0, 0
            while done < len(sizes):
                last = int(np.searchsorted(ends, written + BGZF_BLOCK_SIZE, side="right"))
                last = max(last, done + 1)  # a record larger than a block goes on its own
                if last == len(sizes) and not final:
                    break  # the block may still take records of the next chunk
                stop = int(ends[last - 1])
                out.write(data[written:stop].tobytes())
                out.flush()
                done, written = last, stop
            data, sizes = data[written:], sizes[done:]
