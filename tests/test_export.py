"""Standard formats: VCF 4.4 checked by bcftools, IGV SEG, MultiQC custom content in MultiQC."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pysam
import pytest
from test_report import real_results, write_fake_result

from metcnv import report
from metcnv.export import (
    EXPORTS,
    MQC_HEADER,
    SEG_COLUMNS,
    vcf_content,
    write_exports,
    write_vcf,
)
from metcnv.files import LOCK_NAME
from metcnv.loading import read_json
from metcnv.model import Result, Status

BCFTOOLS = shutil.which("bcftools")
MULTIQC = Path(sys.executable).parent / "multiqc"
needs_bcftools = pytest.mark.usefixtures("require_bcftools")
needs_multiqc = pytest.mark.usefixtures("require_multiqc")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Path]:
    """Fake results (focal amplicon with purity, neutral blood without), reports written."""
    folder = tmp_path_factory.mktemp("export")
    paths = {
        "focal": write_fake_result(folder / "results", "GC-001", 0.4, 1.77),
        "blood": write_fake_result(folder / "results", "GC-002-plasma", None, 0.0, "blood", 1),
    }
    for path in paths.values():
        report.write_sample_reports(path, path.parent)
    return paths


def with_gene(result: Result, name: str, **changes) -> Result:
    """The result with one gene call changed (in `genes`, and in `met` if it is MET)."""
    genes = [g.model_copy(update=changes) if g.gene == name else g for g in result.genes]
    met = next(g for g in genes if g.gene == result.met.gene)
    return result.model_copy(update={"genes": genes, "met": met})


def vcf_of(path: Path) -> Path:
    return path.with_name(path.name.replace(".metcnv.json", ".cnv.vcf.gz"))


# --- VCF ----------------------------------------------------------------------------------
@needs_bcftools
def test_vcf_is_valid_for_bcftools(results):
    for path in results.values():
        done = subprocess.run(
            [BCFTOOLS, "view", str(vcf_of(path))], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "[W::" not in done.stderr and "[E::" not in done.stderr, done.stderr
        assert done.stdout.startswith("##fileformat=VCFv4.4\n")
    region = subprocess.run(
        [BCFTOOLS, "view", "-H", "-r", "chr7:116000000-117000000", str(vcf_of(results["focal"]))],
        capture_output=True,
        text=True,
        check=True,
    )  # -r needs the tabix index
    assert region.stdout.count("\n") == 1


def test_vcf_records_one_per_called_gene(results):
    with pysam.VariantFile(str(vcf_of(results["focal"]))) as vcf:
        assert vcf.header.version == "VCFv4.4"
        records = list(vcf)
        sample = list(vcf.header.samples)
    assert sample == ["GC-001"]
    assert len(records) == 1  # only MET is called; the neutral genes are not events
    rec = records[0]
    met = read_json(results["focal"]).met.model_dump()
    assert (rec.chrom, rec.alts, rec.ref) == ("chr7", ("<CNV>",), "N")
    assert rec.pos == met["start"]  # the padding base before the 0-based start
    assert rec.stop == met["end"]  # END
    assert rec.info["SVLEN"] == (met["end"] - met["start"],)
    assert rec.info["SVCLAIM"] == ("D",) and rec.info["IMPRECISE"] and rec.info["FOCAL"]
    assert rec.info["GENE"] == "MET" and rec.info["CNTYPE"] == "tumor"
    assert list(rec.format) == ["GT", "CN", "MCN", "CNQ", "CICN"]
    call = rec.samples["GC-001"]
    assert call["CN"] == pytest.approx(met["tumor_copy_number"], abs=0.01)
    assert call["CICN"] == pytest.approx(tuple(met["tumor_copy_number_ci95"]), abs=0.01)
    assert 0 < call["CNQ"] <= 99
    assert list(rec.filter) == ["PASS"]


def test_vcf_without_events_or_purity(results, tmp_path):
    with pysam.VariantFile(str(vcf_of(results["blood"]))) as vcf:
        assert list(vcf) == []
        assert "chr7" in vcf.header.contigs
    result = with_gene(read_json(results["blood"]), "MET", status=Status.CHR7_GAIN, focal=False)
    result = result.model_copy(update={"qc": result.qc.model_copy(update={"status": "warn"})})
    path = tmp_path / "gain.cnv.vcf.gz"
    write_vcf(vcf_content(result), path)
    with pysam.VariantFile(str(path)) as vcf:
        records = list(vcf)
    assert len(records) == 1
    assert list(records[0].filter) == ["qc_warn"]
    assert records[0].info["CNTYPE"] == "sample_average" and "FOCAL" not in records[0].info


@needs_bcftools
def test_vcf_is_4_4_and_reads_back_in_bcftools_and_pysam(results, tmp_path):
    """Two records (a loss on chr12 sorts after MET on chr7): CN and END as the result says."""
    result = with_gene(read_json(results["focal"]), "KRAS", status=Status.LOSS)
    path = tmp_path / "two.cnv.vcf.gz"
    write_vcf(vcf_content(result), path)
    met, kras = result.met, next(g for g in result.genes if g.gene == "KRAS")
    expected = [  # (chrom, END, CN rounded to 2 decimals as written)
        ("chr7", met.end, pytest.approx(met.tumor_copy_number, abs=0.005)),
        ("chr12", kras.end, pytest.approx(kras.tumor_copy_number, abs=0.005)),
    ]
    header = subprocess.run(
        [BCFTOOLS, "view", "-h", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert header.startswith("##fileformat=VCFv4.4\n")
    query = subprocess.run(
        [BCFTOOLS, "query", "-f", "%CHROM\t%INFO/END\t[%CN]\t[%GT]\n", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("\t") for line in query.splitlines()]
    assert [(c, int(e), float(cn)) for c, e, cn, _ in rows] == expected
    assert {gt for *_, gt in rows} == {"./1"}
    with pysam.VariantFile(str(path)) as vcf:
        assert vcf.header.version == "VCFv4.4"
        records = [(r.chrom, r.stop, r.samples[0]["CN"]) for r in vcf]
    assert records == expected


# --- all exports -------------------------------------------------------------------------
@pytest.mark.parametrize("export", EXPORTS, ids=lambda export: export.name)
def test_each_export_writes_only_its_files(results, tmp_path, export):
    loaded = report.load_result(results["focal"])
    path = tmp_path / f"GC-001{export.suffix}"
    written = export.write(loaded, path)
    assert written[0] == path and all(p.stat().st_size > 0 for p in written)
    left = sorted(p for p in tmp_path.iterdir() if p.name != LOCK_NAME)
    assert left == sorted(written)  # no temporary files left behind


def test_write_exports_writes_every_export(results, tmp_path):
    loaded = report.load_result(results["blood"])
    written = write_exports(loaded, tmp_path, "x")
    assert [p.name for p in written] == [
        "x.cnv.vcf.gz",
        "x.cnv.vcf.gz.tbi",
        "x.seg",
        "x_mqc.tsv",
        "x_met_cn_mqc.tsv",
        "x.cnr",
        "x.cns",
    ]


# --- SEG ----------------------------------------------------------------------------------
def test_seg_loads_as_a_table(results):
    path = results["focal"]
    seg = pd.read_csv(path.with_name("GC-001.seg"), sep="\t")
    assert list(seg.columns) == SEG_COLUMNS
    segments = pd.read_csv(path.with_name("GC-001.segments.tsv"), sep="\t")
    assert len(seg) == len(segments) and set(seg["ID"]) == {"GC-001"}
    assert (seg["loc.start"] == segments["start"] + 1).all()  # 1-based
    assert (seg["loc.end"] == segments["end"]).all()
    assert seg["seg.mean"].to_numpy() == pytest.approx(segments["log2"].to_numpy(), abs=1e-4)
    assert seg["seg.mean"].max() > 1.5  # the amplicon


# --- MultiQC ------------------------------------------------------------------------------
def test_mqc_files_share_one_header(results):
    texts = [
        p.with_name(p.name.replace(".metcnv.json", "_mqc.tsv")).read_text()
        for p in results.values()
    ]
    assert all(t.startswith(MQC_HEADER) for t in texts)
    rows = [t[len(MQC_HEADER) :].splitlines() for t in texts]
    assert all(len(r) == 2 and r[0] == rows[0][0] for r in rows)


def run_multiqc(folder: Path, out: Path) -> pd.DataFrame:
    """The real MultiQC on `folder`; its general statistics table, indexed by sample."""
    done = subprocess.run(
        [str(MULTIQC), str(folder), "-o", str(out), "-f", "--no-ai"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out / "multiqc_data" / "multiqc_general_stats.txt", sep="\t", index_col=0)


@needs_multiqc
def test_multiqc_shows_met_status_and_qc(results, tmp_path):
    stats = run_multiqc(results["focal"].parent, tmp_path / "multiqc")
    status = [c for c in stats.columns if c.endswith("met_status")]
    qc = [c for c in stats.columns if c.endswith("qc_status")]
    assert status and qc, list(stats.columns)
    assert stats.loc["GC-001", status[0]] == "high_level_focal_amplification"
    assert stats.loc["GC-002-plasma", status[0]] == "neutral"
    assert stats.loc["GC-001", qc[0]] == "pass" and stats.loc["GC-002-plasma", qc[0]] == "warn"
    html = (tmp_path / "multiqc" / "multiqc_report.html").read_text()
    assert "MET status" in html and "MET QC" in html
    # the MET copy-number plot: its own section, one stacked bar (lower bound, estimate,
    # upper bound) per sample, as MultiQC parsed it from the *_met_cn_mqc.tsv files
    assert "metcnv_met_copy_number_plot" in html
    data = tmp_path / "multiqc" / "multiqc_data"
    plotted = next(data.glob("*metcnv_met_copy_number*.txt"))
    bars = pd.read_csv(plotted, sep="\t", index_col=0)
    assert set(bars.index) == {"GC-001", "GC-002-plasma"}
    for sample, path in results.items():
        name = {"focal": "GC-001", "blood": "GC-002-plasma"}[sample]
        cn, (low, high), _ = read_json(path).met.headline()
        assert bars.loc[name].cumsum().to_numpy() == pytest.approx([low, cn, high], abs=1e-3)


# --- real results --------------------------------------------------------------------------
@needs_bcftools
@needs_multiqc
def test_real_results_vcf_seg_and_multiqc(request, tmp_path):
    """Every bundled sample called by `metcnv run`: valid VCFs, SEGs, and all in MultiQC."""
    results = real_results(request)
    out = tmp_path / "results"
    for path in results.values():
        report.write_sample_reports(path, out)
    for sample in results:
        done = subprocess.run(
            [BCFTOOLS, "view", str(out / f"{sample}.cnv.vcf.gz")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0 and "[W::" not in done.stderr, done.stderr
        seg = pd.read_csv(out / f"{sample}.seg", sep="\t")
        assert list(seg.columns) == SEG_COLUMNS and set(seg["ID"]) == {sample}
    focal = subprocess.run(
        [BCFTOOLS, "view", "-H", "-i", 'INFO/GENE="MET"', str(out / "tumor_focal.cnv.vcf.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "STATUS=high_level_focal_amplification" in focal and "FOCAL" in focal
    stats = run_multiqc(out, tmp_path / "multiqc")
    status = next(c for c in stats.columns if c.endswith("met_status"))
    assert set(stats.index) == set(results)
    assert stats.loc["tumor_focal", status] == "high_level_focal_amplification"
