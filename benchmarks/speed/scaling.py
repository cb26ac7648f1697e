"""The deep cfDNA BAMs of the scaling table: 1, 5, 25 and 100 million reads.

    python benchmarks/speed/scaling.py --out benchmarks/speed/out/scaling [--largest 100]

1 M and 5 M reads are written by deepbam.py (`--kind cfdna`: 167 bp fragments, both
150 bp mates overlapping, 60% of fragments flagged duplicate, ~3,000 SNP sites). Writing
a BAM from Python takes ~3 min per million reads on this machine, so the larger ones are
copies of the 5 M one, each copy's read names prefixed (`c1:`, `c2:`, ...) so that no two
fragments share a name, merged by position with `samtools merge` (default compression,
so that decoding costs what an aligner's BAM costs): 25 M = 5 copies, 100 M = 20 copies.
The copies stack the same fragments 5 and 20 times over (more depth on the same
positions), which is what a deeper library of the same sample looks like to the counting.
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


def renamed_copy(source: Path, tag: str, path: Path) -> None:
    """`source` with every read name prefixed by `tag:` (fast compression: merged later)."""
    script = f'BEGIN{{OFS="\\t"}} /^@/ {{print; next}} {{$1="{tag}:"$1; print}}'
    view = subprocess.Popen(["samtools", "view", "-h", str(source)], stdout=subprocess.PIPE)
    awk = subprocess.Popen(["awk", script], stdin=view.stdout, stdout=subprocess.PIPE)
    view.stdout.close()
    subprocess.run(
        ["samtools", "view", "-b", "-1", "-@", "1", "-o", str(path)], stdin=awk.stdout, check=True
    )
    awk.stdout.close()
    if view.wait() or awk.wait():
        raise SystemExit(f"renaming {source} failed")


def copied(out: Path, millions: int, copies: int, source: Path) -> Path:
    """`copies` renamed copies of `source` merged into one BAM (written once)."""
    folder = out / f"cfdna_{millions}M"
    bam = folder / "deep.bam"
    if (folder / "deep.json").exists():
        return bam
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for i in range(1, copies + 1):
        part = folder / f"copy{i}.bam"
        if not part.exists():
            renamed_copy(source, f"c{i}", part.with_suffix(".tmp"))
            part.with_suffix(".tmp").rename(part)
        parts.append(str(part))
    subprocess.run(["samtools", "merge", "-f", "-@", "2", "-o", str(bam), *parts], check=True)
    subprocess.run(["samtools", "index", str(bam)], check=True)
    for part in parts:
        Path(part).unlink()
    for name in ("targets.bed", "sites.vcf.gz", "sites.vcf.gz.tbi"):
        shutil.copy(source.parent / name, folder / name)
    facts = json.loads((source.parent / "deep.json").read_text())
    facts = {
        key: value * copies if key in ("reads", "fragments") else value
        for key, value in facts.items()
    }
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out" / "scaling")
    parser.add_argument("--largest", type=int, default=100, choices=[1, 5, 25, 100])
    args = parser.parse_args()
    for millions, bam in scaling_bams(args.out, args.largest).items():
        print(f"{millions} M: {bam}")


if __name__ == "__main__":
    main()
