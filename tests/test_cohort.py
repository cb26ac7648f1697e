"""Cohort summary and patient views: tables, SEG, sample sheet handling, Chromium rendering."""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pandas as pd
import pytest
from test_report import (
    assert_self_contained,
    needs_chromium,
    no_raw_markup,
    real_results,
    render,
    write_fake_result,
)

from metcnv import cohort, report
from metcnv.chromium import chromium
from metcnv.errors import MetcnvError
from metcnv.export import SEG_COLUMNS
from metcnv.files import LOCK_NAME, safe_stem

# sample, purity, MET log2, type, patient, date, site
SAMPLES = [
    ("P1-T1", 0.4, 1.77, "tumor", "P1", "2023-01-10", "stomach"),
    ("P1-B1", None, 0.35, "blood", "P1", "2023-01-10", "plasma"),
    ("P1-B2", None, 0.05, "blood", "P1", "2023-04-01", "plasma"),
    ("P1-E1", 0.6, 2.4, "effusion", "P1", "2023-06-15", "pleural fluid"),
    ("P1-T2", 0.5, 0.0, "tumor", "P1", "", "liver"),
    ("P2-T1", 0.3, 0.0, "tumor", "P2", "2022-11-02", "lung"),
    ("<script>alert(1)</script>", 0.3, 1.0, "tumor", "../../x", "2022-12-02", "<b>site</b>"),
    ("orphan", 0.5, 0.0, "tumor", "", "", ""),  # in the sheet without patient
]
SHEET_HEADER = [
    "sample",
    "bam",
    "sample_type",
    "purity",
    "ploidy",
    "patient",
    "collection_date",
    "site",
]


def write_sheet(path: Path, rows, columns=SHEET_HEADER) -> Path:
    lines = ["\t".join(columns)]
    for sample, purity, _, kind, patient, date, site in rows:
        values = {
            "sample": sample,
            "bam": f"{sample}.bam",
            "sample_type": kind,
            "purity": "" if purity is None else str(purity),
            "ploidy": "2",
            "patient": patient,
            "collection_date": date,
            "site": site,
        }
        lines.append("\t".join(values[c] for c in columns))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cohort")
    results = []
    for seed, (sample, purity, log2, kind, *_rest) in enumerate(SAMPLES):
        path = write_fake_result(folder / "results", sample, purity, log2, kind, seed)
        report.write_sample_reports(path, path.parent)
        results.append(path)
    sheet = write_sheet(folder / "samples.tsv", SAMPLES)
    out = folder / "summary"
    written = cohort.write_summary(results, out, sheet)
    return {"results": results, "sheet": sheet, "out": out, "written": written}


def test_writes_the_documented_files(cohort_dir):
    out = cohort_dir["out"]
    names = sorted(str(p.relative_to(out)) for p in cohort_dir["written"])
    hostile = f"patients/{safe_stem('../../x', 'patient')}.html"
    assert names == sorted(
        [
            "summary.tsv",
            "summary.html",
            "cohort.seg",
            "patients/P1.html",
            "patients/P2.html",
            hostile,
        ]
    )
    assert all(p.resolve().is_relative_to(out.resolve()) for p in cohort_dir["written"])
    assert {p.name for p in out.rglob(".*")} == {LOCK_NAME}  # no temporary files, a lock


def test_summary_tsv_one_row_per_sample(cohort_dir):
    table = pd.read_csv(
        cohort_dir["out"] / "summary.tsv", sep="\t", dtype={"patient": str}, keep_default_na=False
    )
    assert list(table.columns) == cohort.SUMMARY_COLUMNS
    assert sorted(table["sample"]) == sorted(s[0] for s in SAMPLES)
    row = table.set_index("sample").loc["P1-T1"]
    assert row["met_status"] == "high_level_focal_amplification"
    assert row["met_cn_type"] == "tumor"
    assert float(row["met_copy_number"]) == pytest.approx(14.05, abs=0.05)
    assert row["collection_date"] == "2023-01-10" and row["site"] == "stomach"
    blood = table.set_index("sample").loc["P1-B1"]
    assert blood["met_cn_type"] == "sample_average" and blood["purity"] == ""
    assert table.set_index("sample").loc["orphan", "patient"] == ""
    dates = table[table["patient"] == "P1"]["collection_date"].tolist()
    assert dates == ["2023-01-10", "2023-01-10", "2023-04-01", "2023-06-15", ""]


def test_cohort_seg(cohort_dir):
    seg = pd.read_csv(cohort_dir["out"] / "cohort.seg", sep="\t")
    assert list(seg.columns) == SEG_COLUMNS
    assert set(seg["ID"]) == {s[0] for s in SAMPLES}
    assert (seg["loc.start"] >= 1).all() and (seg["loc.end"] > seg["loc.start"]).all()


def test_summary_html(cohort_dir):
    text = (cohort_dir["out"] / "summary.html").read_text()
    assert_self_contained(text)
    no_raw_markup(text, "<script>alert(1)</script>")
    assert "<b>site</b>" not in text and "&lt;b&gt;site&lt;/b&gt;" in text
    assert text.count("<tr>") == len(SAMPLES) + 1
    assert 'class="sortable"' in text
    assert 'href="../results/P1-T1.report.html"' in text
    assert 'href="patients/P1.html"' in text
    assert "#b2182b" in text  # status colours


def test_patient_page(cohort_dir):
    text = (cohort_dir["out"] / "patients" / "P1.html").read_text()
    assert_self_contained(text)
    assert text.count("<svg") == 1
    assert 'aria-label="MET copy number over time"' in text
    for sample in ("P1-T1", "P1-B1", "P1-B2", "P1-E1", "P1-T2"):
        assert f">{sample}</a>" in text
    assert "P2-T1" not in text
    assert "1 sample(s) without a collection date" in text
    assert 'href="../summary.html"' in text and 'href="../../results/P1-T1.report.html"' in text
    hostile = cohort_dir["out"] / "patients" / f"{safe_stem('../../x', 'patient')}.html"
    no_raw_markup(hostile.read_text(), "<script>alert(1)</script>")


def test_markup_in_the_data_is_text_on_every_page(tmp_path):
    """A sample, patient, site, verdict and QC reason that look like markup are shown as
    text on the report, the summary and the patient page, in content and in attributes."""
    name, site, attribute = "<script>alert(1)</script>", "<i>site</i>", '" onclick="alert(2)'
    path = write_fake_result(tmp_path / "results", name, 0.4, 1.5)
    result = json.loads(path.read_text())
    result["verdict"] = f"{name}{attribute}"  # shown as the status badge's title
    result["qc"]["reasons"] = [f"warn: {name}{attribute}"]  # and the QC badge's
    path.write_text(json.dumps(result))
    report_page = report.write_sample_reports(path, path.parent)[0]
    sheet = write_sheet(tmp_path / "s.tsv", [(name, 0.4, 1.5, "tumor", name, "2024-01-02", site)])
    written = cohort.write_summary([path], tmp_path / "summary", sheet)
    cohort_pages = [p for p in written if p.suffix == ".html"]
    assert [p.parent.name for p in cohort_pages] == ["summary", "patients"]
    for page in [report_page, *cohort_pages]:
        text = page.read_text()
        no_raw_markup(text, name)
        assert escape(name) in text, page.name  # shown, as text
        assert 'onclick="' not in text and "onclick=" in text, page.name  # quotes escaped
    for page in cohort_pages:
        assert escape(site) in page.read_text(), page.name


def test_sheet_optional_and_columns_may_be_missing(cohort_dir, tmp_path):
    results = cohort_dir["results"]
    written = cohort.write_summary(results, tmp_path / "nosheet")
    assert not any("patients" in str(p) for p in written)
    table = pd.read_csv(tmp_path / "nosheet" / "summary.tsv", sep="\t", keep_default_na=False)
    assert (table["patient"] == "").all() and len(table) == len(SAMPLES)
    sparse = write_sheet(tmp_path / "sparse.tsv", SAMPLES[:3], ["sample", "bam", "patient"])
    written = cohort.write_summary(results, tmp_path / "sparse", sparse)
    page = tmp_path / "sparse" / "patients" / "P1.html"
    assert page in written
    assert "No sample of this patient has a collection date" in page.read_text()


def test_bad_sheets_and_inputs(cohort_dir, tmp_path):
    results = cohort_dir["results"]
    bad_date = write_sheet(tmp_path / "date.tsv", [(*SAMPLES[0][:5], "10/01/23x", "s")])
    with pytest.raises(MetcnvError, match=r"collection_date '10/01/23x' of sample 'P1-T1'.*YYYY"):
        cohort.write_summary(results, tmp_path / "o", bad_date)
    twice = write_sheet(tmp_path / "twice.tsv", [SAMPLES[0], SAMPLES[0]])
    with pytest.raises(MetcnvError, match="more than once"):
        cohort.write_summary(results, tmp_path / "o", twice)
    nosample = tmp_path / "nosample.tsv"
    nosample.write_text("name\tbam\nx\tx.bam\n")
    with pytest.raises(MetcnvError, match="no 'sample' column"):
        cohort.write_summary(results, tmp_path / "o", nosample)
    with pytest.raises(MetcnvError, match="also in"):
        cohort.write_summary([results[0], results[0]], tmp_path / "o")
    with pytest.raises(MetcnvError, match="no result files"):
        cohort.write_summary([], tmp_path / "o")
    assert not (tmp_path / "o").exists()


@needs_chromium
def test_pages_render_in_chromium(cohort_dir, tmp_path):
    out = cohort_dir["out"]
    render(out / "summary.html", tmp_path / "summary.png", 1400, 700)
    render(out / "patients" / "P1.html", tmp_path / "p1.png", 1100, 1100)
    hostile = out / "patients" / f"{safe_stem('../../x', 'patient')}.html"
    render(hostile, tmp_path / "hostile.png", 1100, 800)


@needs_chromium
def test_table_sorts_on_click(cohort_dir, tmp_path):
    """Click 'MET CN' in real Chromium and read the row order back from the DOM."""
    text = (cohort_dir["out"] / "summary.html").read_text()
    click = (
        "<script>var th = Array.from(document.querySelectorAll('th'))"
        ".find(function (h) { return h.textContent.indexOf('MET CN') === 0; });"
        "th.click(); th.click();</script></body>"
    )
    page = cohort_dir["out"] / "clicked.html"
    try:
        page.write_text(text.replace("</body>", click))
        dom = chromium(["--dump-dom", "--virtual-time-budget=3000"], page).stdout
    finally:
        page.unlink()
    body = dom[dom.index("<tbody>") : dom.index("</tbody>")]
    values = [
        float(v) for v in re.findall(r'class="num" data-sort="([\d.]+)">[\d.]+ <small>', body)
    ][::2]  # CN cells (then ratio cells)
    assert len(values) == len(SAMPLES)
    assert values == sorted(values, reverse=True)  # clicked twice: descending
    assert 'aria-sort="descending"' in dom


# --- real results --------------------------------------------------------------------------
def test_real_results_summary(request, tmp_path):
    jsons = list(real_results(request).values())
    written = cohort.write_summary(jsons, tmp_path)
    table = pd.read_csv(tmp_path / "summary.tsv", sep="\t")
    assert len(table) == len(jsons)
    assert {"summary.html", "cohort.seg"} <= {p.name for p in written}


@needs_chromium
def test_real_patient_view(request, tmp_path):
    """The bundled samples with tests/data/truth.tsv as the sample sheet: patient P001 has a
    tumor, an effusion and two blood samples over three months."""
    results = real_results(request)
    sheet = Path(__file__).parent / "data" / "truth.tsv"
    written = cohort.write_summary(list(results.values()), tmp_path, sheet)
    page = tmp_path / "patients" / "P001.html"
    assert page in written
    text = page.read_text()
    for sample in ("tumor_focal", "effusion_focal", "blood_lowpurity", "blood_followup"):
        assert f">{sample}<" in text
    render(page, tmp_path / "P001.png", 1100, 1000)
    render(tmp_path / "summary.html", tmp_path / "summary.png", 1400, 600)
