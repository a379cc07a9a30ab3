"""Values that reach the bundle configs from the command line.

``python -m monai.bundle run ... --resume false`` hands the config the *string* ``"false"``
(the CLI parses only Python literals: ``False`` is a bool, ``false`` is not), and a non-empty
string is true in Python. The configs therefore read every on/off setting through
:func:`config_flag`, all at once with :func:`config_flags` into one ``flags`` key: each use
site reads ``@flags['amp']``, and ``train.json``'s ``preflight`` checks every setting before
a run writes anything, so a new setting is named in one place.
"""

from __future__ import annotations

from typing import Any

__all__ = ["config_flag", "config_flags"]

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def config_flag(value: Any, name: str) -> bool:
    """``value`` as a bool: a bool, 0/1, or (any case) true/false, yes/no, on/off, 1/0.

    Raises:
        ValueError: anything else, naming the setting ``name``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError(f"--{name} must be true or false, got {value!r}.")


def config_flags(**settings: Any) -> dict[str, bool]:
    """Each keyword argument read by :func:`config_flag` under its own name.

    Raises:
        ValueError: for the first setting that is not true or false, naming it.
    """
    return {name: config_flag(value, name) for name, value in settings.items()}
