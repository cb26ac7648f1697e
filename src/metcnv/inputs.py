"""A BAM/CRAM checked before its reads are counted, and read failures told in one line.

`check_alignments` (run by coverage.open_alignments on every opened file) refuses, each
with the fix: a file that is not BAM/CRAM (SAM text, empty), lacks the end-of-file block
(truncated copy), is not coordinate-sorted, has no index or an unreadable one, has an
index that does not belong to it (a foreign or stale .bai/.csi: the index's own record of
where each contig's reads start and end must point at that contig's first read and past
its last), or is a CRAM whose --reference is not the FASTA it was written with (lengths
of every contig, and the first slice of each contig decoded, which checks its MD5).
Damage further into the file can only show while reading: `reading` turns htslib's
errors there into one line naming the file.

`alignment_facts` records what identifies the reads: the read groups' SM (so a sample
swap shows) and, from a sample of the reads over the panel's targets, how many the read
filters drop and why (duplicates, MAPQ), so an empty call can name its cause.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pysam

from metcnv import params
from metcnv.errors import MetcnvError
from metcnv.files import require_file
from metcnv.genome import canonical

BAI_PSEUDO_BIN = 37450  # the BAI bin holding each contig's first/last offsets and counts
READ_SAMPLE = 10_000  # reads over the targets inspected for the read-filter summary
FLAG_CAUSES = {  # flag bit -> what the summary calls reads with it
    0x4: "unmapped",
    0x100: "secondary",
    0x200: "qc_fail",
    0x400: "duplicate",
}
MAIN_CAUSE = 0.5  # a filter dropping at least this fraction of the reads is named a cause
HTSLIB_QUIET = 0  # htslib's own messages are off: metcnv says what went wrong in one line


def quiet_htslib() -> None:
    """Silence htslib's stderr messages (the one-line error says what they would)."""
    pysam.set_verbosity(HTSLIB_QUIET)


def index_candidates(path: str | Path) -> list[Path]:
    """Index files htslib would use for a BAM (.bai/.csi) or CRAM (.crai)."""
    name = str(path)
    stem = name.rsplit(".", 1)[0]
    if name.lower().endswith(".cram"):
        return [Path(f"{name}.crai"), Path(f"{stem}.crai")]
    return [Path(f"{name}.bai"), Path(f"{stem}.bai"), Path(f"{name}.csi")]


def find_index(path: str | Path) -> Path | None:
    """The existing index file of a BAM/CRAM, or None."""
    return next((p for p in index_candidates(path) if p.exists()), None)


def sniff(path: Path) -> str | None:
    """What the first bytes say the file is, when it is no BAM/CRAM; None when it may be."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        return "is empty (0 bytes)"
    if head.startswith(b"CRAM") or head.startswith(b"\x1f\x8b"):
        return None
    if head.startswith(b"@") or head[:1].isalnum():
        return "is text (SAM or other), not BAM/CRAM; convert SAM with `samtools view -b`"
    return "is not a BAM/CRAM file (unknown format)"


def open_checked(path: str | Path, fasta: str | Path | None, threads: int) -> pysam.AlignmentFile:
    """Open a BAM/CRAM and check it as the module docstring says (index included)."""
    path = require_file(path, "a BAM or CRAM file")
    handle = open_header(path, fasta, threads)
    try:
        check_index(handle, path, fasta)
    except BaseException:
        _close(handle)
        raise
    return handle


def _close(handle: pysam.AlignmentFile) -> None:
    """Close a file being given up on (htslib may report the error it met again)."""
    with contextlib.suppress(OSError):
        handle.close()


def open_header(path: Path, fasta: str | Path | None, threads: int = 1) -> pysam.AlignmentFile:
    """Open a BAM/CRAM and check what its header says: format, end-of-file block, sort
    order and (CRAM) that `fasta` has its contigs at their lengths."""
    is_cram = path.suffix.lower() == ".cram"
    if is_cram and fasta is None:
        raise MetcnvError(f"{path}: a CRAM needs its reference; pass --reference REF.fa")
    problem = sniff(path)
    if problem:
        raise MetcnvError(f"{path}: {problem}")
    try:
        handle = pysam.AlignmentFile(
            str(path),
            "rc" if is_cram else "rb",
            reference_filename=str(fasta) if is_cram else None,
            threads=threads,
        )
    except (ValueError, OSError) as error:
        raise MetcnvError(_unreadable(path, error)) from None
    try:
        order = handle.header.to_dict().get("HD", {}).get("SO", "unknown")
        if order in ("queryname", "unsorted"):
            raise MetcnvError(
                f"{path}: not coordinate-sorted (header @HD SO:{order}); sort and index it: "
                f"`samtools sort -o sorted.bam {path} && samtools index sorted.bam`"
            )
        if is_cram:
            _check_reference(handle, path, Path(fasta))
    except BaseException:
        _close(handle)
        raise
    return handle


def _unreadable(path: Path, error: Exception) -> str:
    text = str(error)
    if "EOF marker" in text or "truncated" in text:
        return (
            f"{path}: truncated (no end-of-file block: {text}); copy or write the file again "
            "completely (`samtools quickcheck -v` finds such files)"
        )
    return f"{path}: not a readable BAM/CRAM ({text}); check it with `samtools quickcheck -v`"


def _check_reference(handle: pysam.AlignmentFile, path: Path, fasta: Path) -> None:
    """Every contig of a CRAM's header is in `fasta` with the same length."""
    from metcnv.gc import fasta_lengths  # gc imports pysam FASTA helpers; only CRAM needs them

    lengths = fasta_lengths(fasta)
    for contig, length in zip(handle.references, handle.lengths, strict=True):
        have = lengths.get(canonical(contig))
        if have != length:
            found = "lacks it" if have is None else f"has {have:,} bp"
            raise MetcnvError(
                f"{path}: its header has {contig} of {length:,} bp but the reference {fasta} "
                f"{found}; pass the FASTA the CRAM was written with as --reference"
            )


def check_index(handle: pysam.AlignmentFile, path: Path, fasta: str | Path | None) -> None:
    """The file has an index, it can be read, and it belongs to the file."""
    index = find_index(path)
    if not handle.has_index():
        if index is not None:
            raise MetcnvError(
                f"{index}: cannot be read as the index of {path} (empty, damaged or "
                f"unreadable); re-create it with `samtools index {path}`"
            )
        raise MetcnvError(
            f"{path}: no index found; create one with `samtools index {path}` (if that fails, "
            "the file is not coordinate-sorted: `samtools sort` it first)"
        )
    if handle.is_cram:
        _check_cram_slices(handle, path, fasta)
    elif index is not None:
        _check_bam_index(handle, path, index)


def _foreign(index: Path, path: Path, why: str) -> MetcnvError:
    return MetcnvError(
        f"{index}: does not belong to {path} ({why}): an index of another or an older "
        f"version of the file; re-create it with `samtools index {path}`"
    )


def _check_bam_index(handle: pysam.AlignmentFile, path: Path, index: Path) -> None:
    """Each contig's first-read offset in the index points at a read of that contig, and
    the offset past its last read at a later contig, an unplaced read or the end."""
    spans = _index_spans(index)
    if len(spans) != handle.nreferences:
        raise _foreign(index, path, f"{len(spans)} contigs indexed, {handle.nreferences} in it")
    for tid, span in enumerate(spans):
        if span is None:
            continue
        first = _record_at(handle, span[0], index, path)
        if first is None or first != tid:
            raise _foreign(index, path, f"{handle.references[tid]}'s first read is not there")
        after = _record_at(handle, span[1], index, path)
        if after is not None and after != -1 and after <= tid:
            raise _foreign(index, path, f"{handle.references[tid]} has reads after its last")


def _record_at(handle: pysam.AlignmentFile, offset: int, index: Path, path: Path) -> int | None:
    """The contig (reference id) of the read at a virtual file offset; None at the end."""
    try:
        handle.seek(offset)
        return next(handle).reference_id
    except StopIteration:
        return None
    except (OSError, ValueError) as error:
        raise _foreign(index, path, f"offset {offset} is no read: {error}") from None


def _index_spans(index: Path) -> list[tuple[int, int] | None]:
    """Per contig of a BAI or CSI index: the virtual offsets of its first read and past its
    last (from the pseudo-bin samtools writes), or None for a contig without reads."""
    try:
        raw = index.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)  # CSI is BGZF-compressed
        if raw[:4] == b"BAI\x01":
            csi, pseudo, offset = False, BAI_PSEUDO_BIN, 4
        elif raw[:4] == b"CSI\x01":
            _, depth, l_aux = struct.unpack_from("<iii", raw, 4)
            csi, pseudo, offset = True, ((1 << ((depth + 1) * 3)) - 1) // 7 + 1, 16 + l_aux
        else:
            raise ValueError("not BAI or CSI")
        (n_ref,) = struct.unpack_from("<i", raw, offset)
        offset += 4
        spans: list[tuple[int, int] | None] = []
        for _ in range(n_ref):
            (n_bin,) = struct.unpack_from("<i", raw, offset)
            offset += 4
            span = None
            for _ in range(n_bin):
                if csi:
                    bin_id, _, n_chunk = struct.unpack_from("<IQi", raw, offset)
                    offset += 16
                else:
                    bin_id, n_chunk = struct.unpack_from("<Ii", raw, offset)
                    offset += 8
                if bin_id == pseudo and n_chunk == 2:
                    span = struct.unpack_from("<QQ", raw, offset)
                offset += 16 * n_chunk
            if not csi:
                (n_intervals,) = struct.unpack_from("<i", raw, offset)
                offset += 4 + 8 * n_intervals
            spans.append(span)
    except (OSError, EOFError, ValueError, struct.error, zlib.error) as error:
        raise MetcnvError(
            f"{index}: not a readable BAM index ({error}); re-create it with `samtools index`"
        ) from None
    return spans


def _check_cram_slices(handle: pysam.AlignmentFile, path: Path, fasta) -> None:
    """The first slice of every contig decodes: htslib checks it against the reference's
    MD5, so a wrong --reference (or a foreign index) fails here, before any counting."""
    for contig in handle.references:
        try:
            next(handle.fetch(contig), None)
        except (OSError, ValueError) as error:
            raise MetcnvError(
                f"{path}: its reads on {contig} cannot be decoded ({error}); --reference "
                f"{fasta} is not the FASTA the CRAM was written with, or the CRAM or its "
                "index is damaged"
            ) from None


@contextlib.contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Turn a read failure inside a BAM/CRAM (htslib's OSError) into one line naming it."""
    try:
        yield
    except OSError as error:
        while "Closing failed" in str(error) and isinstance(error.__context__, OSError):
            error = error.__context__  # htslib repeats the read error on closing the file
        cram = str(path).lower().endswith(".cram")
        raise MetcnvError(
            f"{path}: reading failed part-way ({error.strerror or error}): the file is damaged"
            + (" or --reference is not the FASTA it was written with" if cram else "")
            + "; check it with `samtools quickcheck -v` and `samtools view -c`, then copy or "
            "write it again"
        ) from None


def identity_problem(name: str, meta: dict[str, str]) -> str | None:
    """What the reads' read groups (recorded by alignment_facts) say against the sample's
    name: another SM (a sample swap?), or several samples in one file; None if nothing."""
    names = json.loads(meta.get("read_groups_sm", "[]"))
    if len(names) > 1:
        return (
            f"the BAM's read groups name {len(names)} samples ({', '.join(names)}): reads of "
            "several samples merged into one file?"
        )
    if names and names[0] != name:
        return (
            f"sample name {name!r} is not the BAM's read-group SM {names[0]!r}: check that "
            "this is the right BAM (a sample swap?)"
        )
    return None


def read_groups_sm(handle: pysam.AlignmentFile) -> list[str]:
    """The distinct SM (sample) names of the file's read groups, sorted."""
    return sorted({rg["SM"] for rg in handle.header.to_dict().get("RG", []) if rg.get("SM")})


def alignment_facts(
    path: str | Path,
    fasta: str | Path | None,
    bins: pd.DataFrame,
    min_mapq: int,
    exclude_flags: int = params.EXCLUDE_FLAGS,
) -> dict[str, str]:
    """What identifies the reads and how the read filters treat them, as coverage-file
    header entries: `read_groups_sm` (JSON list), `reads_mapped` (from the index; BAM only)
    and `read_filter_sample` (JSON: of up to READ_SAMPLE reads over the target bins, MET's
    first, how many carry each excluded flag, fall below `min_mapq`, and pass)."""
    handle = open_checked(path, fasta, 1)
    try:
        facts = {"read_groups_sm": json.dumps(read_groups_sm(handle))}
        if not handle.is_cram:
            facts["reads_mapped"] = str(sum(s.mapped for s in handle.get_index_statistics()))
        by_name = {canonical(c): c for c in handle.references}
        targets = bins[(bins["kind"] == "target") & bins["chrom"].isin(list(by_name))]
        met = targets["gene"].astype(str).str.split(",").map(lambda names: "MET" in names)
        regions = pd.concat([targets[met], targets[~met]])[["chrom", "start", "end"]]
        tally = dict.fromkeys(["reads", *FLAG_CAUSES.values(), "low_mapq", "passing"], 0)
        with reading(path):
            for chrom, start, end in regions.itertuples(index=False):
                for read in handle.fetch(by_name[chrom], start, end):
                    _tally(tally, read, min_mapq, exclude_flags)
                    if tally["reads"] >= READ_SAMPLE:
                        break
                if tally["reads"] >= READ_SAMPLE:
                    break
    finally:
        _close(handle)
    facts["read_filter_sample"] = json.dumps(tally | {"min_mapq": min_mapq})
    return facts


def _tally(tally: dict[str, int], read: pysam.AlignedSegment, min_mapq: int, flags: int) -> None:
    tally["reads"] += 1
    for bit, cause in FLAG_CAUSES.items():
        if read.flag & bit:
            tally[cause] += 1
    low = read.mapping_quality < min_mapq
    tally["low_mapq"] += low
    tally["passing"] += not (read.flag & flags or low)


def read_filter_cause(meta: dict[str, str]) -> str | None:
    """Why few reads were counted, when the header's read facts say so (module docstring):
    no mapped reads, no reads over the targets, or the filters dropping most of them."""
    if meta.get("reads_mapped") == "0":
        return "the BAM has no mapped reads"
    if "read_filter_sample" not in meta:
        return None
    tally = json.loads(meta["read_filter_sample"])
    reads = tally["reads"]
    if reads == 0:
        return "no reads over the panel's targets; is the BAM from this panel?"
    if tally["passing"] >= MAIN_CAUSE * reads:
        return None
    labels = {
        "duplicate": "duplicates (flag 0x400)",
        "low_mapq": f"below MAPQ {tally['min_mapq']} (--min-mapq)",
        "secondary": "secondary alignments (flag 0x100)",
        "qc_fail": "QC-failed (flag 0x200)",
        "unmapped": "unmapped (flag 0x4)",
    }
    causes = [
        f"{tally[key] / reads:.0%} {label}"
        for key, label in labels.items()
        if tally[key] >= MAIN_CAUSE * reads
    ]
    return (
        f"only {tally['passing'] / reads:.0%} of {reads:,} reads over the targets pass the read "
        "filters" + (f": {', '.join(causes)}" if causes else "")
    )
