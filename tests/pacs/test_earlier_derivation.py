"""How a one-shot ``rmisr pacs`` recognises a series it derived before (DICOM JSON from a stand-in PACS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monai_rmisr.io.dicom_writer import derivation_description, derivation_tag
from monai_rmisr.pacs import earlier_derivation

STUDY, SOURCE = "1.2.3", "1.2.3.1"
SOURCE_INSTANCES = ["1.2.3.1.1", "1.2.3.1.2", "1.2.3.1.3"]


@dataclass
class _Upscaler:
    """What :func:`earlier_derivation` reads of an ``Upscaler``."""

    derivation: dict[str, Any]


X2 = _Upscaler({"model": "rmisr_bl_x2", "scale": 2.0, "axis": "xy", "roi": None, "self_ensemble": False})


def _text(value: str) -> dict[str, Any]:
    return {"vr": "LO", "Value": [value]}


def _source() -> list[dict[str, Any]]:
    images = [{"00080018": _text(uid), "7FE00010": {"vr": "OW"}} for uid in SOURCE_INSTANCES]
    return [*images, {"00080018": _text("1.2.3.1.9")}]  # a non-image instance (a presentation state, say)


def _derived(upscaler: _Upscaler, sources: list[str], theirs: str = "", enhanced: bool = False) -> list[dict]:
    meta = {"derivation": upscaler.derivation}
    description = f"{theirs}; {derivation_description(meta)}" if theirs else derivation_description(meta)
    instances = []
    for index, uid in enumerate(sources):
        item: dict[str, Any] = {"00080018": _text(f"9.9.{index}"), "00082111": _text(description)}
        reference = {"00081155": _text(uid)}
        if enhanced:  # the Hierarchical SOP Instance Reference of enhanced IODs
            series = {"0020000E": _text(SOURCE), "00081199": {"vr": "SQ", "Value": [reference]}}
            study = {"0020000D": _text(STUDY), "00081115": {"vr": "SQ", "Value": [series]}}
            item["00089154"] = {"vr": "SQ", "Value": [study]}
        else:
            item["00082112"] = {"vr": "SQ", "Value": [reference]}
        instances.append(item)
    return instances


class _Pacs:
    """QIDO-RS series search and WADO-RS series metadata over a dictionary; counts the metadata reads."""

    def __init__(self, series: dict[str, tuple[str | None, list[dict]]]) -> None:
        self.series = {SOURCE: ("Head 1mm", _source()), **series}
        self.reads: list[str] = []

    def search_for_series(self, study: str) -> list[dict]:
        assert study == STUDY
        found = []
        for uid, (description, _) in self.series.items():
            entry = {"0020000E": _text(uid)}
            if description is not None:  # a PACS that leaves SeriesDescription out of its answer
                entry["0008103E"] = _text(description)
            found.append(entry)
        return found

    def retrieve_series_metadata(self, study: str, series: str) -> list[dict]:
        assert study == STUDY
        self.reads.append(series)
        return self.series[series][1]


def _found(series: dict[str, tuple[str | None, list[dict]]], upscaler: _Upscaler = X2) -> tuple[str | None, _Pacs]:
    pacs = _Pacs(series)
    return earlier_derivation(pacs, upscaler, STUDY, SOURCE), pacs


def test_a_derivation_of_every_source_image_made_the_same_way_is_found():
    found, pacs = _found({"7.1": ("Head 1mm SR x2", _derived(X2, SOURCE_INSTANCES, theirs="Their filter"))})
    assert found == "7.1" and pacs.reads == [SOURCE, "7.1"]  # the source itself is no candidate
    enhanced, _ = _found({"7.2": (None, _derived(X2, SOURCE_INSTANCES, enhanced=True))})
    assert enhanced == "7.2"


def test_other_derivations_are_not_taken_for_it():
    x3 = _Upscaler({**X2.derivation, "scale": 3.0})
    ensemble = _Upscaler({**X2.derivation, "self_ensemble": True})
    other_model = _Upscaler({**X2.derivation, "model": "rmisr_meta"})
    cases = {
        "part of the source (a store cut short)": ("Head 1mm SR x2", _derived(X2, SOURCE_INSTANCES[:2])),
        "more than the source (it has lost slices since)": (
            "Head 1mm SR x2",
            _derived(X2, [*SOURCE_INSTANCES, "1.2.3.1.4"]),
        ),
        "self-ensemble": ("Head 1mm SR x2", _derived(ensemble, SOURCE_INSTANCES)),
        "another model": ("Head 1mm SR x2", _derived(other_model, SOURCE_INSTANCES)),
        "one instance of another derivation": (
            "Head 1mm SR x2",
            _derived(X2, SOURCE_INSTANCES[:2]) + _derived(other_model, SOURCE_INSTANCES[2:]),
        ),
    }
    for why, entry in cases.items():
        found, pacs = _found({"7.1": entry})
        assert found is None, why
        assert pacs.reads == [SOURCE, "7.1"], why
    # another scale's mark in the SeriesDescription: not even read
    found, pacs = _found({"7.1": ("Head 1mm SR x3", _derived(x3, SOURCE_INSTANCES))})
    assert found is None and pacs.reads == []
    # nor a study with no other series
    found, pacs = _found({})
    assert found is None and pacs.reads == []
    # the x3 derivation is found for an x3 run
    found, _ = _found(
        {"7.1": (f"Head 1mm {derivation_tag({'derivation': x3.derivation})}", _derived(x3, SOURCE_INSTANCES))}, x3
    )
    assert found == "7.1"
