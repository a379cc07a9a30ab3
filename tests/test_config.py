"""Settings arrive from the bundle command line as strings; ``config_flag`` and ``config_count`` read them."""

import pytest
import torch
from fire import parser as fire_parser

from monai_rmisr.config import (
    config_count,
    config_file,
    config_flag,
    config_flags,
    config_mapping,
    config_network,
    config_nonnegative,
    config_options,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        ("true", True),
        ("false", False),
        ("True", True),
        ("FALSE", False),
        (" yes ", True),
        ("no", False),
        ("on", True),
        ("off", False),
        ("1", True),
        ("0", False),
    ],
)
def test_config_flag_reads_bools_and_their_words(value, expected):
    assert config_flag(value, "resume") is expected


@pytest.mark.parametrize("value", ["ture", "", "none", 2, -1, 0.5, None, [True]])
def test_anything_else_is_an_error_naming_the_setting(value):
    with pytest.raises(ValueError, match=r"^--natural_images must be true or false, got "):
        config_flag(value, "natural_images")


def test_the_bundle_cli_hands_lowercase_words_over_as_strings():
    """Why the configs need config_flag: 'false' is a non-empty (true) string to Python."""
    assert fire_parser.DefaultParseValue("false") == "false"
    assert config_flag(fire_parser.DefaultParseValue("false"), "resume") is False
    assert config_flag(fire_parser.DefaultParseValue("False"), "resume") is False


def test_config_flags_reads_every_setting_under_its_name():
    assert config_flags(resume="false", amp=True, skip_bad="On") == {"resume": False, "amp": True, "skip_bad": True}


def test_config_flags_names_the_bad_setting():
    with pytest.raises(ValueError, match=r"^--amp must be true or false, got 'fast'\.$"):
        config_flags(resume="false", amp="fast")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), (200, 200), ("3", 3), (" 12 ", 12), (None, None), ("null", None), ("None", None), ("ALL", None)],
)
def test_config_count_reads_positive_counts_and_no_limit(value, expected):
    assert config_count(value, "keep_checkpoints") == expected


@pytest.mark.parametrize("value", [0, -2, "0", "-2", True, 2.5, "two", "", [3]])
def test_config_count_names_the_setting_for_anything_else(value):
    with pytest.raises(ValueError, match=r"^--keep_checkpoints must be a positive whole number or null \(no limit\)"):
        config_count(value, "keep_checkpoints")


def test_the_bundle_cli_hands_null_over_as_a_string():
    """Why ``keep_checkpoints`` needs config_count: ``--keep_checkpoints null`` is the string 'null'."""
    assert fire_parser.DefaultParseValue("null") == "null"
    assert config_count(fire_parser.DefaultParseValue("null"), "keep_checkpoints") is None


def test_config_file_returns_an_existing_file_or_none(tmp_path):
    weights = tmp_path / "weights.pt"
    weights.write_bytes(b"")
    assert config_file(weights, "init_weights") == str(weights)
    assert config_file(None, "init_weights") is None


@pytest.mark.parametrize("word", ["null", "none", "None", " NULL "])
def test_config_file_reads_null_from_the_command_line_as_not_given(word):
    # --init_weights null must switch off a fine-tuning config's start weights; Python's None
    # typed on the command line is dropped by MONAI before the config sees it
    assert config_file(fire_parser.DefaultParseValue(word), "init_weights") is None


@pytest.mark.parametrize("value", ["missing.pt", "null", "."])
def test_config_file_names_the_setting_and_the_path(tmp_path, value):
    path = str(tmp_path / value)
    with pytest.raises(FileNotFoundError, match=r"^--vgg_weights: no such file: "):
        config_file(path, "vgg_weights")


@pytest.mark.parametrize("word", [None, "null", "None", " NULL "])
def test_config_network_reads_null_as_not_given(word):
    assert config_network(word, "teacher") is None


def test_config_network_names_the_setting_for_a_missing_file_or_weights_that_do_not_fit(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^--teacher: "):
        config_network(tmp_path / "missing.pt", "teacher")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "rmisr_bl_x4.pt")  # a registry file name, other weights
    with pytest.raises(ValueError, match=r"^--teacher: the weights in .* do not fit RMISR"):
        config_network(tmp_path / "rmisr_bl_x4.pt", "teacher")


@pytest.mark.parametrize("word", ["null", "none", "None", " NULL "])
def test_config_mapping_reads_null_from_the_command_line_as_not_given(word):
    # --init_rename null must switch off vp.json's map: dict('null') used to fail deep inside the run
    assert config_mapping(fire_parser.DefaultParseValue(word), "init_rename") is None


def test_config_mapping_returns_the_map_the_bundle_cli_parses():
    typed = fire_parser.DefaultParseValue("{'trunk.': 'sr_trunk.'}")
    assert config_mapping(typed, "init_rename") == {"trunk.": "sr_trunk."}
    assert config_mapping({}, "init_rename") == {}
    assert config_mapping(None, "init_rename") is None


@pytest.mark.parametrize("value", ["trunk.", ["trunk.", "sr_trunk."], {"trunk.": 1}, 3])
def test_config_mapping_names_the_setting_for_anything_else(value):
    with pytest.raises(ValueError, match=r"^--init_rename must be a map of name prefixes"):
        config_mapping(value, "init_rename")


@pytest.mark.parametrize("word", [None, "null", "None", " NULL "])
def test_config_options_reads_null_as_not_given(word):
    assert config_options(word, "medical_degradation") is None


def test_config_options_returns_the_map_the_bundle_cli_parses():
    parsed = fire_parser.DefaultParseValue("{'blur_sigma': [0.0, 1.0], 'jpeg_quality': 80}")
    assert config_options(parsed, "medical_degradation") == {"blur_sigma": [0.0, 1.0], "jpeg_quality": 80}


@pytest.mark.parametrize("value", ["blur", [1, 2], {1: 2}, 3])
def test_config_options_names_the_setting_for_anything_else(value):
    with pytest.raises(ValueError, match=r"^--medical_degradation must be a map of options"):
        config_options(value, "medical_degradation")


@pytest.mark.parametrize("value, expected", [(0, 0.0), (0.6, 0.6), ("0.6", 0.6), (" 2 ", 2.0)])
def test_config_nonnegative_reads_numbers_and_their_text(value, expected):
    assert config_nonnegative(value, "synthetic_blur") == expected


@pytest.mark.parametrize("value", [-0.1, "null", None, True, "wide", float("nan"), float("inf")])
def test_config_nonnegative_names_the_setting_for_anything_else(value):
    with pytest.raises(ValueError, match=r"^--synthetic_blur must be a number >= 0"):
        config_nonnegative(value, "synthetic_blur")
