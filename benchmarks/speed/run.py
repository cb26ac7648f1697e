"""Speed and memory of metcnv against its peers, on the same BAMs; one command:

    python benchmarks/speed/run.py [--out benchmarks/speed/out] [--repeats 3] [--largest 25]

1. Peers (`peers` table): the deep cfDNA BAM of 5 M reads (2x150 bp with SEQ, QUAL and
   tags, 167 bp fragments, 60% duplicates; deepbam.py via scaling.py, written once) and
   metcnv's bins for its panel as bins.bed, so every tool counts over identical intervals.
   Each tool `--repeats` times, interleaved (A, B, C, A, B, C, ...), each as its own
   child process: median wall, CPU (user + sys) and peak RSS, at 1 and 2 threads where
   the tool has threads:
   - metcnv coverage, with and without --snps (allele counts at ~3,000 SNP sites);
   - samtools view -c -L bins.bed: decoding and the index walk only, the floor;
   - samtools bedcov -Q 20;
   - mosdepth -n -Q 20 --by bins.bed, fast mode (-x: whole aligned span, as metcnv and
     bedcov sum) and default mode (CIGAR-aware, mate overlaps counted once: the nearest
     to a fragment mode that Debian's mosdepth 0.3.3 has; it has no --fragment-mode);
   - cnvkit coverage -q 20 (Debian's `cnvkit`, or --cnvkit).
   Cross-checks every tool's depth against metcnv's and metcnv's 1- and 2-thread tables.
2. Scaling (`scaling` table): deep cfDNA BAMs of 1, 5, 25 (and, with --largest 100, 100)
   million reads (scaling.py): metcnv coverage with and without --snps, and the floor.
3. `pon build` from 10, 50 and 200 coverage files (pipeline.py).
4. MET-first mode: `metcnv run --region chr7` on the 25 M-read BAM against a whole run.
5. `metcnv run` end to end against CNVkit `batch -r` + `call`, one bundled sample.
6. `snakemake -n` over a 10,000-sample sheet.
7. Where metcnv's time goes (variants.py): import, decode floor, count_bins, the CLI.
Writes results.json and tables.md into --out. Needs `apt-get install -y samtools mosdepth
libhts-dev cnvkit time` (Debian 12's mosdepth loads libhts.so at run time, which only
libhts-dev provides; GNU time measures peak RSS).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from pipeline import dry_run, end_to_end, met_first, pon_scaling  # noqa: E402
from scaling import scaling_bams, time_scaling  # noqa: E402
from timing import Series, load_average, measure  # noqa: E402
from variants import panel_bins, time_variants  # noqa: E402

from metcnv.coverage import read_coverage  # noqa: E402

MIN_MAPQ = 20
STEPS = ("peers", "scaling", "pon", "metfirst", "endtoend", "dryrun", "split")
CNVKIT_PLACES = [
    HERE / ".venv-cnvkit/bin/cnvkit.py",
    HERE.parent / "accuracy/.venv-cnvkit/bin/cnvkit.py",
]


def find_cnvkit(given: Path | None) -> str | None:
    for place in [given, *CNVKIT_PLACES]:
        if place and place.exists():
            return str(place)
    return shutil.which("cnvkit") or shutil.which("cnvkit.py")  # Debian's, or on PATH


def tool_commands(bam: Path, targets: Path, bins_bed: Path, runs: Path, cnvkit: str | None):
    """name -> (command, file its stdout goes to or None); a name ends in its threads."""
    metcnv = shutil.which("metcnv") or str(Path(sys.executable).parent / "metcnv")
    commands = {}
    for threads in (1, 2):
        for snps in (False, True):
            out = runs / f"metcnv{'_snps' if snps else ''}_t{threads}.coverage.tsv.gz"
            command = [metcnv, "coverage", str(bam), "--targets", str(targets), "--out", str(out)]
            command += ["--threads", str(threads), "--min-mapq", str(MIN_MAPQ)]
            if snps:
                command += ["--snps", str(bam.parent / "sites.vcf.gz")]
            name = f"metcnv coverage{' --snps' if snps else ''}, {threads} thread"
            commands[name] = (command, None)
        extra = [] if threads == 1 else ["-@", "1"]
        floor = ["samtools", "view", *extra, "-c", "-L", str(bins_bed), str(bam)]
        commands[f"samtools view -c -L, {threads} thread"] = (floor, runs / "view.txt")
        extra = [] if threads == 1 else ["-t", "1"]
        mosdepth = ["mosdepth", "-n", "-x", *extra, "-Q", str(MIN_MAPQ), "--by", str(bins_bed)]
        commands[f"mosdepth -x, {threads} thread"] = ([*mosdepth, str(runs / "md"), str(bam)], None)
    mosdepth = ["mosdepth", "-n", "-Q", str(MIN_MAPQ), "--by", str(bins_bed)]
    commands["mosdepth (default mode), 1 thread"] = (
        [*mosdepth, str(runs / "md_default"), str(bam)],
        None,
    )
    bedcov = ["samtools", "bedcov", "-Q", str(MIN_MAPQ), str(bins_bed), str(bam)]
    commands["samtools bedcov, 1 thread"] = (bedcov, runs / "bedcov.tsv")
    if cnvkit:
        out = runs / "cnvkit.cnn"
        command = [cnvkit, "coverage", str(bam), str(bins_bed), "-q", str(MIN_MAPQ), "-p", "1"]
        commands["cnvkit coverage, 1 thread"] = ([*command, "-o", str(out)], None)
    else:
        print("cnvkit not found: skipped (apt-get install -y cnvkit)")
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
    """Compare every tool's per-bin depth with metcnv's; returns a sentence per check."""
    ours = read_coverage(runs / "metcnv_t1.coverage.tsv.gz")
    notes = {}
    same_bins = ours.bins[["chrom", "start", "end"]].equals(
        bins[["chrom", "start", "end"]].reset_index(drop=True)
    )
    notes["bins"] = "metcnv's output bins equal bins.bed" if same_bins else "BINS DIFFER"
    same = all(
        read_coverage(runs / f"{name}.coverage.tsv.gz").bins.equals(ours.bins)
        for name in ("metcnv_t2", "metcnv_snps_t1", "metcnv_snps_t2")
    )
    alleles = read_coverage(runs / "metcnv_snps_t1.coverage.tsv.gz").alleles
    same &= read_coverage(runs / "metcnv_snps_t2.coverage.tsv.gz").alleles.equals(alleles)
    notes["threads"] = (
        "1 and 2 threads, with and without --snps: identical bins (and identical alleles)"
        if same
        else "metcnv's tables DIFFER between threads or --snps"
    )
    length = (ours.bins["end"] - ours.bins["start"]).to_numpy()
    depth = ours.bins["depth"].to_numpy()
    bedcov = pd.read_csv(runs / "bedcov.tsv", sep="\t", header=None)
    worst = float(np.max(np.abs(np.round(bedcov.iloc[:, -1].to_numpy() / length, 3) - depth)))
    notes["samtools bedcov"] = (
        f"bedcov summed depth / length vs metcnv depth: max |difference| {worst:.4f} over "
        f"{len(depth)} bins ({'equal' if worst < 1e-9 else 'NOT equal'} at 3 decimals)"
    )
    for prefix, name in (("md", "mosdepth -x"), ("md_default", "mosdepth default mode")):
        with gzip.open(runs / f"{prefix}.regions.bed.gz", "rt") as handle:
            theirs = pd.read_csv(handle, sep="\t", header=None).iloc[:, -1].to_numpy()
        worst = float(np.max(np.abs(theirs - depth)))
        notes[name] = f"mosdepth mean (2 decimals) vs metcnv depth: max |difference| {worst:.4f}"
    view = int((runs / "view.txt").read_text().split()[0])
    notes["samtools view -c -L"] = f"{view:,} reads overlap the bins"
    cnn = runs / "cnvkit.cnn"
    if cnn.exists():
        theirs = pd.read_csv(cnn, sep="\t")["depth"].to_numpy()
        worst = float(np.max(np.abs(theirs - depth))) if len(theirs) == len(depth) else np.nan
        notes["cnvkit coverage"] = (
            f"CNVkit depth vs metcnv depth: max |difference| {worst:.4f} "
            f"({len(theirs)} of {len(depth)} bins reported)"
        )
    return notes


def peers_table(series: dict[str, Series], reads: int) -> str:
    """Medians, with wall time as a ratio of the floor's at the same threads and of
    mosdepth -x's at one thread."""
    wall = {name: runs.median("wall") for name, runs in series.items()}
    mosdepth = wall.get("mosdepth -x, 1 thread")
    lines = [
        "| tool | threads | median wall s | vs floor | vs mosdepth -x (1) | median CPU s "
        "| peak RSS MB | reads/s (wall) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in series.items():
        tool, threads = name.rsplit(", ", 1)
        floor = wall.get(f"samtools view -c -L, {threads}")
        lines.append(
            f"| {tool} | {threads.split()[0]} | {wall[name]:.1f} | "
            f"{wall[name] / floor:.2f} | {wall[name] / mosdepth:.2f} | "
            f"{runs.median('cpu'):.1f} | {runs.median('rss_mb'):.0f} | "
            f"{reads / wall[name] / 1e6:.2f} M |"
        )
    return "\n".join(lines)


def scaling_table(results: dict) -> str:
    """CPU (user + sys), wall and peak RSS of each run; the ratio to the floor in CPU time,
    which depends little on the machine's load."""
    lines = [
        "| reads | BAM GB | metcnv coverage CPU s | wall s | peak RSS MB | with --snps CPU s "
        "| wall s | peak RSS MB | samtools view -c -L CPU s | wall s | --snps / floor (CPU) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results.values():
        plain, snps = row["metcnv coverage"], row["metcnv coverage --snps"]
        floor = row["samtools view -c -L"]
        lines.append(
            f"| {row['reads'] / 1e6:.1f} M | {row['bam_bytes'] / 1e9:.2f} | {plain['cpu']:.1f} "
            f"| {plain['wall']:.1f} | {plain['rss_mb']:.0f} | {snps['cpu']:.1f} "
            f"| {snps['wall']:.1f} | {snps['rss_mb']:.0f} | {floor['cpu']:.1f} "
            f"| {floor['wall']:.1f} | {snps['cpu'] / floor['cpu']:.2f} |"
        )
    return "\n".join(lines)


def runs_table(results: dict, title: str) -> str:
    lines = [f"| {title} | median wall s | median CPU s | peak RSS MB |", "|---|---:|---:|---:|"]
    for name, row in results.items():
        lines.append(f"| {name} | {row['wall']:.1f} | {row['cpu']:.1f} | {row['rss_mb']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out", help="results and data")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool (default 3)")
    parser.add_argument("--largest", type=int, default=25, choices=[5, 25, 100])
    parser.add_argument("--cnvkit", type=Path, help="cnvkit to use (default: Debian's)")
    parser.add_argument("--steps", default=",".join(STEPS), help="some of: %(default)s")
    args = parser.parse_args()
    steps = set(args.steps.split(","))
    began = time.perf_counter()
    out = args.out
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    log = runs / "tools.log"
    saved = out / "results.json"  # steps run before, kept (steps may run separately)
    results: dict = json.loads(saved.read_text()) if saved.exists() else {"tables": {}}
    results |= {"cpus": os.cpu_count(), "load_at_start": load_average()}
    tables = results["tables"]
    cnvkit = find_cnvkit(args.cnvkit)

    if steps & {"peers", "split"}:
        bam = scaling_bams(out / "scaling", 5)[5]  # the peers' BAM: deep cfDNA, 5 M reads
        facts = json.loads((bam.parent / "deep.json").read_text())
        targets = bam.parent / "targets.bed"
        bins = panel_bins(bam, targets)
        bins_bed = out / "bins.bed"
        # a 4th (name) column: CNVkit's coverage reads it; bedcov and mosdepth keep it
        named = bins.assign(name=bins["gene"].replace("", "-").fillna("-"))
        named[["chrom", "start", "end", "name"]].to_csv(
            bins_bed, sep="\t", header=False, index=False
        )
        results["peers_bam"] = facts | {"bins": len(bins)}
    if "peers" in steps:
        print(f"{bam}: {facts['reads']:,} reads, {len(bins)} bins; peers ...", flush=True)
        with open(bam, "rb") as handle:  # into the page cache, so no tool pays the first read
            while handle.read(1 << 24):
                pass
        series = time_tools(tool_commands(bam, targets, bins_bed, runs, cnvkit), args.repeats, log)
        results["peers"] = {
            name: {key: s.median(key) for key in ("wall", "cpu", "rss_mb")}
            | {"runs": [vars(r) for r in s.runs]}
            for name, s in series.items()
        }
        results["cross_checks"] = cross_checks(runs, bins)
        checks = "\n".join(f"- {k}: {v}" for k, v in results["cross_checks"].items())
        tables["peers"] = "## Peers\n\n" + peers_table(series, facts["reads"]) + "\n\n" + checks
    if "scaling" in steps:
        print("scaling ...", flush=True)
        bams = scaling_bams(out / "scaling", args.largest)
        results["scaling"] = time_scaling(bams, runs, 1, log)
        tables["scaling"] = "## Scaling (deep cfDNA)\n\n" + scaling_table(results["scaling"])
    panel = None
    if "pon" in steps or "metfirst" in steps:
        print("pon build ...", flush=True)
        template = runs / "cfdna_1M.coverage.tsv.gz"
        if not template.exists():
            small = scaling_bams(out / "scaling", 1)[1]
            command = [
                "metcnv",
                "coverage",
                str(small),
                "--targets",
                str(small.parent / "targets.bed"),
            ]
            command += ["--snps", str(small.parent / "sites.vcf.gz"), "--out", str(template)]
            measure(command, log)
        one = out / "scaling" / "cfdna_1M"
        results["pon"], panel = pon_scaling(template, one / "targets.bed", out / "pon", log)
        rows = [
            f"| {n} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss_mb']:.0f} |"
            for n, r in results["pon"].items()
        ]
        tables["pon"] = (
            "## pon build from coverage files\n\n| normals | wall s | CPU s | peak RSS MB |\n"
            "|---:|---:|---:|---:|\n" + "\n".join(rows)
        )
    if "metfirst" in steps:
        print("MET-first mode ...", flush=True)
        deep = scaling_bams(out / "scaling", min(args.largest, 25))[min(args.largest, 25)]
        results["met_first"] = met_first(deep, panel, out / "metfirst", args.repeats, log)
        tables["metfirst"] = "## MET-first mode\n\n" + runs_table(results["met_first"], "command")
    if "endtoend" in steps:
        print("end to end ...", flush=True)
        results["end_to_end"] = end_to_end(out / "endtoend", cnvkit, args.repeats, log)
        tables["endtoend"] = "## End to end, one sample\n\n" + runs_table(
            results["end_to_end"], "step"
        )
    if "dryrun" in steps:
        print("snakemake -n ...", flush=True)
        results["dry_run"] = run = dry_run(out / "dryrun", log)
        tables["dryrun"] = f"## snakemake -n, 10,000 samples\n\n{run['wall']:.1f} s wall, "
        tables["dryrun"] += f"{run['cpu']:.1f} s CPU, {run['rss_mb']:.0f} MB"
    if "split" in steps:
        print("where metcnv's time goes ...", flush=True)
        split = time_variants(bam, targets, args.repeats, out / "variants")
        results["split"] = {name: s.median("cpu") for name, s in split.items()}
        tables["split"] = "## Where metcnv coverage's CPU goes\n\n" + "\n".join(
            f"- {k}: {v:.1f} s" for k, v in results["split"].items()
        )
    results["seconds"] = time.perf_counter() - began
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    text = "\n\n".join(tables[step] for step in STEPS if step in tables)
    (out / "tables.md").write_text(text + "\n")
    print(text)
    print(f"\ntotal {results['seconds']:.0f} s; results in {out}")


if __name__ == "__main__":
    main()
