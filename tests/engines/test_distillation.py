"""Knowledge distillation in the trainer and the bundle: ``--teacher`` and ``--teacher_weight``."""

import json
import re

import numpy as np
import pytest
import torch
from ignite.engine import Events

from monai_rmisr import IMDN, RMISR
from monai_rmisr.engines import SRTrainer
from monai_rmisr.inference.self_ensemble import DIHEDRAL_TRANSFORMS, self_ensemble_forward
from monai_rmisr.losses import TwoBranchLoss

from .bundle_helpers import run_training, training_parser


def _saved_start(tmp_path, upsampler: str = "subpixel") -> str:
    """A small RMISR x2 with random weights, saved with its architecture sidecar (as a run's model.pt)."""
    call = {"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "image_residual": True}
    call.update(num_blocks=1, upsampler=upsampler)
    torch.manual_seed(7)
    start = RMISR(**{key: value for key, value in call.items() if key != "_target_"})
    if upsampler == "subpixel":  # its output layer starts at zero: the network would be bicubic
        torch.nn.init.normal_(start.upsample.shuffle.conv_block.weight, std=0.05)
    torch.save(start.state_dict(), tmp_path / "start.pt")
    (tmp_path / "start.json").write_text(json.dumps(call))
    return str(tmp_path / "start.pt")


def _first_loss(tmp_path, name: str, **settings) -> float:
    parser = training_parser(tmp_path / name, max_epochs=1, epoch_length=1, **settings)
    losses = []
    parser.get_parsed_content("train#trainer").add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: losses.append(engine.state.output["loss"])
    )
    run_training(parser)
    return losses[0]


def test_the_target_moves_towards_the_teacher_by_teacher_weight(tmp_path):
    """Student and teacher start from the same weights: with the whole target the teacher's, the first
    loss is 0; with half of it, the L1 image term is half the loss against HR alone (the same batch)."""
    start = _saved_start(tmp_path)
    common = {"init_weights": start, "loss#sr_criterion": "l1"}
    alone = _first_loss(tmp_path, "alone", **common)
    half = _first_loss(tmp_path, "half", teacher=start, teacher_weight=0.5, **common)
    whole = _first_loss(tmp_path, "whole", teacher=start, teacher_weight=1.0, **common)
    assert alone > 1e-3
    assert half == pytest.approx(alone / 2, rel=1e-3)
    assert whole < 1e-5 * alone


def test_a_registry_name_is_a_teacher_and_a_missing_one_stops_the_run_before_it_writes(tmp_path):
    parser = training_parser(tmp_path / "run", teacher=str(tmp_path / "nowhere.pt"))
    with pytest.raises(RuntimeError) as failure:  # MONAI wraps what a config expression raises
        parser.get_parsed_content("initialize")
    # the preflight's error (monai_rmisr.config.PreflightError) carries the failure's own
    assert isinstance(failure.value.__cause__.error, FileNotFoundError) and "--teacher" in str(failure.value.__cause__)
    assert not (tmp_path / "run").exists()
    parser = training_parser(tmp_path / "run", teacher="rmisr_bl_x2")
    assert isinstance(parser.get_parsed_content("teacher_network"), RMISR)
    parser = training_parser(tmp_path / "run", teacher="null")
    assert parser.get_parsed_content("teacher_network") is None


def _trainer(network, **kwargs) -> SRTrainer:
    return SRTrainer(
        "cpu", 1, [], network, torch.optim.Adam(network.parameters()), TwoBranchLoss(), epoch_length=1, **kwargs
    )


def test_the_teacher_is_frozen_and_checked():
    student = RMISR(2, 1, scale=2, num_blocks=1)
    teacher = RMISR(2, 1, scale=2, num_blocks=1)
    trainer = _trainer(student, teacher=teacher, teacher_weight=0.25)
    (frozen, _channels_last) = trainer.teachers[None]
    assert not any(p.requires_grad for p in frozen.parameters()) and not frozen.training
    lr, hr = torch.rand(2, 1, 6, 6), torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        expected = 0.75 * hr + 0.25 * teacher.eval()(lr)
    assert torch.allclose(trainer.distillation_target(lr, hr, 2.0), expected, atol=1e-5)
    assert _trainer(student).distillation_target(lr, hr, 2.0) is hr
    for weight in (0, -0.5, 1.5, "half", None, True, float("nan")):
        with pytest.raises(ValueError, match=r"teacher_weight must be a number in \(0, 1\]"):
            _trainer(student, teacher=teacher, teacher_weight=weight)
    with pytest.raises(ValueError, match="another network"):
        _trainer(student, teacher=student)
    with pytest.raises(ValueError, match="another network"):  # sharing the student's parameters
        _trainer(student, teacher=torch.nn.Sequential(student))
    with pytest.raises(ValueError, match=r"the teacher cannot run at x2: .* built for x4"):
        _trainer(student, teacher=RMISR(2, 1, scale=4, num_blocks=1)).distillation_target(lr, hr, 2.0)
    with pytest.raises(ValueError, match=r"gives \(2, 1, 24, 24\) at x2 .* a teacher for another scale"):
        _trainer(student, teacher=IMDN(2, 1, scale=4)).distillation_target(lr, hr, 2.0)
    meta = RMISR(2, 1, scale=2, num_blocks=1, upsampler="meta")
    with pytest.raises(ValueError, match="IMDN has a fixed scale and cannot teach"):
        _trainer(meta, teacher=IMDN(2, 1, scale=2), scale_range=(1.1, 4))


def test_experts_at_whole_scales_teach_an_arbitrary_scale_network_only_at_their_scales():
    torch.manual_seed(0)
    student = RMISR(2, 1, scale=2, num_blocks=1, upsampler="meta")
    experts = {2: RMISR(2, 1, scale=2, num_blocks=1), 3.0: IMDN(2, 1, scale=3)}
    trainer = _trainer(
        student, teacher=experts, teacher_weight=1.0, scale_range=(1.5, 4), integer_scale_probability=0.5
    )
    lr = torch.rand(1, 1, 6, 6)
    with torch.no_grad():
        for scale, expert in ((2.0, experts[2]), (3.0, experts[3.0])):
            hr = torch.rand(1, 1, 6 * int(scale), 6 * int(scale))
            assert torch.allclose(trainer.distillation_target(lr, hr, scale), expert.eval()(lr), atol=1e-5)
    hr = torch.rand(1, 1, 15, 15)
    assert trainer.distillation_target(lr, hr, 2.5) is hr  # no expert at x2.5: HR alone
    with pytest.raises(ValueError, match=r"scales \[2.0, 2.5\] must be scales the training draws exactly: 2, 3, 4;"):
        _trainer(
            student,
            teacher={2: experts[2], 2.5: IMDN(2, 1, scale=4)},
            scale_range=(1.5, 4),
            integer_scale_probability=0.5,
        )
    with pytest.raises(ValueError, match=r"draws exactly: none \(a uniform draw never lands on a given scale\)"):
        _trainer(student, teacher={2: experts[2]}, scale_range=(1.5, 4), integer_scale_probability=0.0)
    fixed = RMISR(2, 1, scale=4, num_blocks=1)
    with pytest.raises(ValueError, match=r"scales \[2.0\] must be scales the training draws exactly: 4;"):
        _trainer(fixed, teacher={2: experts[2]}, scale=4)


def test_a_map_of_teachers_from_the_command_line_or_a_json_config(tmp_path):
    from monai_rmisr.config import config_network

    teachers = config_network({2: "rmisr_bl_x2", "3": "rmisr_bl_x3"}, "teacher")
    assert sorted(teachers) == [2.0, 3.0] and all(isinstance(t, RMISR) for t in teachers.values())
    assert teachers[3.0].scale == 3
    for key in ("x2", "nan", 1, True):
        with pytest.raises(ValueError, match=r"^--teacher: the keys of a map of models are scales > 1, got "):
            config_network({key: "rmisr_bl_x2"}, "teacher")


def test_the_caller_s_teacher_is_left_as_it_was():
    student = RMISR(2, 1, scale=2, num_blocks=1)
    teacher = RMISR(2, 1, scale=2, num_blocks=1).train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    _trainer(student, teacher=teacher, amp=True)
    assert teacher.training and all(p.requires_grad for p in teacher.parameters())
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.is_contiguous() for p in teacher.parameters())  # not converted to channels-last in place


def test_an_expert_teaches_the_meta_variant_in_a_bundle_run_at_its_scale(tmp_path):
    """The meta student's own start weights as the x2 teacher, every batch at x2: the first loss is 0;
    without whole-number draws the map is refused before any training."""
    start = _saved_start(tmp_path, upsampler="meta")
    settings = {
        "network_def#num_blocks": 1,
        "init_weights": start,
        "scale_range": [1.5, 2.5],
        "patch_size": 6,
        "teacher": {"2": start},
        "teacher_weight": 1.0,
        "loss#sr_criterion": "l1",
    }
    parser = training_parser(tmp_path / "run", "meta", scale=2.5, max_epochs=1, epoch_length=1, **settings)
    parser["integer_scale_probability"] = 1.0
    losses = []
    parser.get_parsed_content("train#trainer").add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda engine: losses.append((engine.state.output["scale"], engine.state.output["loss"])),
    )
    run_training(parser)
    assert losses[0][0] == 2.0 and losses[0][1] < 1e-6
    parser = training_parser(tmp_path / "run0", "meta", scale=2.5, max_epochs=1, epoch_length=1, **settings)
    with pytest.raises(RuntimeError) as failure:  # MONAI wraps what a constructor raises
        parser.get_parsed_content("train#trainer")
    assert "a uniform draw never lands on a given scale" in str(failure.value.__cause__)


class _FarOff(torch.nn.Module):
    """An x2 "teacher" that is worse than any network: every pixel 100."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((*x.shape[:2], 2 * x.shape[2], 2 * x.shape[3]), 100.0)


def test_teacher_where_better_keeps_hr_for_the_images_where_the_network_is_closer():
    student = RMISR(2, 1, scale=2, num_blocks=1)
    teacher = RMISR(2, 1, scale=2, num_blocks=1)
    trainer = _trainer(student, teacher=teacher, teacher_weight=0.5, teacher_where_better=True)
    lr, hr = torch.rand(2, 1, 6, 6), torch.rand(2, 1, 12, 12)
    with torch.no_grad():
        taught = teacher.eval()(lr)
    sr = torch.stack([hr[0], hr[1] + 1.0])  # image 0 exact (the teacher is not better), image 1 far off
    target = trainer.distillation_target(lr, hr, 2.0, sr)
    assert torch.equal(target[0], hr[0])
    assert torch.allclose(target[1], 0.5 * hr[1] + 0.5 * taught[1], atol=1e-5)
    with pytest.raises(ValueError, match="teacher_where_better compares the teacher with the network"):
        trainer.distillation_target(lr, hr, 2.0)
    not_finite = torch.full_like(hr, float("nan"))  # e.g. a float16 teacher overflowing: never "better"
    assert torch.equal(trainer.blended_target(hr, not_finite, hr + 1.0), hr)
    with pytest.raises(ValueError, match="teacher_where_better must be True or False, got 'false'"):
        _trainer(student, teacher=teacher, teacher_where_better="false")
    with pytest.raises(ValueError, match="teacher_where_better needs a teacher"):
        _trainer(student, teacher_where_better=True)


def test_a_teacher_worse_than_the_network_everywhere_leaves_the_loss_as_without_one():
    """One training step on the same batch and weights: with ``teacher_where_better`` a far-off teacher
    is never used (the loss is the teacher-less one, exactly); without it, it dominates the loss."""
    torch.manual_seed(0)
    start = RMISR(2, 1, scale=2, num_blocks=1).state_dict()
    batch = {"lr": torch.rand(2, 1, 6, 6), "hr": torch.rand(2, 1, 12, 12)}

    def first_loss(**kwargs) -> float:
        network = RMISR(2, 1, scale=2, num_blocks=1)
        network.load_state_dict(start)
        optimizer = torch.optim.Adam(network.parameters())
        trainer = SRTrainer("cpu", 1, [batch], network, optimizer, TwoBranchLoss(), scale=2, epoch_length=1, **kwargs)
        trainer.run()
        return trainer.state.output["loss"]

    alone = first_loss()
    assert first_loss(teacher=_FarOff(), teacher_where_better=True) == alone
    assert first_loss(teacher=_FarOff()) > 10 * alone


def test_teacher_where_better_in_the_bundle(tmp_path):
    parser = training_parser(tmp_path / "run", teacher="rmisr_bl_x2", teacher_where_better="true")
    assert parser.get_parsed_content("train#trainer").teacher_where_better is True
    parser = training_parser(tmp_path / "run0", teacher="rmisr_bl_x2", teacher_where_better="maybe")
    with pytest.raises(RuntimeError) as failure:
        parser.get_parsed_content("initialize")
    assert "teacher_where_better" in str(failure.value.__cause__)
    assert not (tmp_path / "run0").exists()


def test_teacher_self_ensemble_averages_the_teacher_over_the_drawn_flips_and_turns():
    """With k of the eight drawn, the target's teacher part is the mean of the teacher's turned-back outputs on
    exactly those k (an independent loop here); all eight give its self-ensemble image."""
    torch.manual_seed(3)
    student = RMISR(2, 1, scale=2, num_blocks=1)
    teacher = RMISR(2, 1, scale=2, num_blocks=1)
    torch.nn.init.normal_(teacher.upsample.shuffle.conv_block.weight, std=0.05)  # not bicubic, not equivariant
    teacher.eval()
    lr, hr = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 16, 16)

    def by_hand(transforms) -> torch.Tensor:
        outputs = []
        with torch.no_grad():
            for turns, mirror in transforms:
                x = torch.rot90(lr, turns, (2, 3))
                y = teacher(x.flip(3) if mirror else x)
                outputs.append(torch.rot90(y.flip(3) if mirror else y, -turns, (2, 3)))
        return torch.stack(outputs).mean(0)

    trainer = _trainer(student, teacher=teacher, teacher_weight=1.0, teacher_self_ensemble=3)
    drawn = trainer.teacher_transforms(np.random.default_rng(5))
    assert len(drawn) == 3 == len(set(drawn)) and drawn == trainer.teacher_transforms(np.random.default_rng(5))
    taught = trainer.teacher_image(lr, hr, 2.0, drawn)
    torch.testing.assert_close(taught, by_hand(drawn), atol=1e-5, rtol=0)
    with torch.no_grad():
        assert not torch.allclose(taught, teacher(lr), atol=1e-4)
    everything = _trainer(student, teacher=teacher, teacher_self_ensemble=8)
    all_eight = everything.teacher_transforms(np.random.default_rng(0))
    assert sorted(all_eight) == sorted(DIHEDRAL_TRANSFORMS)
    with torch.no_grad():
        ensemble = self_ensemble_forward(teacher, lr, 2.0)
    torch.testing.assert_close(everything.teacher_image(lr, hr, 2.0, all_eight), ensemble, atol=1e-5, rtol=0)
    assert _trainer(student, teacher=teacher).teacher_transforms(np.random.default_rng(0)) is None
    for bad in (-1, 9, 2.5, "2", True):
        with pytest.raises(ValueError, match="teacher_self_ensemble must be a whole number 0-8"):
            _trainer(student, teacher=teacher, teacher_self_ensemble=bad)
    with pytest.raises(ValueError, match="teacher_self_ensemble needs a teacher"):
        _trainer(student, teacher_self_ensemble=2)


def test_teacher_self_ensemble_draws_from_the_iteration_s_seed_in_a_bundle_run(tmp_path):
    """Runs of the same seed train against the same targets; the draws change from one iteration to the next;
    with a teacher that is the student itself, the plain teacher gives a zero loss, the self-ensembled one not."""
    start = _saved_start(tmp_path)
    common = {"init_weights": start, "loss#sr_criterion": "l1", "teacher": start, "teacher_weight": 1.0}
    plain = _first_loss(tmp_path, "plain", **common)
    first = _first_loss(tmp_path, "first", teacher_self_ensemble=2, **common)
    again = _first_loss(tmp_path, "again", teacher_self_ensemble=2, **common)
    assert plain < 1e-6 < first
    assert first == again

    def draws(name: str) -> list:
        parser = training_parser(tmp_path / name, max_epochs=1, epoch_length=4, teacher_self_ensemble=3, **common)
        trainer = parser.get_parsed_content("train#trainer")
        drawn = []
        original = trainer.teacher_transforms
        trainer.teacher_transforms = lambda rng: drawn.append(original(rng)) or drawn[-1]
        run_training(parser)
        return drawn

    once, twice = draws("draws1"), draws("draws2")
    assert len(once) == 4 and once == twice
    assert len({tuple(d) for d in once}) > 1  # not one fixed choice


def test_bad_distillation_settings_stop_the_bundle_before_it_writes(tmp_path):
    settings = [
        ({"teacher": "rmisr_bl_x2", "teacher_self_ensemble": 9}, "teacher_self_ensemble must be a whole number 0-8"),
        ({"teacher_self_ensemble": 2}, "teacher_self_ensemble needs a teacher"),
        ({"teacher": "rmisr_bl_x2", "teacher_weight": 2.0}, r"teacher_weight must be a number in \(0, 1\]"),
    ]
    for index, (setting, message) in enumerate(settings):
        parser = training_parser(tmp_path / f"run{index}", **setting)
        with pytest.raises(RuntimeError) as failure:
            parser.get_parsed_content("initialize")
        assert re.search(message, str(failure.value.__cause__)), (setting, failure.value.__cause__)
        assert not (tmp_path / f"run{index}").exists(), setting
