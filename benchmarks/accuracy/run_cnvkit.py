"""Call every benchmark sample with CNVkit, as its documentation says, on the same data.

Per panel of normals (the same normals metcnv gets):

    cnvkit.py batch --normal NORMALS.bam --targets PANEL.bed --fasta ref.fa.gz
        --access access.bed --output-reference PON.cnn --output-dir DIR -p 2
        (-m amplicon for the amplicon panel, which has no access/antitargets)

Per sample (each normal against a reference of the other normals, made with
`cnvkit.py reference` from their coverage files):

    cnvkit.py batch SAMPLE.bam -r PON.cnn -d DIR -p 1            (-m amplicon)
    cnvkit.py segmetrics DIR/SAMPLE.cnr -s DIR/SAMPLE.cns --ci --alpha 0.05 -o ...ci95.cns
    cnvkit.py call DIR/SAMPLE.cns -m clonal --purity P -o ...clonal.cns

`access.bed` is the whole of every chromosome: metcnv's default off-target bins tile
whole chromosomes too, and CNVkit's own `access` would keep only the simulated reference's
non-N windows, which are shorter than its smallest antitarget bin. CNVkit's bin sizes are
its batch defaults (autobin). MET's call is the segment of the clonal call that overlaps
MET most: its integer copy number, its length, and its 95% bootstrap interval (from
segmetrics, converted with the same purity formula CNVkit's clonal call uses).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import design as design_module
import numpy as np
import pandas as pd

from metcnv.copynumber import tumor_copy_number
from metcnv.files import md5sum

CNVKIT_VERSION = "0.9.14"
DRIVER = Path(__file__).resolve().parent / "cnvkit_driver.py"
MET = design_module.MET


def ensure_cnvkit(venv: Path, log=print) -> Path:
    """The venv's python, after installing CNVkit there if needed; checks R's DNAcopy."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "cnvkit.py").exists():
        log(f"installing CNVkit {CNVKIT_VERSION} into {venv} (pip)")
        subprocess.run([shutil.which("python3") or "python3", "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"cnvkit=={CNVKIT_VERSION}"], check=True
        )
    check = (
        subprocess.run(["Rscript", "-e", "suppressMessages(library(DNAcopy))"], capture_output=True)
        if shutil.which("Rscript")
        else None
    )
    if check is None or check.returncode:
        raise SystemExit(
            "CNVkit's default segmentation (CBS) needs R with DNAcopy: "
            "apt-get install -y r-bioc-dnacopy"
        )
    return python


def fingerprint(job: dict, upstream: str = "") -> str:
    """What a job's outputs depend on: its command lines, the settings of the BAMs and
    reference it reads (their `.spec` stamps), the BED files' bytes, and `upstream`."""
    parts = [CNVKIT_VERSION, upstream, json.dumps(job["steps"])]
    for arg in (a for step in job["steps"] for a in step):
        path = Path(arg)
        if path.suffix in (".bam", ".gz") and Path(f"{arg}.spec").exists():
            parts.append(Path(f"{arg}.spec").read_text())
        elif path.suffix == ".bed" and path.exists():
            parts.append(md5sum(path))
    return hashlib.md5("\n".join(parts).encode()).hexdigest()


def drive(python: Path, jobs: list[dict], workers: int, path: Path) -> dict[str, dict]:
    """Run jobs through cnvkit_driver.py; fail with the first failed job's log.

    A job whose `stamp` file holds its `fingerprint` ran before on the same inputs and is
    skipped (reported with status "ok" and the seconds it took then).
    """
    results = {}
    todo = []
    for job in jobs:
        stamp = Path(job["stamp"])
        if stamp.exists() and json.loads(stamp.read_text())["fingerprint"] == job["fingerprint"]:
            results[job["name"]] = json.loads(stamp.read_text())["result"] | {"reused": True}
        else:
            stamp.unlink(missing_ok=True)
            todo.append(job)
    for job in todo:
        Path(job["log"]).unlink(missing_ok=True)
    if todo:
        results |= _drive(python, todo, workers, path)
    for job in todo:
        record = {"fingerprint": job["fingerprint"], "result": results[job["name"]]}
        Path(job["stamp"]).write_text(json.dumps(record))
    return results


def _drive(python: Path, jobs: list[dict], workers: int, path: Path) -> dict[str, dict]:
    path.write_text(json.dumps(jobs))
    done = subprocess.run(
        [str(python), str(DRIVER), str(path), str(workers)],
        capture_output=True,
        text=True,
        env={"MPLBACKEND": "Agg", "PATH": _path(), "HOME": str(Path.home())},
    )
    results = {}
    for line in done.stdout.splitlines():
        result = json.loads(line)
        results[result["name"]] = result
    failed = [r for r in results.values() if r["status"] != "ok"]
    if done.returncode or failed or len(results) != len(jobs):
        where = next((j["log"] for j in jobs if j["name"] in {r["name"] for r in failed}), None)
        raise RuntimeError(
            f"CNVkit failed ({done.returncode}): {failed[:1]} {done.stderr[-2000:]}; see {where}"
        )
    return results


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


def _method(panel: str) -> list[str]:
    return ["-m", "amplicon"] if panel == "amplicon" else []


def run(
    design: design_module.Design, data: Path, out: Path, jobs: int, venv: Path, log=print
) -> dict:
    python = ensure_cnvkit(venv, log)
    for sub in ("logs", "ref", "samples"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    fasta = str(data / "ref.fa.gz")
    pons = sorted({s.pon for s in design.samples if s.is_normal})
    reference_jobs = []
    for pon in pons:
        normals = design.normals(pon)
        panel = normals[0].panel
        steps = ["batch", "--normal", *(str(data / f"{s.name}.bam") for s in normals)]
        steps += ["--targets", str(data / f"{panel}.bed"), "--fasta", fasta]
        steps += ["--output-reference", str(out / "ref" / f"{pon}.cnn")]
        steps += ["--output-dir", str(out / "ref" / pon), "-p", str(jobs), *_method(panel)]
        if panel != "amplicon":
            steps += ["--access", str(data / "access.bed")]
        job = {"name": pon, "log": str(out / "logs" / f"ref_{pon}.log"), "steps": [steps]}
        reference_jobs.append(_stamped(job, out / "ref" / f"{pon}.stamp"))
    upstream = {job["name"]: job["fingerprint"] for job in reference_jobs}
    timing = {"reference": drive(python, reference_jobs, 1, out / "jobs_reference.json")}
    loo_jobs = []
    for pon in pons:
        normals = design.normals(pon)
        for left_out in (s for s in normals if s.called):
            coverage = []
            for other in normals:
                if other.name != left_out.name:
                    for kind in ("targetcoverage", "antitargetcoverage"):
                        coverage.append(str(out / "ref" / pon / f"{other.name}.{kind}.cnn"))
            steps = ["reference", *coverage, "--fasta", fasta, "-o", _loo_reference(out, left_out)]
            if left_out.panel == "amplicon":
                steps.append("--no-edge")
            job = {
                "name": f"loo_{left_out.name}",
                "log": str(out / "logs" / f"ref_loo_{left_out.name}.log"),
                "steps": [steps],
            }
            stamp = Path(_loo_reference(out, left_out) + ".stamp")
            loo_jobs.append(_stamped(job, stamp, upstream[pon]))
            upstream[left_out.name] = loo_jobs[-1]["fingerprint"]
    sample_jobs = []
    for sample in sorted(design.called(), key=lambda s: -s.spec.target_depth):
        job = {
            "name": sample.name,
            "log": str(out / "logs" / f"{sample.name}.log"),
            "steps": sample_steps(sample, data, out),
        }
        source = upstream[sample.name if sample.is_normal else sample.pon]
        stamp = _sample_dir(out, sample.name) / "stamp.json"
        sample_jobs.append(_stamped(job, stamp, source))
    timing["loo"] = drive(python, loo_jobs, jobs, out / "jobs_loo.json")
    timing["reference_seconds"] = time.perf_counter() - began
    log(
        f"cnvkit: {len(reference_jobs)} references and {len(loo_jobs)} leave-one-out "
        f"references in {timing['reference_seconds']:.0f} s"
    )
    timing["samples"] = drive(python, sample_jobs, jobs, out / "jobs_samples.json")
    log(
        f"cnvkit: {len(sample_jobs)} samples in "
        f"{time.perf_counter() - began - timing['reference_seconds']:.0f} s"
    )
    (out / "timing.json").write_text(json.dumps(timing, indent=1))
    return timing


def _stamped(job: dict, stamp: Path, upstream: str = "") -> dict:
    return job | {"stamp": str(stamp), "fingerprint": fingerprint(job, upstream)}


def _loo_reference(out: Path, normal: design_module.Sample) -> str:
    return str(out / "ref" / f"{normal.pon}_without_{normal.name}.cnn")


def _sample_dir(out: Path, name: str) -> Path:
    return out / "samples" / name


def sample_steps(sample: design_module.Sample, data: Path, out: Path) -> list[list[str]]:
    folder = _sample_dir(out, sample.name)
    folder.mkdir(parents=True, exist_ok=True)
    reference = (
        _loo_reference(out, sample) if sample.is_normal else str(out / "ref" / f"{sample.pon}.cnn")
    )
    prefix = str(folder / sample.name)
    steps = [
        [
            "batch",
            str(data / f"{sample.name}.bam"),
            "-r",
            reference,
            "-d",
            str(folder),
            "-p",
            "1",
            *_method(sample.panel),
        ],
        [
            "segmetrics",
            f"{prefix}.cnr",
            "-s",
            f"{prefix}.cns",
            "--ci",
            "--alpha",
            "0.05",
            "-o",
            f"{prefix}.ci95.cns",
        ],
    ]
    call = ["call", f"{prefix}.cns", "-m", "clonal", "-o", f"{prefix}.clonal.cns"]
    if sample.truth["purity"] is not None:
        call += ["--purity", f"{sample.truth['purity']:g}"]
    return [*steps, call]


def tumor_cn(log2: float, purity: float | None) -> float:
    """CNVkit's clonal conversion, unrounded: n = (2 * 2^v - 2 * (1 - p)) / p, >= 0; the
    purity formula of metcnv.copynumber at ploidy 2."""
    p = 1.0 if purity is None else purity
    return max(0.0, float(tumor_copy_number(2**log2, p, 2)))


def _met_segment(table: pd.DataFrame) -> pd.Series | None:
    chrom = table[table["chromosome"] == MET.chrom]
    overlap = (np.minimum(chrom["end"], MET.end) - np.maximum(chrom["start"], MET.start)).clip(0)
    if chrom.empty or overlap.max() <= 0:
        return None
    return chrom.loc[overlap.idxmax()]


def results(design: design_module.Design, out: Path) -> list[dict]:
    """One row per sample: the clonal call and 95% interval of the segment holding MET, and
    the segment's copy number before the clonal call rounds it (tumor_cn_unrounded)."""
    rows = []
    for sample in design.called():
        prefix = _sample_dir(out, sample.name) / sample.name
        purity = sample.truth["purity"]
        clonal = _met_segment(pd.read_csv(f"{prefix}.clonal.cns", sep="\t"))
        ci = _met_segment(pd.read_csv(f"{prefix}.ci95.cns", sep="\t"))
        row = {
            "sample": sample.name,
            "tool": "cnvkit",
            "status": "no MET segment",
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
        }
        if clonal is not None:
            size = int(clonal["end"] - clonal["start"])
            cn = float(clonal["cn"])
            focal = cn >= 6 and size < design_module.FOCAL_MAX
            row.update(
                status=f"cn {cn:g} over {size / 1e6:.2f} Mb" + (" (focal)" if focal else ""),
                focal_amp=focal,
                focal_any=cn >= 3 and size < design_module.FOCAL_MAX,
                tumor_cn=cn if purity is not None else None,
                over_10=cn > 10,
                segment_size=size,
                sample_cn=2 * 2 ** float(ci["log2"]) if ci is not None else None,
            )
        if ci is not None and purity is not None:
            row.update(
                tumor_cn_unrounded=tumor_cn(float(ci["log2"]), purity),
                ci_low=tumor_cn(float(ci["ci_lo"]), purity),
                ci_high=tumor_cn(float(ci["ci_hi"]), purity),
            )
        rows.append(row)
    return rows
