"""Every numeric setting, wherever it is given (an option, a config key, a sheet column),
is checked by the same models and refused in one line before any file is read.

The property test feeds seeded random non-finite and out-of-range values to every numeric
option of every command, every numeric config key and the sheet's numeric columns."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import annotated_types as at
import numpy as np
import pytest
import yaml
from pydantic.fields import FieldInfo

from metcnv import preflight
from metcnv.cli import build_parser, main
from metcnv.model import (
    AlleleSettings,
    BinSettings,
    CallSettings,
    Ploidy,
    Purity,
    ReadSettings,
)

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = (CallSettings, ReadSettings, BinSettings, AlleleSettings)
SAMPLE_FIELDS = {"purity": Purity.model_fields["value"], "ploidy": Ploidy.model_fields["value"]}
BOUND_KEYS = ("type", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
COMMANDS = {  # each command with files that do not exist: a refusal must come first
    "coverage": ["coverage", "x.bam", "--targets", "x.bed", "--out", "{out}/x.coverage.tsv.gz"],
    "pon build": [
        "pon",
        "build",
        "--targets",
        "x.bed",
        "--fasta",
        "x.fa",
        "--out",
        "{out}/p.pon",
        "n.bam",
    ],
    "pon flat": ["pon", "flat", "--targets", "x.bed", "--fasta", "x.fa", "--out", "{out}/p.pon"],
    "call": ["call", "x.coverage.tsv.gz", "--pon", "p.pon", "--out", "{out}"],
    "run": ["run", "x.bam", "--pon", "p.pon", "--out", "{out}"],
}


def field_of(name: str) -> FieldInfo:
    """The model field a setting's name stands for (metcnv.validation's rule for it)."""
    if name in SAMPLE_FIELDS:
        return SAMPLE_FIELDS[name]
    return next(m.model_fields[name] for m in SETTINGS if name in m.model_fields)


def bad_values(field: FieldInfo, rng: np.random.Generator) -> list[float]:
    """Values the field must refuse: NaN, infinities, just outside and far outside each
    bound (exclusive bounds themselves), and a fraction for whole numbers."""
    values = [math.nan, math.inf, -math.inf]
    for rule in field.metadata:
        if isinstance(rule, at.Gt):
            values += [rule.gt, rule.gt - rng.exponential(10)]
        elif isinstance(rule, at.Ge):
            values += [rule.ge - 1, rule.ge - 1 - rng.integers(1, 10**6)]
        elif isinstance(rule, at.Lt):
            values += [rule.lt, rule.lt + rng.exponential(10)]
        elif isinstance(rule, at.Le):
            values += [rule.le + (1 if field.annotation is int else 1e-9), rule.le * 10 + 1]
    if field.annotation is int:
        values.append(float(rng.integers(1, 100)) + 0.5)
    return values


def numeric_options(command: str) -> dict[str, str]:
    """The numeric options of a command: option string -> field name."""
    parser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return {
        action.option_strings[0]: action.dest
        for action in parser._actions
        if action.option_strings and action.type in (int, float)
    }


def shown(value: float) -> str:
    """A value as a user would type it: 3, 2.5, nan, -inf."""
    if math.isfinite(value) and value.is_integer():
        return str(int(value))
    return repr(value) if math.isfinite(value) else str(value)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_numeric_option_refuses_random_bad_values_in_one_line(command, tmp_path, capsys):
    rng = np.random.default_rng(sorted(COMMANDS).index(command))
    options = numeric_options(command)
    assert options, command
    out = tmp_path / "out"
    for option, name in options.items():
        values = bad_values(field_of(name), rng)
        for value in rng.choice(values, size=min(len(values), 5), replace=False):
            argv = [word.format(out=out) for word in COMMANDS[command]]
            try:  # `--option=-inf`: argparse would take a separate "-inf" for an option
                code = main([*argv, f"{option}={shown(float(value))}"])
            except SystemExit as exit:  # argparse's refusal (a value that is no number)
                code = exit.code
            error = capsys.readouterr().err
            assert code == 2, (command, option, value)
            assert error.count("\n") == 1 and option in error, (command, option, value, error)
    assert not out.exists()  # nothing written, not even the folder


def test_settings_that_contradict_each_other_are_named_as_given():
    problems = preflight.config_problems(
        {"call": {"amp_min_cn": 12, "high_level_cn": 10, "fish_high": 2}, "coverage": {}}
    )
    assert problems == [
        "config call.amp_min_cn 12 is above config call.high_level_cn 10; make "
        "config call.amp_min_cn <= config call.high_level_cn"
    ]


@pytest.mark.parametrize("section", ["call", "coverage"])
def test_every_numeric_config_key_refuses_random_bad_values(section):
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    keys = [
        key
        for key, spec in schema["properties"][section]["properties"].items()
        if spec["type"] in ("number", "integer")
    ]
    rng = np.random.default_rng(len(section))
    for key in keys:
        for value in bad_values(field_of(key), rng):
            problems = preflight.config_problems({section: {key: value}})
            assert any(p.startswith(f"config {section}.{key} ") for p in problems), (key, value)


def test_every_numeric_sheet_column_and_the_date_refuse_random_bad_values():
    rng = np.random.default_rng(3)
    for column in SAMPLE_FIELDS:
        for value in bad_values(field_of(column), rng):
            problems = preflight.row_problems({column: float(value)})
            assert [p.split(":")[0] for p in problems] == [f"{column} {value:g}"], problems
    for date in ("2026-02-30", "2026-13-01", "2026-00-10", "2025-04-31"):
        assert preflight.row_problems({"collection_date": date}), date
    assert (
        preflight.row_problems({"purity": 0.3, "ploidy": 2.5, "collection_date": "2024-02-29"})
        == []
    )


def test_workflow_schemas_carry_the_models_ranges():
    """The config and sheet schemas (what editors and `snakemake --lint` read) say what the
    models enforce, so the two can never disagree."""
    config = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    sheet = yaml.safe_load((ROOT / "workflow/schemas/samples.schema.yaml").read_text())
    pairs = [
        (config["properties"]["call"]["properties"]["ploidy"], Ploidy, "value"),
        (sheet["properties"]["ploidy"], Ploidy, "value"),
        (sheet["properties"]["purity"], Purity, "value"),
    ]
    coverage = config["properties"]["coverage"]["properties"]
    for key, spec in coverage.items():
        if spec["type"] in ("number", "integer"):
            model = next(m for m in SETTINGS if key in m.model_fields)
            pairs.append((spec, model, key))
    for spec, model, name in pairs:
        expected = model.model_json_schema()["properties"][name]
        expected = expected.get("anyOf", [expected])[0] | expected
        ours = {k: spec[k] for k in BOUND_KEYS[1:] if k in spec}
        theirs = {k: expected[k] for k in BOUND_KEYS[1:] if k in expected}
        assert ours == theirs, (model.__name__, name)
        if "default" in expected and name != "value":
            assert spec["default"] == expected["default"], name
