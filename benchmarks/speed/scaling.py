"""The deep cfDNA BAMs of the scaling table: 1, 5, 25 and 100 million reads.

    python benchmarks/speed/scaling.py --out benchmarks/speed/out/scaling [--largest 100]

1 M and 5 M reads are written by deepbam.py (`--kind cfdna`: 167 bp fragments, both
150 bp mates overlapping, 60% of fragments flagged duplicate, ~3,000 SNP sites). Writing
a BAM from Python takes ~3 min per million reads on this (busy) machine, and renaming
reads through SAM text ~7 min per 5 M, so the larger ones are the 5 M one merged with
itself by `samtools merge` (default compression, so decoding costs what an aligner's BAM
costs): 25 M = 5 copies, 100 M = 20 copies. Each fragment then appears 5 or 20 times at
the same place under the same name: the same per-read work for coverage and alleles
(a repeated name at a SNP counts once, as a mate would), only fewer distinct names held.
Needs samtools on PATH (Debian: `apt-get install -y samtools`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from timing import Series, measure  # noqa: E402
from variants import panel_bins  # noqa: E402

GENERATED = (1, 5)  # millions of reads written by deepbam.py
COPIED = {25: 5, 100: 20}  # millions of reads: copies of the 5 M BAM


def generated(out: Path, millions: int) -> Path:
    """deepbam.py's cfDNA BAM of about `millions` M reads (written once)."""
    folder = out / f"cfdna_{millions}M"
    if not (folder / "deep.json").exists():
        command = [sys.executable, str(HERE / "deepbam.py"), "--out", str(folder)]
        command += ["--kind", "cfdna", "--reads", str(millions * 1e6)]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return folder / "deep.bam"


def copied(out: Path, millions: int, copies: int, source: Path) -> Path:
    """`copies` copies of `source` merged by position into one BAM (written once)."""
    folder = out / f"cfdna_{millions}M"
    bam = folder / "deep.bam"
    if (folder / "deep.json").exists():
        return bam
    folder.mkdir(parents=True, exist_ok=True)
    command = ["samtools", "merge", "-f", "-@", "2", "-o", str(bam), *[str(source)] * copies]
    subprocess.run(command, check=True)
    subprocess.run(["samtools", "index", str(bam)], check=True)
    for name in ("targets.bed", "sites.vcf.gz", "sites.vcf.gz.tbi"):
        shutil.copy(source.parent / name, folder / name)
    facts = json.loads((source.parent / "deep.json").read_text())
    facts = {k: v * copies if k in ("reads", "fragments") else v for k, v in facts.items()}
    facts |= {"copies_of": str(source), "copies": copies, "bam_bytes": bam.stat().st_size}
    (folder / "deep.json").write_text(json.dumps(facts, indent=2))
    return bam


def scaling_bams(out: Path, largest: int) -> dict[int, Path]:
    """Millions of reads -> BAM, up to `largest` millions."""
    bams = {m: generated(out, m) for m in GENERATED if m <= largest}
    for millions, copies in COPIED.items():
        if millions <= largest:
            bams[millions] = copied(out, millions, copies, bams[5])
    return bams


def time_scaling(bams: dict[int, Path], work: Path, repeats: int, log: Path) -> dict:
    """Wall, CPU and peak RSS of `metcnv coverage` (1 thread) with and without the allele
    counts at the ~3,000 SNP sites, and of `samtools view -c -L` (the floor) on each BAM,
    interleaved; medians of `repeats` runs."""
    metcnv = shutil.which("metcnv") or str(Path(sys.executable).parent / "metcnv")
    results = {}
    for millions, bam in bams.items():
        folder = bam.parent
        bins_bed = folder / "bins.bed"
        if not bins_bed.exists():
            panel_bins(bam, folder / "targets.bed")[["chrom", "start", "end"]].to_csv(
                bins_bed, sep="\t", header=False, index=False
            )
        out = work / f"cfdna_{millions}M.coverage.tsv.gz"
        plain = [metcnv, "coverage", str(bam), "--targets", str(folder / "targets.bed")]
        plain += ["--out", str(out), "--threads", "1"]
        commands = {
            "metcnv coverage": plain,
            "metcnv coverage --snps": [*plain, "--snps", str(folder / "sites.vcf.gz")],
            "samtools view -c -L": ["samtools", "view", "-c", "-L", str(bins_bed), str(bam)],
        }
        series = {name: Series() for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                series[name].runs.append(measure(command, log))
                run = series[name].runs[-1]
                print(f"  {millions} M, {name}: {run.wall:.1f} s, {run.rss_mb:.0f} MB", flush=True)
        facts = json.loads((folder / "deep.json").read_text())
        results[millions] = {"reads": facts["reads"], "bam_bytes": facts["bam_bytes"]} | {
            name: {key: s.median(key) for key in ("wall", "cpu", "rss_mb")}
            for name, s in series.items()
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "scaling")
    parser.add_argument("--largest", type=int, default=100, choices=[1, 5, 25, 100])
    args = parser.parse_args()
    for millions, bam in scaling_bams(args.out, args.largest).items():
        print(f"{millions} M: {bam}")


if __name__ == "__main__":
    main()
