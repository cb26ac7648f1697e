"""The typed result model: its shipped JSON Schema, its thresholds and where they are tied."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from metcnv import model
from metcnv.cli import build_parser
from metcnv.errors import MetcnvError
from metcnv.model import CallSettings, Result, Sample, Status

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_KEYS = ("type", "default", "description", "minimum", "exclusiveMinimum", "exclusiveMaximum")


def test_shipped_json_schema_is_the_models():
    shipped = json.loads(resources.files("metcnv").joinpath(model.SCHEMA_FILE).read_text())
    assert shipped == model.json_schema(), (
        "regenerate: python -m metcnv.model > src/metcnv/schemas/metcnv-result.schema.json"
    )


def test_every_status_has_words_colour_and_a_schema_value():
    shipped = model.json_schema()["$defs"]["Status"]["enum"]
    assert shipped == [status.value for status in Status]
    for status in Status:
        assert status.headline("MET") and "{" not in status.headline("MET")
        assert status.colour.startswith("#") and status.meaning
    assert Status("chr7_gain") is Status.CHR7_GAIN
    assert [s for s in Status if s.is_amplification] == [
        Status.HIGH_LEVEL_FOCAL_AMPLIFICATION,
        Status.FOCAL_AMPLIFICATION,
    ]


@pytest.mark.parametrize("command", ["run", "call"])
def test_cli_threshold_options_are_the_models_fields(command):
    parser = build_parser()
    argv = [command, "x", "--pon", "p", "--out", "o"]
    args = parser.parse_args(argv)
    for name, field in CallSettings.model_fields.items():
        assert getattr(args, name) == field.default, name
    flags = {"--" + n.replace("_", "-") for n in CallSettings.model_fields}
    help_text = parser._subparsers._group_actions[0].choices[command].format_help()
    assert all(flag in help_text for flag in flags)


def test_workflow_config_thresholds_are_the_models_fields():
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    call = schema["properties"]["call"]["properties"]
    model_schema = CallSettings.model_json_schema()["properties"]
    assert set(call) - {"ploidy"} == set(model_schema)
    for name, expected in model_schema.items():
        ours = {key: call[name][key] for key in SCHEMA_KEYS if key in call[name]}
        theirs = {key: expected[key] for key in SCHEMA_KEYS if key in expected}
        assert ours == theirs, name
    for config in ("config/config.yaml", "config/example.yaml"):
        values = yaml.safe_load((ROOT / config).read_text())["call"]
        for name, value in values.items():
            if name != "ploidy":
                assert value == CallSettings.model_fields[name].default, (config, name)


@pytest.mark.parametrize(
    "values",
    [
        {"min_z": math.nan},
        {"min_z": 0},
        {"min_z": -3},
        {"high_level_cn": math.inf},
        {"focal_max_size": 0},
        {"amp_min_cn": 25, "high_level_cn": 5},
        {"fish_low": 3, "fish_intermediate": 2.2},
        {"segment_alpha": 1.5},
        {"nonsense": 1},
    ],
)
def test_call_settings_refuse_nonsense(values):
    with pytest.raises(ValidationError):
        CallSettings(**values)


@pytest.mark.parametrize(
    ("purity", "ploidy"), [(1.5, None), (0, None), (math.nan, None), (0.3, math.nan), (0.3, 100)]
)
def test_sample_refuses_impossible_purity_or_ploidy(purity, ploidy):
    with pytest.raises(ValidationError):
        Sample.given("s", "blood", purity, ploidy)


def test_sample_says_where_purity_and_ploidy_came_from():
    sample = Sample.given("s", "blood", None, None)
    assert (sample.purity.source, sample.purity.value) == ("none", None)
    assert (sample.ploidy.source, sample.ploidy.value) == ("default", 2.0)
    sample = Sample.given("s", "tumor", 0.4, 3)
    assert (sample.purity.source, sample.ploidy.source) == ("given", "given")


def test_result_round_trips_and_bad_documents_are_one_line(example_results):
    path = example_results["tumor_focal"] / "tumor_focal.metcnv.json"
    text = path.read_text()
    result = Result.from_json(text, path)
    assert result.to_json() == text
    document = json.loads(text)
    document["met"]["status"] = "amplified"
    with pytest.raises(MetcnvError, match=r"at met\.status: 'amplified' is not one of"):
        Result.from_json(json.dumps(document), path)
    document = json.loads(text) | {"schema_version": 1}
    with pytest.raises(MetcnvError, match="schema version 1, this metcnv reads version 2"):
        Result.from_json(json.dumps(document), path)
    with pytest.raises(MetcnvError, match="not valid JSON"):
        Result.from_json("{", path)


def test_schema_tables_and_report_agree_for_every_bundled_sample(example_results):
    """Each bundled sample's JSON holds to the shipped schema, and its genes.tsv, report,
    MultiQC row and VCF say what the JSON says."""
    import io

    import pandas as pd
    import pysam
    from jsonschema import Draft202012Validator
    from markupsafe import escape

    from metcnv import pages
    from metcnv.export import mqc_row
    from metcnv.results import gene_table

    validator = Draft202012Validator(model.json_schema())
    for sample, folder in example_results.items():
        path = folder / f"{sample}.metcnv.json"
        document = json.loads(path.read_text())
        assert not list(validator.iter_errors(document)), sample
        result = Result.from_json(path.read_text(), path)
        written = pd.read_csv(folder / result.outputs.genes, sep="\t")
        expected = pd.read_csv(
            io.StringIO(gene_table(result.genes).round(5).to_csv(sep="\t", index=False)),
            sep="\t",
        )
        pd.testing.assert_frame_equal(written, expected)
        report = (folder / f"{sample}.report.html").read_text()
        met = result.met
        cn, _, _ = met.headline()
        for text in (
            met.status.headline(met.gene),
            result.verdict,
            pages.num(cn),
            pages.num(met.chrom_ratio, 2),
            result.qc.status.upper(),
        ):
            assert str(escape(text)) in report, (sample, text)
        for gene in result.genes:
            assert f"<td>{escape(gene.gene)}</td>" in report, (sample, gene.gene)
        mqc = (folder / f"{sample}_mqc.tsv").read_text().splitlines()[-1].split("\t")
        assert mqc == mqc_row(result)
        with pysam.VariantFile(str(folder / f"{sample}.cnv.vcf.gz")) as vcf:
            recorded = {(r.info["GENE"], r.info["STATUS"]) for r in vcf}
        assert recorded == {(g.gene, g.status.value) for g in result.genes if g.status.is_event}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--min-z", "nan"], "--min-z nan: must be a finite number > 0"),
        (["--ploidy", "inf"], "--ploidy inf: must be a finite number in (0, 8]"),
        (["--purity", "nan"], "--purity nan: must be a finite number in (0, 1]"),
        (
            ["--amp-min-cn", "25", "--high-level-cn", "5"],
            "--amp-min-cn 25 is above --high-level-cn 5; make --amp-min-cn <= --high-level-cn",
        ),
    ],
)
def test_cli_refuses_nonsense_settings_in_one_line(tmp_path, capsys, option, message):
    from metcnv.cli import main

    coverage = tmp_path / "never-read.coverage.tsv.gz"
    argv = ["call", str(coverage), "--pon", "p.pon", "--out", str(tmp_path / "out"), *option]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error, error
    assert not (tmp_path / "out").exists()
