"""The benchmark's steps beyond counting one BAM (run.py calls them): a panel of normals
from 10, 50 and 200 coverage files, MET-first mode on the 25 M-read BAM, `metcnv run` end
to end against CNVkit `batch` + `call` on one sample, and a Snakemake dry run over a
10,000-sample sheet. Every timed command runs as its own child process (timing.measure).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from metcnv.coverage import SampleCoverage, alleles_path, read_coverage, write_coverage

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "support"))

from deepbam import REFERENCE_SEED, _panel  # noqa: E402
from metcnv_sim.reference import write_fasta  # noqa: E402
from timing import Series, measure  # noqa: E402

PON_SIZES = (10, 50, 200)
SHEET_SAMPLES = 10_000
BUNDLED = REPO / "tests" / "data"


def metcnv_command() -> str:
    return shutil.which("metcnv") or str(Path(sys.executable).parent / "metcnv")


def deep_reference(folder: Path) -> Path:
    """The deep panel's reference FASTA (bgzipped, indexed; written once): GC of its bins."""
    path = folder / "ref.fa.gz"
    if not (folder / "ref.fa.gz.fai").exists():
        folder.mkdir(parents=True, exist_ok=True)
        write_fasta(_panel()[1], path, REFERENCE_SEED)
    return path


def synthetic_normals(template: Path, folder: Path, n: int) -> list[Path]:
    """`n` coverage files like `template` (a coverage file with allele counts): every
    bin's count and every allele count redrawn (Poisson) around the template's, scaled by
    a library size between 0.5x and 2x, each under its own sample name."""
    base = read_coverage(template)
    rng = np.random.default_rng(21)
    paths = []
    for i in range(n):
        path = folder / f"normal{i:03d}.coverage.tsv.gz"
        paths.append(path)
        if path.exists() and alleles_path(path).exists():
            continue
        size = rng.uniform(0.5, 2.0)
        bins = base.bins.assign(count=rng.poisson(base.bins["count"].to_numpy() * size))
        alleles = base.alleles.assign(
            **{
                c: rng.poisson(base.alleles[c].to_numpy() * size)
                for c in ("ref_count", "alt_count")
            }
        )
        total = int(base.total_fragments * size)
        write_coverage(
            SampleCoverage(f"normal{i:03d}", base.build, bins, total, dict(base.meta), alleles),
            path,
        )
    return paths


def pon_scaling(template: Path, targets: Path, work: Path, log: Path) -> tuple[dict, Path]:
    """`metcnv pon build` from 10, 50 and 200 coverage files: wall, CPU, peak RSS; returns
    the results and the 10-normal panel (for MET-first mode)."""
    fasta = deep_reference(work / "reference")
    normals = synthetic_normals(template, work / "normals", max(PON_SIZES))
    results = {}
    for n in PON_SIZES:
        out = work / f"panel{n}.pon"
        command = [metcnv_command(), "pon", "build", "--targets", str(targets)]
        command += ["--fasta", str(fasta), "--out", str(out), *map(str, normals[:n])]
        run = measure(command, log)
        results[n] = vars(run)
        print(f"  pon build, {n} normals: {run.wall:.1f} s, {run.rss_mb:.0f} MB", flush=True)
    return results, work / "panel10.pon"


def met_first(bam: Path, pon: Path, work: Path, repeats: int, log: Path) -> dict:
    """`metcnv run --region chr7` against `metcnv run` (whole BAM), 1 and 2 threads,
    interleaved; the panel of normals and purity given (an urgent case)."""
    commands = {}
    for threads in (1, 2):
        for region in (["--region", "chr7"], []):
            name = f"metcnv run{' --region chr7' if region else ''} --threads {threads}"
            out = work / name.replace(" ", "_").replace("-", "")
            commands[name] = [metcnv_command(), "run", str(bam), "--pon", str(pon)]
            commands[name] += ["--out", str(out), "--purity", "0.2", "--threads", str(threads)]
            commands[name] += region
    return _interleaved(commands, repeats, log)


def end_to_end(work: Path, cnvkit: str | None, repeats: int, log: Path) -> dict:
    """One sample (tests/data/tumor_focal.bam), against the same six bundled normals:
    `metcnv run` (panel of normals built beforehand, untimed) against CNVkit `batch -r` +
    `call` (reference built beforehand from the normals, untimed), as the accuracy
    benchmark runs CNVkit. The BAMs are linked into `work` (CNVkit indexes them there)."""
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    for path in BUNDLED.glob("*"):
        if not (data / path.name).exists():
            (data / path.name).symlink_to(path)
    metcnv = metcnv_command()
    pon = work / "panel.pon"
    normals = sorted(str(p) for p in data.glob("normal*.bam"))
    if not pon.exists():
        command = [metcnv, "pon", "build", "--targets", str(data / "panel.bed")]
        command += ["--fasta", str(data / "ref.fa.gz"), "--out", str(pon), *normals]
        measure(command, log)
    tumor = data / "tumor_focal.bam"
    commands = {
        "metcnv run": [metcnv, "run", str(tumor), "--pon", str(pon), "--out", str(work / "m")]
    }
    if cnvkit:
        reference = work / "cnvkit" / "reference.cnn"
        if not reference.exists():
            access = work / "cnvkit" / "access.bed"
            access.parent.mkdir(parents=True, exist_ok=True)
            lines = (line.split("\t")[:2] for line in (data / "ref.fa.gz.fai").open())
            access.write_text("".join(f"{c}\t0\t{n}\n" for c, n in lines))
            command = [cnvkit, "batch", "--normal", *normals, "--targets", str(data / "panel.bed")]
            command += ["--fasta", str(plain_fasta(data / "ref.fa.gz", reference.parent))]
            command += ["--access", str(access)]
            command += [
                "--output-reference",
                str(reference),
                "-d",
                str(reference.parent),
                "-p",
                "1",
            ]
            measure(command, log)
        out = work / "cnvkit" / "sample"
        commands["cnvkit batch -r"] = [cnvkit, "batch", str(tumor), "-r", str(reference)]
        commands["cnvkit batch -r"] += ["-d", str(out), "-p", "1"]
        commands["cnvkit call"] = [cnvkit, "call", str(out / "tumor_focal.cns")]
        commands["cnvkit call"] += ["-o", str(out / "tumor_focal.call.cns")]
    return _interleaved(commands, repeats, log)


def plain_fasta(bgzipped: Path, folder: Path) -> Path:
    """An uncompressed copy of `bgzipped`, 60 bases a line, indexed, for CNVkit: Debian's
    pyfaidx reads a region of the bundled bgzipped FASTA (one line per contig) in ~45 s,
    which would make CNVkit's GC step take days; of the plain copy, in microseconds."""
    path = folder / "ref.fa"
    if not Path(f"{path}.fai").exists():
        contigs = [line.split("\t")[0] for line in Path(f"{bgzipped}.fai").read_text().splitlines()]
        command = ["samtools", "faidx", str(bgzipped), *contigs, "-n", "60", "-o", str(path)]
        subprocess.run(command, check=True)
        subprocess.run(["samtools", "faidx", str(path)], check=True)
    return path


def dry_run(work: Path, log: Path) -> dict:
    """`snakemake -n` over a sheet of 10,000 samples (20 normals, the rest tumors), every
    row a link to a bundled BAM, with the bundled example's configuration."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("config", "tests"):
        if not (work / name).exists():
            (work / name).symlink_to(REPO / name, target_is_directory=True)
    bams = work / "bams"
    bams.mkdir(exist_ok=True)
    rows = ["sample\tbam\tsample_type\tpurity\tploidy\tpatient\tcollection_date\tsite"]
    for i in range(SHEET_SAMPLES):
        kind = "normal" if i < 20 else "tumor"
        source = BUNDLED / ("normal1.bam" if kind == "normal" else "tumor_focal.bam")
        bam = bams / f"S{i:05d}.bam"
        for suffix in ("", ".csi"):
            link = Path(f"{bam}{suffix}")
            if not link.exists():
                link.symlink_to(Path(f"{source}{suffix}"))
        rows.append(f"S{i:05d}\tbams/S{i:05d}.bam\t{kind}\t\t\t\t\t")
    (work / "samples.tsv").write_text("\n".join(rows) + "\n")
    config = (REPO / "config" / "example.yaml").read_text()
    config = config.replace("samples: config/example_samples.tsv", "samples: samples.tsv")
    (work / "config.yaml").write_text(config)
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    command = [snakemake, "-n", "-q", "-s", str(REPO / "Snakefile"), "-d", str(work)]
    command += ["--configfile", str(work / "config.yaml")]
    run = measure(command, log)
    print(f"  snakemake -n, {SHEET_SAMPLES:,} samples: {run.wall:.1f} s", flush=True)
    return vars(run)


def _interleaved(commands: dict[str, list[str]], repeats: int, log: Path) -> dict:
    series = {name: Series() for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            series[name].runs.append(measure(command, log))
            print(f"  {name}: {series[name].runs[-1].wall:.1f} s", flush=True)
    return {
        name: {key: s.median(key) for key in ("wall", "cpu", "rss_mb")}
        for name, s in series.items()
    }
