"""Per-sample HTML report: content, escaping, safe file names, real Chromium rendering, PDF."""

from __future__ import annotations

import json
import re
import shutil
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metcnv import report
from metcnv.chromium import chromium, screenshot
from metcnv.errors import MetcnvError
from metcnv.files import LOCK_NAME, safe_stem
from metcnv.model import GeneCall, Result, Sample
from metcnv.results import gene_table, snp_table

HOSTILE = ["<script>alert(1)</script>", "../../x"]
needs_chromium = pytest.mark.usefixtures("require_chromium")

# --- a hand-made result following docs/outputs.md (used until / beside real results) ----
HG38_GENES = {  # 0-based half-open, hg38
    "EGFR": ("chr7", 55019016, 55211628),
    "CDK6": ("chr7", 92604920, 92836594),
    "MET": ("chr7", 116672195, 116798377),
    "ERBB2": ("chr17", 39688093, 39728658),
    "KRAS": ("chr12", 25205245, 25250929),
    "MYC": ("chr8", 127735433, 127742951),
    "FGFR2": ("chr10", 121478333, 121598458),
    "PIK3CA": ("chr3", 179148113, 179240093),
    "CCNE1": ("chr19", 29811990, 29824312),
}
CHROMS = {
    f"chr{i}": n
    for i, n in zip(
        range(1, 23),
        [
            248956422,
            242193529,
            198295559,
            190214555,
            181538259,
            170805979,
            159345973,
            145138636,
            138394717,
            133797422,
            135086622,
            133275309,
            114364328,
            107043718,
            101991189,
            90338345,
            83257441,
            80373285,
            58617616,
            64444167,
            46709983,
            50818468,
        ],
        strict=True,
    )
}
AMPLICON = ("chr7", 116_200_000, 117_300_000)


def tumor_cn_to_ratio(cn, purity, ploidy=2.0):
    return (purity * cn + 2 * (1 - purity)) / (purity * ploidy + 2 * (1 - purity))


def ratio_to_tumor_cn(r, purity, ploidy=2.0):
    return (r * (purity * ploidy + 2 * (1 - purity)) - 2 * (1 - purity)) / purity


def write_fake_result(
    folder: Path,
    sample: str,
    purity: float | None,
    met_log2: float,
    sample_type: str = "tumor",
    seed: int = 0,
) -> Path:
    """A realistic result directory (JSON + bins + segments + genes) per docs/outputs.md."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for chrom, length in CHROMS.items():
        for start in range(500_000, length - 150_000, 1_500_000):
            rows.append((chrom, start, start + 150_000, "-", "offtarget"))
    for gene, (chrom, start, end) in HG38_GENES.items():
        for start_bin in np.linspace(start, end - 300, 24 if gene == "MET" else 12).astype(int):
            rows.append((chrom, int(start_bin), int(start_bin) + 300, gene, "target"))
    bins = pd.DataFrame(rows, columns=["chrom", "start", "end", "gene", "kind"])
    bins["_o"] = bins["chrom"].map(list(CHROMS).index)
    bins = bins.sort_values(["_o", "start"]).drop(columns="_o").reset_index(drop=True)
    target = bins["kind"] == "target"
    in_amp = (
        (bins["chrom"] == AMPLICON[0])
        & (bins["start"] >= AMPLICON[1])
        & (bins["end"] <= AMPLICON[2])
    )
    truth = np.where(in_amp, met_log2, 0.0)
    noise = np.where(target, 0.12, 0.25)
    bins["count"] = np.where(target, 900, 40) * 2**truth
    bins["depth"] = np.where(target, 450.0, 1.2) * 2**truth
    bins["gc"] = np.round(rng.uniform(0.35, 0.6, len(bins)), 4)
    bins["log2"] = np.round(truth + rng.normal(0, noise), 4)
    bins["weight"] = np.round(1 / noise**2, 3)
    bins["used"] = 1
    bins.loc[rng.choice(len(bins), 25, replace=False), "used"] = 0
    bins["pon_spread"] = np.round(np.where(target, 0.1, 0.2) * rng.uniform(0.7, 1.3, len(bins)), 4)
    bins["count"] = bins["count"].round().astype(int)
    bins["depth"] = bins["depth"].round(2)
    bins.to_csv(folder / f"{safe_stem(sample)}.bins.tsv.gz", sep="\t", index=False)

    seg_rows = []
    for chrom, length in CHROMS.items():
        pieces = (
            [
                (0, AMPLICON[1], 0.0),
                (AMPLICON[1], AMPLICON[2], met_log2),
                (AMPLICON[2], length, 0.0),
            ]
            if chrom == "chr7" and met_log2
            else [(0, length, 0.0)]
        )
        for start, end, level in pieces:
            here = (bins["chrom"] == chrom) & (bins["start"] >= start) & (bins["end"] <= end)
            seg_rows.append(
                (
                    chrom,
                    int(bins.loc[here, "start"].min()),
                    int(bins.loc[here, "end"].max()),
                    int(here.sum()),
                    round(level + rng.normal(0, 0.01), 4),
                )
            )
    segments = pd.DataFrame(seg_rows, columns=["chrom", "start", "end", "n_bins", "log2"])
    segments["copy_ratio"] = 2 ** segments["log2"]
    segments["copy_number"] = 2 * segments["copy_ratio"]
    segments.to_csv(folder / f"{safe_stem(sample)}.segments.tsv", sep="\t", index=False)

    genes = []
    for gene, (chrom, start, end) in HG38_GENES.items():
        level = met_log2 if gene == "MET" else 0.0
        se = 0.05
        lo, hi = level - 1.96 * se, level + 1.96 * se
        tumor = (
            None
            if purity is None
            else [max(0.0, ratio_to_tumor_cn(2**v, purity)) for v in (level, lo, hi)]
        )
        lod_ratio = 2 ** (3 * se + 1.645 * se)
        amp = gene == "MET" and met_log2 > 0.5
        status = (
            "high_level_focal_amplification"
            if amp and (tumor is None or tumor[0] > 10)
            else "focal_amplification"
            if amp
            else "neutral"
        )
        genes.append(
            {
                "gene": gene,
                "chrom": chrom,
                "start": start,
                "end": end,
                "n_bins": 24 if gene == "MET" else 12,
                "log2": level,
                "log2_se": se,
                "log2_ci95": [lo, hi],
                "copy_ratio": 2**level,
                "copy_number": 2 * 2**level,
                "copy_number_ci95": [2 * 2**lo, 2 * 2**hi],
                "tumor_copy_number": None if tumor is None else tumor[0],
                "tumor_copy_number_ci95": None if tumor is None else tumor[1:],
                "z": level / se,
                "limit_of_detection": None
                if purity is None
                else ratio_to_tumor_cn(lod_ratio, purity),
                "limit_of_detection_copy_ratio": lod_ratio,
                "status": status,
                "status_reason": f"{gene} within the normals' range",
                "over_10_copies": False,
                "over_10_reason": "no gain seen",
            }
        )
    met = genes[2]
    focal = met_log2 > 0.5
    tumor_cn = met["tumor_copy_number"]
    met |= {
        "segment": {
            "chrom": "chr7",
            "start": AMPLICON[1],
            "end": AMPLICON[2],
            "size": AMPLICON[2] - AMPLICON[1],
            "n_bins": 30,
            "log2": met_log2,
        },
        "amplicon": {
            "chrom": "chr7",
            "start": AMPLICON[1],
            "end": AMPLICON[2],
            "size": AMPLICON[2] - AMPLICON[1],
            "from": "segment",
        },
        "focal": focal,
        "focal_reason": (
            "segment 1.1 Mb < 3 Mb and 22 standard errors above chr7"
            if focal
            else "MET is not above the rest of chr7"
        ),
        "chrom_background": {
            "log2": 0.01,
            "log2_se": 0.02,
            "copy_number": 2.01,
            "tumor_copy_number": None if purity is None else 2.02,
            "n_bins": 140,
            "bins": "bins outside the gene's segment",
        },
        "chrom_ratio": (tumor_cn / 2.02) if tumor_cn is not None else 2**met_log2,
        "chrom_ratio_ci95": (
            [met["tumor_copy_number_ci95"][0] / 2.1, met["tumor_copy_number_ci95"][1] / 1.95]
            if tumor_cn
            else [2 ** met["log2_ci95"][0], 2 ** met["log2_ci95"][1]]
        ),
        "over_10_copies": None if tumor_cn is None else bool(tumor_cn > 10),
        "over_10_reason": (
            "no purity: the tumor copy number is unknown"
            if tumor_cn is None
            else f"tumor copy number {tumor_cn:.1f}"
        ),
        "status_reason": "focal gain well above the chr7 background"
        if focal
        else "MET within the normals' range",
    }
    ratio = met["chrom_ratio"]
    met["fish_category"] = (
        "high"
        if ratio >= 5
        else "intermediate"
        if ratio > 2.2
        else "low"
        if ratio >= 1.8
        else "none"
    )
    calls = [GeneCall(**g) for g in genes]
    result = Result(
        sample=sample,
        sample_type=sample_type,
        purity=Sample.given(sample, sample_type, purity, None).purity,
        ploidy={"value": 2.0, "source": "default"},
        build="hg38",
        verdict=(
            "High-level focal MET amplification."
            if met["status"].startswith("high")
            else "MET focal amplification."
            if focal
            else "No MET amplification."
        ),
        met=calls[2],
        genes=calls,
        qc={
            "status": "pass" if purity else "warn",
            "reasons": [] if purity else ["warn: median depth over MET 88 < 100"],
            "met_median_depth": 450.0,
            "on_target_fraction": 0.61,
            "mapd_target": 0.11,
            "mapd_offtarget": 0.21,
            "bins_used": int(bins["used"].sum()),
            "bins_masked": 25,
            "masked_fraction": 25 / len(bins),
            "pon_correlation": 0.97,
            "pon_correlation_normals": 0.98,
            "pon_correlation_relative": 0.99,
        },
        reference={
            "path": "/data/pon/gastric_panel_v2.pon",
            "md5": "0" * 32,
            "flat": False,
            "n_normals": 12,
            "normals": [f"N{i:02d}" for i in range(1, 13)],
            "build": "hg38",
            "bins_md5": "1" * 32,
            "metcnv_version": "0.1.0",
            "settings": {"panel": "gastric_panel_v2.bed", "min_mapq": 20},
        },
        inputs={
            "coverage": {"path": f"{sample}.coverage.tsv.gz", "md5": "2" * 32},
            "alignments": {"path": f"/data/{sample}.bam", "md5": "3" * 32},
        },
        settings={"min_mapq": 20, "exclude_flags": "0x704"},
        software={
            "metcnv": "0.1.0",
            "python": "3.11.7",
            "numpy": "2",
            "scipy": "1",
            "pandas": "2",
            "pysam": "0.24",
        },
        warnings=[],
        outputs={
            "bins": f"{safe_stem(sample)}.bins.tsv.gz",
            "segments": f"{safe_stem(sample)}.segments.tsv",
            "genes": f"{safe_stem(sample)}.genes.tsv",
            "snps": f"{safe_stem(sample)}.snps.tsv.gz",
        },
    )
    gene_table(result.genes).to_csv(
        folder / f"{safe_stem(sample)}.genes.tsv", sep="\t", index=False, na_rep="NA"
    )
    snp_table(None).to_csv(folder / f"{safe_stem(sample)}.snps.tsv.gz", sep="\t", index=False)
    path = folder / f"{safe_stem(sample)}.metcnv.json"
    path.write_text(result.to_json())
    return path


# --- helpers shared with test_export.py and test_cohort.py -----------------------------
def render(html: Path, png: Path, width: int = 1100, height: int = 1600) -> list[str]:
    """Screenshot a page in real headless Chromium; fail on console errors or a blank page."""
    console = screenshot(html, png, width, height)
    errors = [line for line in console if "Uncaught" in line or "ERROR:CONSOLE" in line]
    assert not errors, f"{html.name}: JavaScript console errors:\n" + "\n".join(errors)
    assert_not_blank(png)
    return console


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        grey = np.asarray(image.convert("L"), float)
    ink = (grey < 200).mean()
    assert ink > 0.01, f"{png.name}: the page looks blank ({ink:.2%} of pixels are not white)"


def assert_self_contained(text: str) -> None:
    """No resource loaded from anywhere: no external script, style, image, font or import."""
    assert not re.search(
        r"<(script|img|iframe|link|embed|object|source)[^>]*\s(src|href)=", text, re.I
    ), "page loads an external resource"
    assert not re.search(r"@import|url\(\s*['\"]?(https?:|//)", text, re.I)
    assert not re.search(r"xlink:href=\"(https?:|//)", text, re.I)


def no_raw_markup(text: str, name: str) -> None:
    """The hostile name never appears unescaped in the page."""
    if "<" in name:
        assert name not in text, "sample name was inserted as raw markup"
    assert "alert(1)</script>" not in text


def real_results(request) -> dict[str, Path]:
    """Real results (sample -> its .metcnv.json) from the session fixture `example_results`
    (sample -> result folder)."""
    folders = request.getfixturevalue("example_results")
    found = {}
    for sample, folder in folders.items():
        for path in sorted(Path(folder).glob("*.metcnv.json")):
            if json.loads(path.read_text())["sample"] == sample:
                found[sample] = path
    assert set(found) == set(folders), "a sample's .metcnv.json is missing"
    return found


# --- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake(tmp_path_factory) -> dict[str, Path]:
    """Hand-made results: a focal MET amplicon with purity, a blood sample without."""
    folder = tmp_path_factory.mktemp("fake")
    return {
        "focal": write_fake_result(folder / "focal", "GC-001", 0.4, 1.77),
        "blood": write_fake_result(folder / "blood", "GC-001-plasma", None, 0.25, "blood", 1),
    }


@pytest.fixture(scope="module")
def written(fake) -> dict[str, list[Path]]:
    return {key: report.write_sample_reports(path, path.parent) for key, path in fake.items()}


# --- content ----------------------------------------------------------------------------
def test_writes_the_documented_files(fake, written):
    folder = fake["focal"].parent
    names = sorted(p.name for p in written["focal"])
    assert names == sorted(
        [
            "GC-001.report.html",
            "GC-001.cnv.vcf.gz",
            "GC-001.cnv.vcf.gz.tbi",
            "GC-001.seg",
            "GC-001_mqc.tsv",
            "GC-001_met_cn_mqc.tsv",
            "GC-001.cnr",
            "GC-001.cns",
        ]
    )
    assert all(p.parent == folder and p.stat().st_size > 0 for p in written["focal"])
    assert [p.name for p in folder.glob(".*")] == [LOCK_NAME]  # no temporary files left behind


def test_default_out_dir_is_the_json_folder(fake, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(fake["blood"].parent, copy)
    paths = report.write_sample_reports(copy / fake["blood"].name, None)
    assert {p.parent for p in paths} == {copy}


def test_verdict_box_with_purity(written):
    text = written["focal"][0].read_text()
    verdict = text[text.index('aria-label="verdict"') : text.index('aria-label="figures"')]
    for expected in [
        "High-level focal MET amplification",
        "MET tumor copy number",
        "14.1",
        "95% CI 12.9\u201315.3",
        "MET/chr7 ratio",
        "FISH-equivalent: <b>high</b>",
        "More than 10 copies",
        "Yes",
        "Focal MET amplicon",
        "chr7:116.20\u2013117.30 Mb, 1.10 Mb",
        "40%",
        "given by the user",
        "PASS",
        "Limit of detection",
        "tumor copies",
        "chr7 background",
    ]:
        assert expected in verdict, expected
    assert "sample-average" not in verdict.split("chr7 background")[0]


def test_without_purity_the_sample_average_is_labelled(written):
    text = written["blood"][0].read_text()
    verdict = text[text.index('aria-label="verdict"') : text.index('aria-label="figures"')]
    assert "MET sample-average copy number" in verdict
    assert "MET tumor copy number" not in verdict
    assert "lower bound" in verdict and "not the tumor's own" in verdict
    assert "Not known" in verdict  # purity
    assert "WARN" in verdict and "median depth over MET" in verdict  # QC with its reason
    assert "sample-average copy number 2r (95% CI)" in text  # genes figure axis


def test_figures_methods_and_footnote(written):
    text = written["focal"][0].read_text()
    assert text.count("<svg") == 4
    assert 'aria-label="Genome-wide log2 copy ratio with segments"' in text
    assert "centromere" in text and ">MET<" in text
    assert "normals' 95% range" in text  # MET close-up against the PoN spread
    for expected in [
        "gastric_panel_v2.pon",
        "number of normals",
        "<td>12</td>",
        "hg38",
        "amp_min_cn",
        "high_level_cn",
        "fish_high",
        "<td>DNMT3A, TET2, ASXL1, PPM1D, JAK2, SF3B1, SRSF2</td>",  # a list, as words
        "pysam",
        "MD5",
        "3" * 32,
        "How to read this report",
    ]:
        assert expected in text, expected


def test_report_is_self_contained_and_deterministic(fake, written, tmp_path):
    text = written["focal"][0].read_text()
    assert_self_contained(text)
    again = report.write_sample_reports(fake["focal"], tmp_path)
    assert again[0].read_text() == text
    assert again[3].read_text() == written["focal"][3].read_text()


# --- hostile names -----------------------------------------------------------------------
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_sample_names_are_escaped_and_stay_in_out_dir(tmp_path, name):
    source = tmp_path / "in"
    path = write_fake_result(source, name, 0.4, 1.5)
    out = tmp_path / "out"
    paths = report.write_sample_reports(path, out)
    assert all(p.resolve().parent == out.resolve() for p in paths)
    assert {p.name for p in out.iterdir()} - {LOCK_NAME} == {p.name for p in paths}
    stem = safe_stem(name)
    assert "/" not in stem and not stem.startswith(".")
    text = paths[0].read_text()
    no_raw_markup(text, name)
    assert escape(name) in text  # shown, escaped
    assert not (tmp_path / "x.report.html").exists() and not list(tmp_path.parent.glob("x.*"))


def test_safe_stem():
    assert safe_stem("GC-001_T1.b") == "GC-001_T1.b"
    assert safe_stem("../../x") == "_.._x-d950bd27"
    assert safe_stem("<script>alert(1)</script>").startswith("_script_alert_1___script_-")
    assert safe_stem(".hidden").startswith("hidden-")
    # distinct names never share a file: a/b is not a_b, though both sanitise to a_b
    assert len({safe_stem(name) for name in ("a/b", "a_b", "a b", "a:b")}) == 4
    for bad in ["", "tab\there", "line\nbreak"]:
        with pytest.raises(MetcnvError, match="rename"):
            safe_stem(bad)


# --- bad input ---------------------------------------------------------------------------
def test_bad_input_is_one_clear_line(fake, tmp_path):
    broken = tmp_path / "broken.metcnv.json"
    broken.write_text("{not json")
    with pytest.raises(MetcnvError, match="not valid JSON"):
        report.write_sample_reports(broken, tmp_path)
    other = tmp_path / "other.metcnv.json"
    other.write_text(json.dumps({"schema": "something-else"}))
    with pytest.raises(MetcnvError, match="not a metcnv result"):
        report.write_sample_reports(other, tmp_path)
    result = json.loads(fake["focal"].read_text())
    future = tmp_path / "future.metcnv.json"
    future.write_text(json.dumps(result | {"schema_version": 99}))
    with pytest.raises(MetcnvError, match="schema version 99"):
        report.write_sample_reports(future, tmp_path)
    lonely = tmp_path / "lonely.metcnv.json"
    lonely.write_text(json.dumps(result))  # its tables are not beside it
    with pytest.raises(MetcnvError, match="no such file") as error:
        report.write_sample_reports(lonely, tmp_path)
    assert "\n" not in str(error.value)
    with pytest.raises(MetcnvError, match="no such file"):
        report.write_sample_reports(tmp_path / "missing.metcnv.json", tmp_path)


# --- real Chromium -----------------------------------------------------------------------
@needs_chromium
def test_console_error_detector_works(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><h1>x</h1><script>undefinedFunction();</script></body></html>")
    console = screenshot(page, tmp_path / "broken.png", 400, 300)
    assert any("Uncaught" in line for line in console)


@needs_chromium
def test_reports_render_in_chromium(written, tmp_path):
    for key, paths in written.items():
        render(paths[0], tmp_path / f"{key}.png", 1100, 1600)


@needs_chromium
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_report_renders_harmlessly(tmp_path, name):
    path = write_fake_result(tmp_path / "in", name, 0.4, 1.5)
    html = report.write_sample_reports(path, tmp_path / "out")[0]
    render(html, tmp_path / "hostile.png", 1100, 900)
    dom = chromium(["--dump-dom", "--virtual-time-budget=2000"], html).stdout
    assert "<script" not in dom.lower()  # the name is text, not an element


@needs_chromium
def test_pdf_is_printed_on_a4(fake, tmp_path):
    paths = report.write_sample_reports(fake["focal"], tmp_path, pdf=True)
    pdf = paths[-1]
    assert pdf.name == "GC-001.report.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert boxes and all(abs(float(w) - 595) < 2 and abs(float(h) - 842) < 2 for w, h in boxes)
    assert len(boxes) >= 2  # the report spans pages


def test_pdf_without_chromium_says_how_to_install(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MetcnvError, match="Chromium is not installed.*apt-get install chromium"):
        report.write_sample_reports(fake["focal"], tmp_path / "out", pdf=True)
    assert not (tmp_path / "out").exists()  # said so before writing anything


# --- real results --------------------------------------------------------------------------
@needs_chromium
def test_real_tumor_focal_report(request, tmp_path):
    json_path = real_results(request)["tumor_focal"]
    paths = report.write_sample_reports(json_path, tmp_path)
    text = paths[0].read_text()
    assert_self_contained(text)
    # copy ratio (genome, chr7, close-up, genes), B-allele fractions (genome, chr7), purity
    assert text.count("<svg") == 7
    assert 'aria-label="B-allele fractions on chr7"' in text
    assert 'aria-label="Profile likelihood of the tumor fraction"' in text
    assert "given by the user" in text and "the reads' own estimate: 6" in text
    render(paths[0], tmp_path / "tumor_focal.png", 1100, 2600)
