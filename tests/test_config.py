"""On/off settings arrive from the bundle command line as strings; ``config_flag`` reads them."""

import pytest
from fire import parser as fire_parser

from monai_rmisr.config import config_flag, config_flags


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
