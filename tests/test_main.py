"""The ``rmisr`` command line: ``rmisr info``, lazy imports."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from monai_rmisr.__main__ import main
from monai_rmisr.inference import MODELS_ENV, PRETRAINED


def test_info_lists_every_shipped_model_and_whether_its_weights_are_here(tmp_path, monkeypatch, capsys):
    # `rmisr upscale --model`'s help sends users here for the registry names
    monkeypatch.setenv(MODELS_ENV, str(tmp_path))
    entry = PRETRAINED["rmisr_bl_x3"]
    torch.save(entry.network(**entry.kwargs).state_dict(), tmp_path / "rmisr_bl_x3.pt")
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"weights files in {tmp_path}:" in lines[1]
    rows = {line.split()[0]: line.split()[1:3] for line in lines[3 : 3 + len(PRETRAINED)]}
    assert rows == {
        "rmisr_bl_x2": ["x2", "missing"],
        "rmisr_bl_x3": ["x3", "present"],
        "rmisr_bl_x4": ["x4", "missing"],
        "rmisr_vp_x4": ["x4", "missing"],
        "rmisr_meta": ["(1,8]", "missing"],
    }
    # the digest a derived image records of its model, for the weights that are here
    digest = hashlib.sha256((tmp_path / "rmisr_bl_x3.pt").read_bytes()).hexdigest()
    start = lines.index("weights SHA-256 (what a derived image records of its model; sha256sum of the file):")
    assert lines[start + 1].split() == ["rmisr_bl_x3", digest] and lines[start + 2] == ""
    assert any(line.startswith("RMISR x4 ") for line in lines)  # the parameter counts follow


@pytest.mark.integration
def test_output_into_a_closed_pipe_ends_quietly_with_141():
    # `rmisr info | head -3`: the reader goes away; Unix tools stop quietly (128 + SIGPIPE), no traceback
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "monai_rmisr", "info"], stdout=write_end, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == b""


def test_a_result_line_into_a_closed_pipe_stops_the_command_quietly(monkeypatch, capsys):
    # rmisr pacs prints each derived series' UID inside a block that reports OSErrors as its own failures: a closed
    # pipe must not be one of them (it was "rmisr pacs: error: [Errno 32] Broken pipe", exit 1)
    from monai_rmisr.cli import common

    class Closed:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Closed())
    with pytest.raises(common.OutputClosedError):
        try:
            common.print_result("1.2.3")
        except OSError:
            pytest.fail("an OSError reached the command")


@pytest.mark.parametrize(
    "argv",
    [
        ["average-weights", "", "a.pt", "b.pt"],
        ["export-corpus", ""],
        ["listen", "--spool", "", "--scale", "2"],
    ],
)
def test_an_empty_output_path_is_an_argument_error(argv, capsys):
    # Path("") is the current folder: "output '.' already exists" named a path the user never typed
    with pytest.raises(SystemExit) as failure:
        main(argv)
    assert failure.value.code == 2 and "an empty path; give a file or folder name" in capsys.readouterr().err


@pytest.mark.integration
def test_sigterm_ends_a_command_like_ctrl_c_leaving_nothing(tmp_path):
    # a one-shot `rmisr pacs` under `timeout` or systemd left its temporary folder of patient images behind
    import numpy as np
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (2500, 2500), dtype=np.uint8)).save(tmp_path / "a.png")
    (tmp_path / "out").mkdir()
    code = (
        "import os, signal, sys, threading\n"
        "from monai_rmisr.cli import main\n"
        "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
        f"sys.exit(main(['upscale', {str(tmp_path / 'a.png')!r}, '-o', {str(tmp_path / 'out' / 'a.png')!r}, "
        "'--scale', '4', '--model', 'bicubic', '--self-ensemble', '-q']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 143, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "rmisr upscale: error: terminated (SIGTERM)."
    assert list((tmp_path / "out").iterdir()) == []


def _imported_after(code: str) -> set[str]:
    """Top-level module names a fresh interpreter has imported after running ``code`` (printed as JSON)."""
    script = f"import json, runpy, sys\n{code}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    root = Path(__file__).resolve().parents[1]  # "-c" puts the working folder first on sys.path: this checkout
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True, cwd=root
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_help_and_argument_errors_import_neither_torch_nor_monai():
    # `rmisr --help` took ~9 s when the package imported torch and MONAI first; now ~0.2 s
    for argv in (["--help"], ["upscale"]):  # the second is an argparse error (missing arguments)
        code = (
            f"sys.argv = ['rmisr', *{argv!r}]\n"
            "try:\n    runpy.run_module('monai_rmisr', run_name='__main__')\nexcept SystemExit as exit:\n"
            "    assert exit.code in (0, 2), exit.code"
        )
        modules = _imported_after(code)
        assert "monai_rmisr" in modules
        assert not modules & {"torch", "monai", "numpy"}, argv


@pytest.mark.integration
def test_the_public_api_is_imported_lazily_and_still_there():
    assert "torch" not in _imported_after("import monai_rmisr")
    modules = _imported_after("from monai_rmisr import super_resolve, RMISR; assert callable(super_resolve)")
    assert {"torch", "monai"} <= modules
    import monai_rmisr

    assert set(monai_rmisr.__all__) <= set(dir(monai_rmisr))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        monai_rmisr.nope  # noqa: B018


@pytest.mark.integration
def test_a_bundle_config_finds_the_networks_after_importing_the_package():
    # MONAI's locator only scans modules already imported: `$import monai_rmisr` must bring the networks
    code = (
        "from monai.bundle import ConfigParser\n"
        "net = {'_target_': 'RMISR', 'spatial_dims': 2, 'in_channels': 1}\n"
        "parser = ConfigParser({'imports': ['$import monai_rmisr'], 'net': net})\n"
        "assert type(parser.get_parsed_content('net')).__name__ == 'RMISR'"
    )
    assert "monai_rmisr" in _imported_after(code)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    from monai_rmisr.cli import upscale

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(upscale, "_upscale", interrupted)
    assert main(["upscale", "in.png", "-o", "out.png", "--scale", "2"]) == 130
    assert capsys.readouterr().err == "rmisr upscale: error: interrupted (Ctrl-C).\n"


def test_a_negative_roi_or_window_reaches_its_own_check(tmp_path, capsys):
    """argparse took `--roi -5,0,10,10` for an option ("expected one argument"); the lung window's centre is
    negative (`--window -600,1500`)."""
    import numpy as np
    from PIL import Image

    from monai_rmisr.cli import _joined_negative_values

    assert _joined_negative_values(["view", "a.png", "--window", "-600,1500", "--roi", "1,2,3,4"]) == [
        "view", "a.png", "--window=-600,1500", "--roi", "1,2,3,4",
    ]  # fmt: skip
    assert _joined_negative_values(["upscale", "--roi", "-q"]) == ["upscale", "--roi", "-q"]  # an option stays one
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "a.png")
    code = main(
        ["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", "2", "--roi", "-5,0,10,10"]
    )
    assert code == 2 and "--roi '-5,0,10,10' is empty or negative" in capsys.readouterr().err


@pytest.mark.integration
def test_a_second_ctrl_c_stops_a_watcher_waiting_out_a_pacs_retry_back_off(tmp_path):
    """The first Ctrl-C lets the watcher finish what it holds (here: the retries of a PACS that does not answer, with
    their back-off); the second stops it at once, exit 130."""
    import socket
    import time

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Ctrl-C as in a terminal: a background job (CI under nohup) starts with SIGINT ignored
    code = (
        "import os, signal, sys, threading, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from monai_rmisr.cli import main\n"
        "def interrupt():\n"
        "    while signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # until the watcher's is in place\n"
        "        time.sleep(0.05)\n"
        "    time.sleep(1.0)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(1.0)\n"
        "    print('second', time.monotonic(), file=sys.stderr, flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "threading.Thread(target=interrupt, daemon=True).start()\n"
        f"sys.exit(main(['pacs', '--url', 'http://127.0.0.1:{port}/dicom-web', '--scale', '2', '--watch', "
        f"'--state', {str(tmp_path / 'state.json')!r}, '--retries', '6', '--interval', '600']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    finished = time.monotonic()
    assert done.returncode == 130, done.stderr
    assert "stopping after the series in hand (SIGINT again to stop at once)" in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "rmisr pacs: error: interrupted (Ctrl-C)."
    second = float(next(line.split()[1] for line in done.stderr.splitlines() if line.startswith("second ")))
    assert finished - second < 10  # not the retries' back-off (6 retries: about a minute)


DERIVING_COMMANDS = {
    "upscale": ["upscale", "in.dcm", "-o", "out.dcm"],
    "pacs": ["pacs", "--url", "http://127.0.0.1:9/dicom-web", "--study", "1.2.3"],
    "listen": ["listen", "--spool", "spool", "--forward", "PACS@127.0.0.1:104"],
}


@pytest.mark.parametrize("command", sorted(DERIVING_COMMANDS))
def test_every_deriving_command_takes_the_same_derivation_options(command):
    """``rmisr pacs`` and ``rmisr listen`` derive as ``rmisr upscale`` does, with the same options (they had only
    --scale, --model, --tile and --device: no through-plane series, no bfloat16, no skipping a broken slice)."""
    from monai_rmisr.cli import build_parser
    from monai_rmisr.cli.common import derivation_upscaler

    options = ["--scale", "3", "--model", "rmisr_meta", "--tile", "64", "--tile-statistics", "tile", "--axis", "z"]
    options += ["--self-ensemble", "--precision", "float32", "--device", "cpu", "--skip-bad-slices"]
    upscaler = derivation_upscaler(build_parser().parse_args([*DERIVING_COMMANDS[command], *options]))
    assert (upscaler.scale, upscaler.model_name, upscaler.tile, upscaler.tile_statistics) == (
        3.0,
        "rmisr_meta",
        64,
        "tile",
    )
    assert (upscaler.axis, upscaler.self_ensemble, upscaler.compute_precision) == ("z", True, "float32")
    assert upscaler.skip_bad_slices and upscaler.roi is None
    defaults = derivation_upscaler(build_parser().parse_args([*DERIVING_COMMANDS[command], "--scale", "2"]))
    assert (defaults.axis, defaults.self_ensemble, defaults.skip_bad_slices, defaults.tile) == (
        "xy",
        False,
        False,
        "auto",
    )


@pytest.mark.parametrize("command", ["pacs", "listen"])
def test_a_region_is_for_one_image_not_for_a_service(command, capsys):
    """--roi names pixels of one image: a service's series differ, so it takes none (argparse: exit 2)."""
    with pytest.raises(SystemExit) as stop:
        main([*DERIVING_COMMANDS[command], "--scale", "2", "--roi", "0,0,8,8"])
    assert stop.value.code == 2 and "unrecognized arguments: --roi" in capsys.readouterr().err


def test_a_bad_derivation_option_is_refused_by_a_service_naming_it(tmp_path, capsys):
    spool = tmp_path / "spool"
    listen = ["listen", "--spool", str(spool), "--forward", "PACS@127.0.0.1:104", "--scale", "2"]
    assert main([*listen, "--tile-statistics", "pixel"]) == 2
    assert "tile statistics must be one of image, tile" in capsys.readouterr().err and not spool.exists()
    assert main([*DERIVING_COMMANDS["pacs"], "--scale", "2", "--precision", "float64"]) == 2
    assert "precision must be one of float32, bfloat16, auto" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "command"),
    [(["upscale", "a.png", "-o", "b.png", "--scale", "2", "--modle", "x"], "upscale"), (["info", "path"], "info")],
)
def test_a_word_a_command_does_not_know_is_named_under_that_command_s_usage(argv, command, capsys):
    # it was "rmisr: error" under the top-level usage, which lists no option of the command
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.startswith(f"usage: rmisr {command} ")
    assert (
        f"rmisr {command}: error: unrecognized arguments: {' '.join(argv[-2:] if command == 'upscale' else argv[-1:])}"
        in err
    )


def test_an_unknown_option_before_the_command_is_named_under_rmisr_s_usage(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--bogus", "info"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "rmisr: error: unrecognized arguments: --bogus" in err
