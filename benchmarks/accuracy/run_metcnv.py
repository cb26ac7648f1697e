"""Call every benchmark sample with metcnv's command line, as a user would.

    metcnv coverage NORMAL.bam --targets PANEL.bed --snps snps.vcf.gz --out NORMAL.coverage.tsv.gz
    metcnv pon build --targets PANEL.bed --fasta ref.fa.gz --out PON.pon NORMALS...
    metcnv coverage SAMPLE.bam --pon PON.pon --snps snps.vcf.gz --out SAMPLE.coverage.tsv.gz
    metcnv call SAMPLE.coverage.tsv.gz --pon PON.pon --out calls/ --purity P --sample-type T
    metcnv call SAMPLE.coverage.tsv.gz --pon PON.pon --out calls_hidden/ --sample-type T
    metcnv coverage SAMPLE.bam --pon PON.pon --snps snps.vcf.gz \
        --mutations SAMPLE.somatic.vcf.gz --out coverage_mutations/SAMPLE.coverage.tsv.gz
    metcnv call coverage_mutations/SAMPLE.coverage.tsv.gz --pon PON.pon \
        --out calls_mutations/ --sample-type T

(`--no-offtarget` for the amplicon panel.) The first call is the `given` run (the true
purity, as before), the second the `hidden` run (no purity: metcnv estimates it from depth
and the allele counts beside the coverage, `SAMPLE.alleles.tsv.gz`); both read the same
coverage. The `mutations` run is the hidden one with the sample's somatic mutations
counted too (the simulator's VCF, as a variant caller would report them), whose allele
fractions enter the purity fit. Each normal is also called, without a purity, against a
panel of normals built from the others, in each run. The commands run through
`metcnv.cli.main(argv)` inside long-lived worker processes, which is the command line
without paying Python's start-up for each of ~600 commands; each command's output goes to
`logs/{sample}.log`.
"""

from __future__ import annotations

import json
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import design as design_module
from parallel import parallel_map

from metcnv.model import Status

RUNS = ("given", "hidden", "mutations")
CALLS = {"given": "calls", "hidden": "calls_hidden", "mutations": "calls_mutations"}


def metcnv(argv: list[str], log: Path) -> None:
    """Run one metcnv command line in this process, its output appended to `log`."""
    from metcnv.cli import main

    with open(log, "a") as handle, redirect_stdout(handle), redirect_stderr(handle):
        print("$ metcnv " + " ".join(argv), flush=True)
        code = main(argv)
    if code:
        raise RuntimeError(f"metcnv {' '.join(argv)} failed (exit {code}); see {log}")


_STATE: dict = {}


def _bin_options(panel: str) -> list[str]:
    return ["--no-offtarget"] if panel == "amplicon" else []


def _count_normal(sample: design_module.Sample) -> str:
    out: Path = _STATE["out"]
    data: Path = _STATE["data"]
    argv = ["coverage", str(data / f"{sample.name}.bam"), "--targets"]
    argv += [str(data / f"{sample.panel}.bed"), "--out", _coverage(sample.name)]
    argv += ["--snps", str(data / "snps.vcf.gz")]
    metcnv(argv + _bin_options(sample.panel), out / "logs" / f"{sample.name}.log")
    return sample.name


def _coverage(name: str, mutations: bool = False) -> str:
    """A sample's coverage file; with `mutations`, the one counted with its somatic VCF."""
    folder = "coverage_mutations" if mutations else "coverage"
    return str(_STATE["out"] / folder / f"{name}.coverage.tsv.gz")


def _build_pon(job: tuple[str, str, list[str], str]) -> str:
    """(panel, pon path, normals, log name)."""
    panel, pon, normals, log = job
    data: Path = _STATE["data"]
    argv = ["pon", "build", "--targets", str(data / f"{panel}.bed")]
    argv += ["--fasta", str(data / "ref.fa.gz"), "--out", pon, *map(_coverage, normals)]
    metcnv(argv + _bin_options(panel), _STATE["out"] / "logs" / f"{log}.log")
    return pon


def _call(sample: design_module.Sample) -> tuple[str, float]:
    out: Path = _STATE["out"]
    data: Path = _STATE["data"]
    log = out / "logs" / f"{sample.name}.log"
    began = time.perf_counter()
    if sample.is_normal:  # against the panel of normals built without it
        pon = str(out / "pon" / f"{sample.pon}_without_{sample.name}.pon")
    else:
        pon = str(out / "pon" / f"{sample.pon}.pon")
        bam = str(data / f"{sample.name}.bam")
        argv = ["coverage", bam, "--pon", pon, "--snps", str(data / "snps.vcf.gz")]
        if {"given", "hidden"} & set(_STATE["runs"]):
            metcnv([*argv, "--out", _coverage(sample.name)], log)
        if "mutations" in _STATE["runs"]:
            vcf = str(data / f"{sample.name}.somatic.vcf.gz")
            metcnv([*argv, "--out", _coverage(sample.name, True), "--mutations", vcf], log)
    for run in _STATE["runs"]:
        coverage = _coverage(sample.name, run == "mutations" and not sample.is_normal)
        argv = ["call", coverage, "--pon", pon, "--out", str(out / CALLS[run])]
        # an inconclusive or QC-failed call is a result to score, not a failed command
        argv += ["--sample-type", sample.truth["sample_type"], "--exit-zero"]
        if sample.truth["purity"] is not None and run == "given":
            argv += ["--purity", f"{sample.truth['purity']:g}"]
        metcnv(argv, log)
    return sample.name, time.perf_counter() - began


def run(
    design: design_module.Design,
    data: Path,
    out: Path,
    jobs: int,
    log=print,
    runs: tuple[str, ...] = RUNS,
) -> dict:
    """Coverage, panels of normals and calls of every sample (once per run in `runs`);
    returns timings."""
    for sub in ("logs", "coverage", "coverage_mutations", "pon", *(CALLS[r] for r in runs)):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for stale in (out / "logs").glob("*.log"):
        stale.unlink()
    _STATE.update(out=out, data=data, runs=runs)
    began = time.perf_counter()
    normals = [s for s in design.samples if s.is_normal]
    list(parallel_map(_count_normal, normals, jobs))
    pons = []
    for pon in sorted({s.pon for s in normals}):
        members = [s.name for s in design.normals(pon)]
        panel = design.normals(pon)[0].panel
        pons.append((panel, str(out / "pon" / f"{pon}.pon"), members, f"pon_{pon}"))
        for left_out in [s.name for s in design.normals(pon) if s.called]:
            others = [m for m in members if m != left_out]
            path = str(out / "pon" / f"{pon}_without_{left_out}.pon")
            pons.append((panel, path, others, f"pon_{pon}_without_{left_out}"))
    list(parallel_map(_build_pon, pons, jobs))
    pon_seconds = time.perf_counter() - began
    log(
        f"metcnv: {len(normals)} normals counted, {len(pons)} panels of normals "
        f"in {pon_seconds:.0f} s"
    )
    order = sorted(design.called(), key=lambda s: -s.spec.target_depth)
    seconds = dict(parallel_map(_call, order, jobs))
    total = time.perf_counter() - began
    log(f"metcnv: {len(seconds)} samples counted and called in {total - pon_seconds:.0f} s")
    timing = {"pon_seconds": pon_seconds, "total_seconds": total, "sample_seconds": seconds}
    (out / "timing.json").write_text(json.dumps(timing, indent=1))
    return timing


def results(design: design_module.Design, out: Path, runs: tuple[str, ...] = RUNS) -> list[dict]:
    """One row per sample and run from its metcnv JSON (the fields the scores need)."""
    return [_row(sample, out, run) for run in runs for sample in design.called()]


def finished_runs(design: design_module.Design, out: Path) -> tuple[str, ...]:
    """The runs whose calls folder in `out` holds every called sample's JSON."""
    return tuple(
        run
        for run in RUNS
        if all((out / CALLS[run] / f"{s.name}.metcnv.json").is_file() for s in design.called())
    )


def _row(sample: design_module.Sample, out: Path, run: str) -> dict:
    path = out / CALLS[run] / f"{sample.name}.metcnv.json"
    doc = json.loads(path.read_text())
    met = doc["met"]
    status = Status(met["status"])
    ci = met.get("tumor_copy_number_ci95") or [None, None]
    purity = doc.get("purity") or {}
    fit = purity.get("fit") or {}
    p_ci = purity.get("ci95") or [None, None]
    return {
        "sample": sample.name,
        "tool": "metcnv",
        "run": run,
        "status": met["status"],
        "focal_amp": status.is_amplification,
        "focal_any": status.is_amplification or status is Status.FOCAL_GAIN,
        "tumor_cn": met.get("tumor_copy_number"),
        "tumor_cn_unrounded": met.get("tumor_copy_number"),  # never rounded
        "ci_low": ci[0],
        "ci_high": ci[1],
        "tumor_cn_min": met.get("tumor_copy_number_min"),
        "over_10": met.get("over_10_copies"),
        "segment_size": (met.get("amplicon") or {}).get("size"),
        "sample_cn": met.get("copy_number"),
        "qc": doc["qc"]["status"],
        "purity_est": purity.get("value") if purity.get("source") == "estimated" else None,
        "purity_ci_low": p_ci[0] if purity.get("source") == "estimated" else None,
        "purity_ci_high": p_ci[1] if purity.get("source") == "estimated" else None,
        "purity_source": purity.get("source"),
        "purity_fit_identifiable": fit.get("identifiable"),
        "purity_fit_value": fit.get("value"),
        "purity_reason": purity.get("reason") or fit.get("reason"),
    }
