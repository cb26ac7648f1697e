"""A deep, seeded, realistic-looking panel BAM for the speed benchmark: a tissue panel
(`--kind panel`, 250 bp fragments, 8% duplicates) or a deep cfDNA panel before
deduplication (`--kind cfdna`, 167 bp fragments, so the two 150 bp mates overlap, and 60%
of fragments flagged duplicate), at a given depth or about `--reads` reads, with a sites
VCF of ~3,000 SNPs in the targets for the allele counting (sites.vcf.gz).

Fragments come from the test-support simulator metcnv_sim in tests/support
(draw_fragments: capture efficiency, GC bias, gamma-Poisson counts, off-target islands,
MAPQ-0 and duplicate-flagged copies). The BAM is written here rather than with
metcnv_sim.bam.write_bam, because write_bam stores SEQ and QUAL as '*' and no tags, which
makes a file ~10x smaller than an aligner's and so decompression ~10x cheaper than in
real use; a speed benchmark must pay the real decompression cost. Each read here carries,
like BWA-MEM output after samtools fixmate:
- SEQ drawn from a pool of random 150-mers and QUAL from a pool of NovaSeq-like binned
  quality strings (values 2/12/23/37, mostly 37), both seeded;
- tags NM, AS, XS, MC, MQ (the mate's MAPQ) and RG;
- a few CIGARs with a 3-bp deletion (2%), a 2-bp insertion (1%) or a 10-bp soft clip (2%),
  so that the depth cross-check against samtools bedcov covers deletions.
SAM lines are built with vectorised numpy string arrays and parsed in C by
pysam.AlignedSegment.fromstring; BGZF compression at the default level 6 (two threads)
takes most of the ~2 minutes for 6 million reads, so run.py keeps the BAM between runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pysam

from metcnv.genome import LENGTHS, contig_order

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "support"))
from metcnv_sim.bam import DUPLICATE, MATE_REVERSE, PROPER_PAIR_FLAGS, READ1, READ2, REVERSE
from metcnv_sim.fragments import SampleSpec, draw_fragments
from metcnv_sim.panel import GeneTargets, make_panel, write_bed
from metcnv_sim.reference import make_reference

PANEL_SEED, REFERENCE_SEED, SAMPLE_SEED, READ_SEED = 11, 12, 13, 14
CONTIGS = {c: LENGTHS["hg38"][c] for c in ("chr7", "chr8", "chr12", "chr17")}
GENES = [  # hg38 spans, 0-based half-open; target counts like a ~500-gene panel's exons
    GeneTargets("EGFR", "chr7", 55_019_016, 55_211_628, 28),
    GeneTargets("CDK6", "chr7", 92_604_920, 92_836_594, 8),
    GeneTargets("MET", "chr7", 116_672_195, 116_798_377, 21),
    GeneTargets("BRAF", "chr7", 140_719_326, 140_924_929, 18),
    GeneTargets("FGFR1", "chr8", 38_411_137, 38_468_635, 18),
    GeneTargets("MYC", "chr8", 127_735_433, 127_742_951, 3),
    GeneTargets("KRAS", "chr12", 25_205_245, 25_250_929, 5),
    GeneTargets("CDK4", "chr12", 57_747_726, 57_752_310, 8),
    GeneTargets("MDM2", "chr12", 68_808_176, 68_850_686, 11),
    GeneTargets("ERBB2", "chr17", 39_688_093, 39_728_658, 27),
    GeneTargets("TP53", "chr17", 7_661_778, 7_687_538, 11),
    GeneTargets("BRCA1", "chr17", 43_044_294, 43_125_364, 23),
]
BACKBONE_SPACING = 600_000  # one backbone target per 600 kb: ~860 on these contigs
READ_LENGTH = 150
POOL = 4096  # distinct SEQ and QUAL strings
CHUNK = 250_000  # reads formatted at a time


KINDS = {  # fragment length mean and SD, and the share of fragments flagged duplicate
    "panel": (250.0, 50.0, 0.08),
    "cfdna": (167.0, 20.0, 0.60),
}
N_SITES = 3000  # SNP sites in the targets, for the allele counting
SITES_SEED = 15


def settings(target_depth: float, offtarget_per_mb: float, kind: str = "panel") -> dict:
    """What deep.json records, so that run.py rewrites the BAM only when this changes."""
    return {
        "target_depth": target_depth,
        "offtarget_per_mb": offtarget_per_mb,
        "kind": kind,
        "version": 4,
    }


def spec(target_depth: float, offtarget_per_mb: float, kind: str = "panel") -> SampleSpec:
    mean, sd, duplicates = KINDS[kind]
    return SampleSpec(
        "deep",
        seed=SAMPLE_SEED,
        target_depth=target_depth,
        offtarget_per_mb=offtarget_per_mb,
        read_length=READ_LENGTH,
        fragment_mean=mean,
        fragment_sd=sd,
        duplicate_fraction=duplicates,
        mapq0_fraction=0.02,
    )


def depth_for_reads(reads: float, kind: str, offtarget_ratio: float) -> tuple[float, float]:
    """Target depth and off-target fragments per Mb (in the ratio given) for about `reads`
    reads: the reads of a shallow draw, scaled (the fragment count is linear in both)."""
    targets, reference = _panel()
    depth = 100.0
    drawn = draw_fragments(reference, targets, spec(depth, depth * offtarget_ratio, kind))
    scale = reads / (2 * len(drawn))
    return depth * scale, depth * offtarget_ratio * scale


def _panel():
    backbone = dict.fromkeys(CONTIGS, BACKBONE_SPACING)
    targets = make_panel(GENES, backbone, CONTIGS, PANEL_SEED)
    return targets, make_reference(CONTIGS, targets, REFERENCE_SEED)


def write_sites(targets, path: Path) -> None:
    """A bgzipped, indexed sites VCF of N_SITES biallelic SNPs at seeded target positions."""
    rng = np.random.default_rng(SITES_SEED)
    pick = targets.iloc[rng.integers(0, len(targets), N_SITES)]
    pos = pick["start"].to_numpy() + rng.integers(0, (pick["end"] - pick["start"]).to_numpy())
    sites = pd.DataFrame({"chrom": pick["chrom"].to_numpy(), "pos": pos + 1})
    sites = sites.drop_duplicates().assign(order=lambda t: t["chrom"].map(contig_order))
    sites = sites.sort_values(["order", "pos"])
    header = pysam.VariantHeader()
    for contig in sorted(CONTIGS, key=contig_order):
        header.contigs.add(contig, length=CONTIGS[contig])
    header.info.add("AF", "A", "Float", "population allele frequency")
    plain = path.with_suffix("")
    bases = "ACGT"
    with pysam.VariantFile(str(plain), "w", header=header) as out:
        for chrom, position in sites[["chrom", "pos"]].itertuples(index=False):
            ref = int(rng.integers(4))
            alt = (ref + int(rng.integers(1, 4))) % 4
            record = out.new_record(
                contig=chrom, start=int(position) - 1, alleles=(bases[ref], bases[alt])
            )
            record.info["AF"] = round(float(rng.uniform(0.05, 0.5)), 3)
            out.write(record)
    pysam.tabix_index(str(plain), preset="vcf", force=True)


def _pools(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    bases = np.frombuffer(b"ACGT", dtype=np.uint8)
    seqs = bases[rng.integers(0, 4, (POOL, READ_LENGTH))]
    levels = np.frombuffer(b"#-8F", dtype=np.uint8)  # Phred 2, 12, 23, 37
    quals = levels[rng.choice(4, (POOL, READ_LENGTH), p=[0.01, 0.03, 0.08, 0.88])]
    as_str = lambda rows: np.array([r.tobytes().decode() for r in rows], dtype=object)  # noqa: E731
    return as_str(seqs), as_str(quals)


def _sam_lines(reads: pd.DataFrame, pools: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """SAM lines (without newline) of a slice of the read table, built column-wise."""
    text = lambda values: np.asarray(values).astype(str).astype(object)  # noqa: E731
    span, kind, mapq = (reads[c].to_numpy() for c in ("span", "kind", "mapq"))
    cigar = np.array(["", "70M3D80M", "70M2I78M", "10S140M"], dtype=object)[kind]
    cigar[kind == 0] = text(span[kind == 0]) + "M"
    seq, qual = (pool[reads["pick"].to_numpy()] for pool in pools)
    short = np.flatnonzero(span < READ_LENGTH)
    seq[short] = [s[:k] for s, k in zip(seq[short], span[short], strict=True)]
    qual[short] = [q[:k] for q, k in zip(qual[short], span[short], strict=True)]
    scores = np.array(
        ["NM:i:0\tAS:i:150", "NM:i:3\tAS:i:139", "NM:i:3\tAS:i:139", "NM:i:0\tAS:i:140"]
    )
    columns = [
        "A00123:8:H7KJ2DSXY:1:" + text(reads["qname"]),
        text(reads["flag"]),
        reads["rname"].to_numpy(object),
        text(reads["pos"] + 1),
        text(mapq),
        cigar,
        "=",
        text(reads["pnext"] + 1),
        text(reads["tlen"]),
        seq,
        qual,
        scores.astype(object)[kind],
        np.where(mapq == 0, "XS:i:150", "XS:i:0").astype(object),
        "MC:Z:" + text(span) + "M",  # mates share a span in this layout
        "MQ:i:" + text(mapq),  # both reads of a fragment share their MAPQ here
        "RG:Z:deep",
    ]
    lines = columns[0]
    for column in columns[1:]:
        lines = lines + "\t" + column
    return lines


def write_deep_bam(
    out: Path, target_depth: float, offtarget_per_mb: float, kind: str = "panel"
) -> dict:
    """Write targets.bed, sites.vcf.gz and deep.bam (+ .bai) into `out`; return what was
    made."""
    out.mkdir(parents=True, exist_ok=True)
    targets, reference = _panel()
    write_bed(targets, out / "targets.bed")
    write_sites(targets, out / "sites.vcf.gz")
    fragments = draw_fragments(reference, targets, spec(target_depth, offtarget_per_mb, kind))
    rng = np.random.default_rng(READ_SEED)
    names = sorted(CONTIGS, key=contig_order)

    # Two reads per fragment, as metcnv_sim.bam.write_bam lays them out.
    n = len(fragments)
    start = fragments["start"].to_numpy(np.int64)
    length = fragments["length"].to_numpy(np.int64)
    span = np.minimum(READ_LENGTH, length)
    rev1 = fragments["read1_reverse"].to_numpy()
    base = PROPER_PAIR_FLAGS | np.where(fragments["duplicate"].to_numpy(), DUPLICATE, 0)
    left_flag = base | MATE_REVERSE | np.where(rev1, READ2, READ1)
    right_flag = base | REVERSE | np.where(rev1, READ1, READ2)
    mapq = fragments["mapq"].to_numpy()
    chrom = fragments["chrom"].to_numpy()
    rank = np.arange(n)
    reads = pd.DataFrame(
        {
            "qname": np.tile(rank, 2),
            "flag": np.concatenate([left_flag, right_flag]),
            "rname": np.tile(chrom, 2),
            "pos": np.concatenate([start, start + length - span]),
            "mapq": np.tile(mapq, 2),
            "span": np.tile(span, 2),
            "pnext": np.concatenate([start + length - span, start]),
            "tlen": np.concatenate([length, -length]),
        }
    )
    reads["order"] = reads["rname"].map(contig_order)
    reads = reads.sort_values(["order", "pos", "qname"], kind="stable").reset_index(drop=True)
    m = len(reads)

    # CIGARs: mostly full matches; a few with a deletion, an insertion or a soft clip.
    full = reads["span"].to_numpy() == READ_LENGTH
    reads["kind"] = np.where(full, rng.choice(4, m, p=[0.95, 0.02, 0.01, 0.02]), 0)
    reads["pick"] = rng.integers(0, POOL, m)  # SEQ and QUAL from the pools
    pools = _pools(rng)
    header = pysam.AlignmentHeader.from_dict(
        {
            "HD": {"VN": "1.6", "SO": "coordinate"},
            "SQ": [{"SN": c, "LN": CONTIGS[c]} for c in names],
            "RG": [{"ID": "deep", "SM": "deep", "PL": "ILLUMINA", "LB": "deep"}],
            "PG": [{"ID": "deepbam", "PN": "benchmarks/speed/deepbam.py"}],
        }
    )
    bam_path = out / "deep.bam"
    parse = pysam.AlignedSegment.fromstring
    # Default BGZF level (6, as samtools writes); two threads compress.
    with pysam.AlignmentFile(str(bam_path), "wb", header=header, threads=2) as bam:
        write = bam.write
        for first in range(0, m, CHUNK):  # SAM text for 6M reads at once would take ~14 GB
            for line in _sam_lines(reads.iloc[first : first + CHUNK], pools):
                write(parse(line, header))
    pysam.index(str(bam_path))
    passing = (mapq >= 20) & ~fragments["duplicate"].to_numpy()
    return {
        "fragments": int(n),
        "passing_fragments": int(passing.sum()),
        "reads": int(m),
        "targets": len(targets),
        "bam_bytes": bam_path.stat().st_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the BAM and BED")
    parser.add_argument("--target-depth", type=float, default=2000.0)
    parser.add_argument("--offtarget-per-mb", type=float, default=1200.0)
    parser.add_argument("--kind", choices=list(KINDS), default="panel")
    parser.add_argument(
        "--reads", type=float, help="about this many reads (sets both depths, in their ratio)"
    )
    args = parser.parse_args()
    began = time.perf_counter()
    depth, offtarget = args.target_depth, args.offtarget_per_mb
    if args.reads:
        depth, offtarget = depth_for_reads(args.reads, args.kind, offtarget / depth)
    facts = write_deep_bam(args.out, depth, offtarget, args.kind)
    facts["settings"] = settings(depth, offtarget, args.kind)
    facts["seconds_to_write"] = round(time.perf_counter() - began, 1)
    (args.out / "deep.json").write_text(json.dumps(facts, indent=2))
    print(json.dumps(facts))


if __name__ == "__main__":
    main()
