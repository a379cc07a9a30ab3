"""``rmisr pacs --watch``: poll a PACS for new image series and super-resolve each one once.

Every ``interval`` seconds the watcher asks the PACS (QIDO-RS) for series (of one study with
``--study``, else of all studies, optionally only given modalities), leaves out series it derived
itself and series already done, and queues the rest, at most ``queue_size`` at a time (the others
wait for a later poll). Each queued series goes through :func:`~monai_rmisr.pacs.roundtrip.derive_series`
and :func:`~monai_rmisr.pacs.roundtrip.store_series`.

The state file (JSON, written atomically after every change) records each source series as
``pending`` (derived files kept under ``<state>.work/<series>/`` until stored), ``done`` (with the
new series UIDs) or ``failed`` (after ``max_attempts`` tries, waiting ``backoff * 2**(k-1)`` seconds
before try k+1, at most an hour; at once where its images cannot be derived, a ``ValueError``: what ``rmisr
upscale`` refuses does not change, as the listener also holds). A watcher killed at any point and started again
with the same state file makes no second derived series: a ``pending`` series is stored again from its kept files (the
same SOP instances, which a PACS keeps once). SIGTERM and SIGINT stop the watcher after the
series in hand; a series interrupted halfway stays ``pending``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io.output import OutputPathError, check_folder_takes_files
from .connection import PacsError, pacs_call
from .dicom_json import first_number, first_value
from .roundtrip import (
    SeriesTooLargeError,
    derive_series,
    derived_files,
    earlier_derivation,
    is_source_series,
    series_uids,
    store_series,
    study_derivations,
)
from .service import (
    check_count,
    check_seconds,
    install_signal_handlers,
    is_dicom_uid,
    retry_delay,
    write_json_atomically,
)

__all__ = ["WatchState", "watch"]

logger = logging.getLogger(__name__)


@dataclass
class WatchState:
    """What the watcher has done, kept in a JSON file so that a restart repeats nothing.

    ``series`` maps a source SeriesInstanceUID to ``{"study", "status", "attempts", "next_try",
    "outputs", "error"}``; ``ours`` lists the derived series, so they are never taken as new input.
    """

    path: Path
    series: dict[str, dict[str, Any]] = field(default_factory=dict)
    ours: set[str] = field(default_factory=set)
    #: per series not yet taken: ``(instance count the PACS listed, when it was first listed with that count)``;
    #: in memory only (a restarted watcher waits ``settle`` once more)
    arrivals: dict[str, tuple[float | None, float]] = field(default_factory=dict)

    def settled(self, series_uid: str, count: float | None, now: float, settle: float) -> bool:
        """Whether a series the PACS lists with ``count`` instances has been listed with that count for ``settle``
        seconds: slices still arriving change the count, and a series taken before its last slice came would be
        derived from part of it (and recorded done). ``count`` None (a PACS that does not say): listed that long."""
        if settle <= 0:
            return True
        known = self.arrivals.get(series_uid)
        if known is None or known[0] != count:
            self.arrivals[series_uid] = (count, now)
            return False
        return now - known[1] >= settle

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WatchState:
        """The state in ``path``, or an empty one if the file does not exist yet.

        Raises:
            ValueError: the file exists but is not a state file (it is never overwritten then), or its folder does
                not exist (a misspelt path would otherwise make folders anywhere the service may write) or takes no
                new files.
        """
        path = Path(path)
        if not path.parent.is_dir():
            raise ValueError(f"--state '{path}': its folder '{path.parent}' does not exist; make it first.")
        try:  # it is rewritten after every series (and its .work folder made beside it): refused now, not then
            check_folder_takes_files(path.parent, named=path)
        except OutputPathError as err:
            raise ValueError(f"--state: {err}") from err
        if not path.exists():
            return cls(path)
        try:
            data = json.loads(path.read_text())
            return cls(path, dict(data["series"]), set(data["ours"]))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"--state '{path}' is not a watch state file ({err}); give a new path.") from err

    def save(self) -> None:
        """Write the state atomically (a temporary file beside it, then a rename)."""
        write_json_atomically(self.path, {"series": self.series, "ours": sorted(self.ours)})

    @property
    def work_dir(self) -> Path:
        return self.path.with_name(self.path.name + ".work")

    def wants(self, series_uid: str, now: float) -> bool:
        """Whether ``series_uid`` should be (re)tried now: never seen, pending or due for a retry, or ``new``, which a
        saved entry is only when its first try was cut short (a second SIGTERM / Ctrl-C while it was derived; such a
        series was never tried again)."""
        if series_uid in self.ours:
            return False
        entry = self.series.get(series_uid)
        return entry is None or (entry["status"] in ("new", "pending", "retry") and entry["next_try"] <= now)


def _poll(
    client: Any, state: WatchState, study: str | None, modalities: Sequence[str], now: float, settle: float = 0.0
) -> tuple[list[tuple[str, str]], int]:
    """(study, series) pairs the PACS has and the state wants now, oldest first as the PACS lists them, and how
    many series the PACS listed (0: none of ``study``, or of ``modalities``, is there). One search per modality:
    exact matching is what every PACS does with a QIDO-RS value (a DICOM multi-value ``CT\\MR`` matched nothing in
    Orthanc). A series never taken is wanted once its instance count has stayed the same for ``settle`` seconds
    (:meth:`WatchState.settled`)."""
    found: list[dict[str, Any]] = []
    for filters in [{"Modality": modality} for modality in modalities] or [None]:
        found += pacs_call(
            "searching for series",
            client.search_for_series,
            study,
            search_filters=filters,
            fields=["00201209"],  # NumberOfSeriesRelatedInstances: how many have arrived
            get_remaining=True,
        )
    wanted, seen = [], set()
    for entry in found:
        series_uid = str(first_value(entry, "0020000E"))  # a PACS leaving it out lists "None": skipped below
        study_uid = str(first_value(entry, "0020000D") or study)
        if not is_dicom_uid(series_uid):  # it names a work folder (removed after the series): never '..'
            logger.warning(
                "the PACS listed a series with an invalid UID (%r in study %r); skipped", series_uid, study_uid
            )
            continue
        if series_uid not in seen and state.wants(series_uid, now):
            arriving = series_uid not in state.series and not state.settled(
                series_uid, first_number(entry, "00201209"), now, settle
            )
            if arriving:
                logger.debug("series %s: still arriving, or listed less than %.0f s ago", series_uid, settle)
            else:  # its clock stays until it is taken (a queue too short for it this poll leaves it settled)
                wanted.append((study_uid, series_uid))
        seen.add(series_uid)
    for series_uid in [uid for uid in state.arrivals if uid not in seen or uid in state.series]:
        del state.arrivals[series_uid]  # gone from the PACS, or taken: no clock kept
    return wanted, len(seen)


def _process(
    client: Any,
    upscaler: Any,
    state: WatchState,
    study_uid: str,
    series_uid: str,
    max_attempts: int,
    backoff: float,
    max_instances: int | None,
    derived_in_study: dict[str, dict[str, set[str]]],
) -> None:
    """Derive and store one series (or find it derived before), updating its entry in ``state``.

    ``derived_in_study`` caches :func:`~monai_rmisr.pacs.roundtrip.study_derivations` per study for one poll, so
    a poll of many new series of one study reads its derived series once.
    """
    entry = state.series.setdefault(
        series_uid, {"study": study_uid, "status": "new", "attempts": 0, "next_try": 0.0, "outputs": [], "error": ""}
    )
    state.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # derived patient images wait here: owner only
    state.work_dir.chmod(0o700)
    folder = state.work_dir / series_uid
    deriving = False
    try:
        files = derived_files(folder / "derived") if entry["status"] == "pending" else []
        if not files:
            if not is_source_series(client, study_uid, series_uid):
                entry.update(
                    status="skipped",
                    error="no image to super-resolve (a report, a segmentation, an RT dose, ...), or derived by "
                    "monai-rmisr",
                )
                return
            if study_uid not in derived_in_study:
                derived_in_study[study_uid] = study_derivations(client, upscaler, study_uid)
            earlier = earlier_derivation(client, study_uid, series_uid, derived_in_study[study_uid])
            if earlier:  # by a one-shot run, or a watcher whose state file was lost
                entry.update(status="done", outputs=earlier, error="")
                state.ours.update(earlier)
                return
            shutil.rmtree(folder, ignore_errors=True)
            deriving = True  # a ValueError from here on is the series' images (not the PACS, not the disk)
            files = derive_series(client, upscaler, study_uid, series_uid, folder, max_instances)
            deriving = False
            entry.update(status="pending", outputs=series_uids(files))
            state.ours.update(entry["outputs"])
            state.save()
        entry["outputs"] = store_series(client, study_uid, files)
        entry.update(status="done", error="")
        shutil.rmtree(folder, ignore_errors=True)
        logger.info("series %s -> %s", series_uid, ", ".join(entry["outputs"]))
    except SeriesTooLargeError as err:  # not tried again: it stays too large
        shutil.rmtree(folder, ignore_errors=True)
        entry.update(status="skipped", error=str(err))
        logger.warning("%s", err)
    except Exception as err:  # one series never stops the watcher; it is retried with back-off
        entry["attempts"] += 1
        entry["error"] = " ".join(str(err).split())
        if deriving and isinstance(err, ValueError) and not isinstance(err, OutputPathError):
            # its images cannot be derived (as rmisr upscale refuses them): not again
            shutil.rmtree(folder, ignore_errors=True)
            entry["status"] = "failed"
            logger.error("series %s cannot be derived, not tried again: %s", series_uid, entry["error"])
        elif entry["attempts"] >= max_attempts:
            entry["status"] = "failed"
            logger.error("series %s failed %d times, giving up: %s", series_uid, entry["attempts"], entry["error"])
        else:
            if entry["status"] != "pending":
                entry["status"] = "retry"
            delay = retry_delay(backoff, entry["attempts"])
            entry["next_try"] = time.time() + delay
            logger.warning(
                "series %s failed (try %d), retrying in %.0f s: %s",
                series_uid,
                entry["attempts"],
                delay,
                entry["error"],
            )
    finally:
        state.save()


def watch(
    client: Any,
    upscaler: Any,
    state_file: str | os.PathLike[str],
    study: str | None = None,
    modalities: Sequence[str] = (),
    interval: float = 30.0,
    queue_size: int = 16,
    max_attempts: int = 5,
    backoff: float = 30.0,
    max_instances: int | None = None,
    stop: threading.Event | None = None,
    max_polls: int | None = None,
    on_poll: Callable[[WatchState], None] | None = None,
    settle: float = 60.0,
) -> WatchState:
    """Poll and process until ``stop`` is set (SIGTERM / SIGINT set it) or after ``max_polls`` polls.

    A failing poll (the PACS is down) is logged and tried again at the next interval. A series with more than
    ``max_instances`` image instances (None: no limit) is skipped, not tried again. A new series is taken once the
    PACS has listed it with the same number of instances for ``settle`` seconds (0: at once), so that one whose
    slices are still arriving is not derived from part of them; the first poll that lists it starts the clock.

    Returns:
        the final state (also in ``state_file``).
    """
    check_seconds(interval, "interval")
    check_seconds(backoff, "backoff")
    check_seconds(settle, "settle")
    check_count(queue_size, "queue-size")
    check_count(max_attempts, "max-attempts")
    if max_instances is not None:
        check_count(max_instances, "max-instances")
    state = WatchState.load(state_file)
    stop = stop or threading.Event()
    restore = install_signal_handlers(stop)
    polls = 0
    study_listed = True  # a --study the PACS lists no series of is said once, and again each time it goes
    try:
        while not stop.is_set():
            queue: deque[tuple[str, str]] = deque()
            try:
                wanted, listed = _poll(client, state, study, modalities, time.time(), settle)
                if study is not None and study_listed and not listed:
                    logger.warning(
                        "the PACS lists no %sseries of study %s: a mistyped UID, or a study still to come "
                        "(watching for it)",
                        f"{'/'.join(modalities)} " if modalities else "",
                        study,
                    )
                study_listed = bool(listed)
                queue.extend(wanted[:queue_size])  # bounded: the rest waits for the next poll
                logger.info(
                    "poll %d: %d series new or due again (each checked before it is derived)", polls + 1, len(wanted)
                )
                if len(wanted) > queue_size:
                    logger.info("%d series waiting; %d taken now, the rest at the next poll", len(wanted), queue_size)
            except PacsError as err:
                logger.warning("poll failed, trying again in %.0f s: %s", interval, err)
            seen: dict[str, dict[str, set[str]]] = {}  # each study's derived series, read once per poll
            while queue and not stop.is_set():
                study_uid, series_uid = queue.popleft()
                _process(client, upscaler, state, study_uid, series_uid, max_attempts, backoff, max_instances, seen)
            polls += 1
            if on_poll is not None:
                on_poll(state)
            if max_polls is not None and polls >= max_polls:
                break
            stop.wait(interval)
    finally:
        restore()
    return state
