"""Reading values out of DICOM JSON (PS3.18 F.2: what QIDO-RS and WADO-RS metadata return).

One place for the rules every reader of a PACS answer needs: an element may be absent, have no ``Value``, or hold
a number as text (an ``IS`` / ``DS``); a value that is not there is ``None`` or ``[]``, never a ``KeyError``.
Tags are the JSON keys: eight upper-case hexadecimal digits (``"0020000E"``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["element_values", "first_number", "first_value"]


def element_values(element_holder: dict[str, Any], tag: str) -> list[Any]:
    """The values of ``tag`` in a DICOM JSON object (an instance, a QIDO-RS entry or a sequence item); [] where it
    is absent or has no ``Value``."""
    element = element_holder.get(tag)
    return list(element.get("Value", [])) if isinstance(element, dict) else []


def first_value(element_holder: dict[str, Any], tag: str) -> Any | None:
    """The first of ``tag``'s values, or None without one."""
    values = element_values(element_holder, tag)
    return values[0] if values else None


def first_number(element_holder: dict[str, Any], tag: str) -> float | None:
    """The first of ``tag``'s values as a number (an ``IS`` / ``DS`` may come as text), or None without one or
    where it is not a number."""
    value = first_value(element_holder, tag)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
