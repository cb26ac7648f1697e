"""Estimate every benchmark tumor's purity with PureCN in tumor-only mode, on the same data.

Per panel (EXTDATA is the PureCN package's extdata folder, which holds its scripts):

    Rscript EXTDATA/IntervalFile.R --in-file PANEL.bed --fasta ref.fa.gz --genome hg38
        --out-file intervals/PANEL_intervals.txt

Per BAM (the panels' normals and every tumor), and per panel of normals:

    Rscript EXTDATA/Coverage.R --bam SAMPLE.bam --intervals intervals/PANEL_intervals.txt
        --out-dir coverage --seed 1
    Rscript EXTDATA/NormalDB.R --coverage-files normaldb/PON.list --genome hg38 --assay PON
        --out-dir normaldb

Per tumor, after writing vcf/SAMPLE.vcf (below):

    Rscript purecn.R --sampleid SAMPLE --tumor coverage/SAMPLE_coverage_loess.txt.gz
        --vcf vcf/SAMPLE.vcf --normaldb normaldb/normalDB_PON_hg38.rds
        --intervals intervals/PANEL_intervals.txt --genome hg38 --fun-segmentation PSCBS
        --model betabin --min-purity 0.02 --max-purity 0.99 --seed 1 --out samples/SAMPLE

purecn.R is EXTDATA/PureCN.R with the fix of PureCN issue 363 (it fails on panels of fewer
than 2,000 intervals, which all of the benchmark's are). No mappability, replication
timing or off-target intervals: the toy genome has none of the tracks, and its reference is
N outside the windows around targets. The purity range is widened from PureCN's default
0.15-0.95 to 0.02-0.99 (PureCN's maximum) to cover the design's 0.02-1.0.

The VCF stands in for Mutect2's tumor-only output: the SNP sites of data/snps.vcf.gz at
which the tumor shows the alternative allele at least once, with metcnv's allele counts
(metcnv/coverage/SAMPLE.alleles.tsv.gz, counted from the same BAM; the same counts as
the calls' SAMPLE.snps.tsv.gz), GT 0/1, AD, AF and DP, and INFO DB (every site is a known
SNP) and POP_AF (the population frequency; PureCN uses DB when both are there). PureCN
applies its own filters (AF 0.03-0.97, depth >= 15). So metcnv must have counted the
sample first (`--tools metcnv,purecn`, or an earlier metcnv run into the same --out).

PureCN's estimate is the purity and ploidy of its top solution (samples/SAMPLE/SAMPLE.csv).
It gives no interval. A job reruns only when its command line or inputs changed (a stamp
as CNVkit's); a failed step is recorded with the error from its log, and its sample is
reported as failed without stopping the run.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import design as design_module
import numpy as np
import pandas as pd
from parallel import parallel_map
from score import PURITY_STRATA

from metcnv.files import md5sum

HERE = Path(__file__).resolve().parent
PATCHED = HERE / "purecn.R"  # PureCN.R with the fix of issue 363
GENOME = design_module.BUILD
SEED = 1
PURITY_RANGE = (0.02, 0.99)  # PureCN accepts (0, 0.99]
PURECN_OPTIONS = ["--fun-segmentation", "PSCBS", "--model", "betabin"]


def ensure_purecn() -> tuple[str, Path]:
    """PureCN's version and its scripts' folder; SystemExit saying what is missing."""
    if not shutil.which("Rscript"):
        raise SystemExit("PureCN needs R: apt-get install -y r-bioc-purecn")
    code = (
        "suppressPackageStartupMessages({library(PureCN); library(optparse); library(PSCBS)});"
        'cat(as.character(packageVersion("PureCN")), system.file("extdata", package="PureCN"))'
    )
    done = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(
            "PureCN, optparse (its scripts' option parser) and PSCBS are needed: apt-get "
            "install -y r-bioc-purecn r-cran-optparse r-cran-pscbs; R said: "
            + " ".join(done.stderr.split())[-300:]
        )
    version, extdata = done.stdout.split()
    return version, Path(extdata)


def failure_reason(log: Path, code: int) -> str:
    """R's last error in `log` (the lines from 'Error' / 'ERROR' up to 'Calls:')."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for i in range(len(lines) - 1, -1, -1):
        if re.match(r"(Error|ERROR)\b", lines[i]):
            text = [lines[i]]
            for more in lines[i + 1 :]:
                if more.startswith(("Calls:", "Execution halted", "In addition", "Timing")):
                    break
                text.append(more)
            return " ".join(" ".join(text).split())[:400]
    return f"exit {code} without an R error message"


def write_vcf(alleles: Path, vcf: Path, sample: str, contigs: dict[str, int]) -> int:
    """Mutect2-like tumor-only VCF of the sites with alternative reads; returns their number."""
    table = pd.read_csv(alleles, sep="\t")
    table = table[table["alt_count"] > 0]
    header = [
        "##fileformat=VCFv4.2",
        "##source=metcnv allele counts (benchmarks/accuracy/run_purecn.py)",
        *(f"##contig=<ID={name},length={length}>" for name, length in contigs.items()),
        '##INFO=<ID=DB,Number=0,Type=Flag,Description="In the SNP sites VCF">',
        '##INFO=<ID=POP_AF,Number=A,Type=Float,Description="Population allele frequency">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths (ref, alt)">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Alternative allele fraction">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth (ref + alt)">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
        + f"\t{sample}",
    ]
    order = {name: i for i, name in enumerate(contigs)}
    table = table.assign(_order=table["chrom"].map(order)).sort_values(["_order", "pos"])
    lines = []
    for row in table.itertuples(index=False):
        depth = int(row.ref_count + row.alt_count)
        lines.append(
            f"{row.chrom}\t{row.pos}\t.\t{row.ref}\t{row.alt}\t.\tPASS\t"
            f"DB;POP_AF={row.pop_af:g}\tGT:AD:AF:DP\t"
            f"0/1:{row.ref_count},{row.alt_count}:{row.alt_count / depth:.4f}:{depth}"
        )
    vcf.write_text("\n".join(header + lines) + "\n")
    return len(lines)


def run_job(job: dict) -> dict:
    """Run one job's steps in order, their output appended to its log; stops at the first
    failure. Returns name, status ("ok" or "STEP failed: error") and seconds."""
    began = time.perf_counter()
    log = Path(job["log"])
    status = "ok"
    with open(log, "a") as handle:
        if "vcf" in job:
            alleles, vcf = map(Path, job["vcf"])
            print(f"# writing {vcf} from {alleles}", file=handle, flush=True)
            if not alleles.exists():
                status = f"no allele counts {alleles} (metcnv must count the sample first)"
            else:
                n = write_vcf(alleles, vcf, job["name"], job["contigs"])
                print(f"# {n} sites with alternative reads", file=handle, flush=True)
        for argv in job["steps"] if status == "ok" else []:
            Path(job["mkdir"]).mkdir(parents=True, exist_ok=True)
            print("$ Rscript " + " ".join(argv), file=handle, flush=True)
            done = subprocess.run(["Rscript", *argv], stdout=handle, stderr=subprocess.STDOUT)
            if done.returncode:
                handle.flush()
                status = f"{Path(argv[0]).name} failed: {failure_reason(log, done.returncode)}"
                break
    return {"name": job["name"], "status": status, "seconds": time.perf_counter() - began}


def fingerprint(job: dict, version: str, upstream: list[str]) -> str:
    """What a job's outputs depend on: PureCN's version, purecn.R, the command lines, the
    settings of the BAMs and reference read (their `.spec` stamps), the bytes of the BED
    files and allele counts, and the fingerprints of the jobs it reads the outputs of."""
    parts = [version, md5sum(PATCHED), json.dumps(job["steps"]), *upstream]
    paths = [a for step in job["steps"] for a in step] + list(job.get("vcf", [])[:1])
    for arg in paths:
        path = Path(arg)
        if Path(f"{arg}.spec").exists():
            parts.append(Path(f"{arg}.spec").read_text())
        elif path.suffix == ".bed" or path.name.endswith(".alleles.tsv.gz"):
            parts.append(md5sum(path) if path.exists() else "missing")
    return hashlib.md5("\n".join(parts).encode()).hexdigest()


def drive(jobs: list[dict], workers: int, done: dict[str, dict]) -> None:
    """Run the jobs not already done on the same inputs (their stamp holds their
    fingerprint); a job whose upstream job failed is not run and says which one failed."""
    todo = []
    for job in jobs:
        failed = [done[u] for u in job["after"] if done[u]["status"] != "ok"]
        stamp = Path(job["stamp"])
        if failed:
            done[job["name"]] = {
                "name": job["name"],
                "status": f"not run: {failed[0]['name']}: {failed[0]['status']}",
                "seconds": 0.0,
            }
        elif stamp.exists() and json.loads(stamp.read_text())["fingerprint"] == job["fingerprint"]:
            done[job["name"]] = json.loads(stamp.read_text())["result"] | {"reused": True}
        else:
            stamp.unlink(missing_ok=True)
            Path(job["log"]).unlink(missing_ok=True)
            todo.append(job)
    by_name = {job["name"]: job for job in todo}
    for result in parallel_map(run_job, todo, workers):
        done[result["name"]] = result
        if result["status"] == "ok":  # a failure reruns next time
            record = {"fingerprint": by_name[result["name"]]["fingerprint"], "result": result}
            Path(by_name[result["name"]]["stamp"]).write_text(json.dumps(record))


def _coverage(out: Path, name: str) -> str:
    return str(out / "coverage" / f"{name}_coverage_loess.txt.gz")


def _intervals(out: Path, panel: str) -> str:
    return str(out / "intervals" / f"{panel}_intervals.txt")


def _normaldb(out: Path, pon: str) -> str:
    return str(out / "normaldb" / f"normalDB_{pon}_{GENOME}.rds")


def _sample_dir(out: Path, name: str) -> Path:
    return out / "samples" / name


def chosen_tumors(design: design_module.Design, per_cell: int | None) -> list[design_module.Sample]:
    """The tumors PureCN runs on: all, or `per_cell` drawn (seeded) from every cell of design
    class (identifiable, gains, flat) x tumor-fraction stratum (score.PURITY_STRATA), when
    the whole design would take PureCN hours."""
    tumors = sorted(design.cases(), key=lambda s: s.name)
    if per_cell is None:
        return tumors
    cells: dict[tuple[str, str], list] = {}
    for sample in tumors:
        fraction = sample.truth["purity"]
        stratum = next(label for label, low, high in PURITY_STRATA if low <= fraction < high)
        cells.setdefault((sample.truth["purity_class"], stratum), []).append(sample)
    rng = np.random.default_rng(SEED)
    chosen = []
    for _, members in sorted(cells.items()):
        picks = rng.choice(len(members), min(per_cell, len(members)), replace=False)
        chosen += [members[i] for i in sorted(picks)]
    return chosen


def run(
    design: design_module.Design,
    data: Path,
    out: Path,
    jobs: int,
    metcnv_out: Path,
    log=print,
    per_cell: int | None = None,
) -> dict:
    """Intervals, coverage, normal databases and PureCN for every tumor (or `per_cell` of
    each design cell, chosen_tumors); returns timings and each job's status (failed samples
    included)."""
    version, extdata = ensure_purecn()
    for sub in ("logs", "intervals", "coverage", "normaldb", "vcf", "samples"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    done: dict[str, dict] = {}
    fingerprints: dict[str, str] = {}

    def job(name: str, steps: list[list[str]], stamp: Path, after: list[str], **extra) -> dict:
        spec = {"name": name, "log": str(out / "logs" / f"{name}.log"), "steps": steps}
        spec |= {"stamp": str(stamp), "after": after, "mkdir": str(stamp.parent), **extra}
        spec["fingerprint"] = fingerprint(spec, version, [fingerprints[a] for a in after])
        fingerprints[name] = spec["fingerprint"]
        return spec

    tumors = sorted(chosen_tumors(design, per_cell), key=lambda s: -s.spec.target_depth)
    pons = sorted({s.pon for s in tumors})
    panels = sorted({design.normals(pon)[0].panel for pon in pons})
    interval_jobs = []
    for panel in panels:
        steps = [str(extdata / "IntervalFile.R"), "--in-file", str(data / f"{panel}.bed")]
        steps += ["--fasta", str(data / "ref.fa.gz"), "--genome", GENOME]
        steps += ["--out-file", _intervals(out, panel), "--force"]
        stamp = Path(_intervals(out, panel) + ".stamp")
        interval_jobs.append(job(f"intervals_{panel}", [steps], stamp, []))
    drive(interval_jobs, jobs, done)

    def coverage_step(sample: design_module.Sample) -> list[str]:
        steps = [str(extdata / "Coverage.R"), "--bam", str(data / f"{sample.name}.bam")]
        steps += ["--intervals", _intervals(out, sample.panel), "--out-dir"]
        return [*steps, str(out / "coverage"), "--seed", str(SEED), "--force"]

    normals = [s for pon in pons for s in design.normals(pon)]
    coverage_jobs = [
        job(
            f"coverage_{s.name}",
            [coverage_step(s)],
            Path(_coverage(out, s.name) + ".stamp"),
            [f"intervals_{s.panel}"],
        )
        for s in normals
    ]
    drive(coverage_jobs, jobs, done)
    normaldb_jobs = []
    for pon in pons:
        members = design.normals(pon)
        listing = out / "normaldb" / f"{pon}.list"
        listing.write_text("".join(_coverage(out, s.name) + "\n" for s in members))
        steps = [str(extdata / "NormalDB.R"), "--coverage-files", str(listing)]
        steps += ["--genome", GENOME, "--assay", pon, "--out-dir", str(out / "normaldb")]
        stamp = Path(_normaldb(out, pon) + ".stamp")
        after = [f"coverage_{s.name}" for s in members]
        normaldb_jobs.append(job(f"normaldb_{pon}", [[*steps, "--force"]], stamp, after))
    drive(normaldb_jobs, 1, done)
    timing = {"reference_seconds": time.perf_counter() - began}
    log(
        f"purecn: {len(interval_jobs)} interval files, {len(coverage_jobs)} normals' "
        f"coverage, {len(normaldb_jobs)} normal databases in {timing['reference_seconds']:.0f} s"
    )
    sample_jobs = []
    for sample in tumors:
        folder = _sample_dir(out, sample.name)
        steps = [str(PATCHED), "--sampleid", sample.name, "--tumor", _coverage(out, sample.name)]
        steps += ["--vcf", str(out / "vcf" / f"{sample.name}.vcf")]
        steps += ["--normaldb", _normaldb(out, sample.pon)]
        steps += ["--intervals", _intervals(out, sample.panel), "--genome", GENOME]
        steps += [*PURECN_OPTIONS, "--min-purity", f"{PURITY_RANGE[0]:g}"]
        steps += ["--max-purity", f"{PURITY_RANGE[1]:g}", "--seed", str(SEED)]
        steps += ["--out", str(folder), "--force"]
        alleles = metcnv_out / "coverage" / f"{sample.name}.alleles.tsv.gz"
        sample_jobs.append(
            job(
                sample.name,
                [coverage_step(sample), steps],
                folder / "stamp.json",
                [f"intervals_{sample.panel}", f"normaldb_{sample.pon}"],
                vcf=[str(alleles), str(out / "vcf" / f"{sample.name}.vcf")],
                contigs=design.contigs,
            )
        )
    drive(sample_jobs, jobs, done)
    timing["total_seconds"] = time.perf_counter() - began
    timing["jobs"] = done
    timing["sample_seconds"] = {s.name: done[s.name]["seconds"] for s in tumors}
    failed = [s.name for s in tumors if done[s.name]["status"] != "ok"]
    log(
        f"purecn: {len(tumors) - len(failed)} of {len(tumors)} tumors estimated in "
        f"{timing['total_seconds'] - timing['reference_seconds']:.0f} s"
        + (f"; failed: {', '.join(failed)} (see {out / 'logs'})" if failed else "")
    )
    (out / "timing.json").write_text(json.dumps(timing, indent=1))
    return timing


def results(design: design_module.Design, out: Path, timing: dict) -> list[dict]:
    """One row per tumor PureCN ran on: its purity and ploidy (no interval), or why it has
    none (purity_source 'failed', the reason in purity_reason)."""
    rows = []
    for sample in (s for s in design.cases() if s.name in timing["sample_seconds"]):
        status = timing["jobs"][sample.name]["status"]
        row = {
            "sample": sample.name,
            "tool": "purecn",
            "run": "hidden",
            "status": "failed",
            "focal_amp": False,
            "focal_any": False,
            "tumor_cn": None,
            "tumor_cn_unrounded": None,
            "ci_low": None,
            "ci_high": None,
            "over_10": None,
            "segment_size": None,
            "sample_cn": None,
            "qc": "-",
            "purity_est": None,
            "purity_ci_low": None,
            "purity_ci_high": None,
            "purity_source": "failed",
            "purity_reason": status,
            "ploidy_est": None,
        }
        table = _sample_dir(out, sample.name) / f"{sample.name}.csv"
        if status == "ok" and table.exists():
            best = pd.read_csv(table).iloc[0]
            flags = [str(best["Comment"])] if pd.notna(best["Comment"]) else []
            if bool(best["Failed"]):
                flags.insert(0, "PureCN: failed")
            row.update(
                status=f"purity {best['Purity']:g}, ploidy {best['Ploidy']:.2f}",
                purity_est=float(best["Purity"]),
                purity_source="estimated",
                purity_reason="; ".join(flags) or None,
                ploidy_est=float(best["Ploidy"]),
            )
        rows.append(row)
    return rows
