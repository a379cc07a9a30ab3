"""Reading DICOM JSON values (monai_rmisr.pacs.dicom_json): what a PACS may leave out or send as text."""

from __future__ import annotations

from monai_rmisr.pacs.dicom_json import element_values, first_number, first_value


def test_values_absent_empty_or_present():
    entry = {
        "0020000E": {"vr": "UI", "Value": ["1.2.3"]},
        "00201209": {"vr": "IS", "Value": ["12"]},  # an IS as text, as some PACS send it
        "00280008": {"vr": "IS", "Value": [3]},
        "00080020": {"vr": "DA"},  # present, no Value: an empty element
        "00281050": {"vr": "DS", "Value": ["not a number"]},
    }
    assert element_values(entry, "0020000E") == ["1.2.3"] and first_value(entry, "0020000E") == "1.2.3"
    assert element_values(entry, "00080020") == [] and first_value(entry, "00080020") is None
    assert element_values(entry, "00100010") == [] and first_value(entry, "00100010") is None
    assert first_number(entry, "00201209") == 12.0 and first_number(entry, "00280008") == 3.0
    assert first_number(entry, "00281050") is None and first_number(entry, "00100010") is None
    assert element_values({"0020000E": "malformed"}, "0020000E") == []  # not an element object
