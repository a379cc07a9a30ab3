import json

import numpy as np
import pytest

import monai_rmisr.data.export as export_module
from monai_rmisr.__main__ import main
from monai_rmisr.data import TEST_SOURCES, corpus_images, dataset_images, validation_images
from monai_rmisr.data.export import DEFAULT_VAL_NAMES, export_corpus

VAL = list(DEFAULT_VAL_NAMES)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_corpus(tmp_path_factory.mktemp("export") / "corpus", natural=False)


def test_reads_back_as_the_bundle_corpus(exported):
    """The datalist preset gives bit for bit the arrays of train.json's corpus expressions."""
    train = dataset_images(exported.parent, "datalist", "train")
    val = dataset_images(exported.parent, "datalist", "val")
    expected_train = corpus_images("train", exclude=VAL)
    expected_val = validation_images(VAL, synthetic=1)  # the bundle's validate#images on the corpus
    assert len(train) == len(expected_train) and len(val) == len(expected_val) == 5
    for got, want in zip(train + val, expected_train + expected_val, strict=True):
        assert got.dtype == np.float32 and np.array_equal(got, want)


def test_datalist_names_and_no_test_image(exported):
    entries = json.loads(exported.read_text())
    names = [e["name"] for e in entries["training"] + entries["validation"]]
    assert [e["name"] for e in entries["validation"]] == [
        "CT_small",
        "MR_small",
        "OBXXXX1A_frame",
        "microaneurysms",
        "display_graphics_0",
    ]
    assert not any(n.startswith(tuple(VAL)) for n in (e["name"] for e in entries["training"]))
    assert not {s.name for s in TEST_SOURCES} & set(names)
    assert all((exported.parent / e["image"]).is_file() for e in entries["training"] + entries["validation"])
    assert "natural" not in {e["modality"] for e in entries["training"]}


def test_extra_images_follow_the_natural_ones(tmp_path):
    pytest.importorskip("pywt")
    pytest.importorskip("sklearn")
    datalist = export_corpus(tmp_path / "corpus", natural=True, extra=True)
    names = [e["name"] for e in json.loads(datalist.read_text())["training"]]
    assert len(names) == 31 + 13 + 6 and names[-6:] == ["aero", "ascent", "china", "flower", "grace_hopper", "s1045"]
    train = dataset_images(tmp_path / "corpus", "datalist", "train")
    expected = corpus_images("train", exclude=VAL) + corpus_images("natural") + corpus_images("extra")
    assert all(np.array_equal(got, want) for got, want in zip(train, expected, strict=True))


def test_ultrasound_frames_follow_and_leave_out_the_validation_frame(tmp_path):
    datalist = export_corpus(tmp_path / "corpus", natural=False, ultrasound_frames=True)
    names = [e["name"] for e in json.loads(datalist.read_text())["training"]]
    assert len(names) == 31 + 6 and names[-6:][0] == "US1_UNCR_frame" and "OBXXXX1A_frame" not in names


def test_default_val_names_are_the_bundle_val_names():
    from monai.bundle import ConfigParser

    from tests.bundle.test_configs import CONFIGS

    parser = ConfigParser()
    parser.read_config(str(CONFIGS / "train.json"))
    assert list(DEFAULT_VAL_NAMES) == parser.get_parsed_content("val_names")


def test_refuses_an_existing_folder_and_leaves_it_alone(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="out"):
        export_corpus(target, natural=False)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_bad_val_names_write_nothing(tmp_path):
    with pytest.raises(ValueError, match="val_names"):
        export_corpus(tmp_path / "out", natural=False, val_names=["no_such_image"])
    assert list(tmp_path.iterdir()) == []


def test_failure_half_way_leaves_nothing(tmp_path, monkeypatch):
    calls = []
    real_save = export_module.nib.save

    def failing_save(image, path):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real_save(image, path)

    monkeypatch.setattr(export_module.nib, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        export_corpus(tmp_path / "out", natural=False)
    assert len(calls) == 3 and list(tmp_path.iterdir()) == []


def test_cli_exit_codes(tmp_path, capsys):
    target = tmp_path / "out"
    target.mkdir()
    (target / "x").write_text("")
    assert main(["export-corpus", str(target), "--no-natural"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["export-corpus", str(tmp_path / "default"), "--no-natural"]) == 0
    assert "(31 training, 5 validation images)" in capsys.readouterr().out
    assert main(["export-corpus", str(tmp_path / "new"), "--no-natural", "--val-names", "CT_small"]) == 0
    assert "2 validation images" in capsys.readouterr().out
    entries = json.loads((tmp_path / "new" / "dataset.json").read_text())
    assert [e["name"] for e in entries["validation"]] == ["CT_small", "display_graphics_0"]
    args = ["export-corpus", str(tmp_path / "none"), "--no-natural", "--val-names", "CT_small", "--val-synthetic", "0"]
    assert main(args) == 0
    assert "1 validation images" in capsys.readouterr().out
    assert main(["export-corpus", str(tmp_path / "bad"), "--val-synthetic", "-1"]) == 2
    assert "--val_synthetic_images must be a whole number >= 0" in capsys.readouterr().err
    args = ["export-corpus", str(tmp_path / "ap"), "--no-natural", "--val-names", "CT_small", "--val-aperture", "1"]
    assert main(args) == 0
    entries = json.loads((tmp_path / "ap" / "dataset.json").read_text())
    assert [e["name"] for e in entries["validation"]] == ["CT_small", "display_graphics_0", "aperture_0"]
    assert main(["export-corpus", str(tmp_path / "bad2"), "--val-aperture", "-1"]) == 2
    assert "--val_aperture_images must be a whole number >= 0" in capsys.readouterr().err
    args = ["export-corpus", str(tmp_path / "ct"), "--no-natural", "--val-names", "CT_small", "--val-ct-phantoms", "1"]
    assert main(args) == 0
    entries = json.loads((tmp_path / "ct" / "dataset.json").read_text())
    assert [e["name"] for e in entries["validation"]] == ["CT_small", "display_graphics_0", "ct_phantom_0"]
    assert main(["export-corpus", str(tmp_path / "bad3"), "--val-ct-phantoms", "-1"]) == 2
    assert "--val_ct_phantom_images must be a whole number >= 0" in capsys.readouterr().err
    assert not (tmp_path / "bad3").exists()
