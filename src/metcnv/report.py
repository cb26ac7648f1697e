"""The per-sample report a clinician reads, and the standard files made beside it.

`write_sample_reports` turns one `{sample}.metcnv.json` (docs/outputs.md) and the bin,
segment and gene tables beside it into:

- `{sample}.report.html`: one self-contained page (styles and SVG figures inline, no
  script, nothing loaded from the network) that prints on A4: a verdict box, four
  figures, the gene table, QC, methods and a "how to read this report" footnote;
- `{sample}.cnv.vcf.gz` (+ `.tbi`), `{sample}.seg`, `{sample}_mqc.tsv` (see export.py);
- with `pdf=True`, `{sample}.report.pdf` printed by headless Chromium.

The page is templates/report.html.j2; the functions here read what it shows from the
result (`report_context`), and the template lays it out. `{sample}` in file names is
`export.safe_stem(sample)`: names other than letters, digits and `. _ -` are sanitised
(never refused), so no sample name can write outside `out_dir`. Everything shown from
the data is HTML-escaped (pages.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from metcnv import __version__, figures, pages
from metcnv.chromium import print_pdf, require_chromium
from metcnv.export import _num, headline, write_exports
from metcnv.files import atomic_write, md5sum
from metcnv.loading import SampleResult, load_result
from metcnv.results import GENE_OUTPUT

log = logging.getLogger(__name__)

STATUS_WORDS = {
    "high_level_focal_amplification": "MET high-level focal amplification",
    "focal_amplification": "MET focal amplification",
    "chr7_gain": "Chromosome 7 gain, not a focal MET amplification",
    "neutral": "No MET amplification detected",
    "loss": "MET copy loss",
    "inconclusive": "Inconclusive: MET copy number could not be called",
}
SETTING_LABELS = {
    "ploidy": "tumor ploidy assumed",
    "focal_max_size": "largest focal amplicon (bp)",
    "amp_min_cn": "tumor copies for amplification",
    "high_level_cn": "tumor copies for high-level (NCCN: >10)",
    "min_z": "gain must exceed background by (standard errors)",
    "fish_low": "MET/chr7 ratio: low from",
    "fish_intermediate": "MET/chr7 ratio: intermediate above",
    "fish_high": "MET/chr7 ratio: high from",
    "segment_alpha": "segmentation significance",
    "min_gene_bins": "fewest usable MET bins",
}

QC_METRICS = [  # (key in the result's qc, label, decimals)
    ("met_median_depth", "median depth over MET", 0),
    ("on_target_fraction", "fraction of fragments on target", 3),
    ("mapd_target", "noise: MAPD of target bins", 3),
    ("mapd_offtarget", "noise: MAPD of off-target bins", 3),
    ("pon_correlation", "correlation with the normals' coverage profile", 3),
    ("bins_used", "bins used", 0),
    ("bins_masked", "bins masked", 0),
    ("masked_fraction", "fraction of bins masked", 3),
]


# --- what the report shows, read from the result ------------------------------------------
def status_words(status: str | None) -> str:
    """The headline of a call status: 'neutral' -> 'No MET amplification detected'."""
    return STATUS_WORDS.get(status or "", (status or "unknown").replace("_", " "))


def _setting(result: dict, key: str, default: str = "?") -> str:
    value = (result.get("settings") or {}).get(key)
    return default if value is None else pages.significant(value)


def _span(met: dict) -> dict | None:
    """The amplicon of a focal call, else MET's segment: label, place and size, if known."""
    amplicon = met.get("amplicon") if met.get("focal") else None
    span = amplicon or met.get("segment") or {}
    if _num(span.get("size")) is None:
        return None
    return {
        "label": "amplicon" if amplicon else "segment",
        "located": bool(span.get("chrom")) and _num(span.get("start")) is not None,
        "chrom": span.get("chrom"),
        "start": span.get("start"),
        "end": span.get("end"),
        "size": span["size"],
    }


def verdict_facts(r: SampleResult) -> dict:
    """The call, its sentence and the facts of the verdict box."""
    res, met = r.result, r.met
    status = met.get("status") or "inconclusive"
    cn, ci, kind = headline(met)
    background = met.get("chr7_background") or {}
    tumor_background = _num(background.get("tumor_copy_number")) is not None
    qc = res.get("qc") or {}
    sentence = res.get("verdict") or met.get("status_reason") or ""
    reason = met.get("status_reason") or ""
    return {
        "title": status_words(status),
        "colour": figures.status_colour(status),
        "sentence": sentence,
        "reason": reason if reason != sentence else "",
        "z": met.get("z"),
        "tumor": kind == "tumor",
        "cn": cn,
        "ci": ci,
        "clamped": bool(met.get("tumor_copy_number_clamped")),
        "ratio": met.get("met_chr7_ratio"),
        "ratio_ci": met.get("met_chr7_ratio_ci95"),
        "fish": met.get("fish_category") or "n/a",
        "fish_low": _setting(res, "fish_low"),
        "fish_intermediate": _setting(res, "fish_intermediate"),
        "fish_high": _setting(res, "fish_high"),
        "high_level_cn": _setting(res, "high_level_cn", "10"),
        "over_10": met.get("over_10_copies"),
        "over_10_reason": met.get("over_10_reason") or "",
        "focal": met.get("focal"),
        "span": _span(met),
        "focal_reason": met.get("focal_reason") or "",
        "background_kind": "tumor" if tumor_background else "sample-average",
        "background_cn": background.get("tumor_copy_number" if tumor_background else "copy_number"),
        "purity": _num(res.get("purity")),
        "purity_source": {"user": "given by the user"}.get(
            res.get("purity_source"), res.get("purity_source") or "source unknown"
        ),
        "ploidy": res.get("ploidy"),
        "qc_status": qc.get("status") or "unknown",
        "qc_reasons": qc.get("reasons") or [],
        "lod": met.get("limit_of_detection"),
        "lod_ratio": met.get("limit_of_detection_copy_ratio"),
    }


def _plots(r: SampleResult, gene: str, tumor: bool) -> dict[str, Markup]:
    """The four SVG figures (markup made by figures.py, so not escaped again)."""
    res = r.result
    build, settings = res.get("build"), res.get("settings") or {}
    plots = {
        "genome": figures.genome_plot(r.bins, r.segments, build, gene),
        "chromosome": figures.chromosome_plot(r.bins, r.segments, r.met, build, gene),
        "closeup": figures.gene_closeup(r.bins, r.met, gene),
        "genes": figures.genes_plot(r.genes, tumor, settings, gene) if len(r.genes) else "",
    }
    return {name: Markup(svg) for name, svg in plots.items()}


def gene_rows(r: SampleResult) -> list[dict]:
    """The genes table's rows, missing values as None; the main gene's row in focus."""
    main_gene = r.met.get("gene", "MET")
    shown = r.genes.reindex(columns=GENE_OUTPUT).astype(object)  # columns a file lacks: n/a
    rows = shown.where(shown.notna(), None).to_dict("records")
    return [row | {"focus": row["gene"] == main_gene} for row in rows]


def qc_values(r: SampleResult) -> dict:
    """The QC metrics (value, decimals) in a fixed order, then any other QC values."""
    qc = r.result.get("qc") or {}
    known = {key for key, _, _ in QC_METRICS} | {"status", "reasons"}
    return {
        "metrics": [(label, qc.get(key), digits) for key, label, digits in QC_METRICS],
        "other": [(key, value) for key, value in qc.items() if key not in known],
    }


def flatten(mapping: dict, prefix: str = "") -> dict:
    """Nested settings as one level with dotted keys ('qc.max_mapd.warn')."""
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = "none" if value is None else value
    return flat


def methods_tables(r: SampleResult) -> dict:
    """Thresholds, panel of normals, inputs with checksums, software and warnings."""
    res = r.result
    ref = res.get("reference") or {}
    normals = ref.get("normals") or []
    inputs = res.get("inputs") or {}
    checked = [
        (key, (inputs.get(key) or {}).get("path"), (inputs.get(key) or {}).get("md5"))
        for key in ("alignments", "coverage")
        if inputs.get(key)
    ]
    return {
        "thresholds": [
            (SETTING_LABELS.get(k, k.replace("_", " ")) + f" ({k})", v)
            for k, v in flatten(res.get("settings") or {}).items()
        ],
        "reference": {
            "name": Path(str(ref.get("path") or "n/a")).name,
            "kind": "flat reference (no normals)" if ref.get("flat") else "panel of normals",
            "n_normals": ref.get("n_normals", len(normals)),
            "normals": ", ".join(map(str, normals)) or "none",
            "build": ref.get("build") or res.get("build"),
            "md5": ref.get("md5"),
            "bins_md5": ref.get("bins_md5"),
            "metcnv_version": ref.get("metcnv_version"),
            "settings": list(flatten(ref.get("settings") or {}).items()),
            "path": ref.get("path"),
        },
        "inputs": [*checked, ("result", r.path.name, md5sum(r.path))],
        "software": [
            *(res.get("software") or {}).items(),
            ("report rendered by metcnv", __version__),
        ],
        "warnings": res.get("warnings") or [],
    }


def report_context(r: SampleResult) -> dict:
    """Everything templates/report.html.j2 shows of one result."""
    res = r.result
    gene = r.met.get("gene") or "MET"
    tumor = (
        _num(res.get("purity")) is not None
        and "tumor_copy_number" in r.genes
        and pd.to_numeric(r.genes["tumor_copy_number"], errors="coerce").notna().any()
    )
    return {
        "sample": r.sample,
        "sample_type": res.get("sample_type") or "unknown",
        "build": res.get("build"),
        "metcnv_version": (res.get("software") or {}).get("metcnv", __version__),
        "verdict": verdict_facts(r),
        "gene": gene,
        "chrom": r.met.get("chrom") or "7",
        "tumor": tumor,
        "plots": _plots(r, gene, tumor),
        "genes": gene_rows(r),
        "qc": qc_values(r),
        "methods": methods_tables(r),
    }


def render_html(r: SampleResult) -> str:
    """The report page of one result."""
    return pages.render("report.html.j2", **report_context(r))


# --- entry point ----------------------------------------------------------------------
def write_sample_reports(
    result_json: Path, out_dir: Path | None = None, pdf: bool = False
) -> list[Path]:
    """Write the HTML report, VCF (+ index), SEG and MultiQC table of one result.

    `out_dir` defaults to the JSON's folder. With `pdf`, also print the report to PDF with
    headless Chromium, or raise MetcnvError saying how to install Chromium. Returns the
    paths written.
    """
    result_json = Path(result_json)
    if pdf:  # say so before writing anything
        require_chromium(result_json)
    r = load_result(result_json)
    out_dir = Path(out_dir) if out_dir is not None else result_json.parent
    stem = r.stem
    if stem != r.sample:
        log.warning("sample name %r is not a safe file name: files are named %r", r.sample, stem)
    report = out_dir / f"{stem}.report.html"
    with atomic_write(report) as handle:
        handle.write(render_html(r))
    written = [report, *write_exports(r.result, r.segments, out_dir, stem)]
    if pdf:
        written.append(print_pdf(report, out_dir / f"{stem}.report.pdf"))
    return written
