"""Where metcnv coverage's time goes: the same BAM read several ways, each timed in its own
child process (run.py's last step).

- imports: `import metcnv.cli` and nothing else: what the command line costs before it
  reads a byte (numpy, pandas, pysam, and scipy and matplotlib for the other commands);
- floor/decode: `AlignmentFile.count` per contig: BGZF inflate + BAM parsing in C, no
  Python object per read; no tool built on pysam's htslib can beat it single-threaded;
- metcnv: `metcnv.coverage.count_bins` itself (the compiled pass, the md5 and the tables).

    python benchmarks/speed/variants.py BAM --targets BED --run NAME   (one child run)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import pysam

from metcnv import params
from metcnv.bins import make_bins, read_bed
from metcnv.coverage import count_bins, header_lengths
from metcnv.genome import detect_build

sys.path.insert(0, str(Path(__file__).parent))
from timing import Series, measure


def floor_decode(path: Path, targets: Path) -> None:
    with pysam.AlignmentFile(str(path)) as handle:
        sum(handle.count(c) for c in handle.references)


def imports(path: Path, targets: Path) -> None:
    import metcnv.cli  # noqa: F401


def panel_bins(bam: Path, targets: Path) -> pd.DataFrame:
    """metcnv's bins for the panel, exactly as `metcnv coverage --targets` makes them."""
    with pysam.AlignmentFile(str(bam)) as handle:
        lengths = header_lengths(handle)
    return make_bins(read_bed(targets, detect_build(lengths, str(bam))), lengths)


def metcnv(path: Path, targets: Path) -> None:
    count_bins(path, panel_bins(path, targets), min_mapq=params.MIN_MAPQ)


VARIANTS = {"imports": imports, "floor/decode": floor_decode, "metcnv": metcnv}


def time_variants(bam: Path, targets: Path, repeats: int, work: Path) -> dict[str, Series]:
    """Each variant `repeats` times, interleaved, each run in its own child process."""
    work.mkdir(parents=True, exist_ok=True)
    series = {name: Series() for name in VARIANTS}
    for _ in range(repeats):
        for name in VARIANTS:
            command = [sys.executable, __file__, str(bam), "--targets", str(targets)]
            series[name].runs.append(measure([*command, "--run", name], work / "variants.log"))
    return series


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bam", type=Path)
    parser.add_argument("--targets", type=Path, required=True)
    parser.add_argument("--run", choices=list(VARIANTS), required=True)
    args = parser.parse_args()
    VARIANTS[args.run](args.bam, args.targets)


if __name__ == "__main__":
    main()
