"""Helpers shared by the dictionary transforms."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from monai.config import KeysCollection
from monai.utils import ensure_tuple

__all__ = ["resolve_output_keys"]


def resolve_output_keys(keys: Sequence[Hashable], output_keys: KeysCollection | None, suffix: str) -> tuple:
    """One output key per input key: ``f"{key}{suffix}"`` by default, or the given ``output_keys``."""
    if output_keys is None:
        return tuple(f"{key}{suffix}" for key in keys)
    resolved = ensure_tuple(output_keys)
    if len(resolved) != len(keys):
        raise ValueError(f"output_keys must have one entry per key {tuple(keys)}, got {output_keys!r}.")
    return resolved
