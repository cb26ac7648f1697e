"""Speed and memory of `metcnv coverage` against samtools bedcov, mosdepth and CNVkit.

    python benchmarks/speed/run.py [--out benchmarks/speed/out] [--repeats 3]

1. Writes (once; reused while its settings match) a deep, seeded panel BAM: ~1,050
   targets on chr7, chr8, chr12 and chr17 at hg38 lengths, ~2,000x over targets, ~3.0
   million read pairs (2x150 bp with SEQ, QUAL and tags; see deepbam.py). Takes ~2-4 min.
2. Makes metcnv's bins for that panel (default sizes) and writes them as bins.bed, so
   every tool counts over identical intervals.
3. Times each tool `--repeats` times, interleaved (tool A, B, C, A, B, C, ...), each as
   its own child process: median wall time, median CPU time (user + sys) and peak RSS.
   - metcnv coverage --threads 1 and --threads 2
   - samtools bedcov -Q 20 (Debian's samtools if on PATH, else the one inside pysam)
   - mosdepth -n -x -Q 20 --by bins.bed (Debian's mosdepth; fast mode = whole aligned
     span, no mate-overlap correction, which is what metcnv and bedcov sum)
   - cnvkit.py coverage -q 20 (CNVkit runs samtools bedcov through pysam), if found
4. Cross-checks metcnv's depth against bedcov's summed depth / bin length (must agree to
   metcnv's 3 decimals), and against mosdepth's and CNVkit's per-bin means.
5. Profiles one metcnv run with cProfile and splits its time into BGZF inflate + BAM
   parsing (AlignmentFile.count), one Python object per read (iterating fetch), the rest
   of count_bins (loop body, numpy binning, md5), and the CLI around it (variants.py).
Writes results.json, table.md and profile.txt into --out. Missing tools are skipped with
a note: `apt-get install -y samtools mosdepth libhts-dev` (Debian 12's mosdepth loads
libhts.so at run time, which only libhts-dev provides).
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from deepbam import settings  # noqa: E402
from timing import Series, load_average, measure  # noqa: E402
from variants import panel_bins, time_variants  # noqa: E402

from metcnv.coverage import count_bins, read_coverage  # noqa: E402

MIN_MAPQ = 20
CNVKIT_PLACES = [
    HERE / ".venv-cnvkit/bin/cnvkit.py",
    HERE.parent / "accuracy/.venv-cnvkit/bin/cnvkit.py",
]


def ensure_data(out: Path, target_depth: float, offtarget_per_mb: float, force: bool) -> dict:
    """The deep BAM's facts; the BAM is rewritten (in a child process) only when its
    settings changed, and kept out of this process, whose peak RSS its children inherit."""
    data = out / "data"
    stamp = data / "deep.json"
    wanted = settings(target_depth, offtarget_per_mb)
    if not force and stamp.exists() and (data / "deep.bam.bai").exists():
        facts = json.loads(stamp.read_text())
        if facts.get("settings") == wanted:
            return facts
    print(f"writing the deep BAM into {data} (a few minutes, once) ...", flush=True)
    stamp.unlink(missing_ok=True)
    command = [sys.executable, str(HERE / "deepbam.py"), "--out", str(data)]
    command += ["--target-depth", str(target_depth), "--offtarget-per-mb", str(offtarget_per_mb)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return json.loads(stamp.read_text())


def find_cnvkit(given: Path | None) -> Path | None:
    for place in [given, *CNVKIT_PLACES]:
        if place and place.exists():
            return place
    found = shutil.which("cnvkit.py")
    return Path(found) if found else None


def tool_commands(bam: Path, targets: Path, bins_bed: Path, runs: Path, cnvkit: Path | None):
    """name -> (command, file its stdout goes to or None)."""
    metcnv = shutil.which("metcnv") or str(Path(sys.executable).parent / "metcnv")
    commands = {}
    for threads in (1, 2):
        out = runs / f"metcnv_t{threads}.coverage.tsv.gz"
        commands[f"metcnv coverage --threads {threads}"] = (
            [
                metcnv,
                "coverage",
                str(bam),
                "--targets",
                str(targets),
                "--out",
                str(out),
                "--threads",
                str(threads),
                "--min-mapq",
                str(MIN_MAPQ),
            ],
            None,
        )
    samtools = shutil.which("samtools")
    bedcov = ["bedcov", "-Q", str(MIN_MAPQ), str(bins_bed), str(bam)]
    if samtools:
        commands["samtools bedcov"] = ([samtools, *bedcov], runs / "bedcov.tsv")
    else:  # the samtools inside pysam, run in a child process all the same
        script = "import sys, pysam; sys.stdout.write(pysam.samtools.bedcov(*sys.argv[1:]))"
        commands["samtools bedcov (pysam)"] = (
            [sys.executable, "-c", script, *bedcov],
            runs / "bedcov.tsv",
        )
    mosdepth = shutil.which("mosdepth")
    if mosdepth:
        prefix = str(runs / "mosdepth")
        commands["mosdepth -x"] = (
            [mosdepth, "-n", "-x", "-Q", str(MIN_MAPQ), "--by", str(bins_bed), prefix, str(bam)],
            None,
        )
    else:
        print("mosdepth not found: skipped (apt-get install -y mosdepth libhts-dev)")
    if cnvkit:
        out = runs / "cnvkit.cnn"
        commands["cnvkit.py coverage"] = (
            [
                str(cnvkit),
                "coverage",
                str(bam),
                str(bins_bed),
                "-q",
                str(MIN_MAPQ),
                "-p",
                "1",
                "-o",
                str(out),
            ],
            None,
        )
    else:
        print(
            "cnvkit.py not found: skipped (pip install cnvkit into benchmarks/speed/.venv-cnvkit)"
        )
    return commands


def time_tools(commands: dict, repeats: int, log: Path) -> dict[str, Series]:
    series = {name: Series() for name in commands}
    for repeat in range(repeats):
        for name, (command, stdout) in commands.items():
            run = measure(command, log, stdout)
            series[name].runs.append(run)
            print(
                f"  [{repeat + 1}/{repeats}] {name}: {run.wall:.1f} s wall, {run.cpu:.1f} s CPU, "
                f"{run.rss_mb:.0f} MB (load {load_average():.1f})",
                flush=True,
            )
    return series


def cross_checks(runs: Path, bins: pd.DataFrame) -> dict[str, str]:
    """Compare every tool's per-bin depth with metcnv's; returns a sentence per tool."""
    ours = read_coverage(runs / "metcnv_t1.coverage.tsv.gz").bins
    notes = {}
    same_bins = ours[["chrom", "start", "end"]].equals(
        bins[["chrom", "start", "end"]].reset_index(drop=True)
    )
    notes["bins"] = "metcnv's output bins equal bins.bed" if same_bins else "BINS DIFFER"
    threads2 = read_coverage(runs / "metcnv_t2.coverage.tsv.gz").bins
    notes["threads"] = (
        "--threads 1 and 2 give identical tables"
        if threads2.equals(ours)
        else "--threads 1 and 2 DIFFER"
    )
    length = (ours["end"] - ours["start"]).to_numpy()
    depth = ours["depth"].to_numpy()
    if (runs / "bedcov.tsv").exists():
        bedcov = pd.read_csv(runs / "bedcov.tsv", sep="\t", header=None)
        expected = bedcov.iloc[:, -1].to_numpy() / length
        worst = float(np.max(np.abs(np.round(expected, 3) - depth)))
        notes["samtools bedcov"] = (
            f"bedcov summed depth / length vs metcnv depth: max |difference| {worst:.4f} over "
            f"{len(depth)} bins ({'equal' if worst < 1e-9 else 'NOT equal'} at 3 decimals)"
        )
    mosdepth = runs / "mosdepth.regions.bed.gz"
    if mosdepth.exists():
        with gzip.open(mosdepth, "rt") as handle:
            theirs = pd.read_csv(handle, sep="\t", header=None).iloc[:, -1].to_numpy()
        worst = float(np.max(np.abs(theirs - depth)))
        notes["mosdepth -x"] = (
            f"mosdepth mean (2 decimals) vs metcnv depth: max |difference| {worst:.4f}"
        )
    cnn = runs / "cnvkit.cnn"
    if cnn.exists():
        theirs = pd.read_csv(cnn, sep="\t")["depth"].to_numpy()
        worst = float(np.max(np.abs(theirs - depth))) if len(theirs) == len(depth) else np.nan
        notes["cnvkit.py coverage"] = (
            f"CNVkit depth vs metcnv depth: max |difference| {worst:.4f} "
            f"({len(theirs)} of {len(depth)} bins reported)"
        )
    return notes


def profile_metcnv(bam: Path, bins: pd.DataFrame, out: Path) -> tuple[float, str]:
    """cProfile of count_bins in this process; returns its seconds and the top of the report."""
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.runcall(count_bins, bam, bins, min_mapq=MIN_MAPQ)
    seconds = time.perf_counter() - began
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    (out / "profile.txt").write_text(text.getvalue())
    return seconds, text.getvalue()


def format_table(series: dict[str, Series], reads: int) -> str:
    base_name = next((n for n in series if n.startswith("samtools bedcov")), None)
    base = series[base_name].median("wall") if base_name else None
    lines = [
        "| tool | median wall s | wall vs samtools bedcov | median CPU s | peak RSS MB "
        "| reads/s (wall) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, runs in series.items():
        wall = runs.median("wall")
        ratio = f"{wall / base:.2f}" if base else "-"
        lines.append(
            f"| {name} | {wall:.1f} | {ratio} | {runs.median('cpu'):.1f} | "
            f"{runs.median('rss_mb'):.0f} | {reads / wall / 1e6:.2f} M |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out", help="results and data")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool (default 3)")
    parser.add_argument("--target-depth", type=float, default=2000.0)
    parser.add_argument("--offtarget-per-mb", type=float, default=1200.0)
    parser.add_argument("--regenerate", action="store_true", help="rewrite the deep BAM")
    parser.add_argument("--cnvkit", type=Path, help="cnvkit.py to use (default: look for one)")
    parser.add_argument("--no-profile", action="store_true", help="skip step 5")
    args = parser.parse_args()

    began = time.perf_counter()
    facts = ensure_data(args.out, args.target_depth, args.offtarget_per_mb, args.regenerate)
    data, runs = args.out / "data", args.out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    bam, targets = data / "deep.bam", data / "targets.bed"
    bins = panel_bins(bam, targets)
    bins_bed = data / "bins.bed"
    # a 4th (name) column: CNVkit's coverage reads it; bedcov and mosdepth keep it
    named = bins.assign(name=bins["gene"].replace("", "-").fillna("-"))
    named[["chrom", "start", "end", "name"]].to_csv(bins_bed, sep="\t", header=False, index=False)
    reads = facts["reads"]
    print(
        f"{bam}: {reads:,} reads ({facts['fragments']:,} pairs), "
        f"{facts['bam_bytes'] / 1e6:.0f} MB, {facts['targets']} targets, {len(bins)} bins"
    )
    with open(bam, "rb") as handle:  # into the page cache, so no tool pays the first read
        while handle.read(1 << 24):
            pass

    commands = tool_commands(bam, targets, bins_bed, runs, find_cnvkit(args.cnvkit))
    log = runs / "tools.log"
    log.unlink(missing_ok=True)
    print(f"timing {len(commands)} tools x {args.repeats} (load {load_average():.1f}) ...")
    series = time_tools(commands, args.repeats, log)
    table = format_table(series, reads)
    notes = cross_checks(runs, bins)

    results = {
        "data": facts,
        "bins": len(bins),
        "cpus": os.cpu_count(),
        "tools": {
            name: {
                "median_wall_s": s.median("wall"),
                "median_cpu_s": s.median("cpu"),
                "median_rss_mb": s.median("rss_mb"),
                "runs": [vars(r) for r in s.runs],
            }
            for name, s in series.items()
        },
        "cross_checks": notes,
    }
    if not args.no_profile:
        print("profiling metcnv (cProfile, and the decode / object / loop split) ...")
        seconds, report = profile_metcnv(bam, bins, args.out)
        split = time_variants(bam, targets, args.repeats, args.out / "variants")
        cpu = {name: s.median("cpu") for name, s in split.items()}
        results["profile"] = {"cprofile_wall_s": seconds, "loop_cpu_s": cpu}
        decode, objects, loop = cpu["floor/decode"], cpu["floor/objects"], cpu["metcnv"]
        total = series["metcnv coverage --threads 1"].median("cpu")
        results["profile"]["split"] = split_text = (
            f"of metcnv --threads 1's {total:.1f} CPU s: inflate + BAM parsing (C) {decode:.1f} s, "
            f"one AlignedSegment per read +{objects - decode:.1f} s, count_bins' loop body, "
            f"numpy binning and md5 +{loop - objects:.1f} s, the CLI around it (imports, "
            f"writing) +{total - loop:.1f} s (child-process CPU medians; start-up in each)"
        )
        print(split_text)
        print("\n".join(report.splitlines()[:30]))

    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    (args.out / "table.md").write_text(table + "\n")
    print()
    print(table)
    print()
    for name, note in notes.items():
        print(f"- {name}: {note}")
    print(f"\ntotal {time.perf_counter() - began:.0f} s; results in {args.out}")


if __name__ == "__main__":
    main()
