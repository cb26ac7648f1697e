"""MET accuracy benchmark: simulate BAMs with known truth, call them with metcnv and CNVkit,
score both against the truth and print the tables (docs/validation.md explains them).
PureCN's tumor-only purity estimate is compared on request (`--tools metcnv,cnvkit,purecn`).

    python benchmarks/accuracy/run.py --out benchmarks/accuracy/out

Needs metcnv's environment (and the simulator metcnv_sim from tests/support, which this
script puts on sys.path) and, for CNVkit, R's DNAcopy (`apt-get install -y
r-bioc-dnacopy`); CNVkit itself is installed with pip into benchmarks/accuracy/.venv-cnvkit
on first use (`--tools metcnv` skips it). PureCN (`purecn`, not run by default) needs
`apt-get install -y r-bioc-purecn r-cran-optparse r-cran-pscbs` and metcnv's allele counts.

Writes into --out: data/ (reference, panels, BAMs, truth.tsv), metcnv/, cnvkit/, purecn/ (each
tool's commands' logs and outputs), results.tsv (one row per sample and tool), tables.md
(the tables printed at the end) and summary.json (the numbers behind them, timings).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "support"))  # metcnv_sim

import design as design_module  # noqa: E402
import run_metcnv  # noqa: E402
import score  # noqa: E402
import simulate_data  # noqa: E402

TOOLS = ("metcnv", "cnvkit")  # the default --tools
OPTIONAL_TOOLS = ("purecn",)  # run only when named


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "out", help="output folder")
    parser.add_argument(
        "--scale",
        choices=sorted(design_module.SCALES),
        default="full",
        help="full: the documented benchmark; small: the test's few samples",
    )
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated: metcnv,cnvkit (default), purecn"
    )
    parser.add_argument(
        "--purity",
        choices=("given", "hidden", "mutations", "both", "all"),
        default="both",
        help="metcnv runs: given (the true purity, --purity P), hidden (none: metcnv "
        "estimates it from the reads), mutations (hidden, with the somatic mutations' VCF), "
        "both (given and hidden, the default) or all three, on the same BAMs; runs not made "
        "now but finished in --out earlier are scored too; CNVkit is always given the purity",
    )
    parser.add_argument(
        "--noise",
        choices=design_module.NOISES,
        default="synthetic",
        help="synthetic: metcnv_sim's noise model; real: per-target capture efficiency and "
        "noise from real tumors' and normals' coverage (CNVkit's example data, "
        "real_noise.py), no amplicon panel",
    )
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--score-only",
        action="store_true",
        help="score the calls already in --out (every finished metcnv run, and CNVkit's and "
        "PureCN's where they ran): no BAM is written or read and no tool is run",
    )
    parser.add_argument(
        "--purecn-per-cell",
        type=int,
        default=None,
        help="run PureCN on the first N tumors of each design class x tumor-fraction cell "
        "only (default: every tumor; the full design takes PureCN hours)",
    )
    parser.add_argument(
        "--cnvkit-venv",
        type=Path,
        default=HERE / ".venv-cnvkit",
        help="virtual environment holding CNVkit (made with pip when missing)",
    )
    args = parser.parse_args(argv)
    args.tools = [t for t in args.tools.split(",") if t]
    runs = {"both": ("given", "hidden"), "all": ("given", "hidden", "mutations")}
    args.runs = runs.get(args.purity, (args.purity,))
    unknown = set(args.tools) - set(TOOLS) - set(OPTIONAL_TOOLS)
    if unknown:
        choices = ", ".join(TOOLS + OPTIONAL_TOOLS)
        parser.error(f"unknown tools {sorted(unknown)}; choose from {choices}")
    return args


def cpu_seconds() -> float:
    """CPU time of this process and of every finished child (workers, CNVkit, R)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    began = time.perf_counter()
    cpu_began = cpu_seconds()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - began:6.0f} s] {message}", flush=True)

    out = args.out.resolve()
    data = out / "data"
    if args.noise == "real":
        import real_noise

        missing = real_noise.available()
        if missing:
            raise SystemExit(f"--noise real: {missing}")
    design = design_module.build(args.scale, args.noise, cache=data)
    if args.score_only:
        rows, notes = earlier_rows(design, out)
        timings = {"total_seconds": time.perf_counter() - began}
        timings["cpu_seconds"] = cpu_seconds() - cpu_began
        summary = score.report(design.truth(), rows, out, timings, argv_text(argv), notes)
        print(summary["text"])
        return summary
    log(
        f"{args.scale} design, {args.noise} noise: {len(design.samples)} samples; "
        f"writing BAMs to {data}"
    )
    timings = {"simulation": simulate_data.write_data(design, data, args.jobs, log)}
    timings["simulation"]["seconds"] = time.perf_counter() - began
    timings["simulation"]["cpu_seconds"] = cpu_seconds() - cpu_began
    rows = []
    if "metcnv" in args.tools:
        start, cpu = time.perf_counter(), cpu_seconds()
        timings["metcnv"] = run_metcnv.run(
            design, data, out / "metcnv", args.jobs, log, runs=args.runs
        )
        timings["metcnv"]["seconds"] = time.perf_counter() - start
        timings["metcnv"]["cpu_seconds"] = cpu_seconds() - cpu
        rows += run_metcnv.results(design, out / "metcnv", runs=args.runs)
    notes = []
    if "metcnv" not in args.tools and (out / "metcnv" / "timing.json").exists():
        rows += run_metcnv.results(design, out / "metcnv", runs=args.runs)
        notes.append(f"metcnv not run now: its rows are read from {out / 'metcnv'}")
    earlier = [
        run
        for run in run_metcnv.finished_runs(design, out / "metcnv")
        if run not in args.runs and "metcnv" in args.tools
    ]
    if earlier:
        rows += run_metcnv.results(design, out / "metcnv", runs=tuple(earlier))
        notes.append(f"metcnv runs {', '.join(earlier)} not made now: read from earlier calls")
    if "cnvkit" in args.tools:
        import run_cnvkit

        start, cpu = time.perf_counter(), cpu_seconds()
        try:
            timings["cnvkit"] = run_cnvkit.run(
                design, data, out / "cnvkit", args.jobs, args.cnvkit_venv, log
            )
            rows += run_cnvkit.results(design, out / "cnvkit")
        except (SystemExit, OSError, RuntimeError, subprocess.CalledProcessError) as error:
            notes.append("CNVkit NOT RUN, so not compared: " + " ".join(str(error).split()))
            log(notes[-1])
            timings["cnvkit"] = {"error": str(error)}
        timings["cnvkit"]["seconds"] = time.perf_counter() - start
        timings["cnvkit"]["cpu_seconds"] = cpu_seconds() - cpu
    if "purecn" in args.tools:
        import run_purecn

        start, cpu = time.perf_counter(), cpu_seconds()
        try:
            timings["purecn"] = run_purecn.run(
                design, data, out / "purecn", args.jobs, out / "metcnv", log, args.purecn_per_cell
            )
            purecn_rows = run_purecn.results(design, out / "purecn", timings["purecn"])
            rows += purecn_rows
            failed = [r for r in purecn_rows if r["purity_source"] == "failed"]
            if failed:
                notes.append(
                    f"PureCN failed on {len(failed)} of {len(purecn_rows)} tumors (scored as "
                    f"not estimated), e.g. {failed[0]['sample']}: {failed[0]['purity_reason']}"
                )
        except (SystemExit, OSError, RuntimeError, subprocess.CalledProcessError) as error:
            notes.append("PureCN NOT RUN, so not compared: " + " ".join(str(error).split()))
            log(notes[-1])
            timings["purecn"] = {"error": str(error)}
        timings["purecn"]["seconds"] = time.perf_counter() - start
        timings["purecn"]["cpu_seconds"] = cpu_seconds() - cpu
    timings["total_seconds"] = time.perf_counter() - began
    timings["cpu_seconds"] = cpu_seconds() - cpu_began
    summary = score.report(design.truth(), rows, out, timings, argv_text(argv), notes)
    print(summary["text"])
    log("done")
    return summary


def earlier_rows(design: design_module.Design, out: Path) -> tuple[list[dict], list[str]]:
    """The rows of the calls already in `out` (--score-only), and a note saying so."""
    runs = run_metcnv.finished_runs(design, out / "metcnv")
    rows = run_metcnv.results(design, out / "metcnv", runs=runs)
    tools = [f"metcnv ({', '.join(runs) or 'no finished run'})"]
    if (out / "cnvkit" / "timing.json").is_file():
        import run_cnvkit

        rows += run_cnvkit.results(design, out / "cnvkit")
        tools.append("CNVkit")
    purecn = out / "purecn" / "timing.json"
    if purecn.is_file():
        import run_purecn

        rows += run_purecn.results(design, out / "purecn", json.loads(purecn.read_text()))
        tools.append("PureCN")
    note = f"scored only (--score-only): the calls of {', '.join(tools)} read from {out}"
    return rows, [note + "; no BAM written or read, no tool run, runtimes not measured"]


def argv_text(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return "python benchmarks/accuracy/run.py " + " ".join(words)


if __name__ == "__main__":
    main()
