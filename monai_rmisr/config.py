"""Values that reach the bundle configs from the command line.

``python -m monai.bundle run ... --resume false`` hands the config the *string* ``"false"``
(the CLI parses only Python literals: ``False`` is a bool, ``false`` is not), and a non-empty
string is true in Python. The configs therefore read every on/off setting through
:func:`config_flag`, all at once with :func:`config_flags` into one ``flags`` key: each use
site reads ``@flags['amp']``, and ``train.json``'s ``preflight`` checks every setting before
a run writes anything, so a new setting is named in one place. The same goes for ``null``:
the JSON default of an optional setting, but the *string* ``"null"`` when typed on the
command line; :func:`config_count` reads the counts that ``null`` switches off,
:func:`config_file` the optional input files, :func:`config_network` the optional trained
networks (a teacher), :func:`config_mapping` the optional name maps and :func:`config_bit_range`
the optional bit-depth range. :func:`config_file` and :func:`config_network` also check such a
file before a run starts writing its output.

The bundle CLI also takes *every* ``--NAME VALUE`` as a setting: ``--sclae 4`` or ``--help`` adds a
key nobody reads, and the run goes ahead without it. :func:`check_config_keys` refuses top-level
keys that no config of the bundle has. :func:`config_call` reads a component of the config (the
``network_def``) as the JSON constructor call that :func:`monai_rmisr.inference.load_checkpoint`
reads from a sidecar file; :func:`config_values` lists every literal value of the running config
(what a run records of its settings). MONAI hands an expression only the values it references, never
the config, so these three find the parser that is resolving them on the call stack
(:func:`_resolving_parser`).
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from monai.bundle import DEFAULT_EXP_MGMT_SETTINGS, ConfigComponent, ConfigParser, ConfigWorkflow

from .networks.utils import check_scale
from .transforms.quantize import check_bit_range

__all__ = [
    "BundleRunError",
    "PreflightError",
    "TrainingTerminated",
    "bundle_cli_process",
    "check_config_keys",
    "config_bit_range",
    "config_call",
    "config_count",
    "config_file",
    "config_flag",
    "config_flags",
    "config_grey_channels",
    "config_mapping",
    "config_network",
    "config_values",
    "config_whole_numbers",
    "default_bundle_root",
    "exit_on_ctrl_c",
    "exit_quietly_on_run_errors",
    "hand_ctrl_c_to_python",
    "run_preflight",
]

#: Files of a bundle's ``configs`` folder that are not configs: the metadata and its schema.
NOT_CONFIGS = frozenset({"metadata.json", "meta_schema.json"})

T = TypeVar("T")

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_NOT_GIVEN = frozenset({"null", "none"})
_NO_LIMIT = _NOT_GIVEN | {"all"}


def _not_given(value: Any) -> bool:
    """Whether ``value`` is None or, in any case, the word null or none."""
    return value is None or (isinstance(value, str) and value.strip().lower() in _NOT_GIVEN)


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


def config_count(value: Any, name: str) -> int | None:
    """``value`` as a positive count, or None for "no limit".

    Accepts a positive int, its digits as a string, and None or (any case) the words null,
    none or all for no limit: ``--keep_checkpoints null`` on the command line means what
    ``"keep_checkpoints": null`` means in a config.

    Raises:
        ValueError: anything else (0, negative numbers, bools, other words), naming ``name``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _NO_LIMIT:
            return None
        if word.isdigit():
            value = int(word)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"--{name} must be a positive whole number or null (no limit), got {value!r}.")


def config_whole_numbers(minimum: int, **settings: Any) -> dict[str, int]:
    """Each keyword argument, a count of epochs, iterations, images or pixels: a whole number >= ``minimum``.

    Not a float (``--epoch_length 2.5`` would never end its epoch, ``--max_epochs 2.5`` run three), not a bool,
    not text: the command line gives ``--batch_size 8`` as the int 8.

    Raises:
        ValueError: for the first setting that is not, naming it.
    """
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"--{name} must be a whole number >= {minimum}, got {value!r}.")
    return dict(settings)


def config_grey_channels(value: Any, name: str = "in_channels") -> int:
    """``value`` if it is 1: training and validation images are grey, one channel (colour is converted with the
    luma weights), so a network of more input channels fails at its first step.

    Raises:
        ValueError: anything else, naming the setting.
    """
    if isinstance(value, bool) or value != 1:
        raise ValueError(
            f"--{name} must be 1, got {value!r}: the training images are grey (colour images are converted with the "
            "luma weights, 0.299 R + 0.587 G + 0.114 B)."
        )
    return 1


def config_file(value: Any, name: str, required: bool = False) -> str | None:
    """``value`` as the path of an existing file, or None when not given.

    None and (any case) the words null and none mean "not given": ``--init_weights null`` on
    the command line switches off what a config such as ``finetune_retina.json`` sets. (Python's
    ``None`` typed there never reaches the config: MONAI drops overrides that parse to None.)

    Raises:
        FileNotFoundError: ``value`` is not an existing file (a folder or a misspelt path),
            naming the setting.
        ValueError: ``required`` and not given.
    """
    if _not_given(value):
        if required:
            raise ValueError(f"--{name}: this run needs a file here, not {value!r}.")
        return None
    path = os.fspath(value)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--{name}: no such file: {path!r}.")
    return path


def config_network(value: Any, name: str) -> Any:
    """The trained network ``value`` names, a map from scales to such networks, or None when not given.

    A network is named by a registry name (``rmisr_vp_x4``: its shipped weights) or a checkpoint file
    with its architecture sidecar (a run's ``model.pt`` and ``model.json``), read by
    :func:`monai_rmisr.inference.load_checkpoint`. A map arrives as a dict, which is what the bundle CLI
    makes of ``--teacher "{2: 'rmisr_bl_x2', 3: 'rmisr_bl_x3'}"`` (a JSON config's keys are text:
    ``"2"``). None and (any case) the words null and none mean "not given".

    Raises:
        FileNotFoundError, ValueError: no such model or file, weights that do not fit their architecture,
            or a key that is no scale, naming the setting.
    """
    if _not_given(value):
        return None
    from .inference.pretrained import load_checkpoint  # the inference package is not needed to read a config

    def load(model: Any) -> Any:
        try:
            return load_checkpoint(os.fspath(model))
        except FileNotFoundError as e:
            raise FileNotFoundError(f"--{name}: {e}") from e
        except (TypeError, ValueError) as e:
            raise ValueError(f"--{name}: {e}") from e

    if not isinstance(value, dict):
        return load(value)
    networks = {}
    for key, model in value.items():
        try:
            scale = check_scale(float(key) if isinstance(key, str) else key)
        except (TypeError, ValueError):
            raise ValueError(f"--{name}: the keys of a map of models are scales > 1, got {key!r}.") from None
        networks[scale] = load(model)
    return networks


def config_mapping(value: Any, name: str) -> dict[str, str] | None:
    """``value`` as a map from text to text, or None when not given.

    None and (any case) the words null and none mean "not given": ``--init_rename null`` on the
    command line switches off what ``vp.json`` sets. A map arrives as a dict, which is what the
    bundle CLI makes of ``--init_rename "{'trunk.': 'sr_trunk.'}"``.

    Raises:
        ValueError: anything else (a bare word, a list, a map with non-text keys or values),
            naming the setting.
    """
    if _not_given(value):
        return None
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise ValueError(
        f"--{name} must be a map of name prefixes such as \"{{'trunk.': 'sr_trunk.'}}\" or null, got {value!r}."
    )


def config_options(value: Any, name: str) -> dict[str, Any] | None:
    """``value`` as keyword arguments (a map with text keys), or None when not given.

    None and (any case) the words null and none mean "not given" (``--medical_degradation null``);
    a map arrives as a dict, which is what the bundle CLI makes of ``--medical_degradation "{'blur_sigma': 1}"``.

    Raises:
        ValueError: anything else (a bare word, a list, a map with non-text keys), naming the setting.
    """
    if _not_given(value):
        return None
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return dict(value)
    raise ValueError(f"--{name} must be a map of options such as \"{{'blur_sigma': 1.0}}\" or null, got {value!r}.")


def config_nonnegative(value: Any, name: str) -> float:
    """``value`` as a number >= 0: a number or its digits as text (not a bool, not null).

    Raises:
        ValueError: anything else, naming the setting.
    """
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number) and number >= 0:
        return float(number)
    raise ValueError(f"--{name} must be a number >= 0, got {value!r}.")


def config_bit_range(value: Any, name: str, clipped: bool = True) -> tuple[int, int] | None:
    """``value`` as a ``(lowest, highest)`` bit-depth range, or None when not given.

    Accepts two whole numbers (``--lr_bits "[8, 16]"``), one (``--lr_bits 8``: always 8 bits), and
    None or (any case) the words null and none for "not quantised". ``clipped`` is whether the
    values are clipped to [0, 1] first (``clip_lr``): quantising needs that.

    Raises:
        ValueError: anything else, bit depths outside ``1 <= lowest <= highest <= 24``, or a range
            with ``clipped`` False, naming ``name``.
    """
    if _not_given(value):
        return None
    if not clipped:
        raise ValueError(f"--{name} quantises the clipped LR: with --clip_lr false give --{name} null too.")
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        return check_bit_range(value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--{name}: {e} (null: not quantised)") from e


def default_bundle_root() -> str:
    """The bundle folder of the running config: the default of every config's ``bundle_root``.

    In this order:

    1. the folder holding the ``configs`` folder of the config files being run, when a MONAI
       ``ConfigWorkflow`` runs them (``python -m monai.bundle run --config_file .../configs/inference.json``,
       from any folder and any copy of the bundle; the folder MONAI itself puts on ``sys.path``);
    2. the current folder, when it is a bundle (it holds ``configs/metadata.json``);
    3. ``bundles/rmisr`` of the checkout this package is imported from (a development install).

    ``--bundle_root`` overrides it.

    Raises:
        FileNotFoundError: none of these is a bundle folder; the message says to give ``--bundle_root``.
    """
    workflow = _caller_self(ConfigWorkflow)
    root = getattr(workflow, "config_root_path", None)
    if isinstance(root, Path):
        return os.fspath(root.parent if root.name == "configs" else root)
    if Path("configs", "metadata.json").is_file():
        return "."
    checkout = Path(__file__).resolve().parents[1] / "bundles" / "rmisr"
    if (checkout / "configs" / "metadata.json").is_file():
        return os.fspath(checkout)
    raise FileNotFoundError(
        "cannot tell the bundle folder: give --bundle_root /path/to/rmisr (the folder holding configs/ and models/), "
        "or run from that folder."
    )


def _resolving_parser() -> ConfigParser:
    """The ``ConfigParser`` whose ``get_parsed_content`` is evaluating the calling config expression.

    Raises:
        RuntimeError: not called while a MONAI config is being resolved.
    """
    parser = _caller_self(ConfigParser)
    if parser is None:
        raise RuntimeError("this function reads the bundle config that calls it: use it inside a config expression.")
    return parser


def _caller_self(kind: type[T]) -> T | None:
    """The nearest ``self`` of type ``kind`` among the callers' frames (MONAI's parser or workflow), or None."""
    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, kind):
            return owner
        frame = frame.f_back
    return None


def check_config_keys(configs_dir: str | os.PathLike[str], merged: Sequence[str] | None = None) -> list[str]:
    """Refuse top-level keys of the running config that none of the configs it merged has.

    ``merged`` names the config files of ``configs_dir`` that make up the run (``None``: all of them): each config
    lists itself under ``config_files`` (``train.json`` and ``inference.json``) or ``+config_files`` (a variant,
    which MONAI appends), so the running config's ``config_files`` is the run's list. The known keys are those
    files' top-level keys, those of any config in ``configs_dir`` that does not list itself under its own name (a
    user's own, or a copy of a variant), MONAI's ``_meta_`` and the keys that ``--tracking mlflow`` adds; never
    those of ``metadata.json`` and its schema. Call it in the config's preflight: a misspelt setting, ``--help``
    (which the bundle CLI takes as the setting ``help``), or a setting of a variant that the run does not merge
    (``--integer_scale_probability`` without ``meta.json``) then stops the run before it does anything.

    Returns:
        the running config's top-level keys, sorted.

    Raises:
        FileNotFoundError: ``configs_dir`` holds no config, or not one that ``merged`` names.
        ValueError: unknown keys, naming them (and the configs that have them).
    """
    configs_dir = Path(configs_dir)
    files = {
        path.name: path
        for path in sorted(configs_dir.glob("*"))
        if path.suffix in (".json", ".yaml", ".yml") and path.name not in NOT_CONFIGS
    }
    if not files:
        raise FileNotFoundError(f"--bundle_root: no configs in {os.fspath(configs_dir)!r}.")
    run_files = list(files) if merged is None else list(merged)
    missing = [name for name in run_files if name not in files]
    if missing:
        raise FileNotFoundError(f"--bundle_root: no {', '.join(missing)} in {os.fspath(configs_dir)!r}.")
    contents = {name: ConfigParser.load_config_file(path) for name, path in files.items()}
    keys_of = {name: {key.removeprefix("+").split("#")[0] for key in content} for name, content in contents.items()}
    # a config that does not list itself under its own name (a user's own, or a copy of a variant) counts as merged
    undeclared = {name for name, content in contents.items() if _listed_as(content) != [name]}
    variants = {name for name, content in contents.items() if "+config_files" in content} - undeclared
    known = {"_meta_"}.union(*(keys_of[name] for name in {*run_files, *undeclared}))
    for settings in DEFAULT_EXP_MGMT_SETTINGS.values():
        known.update(settings.get("configs", {}))
    keys = sorted(_resolving_parser().get())
    unknown = [key for key in keys if key not in known]
    if unknown:
        names = ", ".join(f"--{key}" for key in unknown)
        hints = ""
        bases = set(files) - variants - undeclared
        for key in unknown:
            base_owners = [name for name in sorted(bases) if key in keys_of[name]]
            variant_owners = [name for name in sorted(variants) if key in keys_of[name]]
            if base_owners:  # another kind of run's (a training setting on an inference run)
                hints += f" --{key} is a setting of {' and '.join(base_owners)} runs, not of this one."
            elif variant_owners:
                hints += f" --{key} is a setting of {' and '.join(variant_owners)}: merge it into --config_file."
        raise ValueError(
            f"unknown setting{'s' if len(unknown) > 1 else ''} {names}: not a top-level key of "
            f"{' or '.join(run_files)} in {os.fspath(configs_dir)!r} (misspelt? `python -m monai.bundle run` takes "
            f"every --NAME, --help too, as a setting).{hints}"
        )
    return keys


def check_unread_settings(
    configs_dir: str | os.PathLike[str],
    merged: Sequence[str],
    settings: Sequence[str],
    reason: str,
    argv: Sequence[str] | None = None,
) -> None:
    """Refuse one of ``settings`` given on the command line: top-level keys that the merged configs define but this
    run does not read (``evaluate.json`` inherits ``train.json``'s validation settings and scores the whole test
    split). Given is a setting named in ``argv`` (default ``sys.argv``: ``--NAME VALUE`` or ``--NAME=VALUE``, as
    ``python -m monai.bundle run`` takes it, or in the file its ``--args_file`` names) whose value is not what the
    configs ``merged`` (names in ``configs_dir``, the running config's ``config_files``) give: a value from a config
    of the user's own, merged with ``--config_file`` but not listed in ``config_files``, is no error, nor the default
    given again.

    Raises:
        ValueError: naming the settings given, their values and ``reason``.
    """
    configs_dir = Path(configs_dir)
    args = list(sys.argv if argv is None else argv)
    named = {arg[2:].split("=")[0] for arg in args if arg.startswith("--")}
    for arg, following in zip(args, [*args[1:], ""]):  # MONAI's --args_file: a file of the same settings
        path = arg.partition("=")[2] if arg.startswith("--args_file=") else following if arg == "--args_file" else ""
        if path and Path(path).is_file():
            named.update(ConfigParser.load_config_file(path))
    from_files = ConfigParser.load_config_files([os.fspath(configs_dir / name) for name in merged])
    parser = _resolving_parser()
    given = [
        f"--{key} {parser.get(key)!r}" for key in settings if key in named and parser.get(key) != from_files.get(key)
    ]
    if given:
        raise ValueError(f"{', '.join(given)}: not read by this run, which {reason}.")


def _listed_as(content: dict[str, Any]) -> Any:
    """The names a config file lists itself under (``config_files`` or ``+config_files``), None if neither."""
    return content.get("config_files", content.get("+config_files"))


def config_call(id: str) -> dict[str, Any]:
    """The component ``id`` of the running config as a constructor call: ``{"_target_": ..., **arguments}``.

    The arguments are resolved (``"@scale"`` becomes the scale), as the component receives them; the
    result is what :func:`monai_rmisr.inference.save_sidecar` writes, e.g. ``config_call("network_def")``
    gives ``{"_target_": "RMISR", "spatial_dims": 2, "in_channels": 1, "scale": 2, "image_residual": True}``.

    Raises:
        ValueError: ``id`` is not a component (a dict with ``_target_``).
    """
    parser = _resolving_parser()
    raw = parser[id]
    if not ConfigComponent.is_instantiable(raw):
        raise ValueError(f"config entry {id!r} is not a component with a '_target_', got {raw!r}.")
    call = {"_target_": raw["_target_"]}
    for key in raw:
        if key not in ConfigComponent.non_arg_keys:
            call[key] = parser.get_parsed_content(f"{id}#{key}")
    return call


#: How a config string marks a value that is not a literal: an expression, a reference, a macro.
_NOT_LITERAL = ("$", "@", "%")


def config_values() -> dict[str, Any]:
    """Every literal value of the running config, by the path a command line gives it (``"batch_size"``,
    ``"loss#sr_criterion"``), in the config's order: the run's settings as the configs and the command line made them.

    A leaf of the config's nested dicts is a value; so is a list as a whole. Left out: expressions, references and
    macros (strings beginning with ``$``, ``@`` or ``%``) and the lists and dicts holding one (a workflow's steps),
    and MONAI's ``_meta_`` (the bundle's metadata). A value that is not JSON (an array a program put into the
    config) is given as ``"<TYPE>"``.
    """
    values: dict[str, Any] = {}

    def collect(path: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                collect(f"{path}#{key}", item)
        elif not _holds_expression(value):
            values[path] = _as_json(value)

    for key, value in _resolving_parser().get().items():
        if key != "_meta_":
            collect(key, value)
    return values


def _holds_expression(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith(_NOT_LITERAL)
    if isinstance(value, dict):
        return any(_holds_expression(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_expression(item) for item in value)
    return False


def _as_json(value: Any) -> Any:
    """``value`` as JSON would read it back (a tuple as a list), or ``"<TYPE>"`` where it is no JSON."""
    try:
        return json.loads(json.dumps(value, allow_nan=True))
    except (TypeError, ValueError):
        return f"<{type(value).__name__}>"


class BundleRunError(Exception):
    """An end of a bundle run that its message says all about: uncaught (under ``python -m monai.bundle run``, also
    wrapped in MONAI's errors of config resolution), it ends the process with ``error: MESSAGE`` on stderr and
    ``exit_code``, without a traceback (``RMISR_TRACEBACK=1`` shows it), once :func:`exit_quietly_on_run_errors` has
    been called."""

    exit_code = 1


class PreflightError(BundleRunError):
    """A bundle run's settings or inputs failed its preflight: ``error`` is the failure's own error (a ``ValueError``
    naming the setting, a ``FileNotFoundError`` naming the file, ...), whose message this one is. Uncaught, it ends
    the process with that one line on stderr and exit code 2 (:func:`run_preflight`)."""

    exit_code = 2

    def __init__(self, error: BaseException):
        super().__init__(str(error) or type(error).__name__)
        self.error = error


#: Set to 1 to see the whole traceback of a run stopped by its preflight (what an uncaught error shows).
TRACEBACK_VARIABLE = "RMISR_TRACEBACK"
#: The errors of a bad setting or input (a ``ValueError`` naming the setting, a missing file, an undefined
#: reference, a value of the wrong type): a preflight turns these into :class:`PreflightError`; anything else (out of
#: memory, a fault in the code) keeps its traceback.
USER_ERRORS = (ValueError, LookupError, OSError, TypeError)


def run_preflight(id: str = "preflight") -> Any:
    """Resolve the running config's ``id`` (its list of checks: settings, input files, images; or one checked
    setting, such as ``checked_seed``, needed before the list) and return it.

    A config's ``initialize`` calls this instead of referencing ``@preflight``: a failing check then becomes a
    :class:`PreflightError` whose message is the failure's own (MONAI wraps it in its errors of config
    resolution, several levels deep). Uncaught, as under ``python -m monai.bundle run``, the process prints
    ``error: MESSAGE`` to stderr, without the traceback (``RMISR_TRACEBACK=1`` shows it), and exits with code 2:
    the CLI's exit code for a bad argument. Nothing has been written by then.

    Raises:
        PreflightError: a check failed; its ``__cause__`` chain holds the original error.
    """
    parser = _resolving_parser()
    try:
        return parser.get_parsed_content(id)
    except Exception as err:
        cause = _first_own_error(err)
        if not isinstance(cause, USER_ERRORS):  # a fault of the machine or of the code (out of memory): as it is
            raise
        exit_quietly_on_run_errors()
        raise PreflightError(cause) from err


def _first_own_error(error: BaseException) -> BaseException:
    """The outermost error of ``error``'s ``__cause__`` chain that is not one of MONAI's wrappers (its config
    resolution wraps each failing expression or component in a ``RuntimeError("Failed to ...")``): the failure's
    own error and message (ours, or MONAI's own, such as an undefined ``@reference``)."""
    chain = [error]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    for link in chain:
        traceback = link.__traceback__
        while traceback is not None and traceback.tb_next is not None:
            traceback = traceback.tb_next
        raised_in = "" if traceback is None else str(traceback.tb_frame.f_globals.get("__name__", ""))
        if not (raised_in.startswith("monai.") and str(link).startswith("Failed to ")):
            return link
    return chain[-1]


def exit_quietly_on_run_errors() -> None:
    """Make an uncaught :class:`BundleRunError` (found in the ``__cause__`` chain of MONAI's wrappers) end the process
    with its one line and its exit code (``sys.excepthook``; any other error goes to the hook that was there)."""
    if sys.excepthook is not _exit_on_run_error:
        _exit_on_run_error.previous = sys.excepthook  # type: ignore[attr-defined]
        sys.excepthook = _exit_on_run_error


def _exit_on_run_error(kind: type[BaseException], value: BaseException, traceback: Any) -> None:
    """``sys.excepthook`` while a :class:`BundleRunError` may go uncaught: such an error ends the process with its
    message and exit code; any other goes to the hook that was there before."""
    error: BaseException | None = value
    while error is not None and not isinstance(error, BundleRunError):
        error = error.__cause__
    if error is None or os.environ.get(TRACEBACK_VARIABLE, "") not in ("", "0"):
        _exit_on_run_error.previous(kind, value, traceback)  # type: ignore[attr-defined]
        return
    print(f"error: {error}", file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(error.exit_code)  # an excepthook cannot choose the exit code otherwise (the interpreter exits with 1)


_exit_on_run_error.previous = sys.__excepthook__  # type: ignore[attr-defined]

#: The exit status of a run ended by Ctrl-C (128 + SIGINT), as a shell reports it.
INTERRUPTED_EXIT = 130

#: What a bundle run stopped by Ctrl-C says (:func:`exit_on_ctrl_c`), by the run.
CTRL_C_MESSAGES = {
    "training": "training stopped by Ctrl-C before its first iteration (while it checked its settings, read its "
    "images or built its engines): run the same command again to start it.",
    "inference": "inference stopped by Ctrl-C: the outputs written so far are whole and kept (an output is written "
    "at once or not at all); run the same command again to do the rest (outputs that exist are skipped, unless "
    "--overwrite true).",
    "evaluation": "evaluation stopped by Ctrl-C before it finished: run the same command again.",
}


#: The exit status of a run ended by SIGTERM (128 + SIGTERM): ``kill``, ``timeout``, a job scheduler's cancel.
TERMINATED_EXIT = 143

#: What a bundle run stopped by SIGTERM says (:func:`exit_on_ctrl_c`), by the run: as for Ctrl-C.
SIGTERM_MESSAGES = {run: message.replace("by Ctrl-C", "by SIGTERM") for run, message in CTRL_C_MESSAGES.items()}


class TrainingTerminated(KeyboardInterrupt):
    """SIGTERM arrived while a trainer runs (:func:`hand_ctrl_c_to_python`): raised in the main thread, as Ctrl-C's
    ``KeyboardInterrupt`` is, for :class:`~monai_rmisr.engines.InterruptedRunHandler`, which names the checkpoint
    to resume from and exits with :data:`TERMINATED_EXIT`."""


def bundle_cli_process() -> bool:
    """Whether this process is ``python -m monai.bundle ...`` (torchrun's processes of it too): the command line,
    where a Ctrl-C should end the run with one line. A script, a notebook or a REPL that runs a bundle config keeps
    Python's ``KeyboardInterrupt``, which it may catch."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "monai.bundle.__main__"


def exit_on_ctrl_c(run: str = "training") -> None:
    """Under the bundle's command line (:func:`bundle_cli_process`), make a Ctrl-C end the run with one line
    (:data:`CTRL_C_MESSAGES`) and exit code :data:`INTERRUPTED_EXIT`, where it printed MONAI's and Python's
    tracebacks (each config's first ``initialize`` step).

    ``run``: ``"training"`` until its trainer starts (the preflight reads the data set's images, minutes for a large
    one, and the run builds its engines; nothing is kept by then that a new start does not make again): when an engine
    with an :class:`~monai_rmisr.engines.InterruptedRunHandler` starts, Ctrl-C is Python's ``KeyboardInterrupt``
    again (:func:`hand_ctrl_c_to_python`), for that handler, which names the checkpoint to resume from.
    ``"inference"`` and ``"evaluation"``: to the end of the process. Nothing changes where Python's own handler is
    not in place (a background job of a non-interactive shell ignores SIGINT, and keeps ignoring it), in another
    process than the command line's, or outside the main thread (where no signal handler can be set).

    Raises:
        ValueError: another ``run``.
    """
    if run not in CTRL_C_MESSAGES:
        raise ValueError(f"run must be one of {', '.join(CTRL_C_MESSAGES)}, got {run!r}.")
    if not bundle_cli_process() or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _CtrlCExit(CTRL_C_MESSAGES[run]))
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # the same for SIGTERM, exit 143 (it ended without a word)
        signal.signal(signal.SIGTERM, _CtrlCExit(SIGTERM_MESSAGES[run], TERMINATED_EXIT))


def hand_ctrl_c_to_python() -> None:
    """Give Ctrl-C back to Python's ``KeyboardInterrupt`` where :func:`exit_on_ctrl_c` had taken it (so it was
    Python's before): a trainer that starts, whose :class:`~monai_rmisr.engines.InterruptedRunHandler` takes it over;
    SIGTERM, taken the same way, then raises :class:`TrainingTerminated` for that handler."""
    if threading.current_thread() is not threading.main_thread():
        return
    if isinstance(signal.getsignal(signal.SIGINT), _CtrlCExit):
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if isinstance(signal.getsignal(signal.SIGTERM), _CtrlCExit):
        signal.signal(signal.SIGTERM, _raise_terminated)


def _raise_terminated(signum: int, frame: object) -> None:
    raise TrainingTerminated


class _CtrlCExit:
    """A SIGINT (or SIGTERM) handler: log ``message``, exit with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = INTERRUPTED_EXIT) -> None:
        self.message = message
        self.exit_code = exit_code

    def __call__(self, signum: int, frame: object) -> None:
        logging.getLogger("monai_rmisr").error(self.message)
        raise SystemExit(self.exit_code)
