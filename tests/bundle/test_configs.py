"""The bundle's config merges resolve to what their docs say."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

CONFIGS = Path(__file__).resolve().parents[2] / "bundles" / "rmisr" / "configs"


def _parser(*names: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / n) for n in names])
    parser.update(overrides)
    return parser


@pytest.mark.parametrize("scale,patch", [(2, 96), (3, 64), (4, 48)])
def test_paper_recipe_uses_192_pixel_hr_crops_batch_16_and_lr_2e4(scale, patch):
    parser = _parser("train.json", "paper_recipe.json", scale=scale)
    assert parser.get_parsed_content("patch_size") == patch
    assert parser.get_parsed_content("batch_size") == 16
    assert parser.get_parsed_content("learning_rate") == 2e-4
    assert parser.get_parsed_content("network_def").image_residual is False


def test_default_and_variant_networks():
    assert type(_parser("train.json").get_parsed_content("network_def")).__name__ == "RMISR"
    vp = _parser("train.json", "vp.json").get_parsed_content("network_def")
    assert type(vp).__name__ == "RMISRVP" and vp.scale == 4
    meta = _parser("train.json", "meta.json").get_parsed_content("network_def")
    assert meta.upsampler_kind == "meta"


def test_vp_starts_its_sr_branch_from_baseline_weights_by_name():
    assert _parser("train.json").get_parsed_content("init_rename") is None
    assert _parser("train.json", "vp.json").get_parsed_content("init_rename") == {"trunk.": "sr_trunk."}
    assert _parser("train.json", "vp.json").get_parsed_content("init_prefix_map") == {"trunk.": "sr_trunk."}


@pytest.mark.parametrize("word", ["null", "None"])
def test_init_rename_null_switches_off_the_vp_name_map(word):
    assert _parser("train.json", "vp.json", init_rename=word).get_parsed_content("init_prefix_map") is None


def test_vp_weights_the_image_term_so_the_shared_trunk_still_serves_the_image():
    vp_loss = _parser("train.json", "vp.json").get_parsed_content("loss")
    assert (vp_loss.sr_weight, vp_loss.alpha, vp_loss.beta) == (400.0, 10.0, 1.0)
    assert _parser("train.json").get_parsed_content("loss").sr_weight == 1.0


def test_imdn_variant_is_the_same_recipe_with_imdn():
    parser = _parser("train.json", "imdn.json")
    net = parser.get_parsed_content("network_def")
    assert type(net).__name__ == "IMDN" and net.image_residual and net.scale == 2
    for key in ("batch_size", "patch_size", "learning_rate", "lr_halving_iterations", "loss#_target_"):
        assert parser[key] == _parser("train.json")[key]


def test_natural_images_add_the_scikit_image_photographs_to_the_training_images():
    # val_names pick the four validation images out of the TRAIN split; both lists are (1, H, W)
    medical = _parser("train.json").get_parsed_content("train#images")
    mixed = _parser("train.json", natural_images=True).get_parsed_content("train#images")
    assert len(medical) == 31 and len(mixed) == 31 + 13
    assert all(a is b or (a == b).all() for a, b in zip(medical, mixed[:31]))
    assert {img.shape for img in mixed[31:]} >= {(1, 512, 512), (1, 660, 550)}


def test_modality_repeats_list_the_images_of_a_modality_more_often():
    from monai_rmisr.data import load_corpus

    plain = _parser("train.json").get_parsed_content("train#images")
    repeated = _parser("train.json", modality_repeats={"CT": 3}).get_parsed_content("train#images")
    val_names = _parser("train.json")["val_names"]
    ct = [img for img in load_corpus("train") if img.modality == "CT" and not img.name.startswith(tuple(val_names))]
    assert len(ct) == 3 and len(repeated) == len(plain) + 2 * len(ct)
    listed = [sum(a is b for b in repeated) for a in repeated]  # the same array, not a copy
    assert sorted(set(listed)) == [1, 3] and listed.count(3) == 3 * len(ct)
    assert {a.shape for a, n in zip(repeated, listed) if n == 3} == {img.array.shape for img in ct}
    with pytest.raises(RuntimeError) as failure:
        _parser("train.json", modality_repeats={"PET": 2}).get_parsed_content("train#images")
    assert "unknown modalities ['PET']" in str(failure.value.__cause__)
    with pytest.raises(RuntimeError) as failure:
        _parser("train.json", modality_repeats={"CT": 0}).get_parsed_content("train#images")
    assert "CT must repeat a whole number >= 1" in str(failure.value.__cause__)
    from monai_rmisr.data.datasets import training_images

    with pytest.raises(ValueError, match=r"a user data set .* has none"):
        training_images(dataset_dir="any", modality_repeats={"CT": 2})


def test_hr_zoom_settings_reach_the_training_dataset():
    plain = _parser("train.json").get_parsed_content("train#dataset")
    zoomed = _parser("train.json", hr_zoom_share=0.5, hr_zoom_range=[0.6, 0.9]).get_parsed_content("train#dataset")
    assert plain.zoom_share == 0.0 and plain.zoom_range == (0.5, 1.0)
    assert zoomed.zoom_share == 0.5 and zoomed.zoom_range == (0.6, 0.9)


def test_extra_images_follow_the_natural_images():
    pytest.importorskip("pywt")
    pytest.importorskip("sklearn")
    natural = _parser("train.json", natural_images=True).get_parsed_content("train#images")
    both = _parser("train.json", natural_images=True, extra_images=True).get_parsed_content("train#images")
    assert len(both) == 31 + 13 + 6
    assert all(a is b or (a == b).all() for a, b in zip(natural, both[:44]))
    # aero, ascent, china, flower, grace_hopper, s1045
    expected = [(1, 512, 512)] * 2 + [(1, 427, 640)] * 2 + [(1, 600, 512), (1, 256, 256)]
    assert [img.shape for img in both[44:]] == expected


# What ``python -m monai.bundle run ... --flag false`` puts in the config: the string "false".
@pytest.mark.parametrize(("word", "expected"), [("false", False), ("true", True), ("False", False), ("True", True)])
def test_on_off_settings_from_the_command_line_mean_what_they_say(word, expected, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    torch.save({}, tmp_path / "checkpoints" / "checkpoint_epoch=1.pt")  # complete: a zip archive
    torch.save({}, tmp_path / "some.pt")
    flags = ("natural_images", "extra_images", "ultrasound_frames", "resume", "init_strict", "amp", "image_residual")
    flags += ("skip_bad",)
    settings = dict.fromkeys(flags, word)
    parser = _parser("train.json", output_dir=str(tmp_path), init_weights=str(tmp_path / "some.pt"), **settings)
    assert len(parser.get_parsed_content("train#images")) == (31 + 13 + 6 + 6 if expected else 31)
    assert parser.get_parsed_content("train#trainer").amp is expected
    assert parser.get_parsed_content("network_def").image_residual is expected
    loaders = parser.get_parsed_content("train#resume_loaders")
    names = [type(loader).__name__ for loader in loaders]
    # resuming from the existing checkpoint replaces the initial weights, and vice versa
    assert ("CheckpointLoader" in names) is expected and ("InitialWeightsLoader" in names) is not expected
    if not expected:
        assert loaders[names.index("InitialWeightsLoader")].strict is False


@pytest.mark.parametrize("variant", ["vp.json", "meta.json", "imdn.json"])
def test_variants_read_image_residual_as_a_flag(variant):
    assert (
        _parser("train.json", variant, image_residual="false").get_parsed_content("network_def").image_residual is False
    )


def test_a_misspelt_flag_is_an_error_naming_it():
    with pytest.raises(RuntimeError) as failure:  # MONAI's config error, caused by ours
        _parser("train.json", natural_images="flase").get_parsed_content("train#images")
    assert str(failure.value.__cause__) == "--natural_images must be true or false, got 'flase'."


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"natural_images": "flase"}, "--natural_images must be true or false, got 'flase'."),
        ({"extra_images": "please"}, "--extra_images must be true or false, got 'please'."),
        ({"resume": "ja"}, "--resume must be true or false, got 'ja'."),
        ({"amp": "fast"}, "--amp must be true or false, got 'fast'."),
        ({"clip_lr": "maybe"}, "--clip_lr must be true or false, got 'maybe'."),
        (
            {"lr_bits": [16, 8]},
            "--lr_bits: bit depths must satisfy 1 <= lowest <= highest <= 24, got [16, 8]. (null: not quantised)",
        ),
        ({"clip_lr": "false"}, "--lr_bits quantises the clipped LR: with --clip_lr false give --lr_bits null too."),
        ({"synthetic_images": -1}, "--synthetic_images must be a whole number >= 0, got -1."),
        ({"ct_phantom_images": -1}, "--ct_phantom_images must be a whole number >= 0, got -1."),
        ({"amp_dtype": "fp16"}, "--amp_dtype must be one of ('auto', 'float16', 'bfloat16'), got 'fp16'."),
        ({"keep_checkpoints": 0}, "--keep_checkpoints must be a positive whole number or null (no limit), got 0."),
        ({"epoch_length": 2.5}, "--epoch_length must be a whole number >= 1, got 2.5."),  # the epoch never ended
        ({"max_epochs": 2.5}, "--max_epochs must be a whole number >= 1, got 2.5."),  # it ran three
        ({"batch_size": "two"}, "--batch_size must be a whole number >= 1, got 'two'."),
        ({"batch_size": 0}, "--batch_size must be a whole number >= 1, got 0."),
        ({"patch_size": -4}, "--patch_size must be a whole number >= 1, got -4."),
        ({"val_interval": 0}, "--val_interval must be a whole number >= 1, got 0."),
        ({"lr_halving_iterations": 0}, "--lr_halving_iterations must be a whole number >= 1, got 0."),
        ({"num_workers": -1}, "--num_workers must be a whole number >= 0, got -1."),
        ({"seed": "abc"}, "--seed must be a whole number >= 0, got 'abc'."),
        ({"learning_rate": "abc"}, "--learning_rate must be a number >= 0, got 'abc'."),
        ({"learning_rate": -1e-4}, "--learning_rate must be a number >= 0, got -0.0001."),
        ({"in_channels": 3}, "--in_channels must be 1, got 3: the training images are grey"),
        ({"device": "gpu0"}, "device 'gpu0' is not a device; use cpu, cuda or cuda:N."),
        (
            {"init_rename": "trunk."},
            "--init_rename must be a map of name prefixes such as \"{'trunk.': 'sr_trunk.'}\" or null, got 'trunk.'.",
        ),
        # these named no setting (Python's "'float' object cannot be interpreted as an integer", "'<=' not supported
        # between instances of 'int' and 'str'", "max_images must be a positive number or None")
        ({"val_max_images": 2.5}, "--val_max_images must be a positive whole number or null (no limit), got 2.5."),
        ({"val_max_images": "abc"}, "--val_max_images must be a positive whole number or null (no limit), got 'abc'."),
        ({"val_max_images": 0}, "--val_max_images must be a positive whole number or null (no limit), got 0."),
        # these failed after the output folder was made: a traceback at the loss's or the dataset's construction,
        # at the first training step, or at the first validation after a whole epoch
        ({"loss#sr_criterion": "mes"}, "sr_criterion (the bundle's --loss#sr_criterion) must be one of ('l1', 'mse')"),
        ({"edge_patch_share": 1.5}, "edge_share (edge_patch_share) must be a number in [0, 1], got 1.5."),
        ({"hr_zoom_share": 2}, "zoom_share (hr_zoom_share) must be a number in [0, 1], got 2."),
        (
            {"val_scales": [2.0, 3.0]},
            "--val_scales [2.0, 3.0]: the run's RMISR (--network_def) is a fixed x2 network, it cannot run at x3; "
            "give --val_scales null",
        ),
        (
            {"network_def": {"_target_": "IMDN", "in_channels": 1, "scale": 2}, "scale": 4},
            "--scale 4: the run's IMDN (--network_def) is a fixed x2 network, it cannot run at x4; give --scale 2.",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_its_output_folder_is_made(tmp_path, overrides, message):
    output_dir = tmp_path / "run"
    parser = _parser("train.json", output_dir=str(output_dir), **overrides)
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    assert str(failure.value.__cause__).startswith(message)
    assert not output_dir.exists()


@pytest.mark.parametrize(
    "where, words", [("a_file", "is a file; a run writes into a folder"), ("a_file/sub", "is a file, so no folder")]
)
def test_an_output_dir_that_cannot_be_a_folder_stops_the_run(tmp_path, where, words):
    # a file as --output_dir (runs/ref/model.pt) was a FileExistsError traceback, a path under a file a
    # NotADirectoryError one
    (tmp_path / "a_file").write_text("not a folder")
    parser = _parser("train.json", output_dir=str(tmp_path / where))
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    assert str(failure.value.__cause__).startswith(f"--output_dir '{tmp_path / where}'")
    assert words in str(failure.value.__cause__)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_resuming_a_run_of_another_scale_is_refused_naming_the_checkpoint(tmp_path):
    import torch

    from monai_rmisr.networks.nets import RMISR

    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    saved = checkpoints / "checkpoint_epoch=1.pt"
    torch.save({"network": RMISR(spatial_dims=2, in_channels=1, out_channels=1, scale=2).state_dict()}, saved)
    parser = _parser("train.json", output_dir=str(tmp_path / "run"), resume="true", scale=4)
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    assert str(failure.value.__cause__).startswith(
        f"the checkpoint --resume true continues from, '{saved}', does not fit this run's RMISR: tensors: 2 of "
        "other shapes"
    )
    assert "resume it with its own --scale" in str(failure.value.__cause__)


def test_a_missing_data_folder_stops_the_run_before_its_output_folder_is_made(tmp_path):
    output_dir = tmp_path / "run"
    parser = _parser("train.json", output_dir=str(output_dir), dataset_dir=str(tmp_path / "no_such_folder"))
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    error = failure.value.__cause__  # monai_rmisr.config.PreflightError, carrying the failure's own error
    assert isinstance(error.error, FileNotFoundError) and "no_such_folder" in str(error)
    assert not output_dir.exists()


@pytest.mark.parametrize("setting", ["init_weights", "vgg_weights"])
def test_a_missing_weights_file_stops_the_run_before_its_output_folder_is_made(tmp_path, setting):
    # it used to fail only when the trainer started, after the run folder and its TensorBoard files were made
    output_dir = tmp_path / "run"
    missing = str(tmp_path / "no_such_weights.pt")
    parser = _parser("train.json", output_dir=str(output_dir), **{setting: missing})
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    assert str(failure.value.__cause__) == f"--{setting}: no such file: {missing!r}."
    assert not output_dir.exists()


def test_val_max_images_null_typed_on_the_command_line_means_all():
    # the bundle CLI hands "null" over as text; the corpus run refused it as a limit
    assert len(_parser("train.json", val_max_images="null").get_parsed_content("validate#images")) == 5


def test_good_settings_make_the_output_folder(tmp_path):
    output_dir = tmp_path / "run"
    _parser("train.json", output_dir=str(output_dir), resume="false", amp="False").get_parsed_content("initialize")
    # nothing in it but the run's record (docs/training.md, "The run's record")
    assert sorted(path.name for path in output_dir.iterdir()) == [".run.lock", "run.json"]  # held; the record


@pytest.mark.parametrize("config", ["train.json", "inference.json"])
def test_every_on_off_setting_is_read_through_flags(config):
    # a setting whose default is a bool is an on/off setting; `flags` is where it is checked
    parser = _parser(config)
    on_off = {key for key, value in parser.get().items() if isinstance(value, bool)}
    assert on_off and set(parser.get_parsed_content("flags")) == on_off


def test_a_misspelt_inference_flag_is_an_error_naming_it():
    with pytest.raises(RuntimeError) as failure:
        _parser("inference.json", overwrite="nope").get_parsed_content("upscaler")
    assert str(failure.value.__cause__) == "--overwrite must be true or false, got 'nope'."


def test_the_image_term_of_the_loss_is_chosen_on_the_command_line():
    # `--loss#sr_criterion mse` (docs/training.md, "Fine-tuning for PSNR")
    assert _parser("train.json").get_parsed_content("loss").sr_criterion == "l1"
    assert _parser("train.json", **{"loss#sr_criterion": "mse"}).get_parsed_content("loss").sr_criterion == "mse"


@pytest.mark.parametrize(
    "overrides,names",
    [({"help": True}, "--help"), ({"sclae": 4, "max_epoch": 2}, "--max_epoch, --sclae")],
)
def test_an_unknown_setting_stops_the_run_before_its_output_folder_is_made(tmp_path, overrides, names):
    # `python -m monai.bundle run training --config_file train.json --help` used to start a full run
    output_dir = tmp_path / "run"
    parser = _parser("train.json", output_dir=str(output_dir), **overrides)
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    message = str(failure.value.__cause__)
    assert message.startswith(
        f"unknown setting{'s' if ',' in names else ''} {names}: not a top-level key of train.json"
    )
    assert not output_dir.exists()


@pytest.mark.parametrize(
    "variants, setting, owners",
    [
        ([], "integer_scale_probability", "meta.json"),  # an arbitrary-scale setting on a plain x2 run
        (["vp.json"], "ckpt_path", "evaluate.json"),
        ([], "teacher_weight", None),  # train.json's own: no error
        (["meta.json"], "integer_scale_probability", None),
    ],
)
def test_a_setting_of_a_variant_the_run_does_not_merge_is_refused_naming_the_variant(
    tmp_path, variants, setting, owners
):
    output_dir = tmp_path / "run"
    parser = _parser("train.json", *variants, output_dir=str(output_dir), **{setting: 0.5})
    assert parser.get_parsed_content("config_files") == ["train.json", *variants]
    if owners is None:
        assert setting in parser.get_parsed_content("preflight#0")
        return
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    message = str(failure.value.__cause__)
    assert message.startswith(
        f"unknown setting --{setting}: not a top-level key of {' or '.join(parser['config_files'])}"
    )
    assert message.endswith(f"--{setting} is a setting of {owners}: merge it into --config_file.")
    assert not output_dir.exists()


@pytest.mark.parametrize("copied", [None, "meta.json"])
def test_a_config_that_does_not_list_itself_counts_as_merged(tmp_path, copied):
    # a user's own variant in the bundle's configs folder: without "+config_files", or a copy of meta.json that
    # still lists itself as meta.json
    bundle = tmp_path / "bundle"
    shutil.copytree(CONFIGS, bundle / "configs")
    mine = json.loads((CONFIGS / copied).read_text()) if copied else {}
    (bundle / "configs" / "mine.json").write_text(json.dumps({**mine, "my_setting": 1}))
    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / "train.json"), str(bundle / "configs" / "mine.json")])
    parser.update({"bundle_root": str(bundle), "my_setting": 2})
    assert "my_setting" in parser.get_parsed_content("preflight#0")


def test_a_training_setting_on_an_inference_run_is_named_as_such():
    parser = _parser("inference.json", batch_size=4)
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    message = str(failure.value.__cause__)
    assert message.endswith("--batch_size is a setting of train.json runs, not of this one.")
    assert "merge" not in message


def test_an_undefined_reference_is_named_and_a_fault_of_the_machine_keeps_its_traceback():
    from monai_rmisr.config import PreflightError

    parser = _parser("inference.json", model="@nothere")
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    assert isinstance(failure.value.__cause__, PreflightError) and "@nothere" in str(failure.value.__cause__)
    # not a bad setting: a RuntimeError of torch's (as out of memory would be) goes through as it is
    parser = _parser("inference.json")
    parser["preflight"] = ["$torch.zeros(2).view(3)"]
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    chain = [failure.value]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    assert not any(isinstance(link, PreflightError) for link in chain)
    assert "is invalid for input of size" in str(chain[-1])


@pytest.mark.parametrize(
    "variants",
    [
        ["vp.json"],
        ["meta.json"],
        ["imdn.json"],
        ["paper_recipe.json"],
        ["multi_gpu_train.json"],
        ["evaluate.json"],
        ["finetune_dermoscopy.json"],
        ["finetune_lung_ct.json"],
        ["finetune_retina.json"],
        ["vp.json", "paper_recipe.json"],
    ],
)
def test_the_variants_and_the_bundle_metadata_pass_the_key_check(variants):
    parser = _parser("train.json", *variants)
    parser.read_meta(str(CONFIGS / "metadata.json"))  # what `monai.bundle run` adds, under `_meta_`
    parser["preflight"] = "$monai_rmisr.config.check_config_keys(os.path.join(@bundle_root, 'configs'), @config_files)"
    keys = parser.get_parsed_content("preflight")
    # loss#sr_weight sets loss, +config_files appends to config_files
    own = {key.removeprefix("+").split("#")[0] for key in ConfigParser.load_config_file(CONFIGS / variants[-1])}
    assert "_meta_" in keys and own <= set(keys)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"val_max_images": 8}, "--val_max_images 8: not read by this run"),
        ({"val_names": ["CT_small"], "val_aperture_images": 2}, "--val_names ['CT_small'], --val_aperture_images 2: "),
    ],
)
def test_evaluation_refuses_the_validation_settings_it_does_not_read(tmp_path, monkeypatch, overrides, message):
    # evaluate.json inherits train.json's validation settings and scores the whole test split: --val_max_images 8
    # was taken without a word and every test image scored
    argv = ["monai.bundle", "run", "evaluating", *(f"--{key}={value}" for key, value in overrides.items())]
    monkeypatch.setattr(sys, "argv", argv)
    parser = _parser("train.json", "evaluate.json", output_dir=str(tmp_path / "run"), **overrides)
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("preflight#1")
    assert str(failure.value.__cause__).startswith(message)
    assert "scores every image of the test split" in str(failure.value.__cause__)


@pytest.mark.parametrize("variants", [[], ["finetune_retina.json"]])
def test_evaluation_takes_the_validation_settings_its_configs_give(tmp_path, monkeypatch, variants):
    # finetune_retina.json sets val_max_images 32 itself: merged before evaluate.json that is no user's setting
    monkeypatch.setattr(sys, "argv", ["monai.bundle", "run", "evaluating", "--val_max_images", "null"])
    parser = _parser("train.json", *variants, "evaluate.json")
    assert parser.get_parsed_content("config_files") == ["train.json", *variants, "evaluate.json"]
    assert parser.get_parsed_content("preflight#1") is None
    # nor is a config of the user's own that does not list itself (a review found it refused, though not typed)
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS, configs)
    (configs / "mine.json").write_text('{"val_max_images": 16}')
    monkeypatch.setattr(sys, "argv", ["monai.bundle", "run", "evaluating"])
    parser = ConfigParser()
    parser.read_config([str(configs / name) for name in ("train.json", "mine.json", "evaluate.json")])
    parser["bundle_root"] = str(tmp_path)
    assert parser.get_parsed_content("val_max_images") == 16 and parser.get_parsed_content("preflight#1") is None


def test_evaluation_refuses_a_validation_setting_in_an_args_file(tmp_path, monkeypatch):
    # MONAI's --args_file holds settings as the command line does: {"val_max_images": 3} there was taken
    (tmp_path / "args.json").write_text('{"val_max_images": 3}')
    monkeypatch.setattr(sys, "argv", ["monai.bundle", "run", "evaluating", "--args_file", str(tmp_path / "args.json")])
    parser = _parser("train.json", "evaluate.json", val_max_images=3)
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("preflight#1")
    assert str(failure.value.__cause__).startswith("--val_max_images 3: not read by this run")
    monkeypatch.setattr(sys, "argv", ["monai.bundle", "run", "evaluating", "--args_file"])  # nothing after it
    assert _parser("train.json", "evaluate.json").get_parsed_content("preflight#1") is None
