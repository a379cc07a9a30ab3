"""The desktop viewer (``rmisr view``): pick a region with the mouse, a scale and a model, compare.

Like the paper's PyQt5 tool (section 5.4): the image on the left, where dragging a rectangle selects
the region to super-resolve (only that region is computed, so it answers in a second or two on a
CPU); the model, the mode (super-resolve the region, or check the model against it) and the
scale on the controls; bicubic and the model side by side on the right, with their Laplacian maps
(upscale) or error maps and scores (check) below. It is a matplotlib figure, so it opens in any
interactive backend (Tk, Qt, macOS) and, with ``--save``, renders to a file with no screen at all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.widgets import RadioButtons, RectangleSelector, Slider, TextBox

from ..inference.bicubic import BICUBIC
from ..inference.pretrained import list_pretrained
from ..io.output import atomic_output, check_output_path
from ..transforms.intensity import CT_WINDOWS
from .session import MODES, Comparison, ViewerSession

__all__ = ["SRViewer", "display_range"]

MODE_LABELS = {"upscale": "super-resolve region", "check": "check against region"}
#: Percentiles of the slice that set the display range when the file gives no window.
AUTO_PERCENTILES = (0.5, 99.5)
#: Characters per line of the status panel.
STATUS_WIDTH = 44
#: The most dots per inch a saved figure is rendered at (14 x 8.5 inches: 5600 x 3400 pixels).
MAX_SAVE_DPI = 400


def display_range(session: ViewerSession, window: str | Sequence[float] = "auto") -> tuple[float, float]:
    """``(low, high)`` file units shown black to white. Display only: the models never see it.

    Args:
        session: the open image (its current slice and metadata).
        window: ``"auto"`` (the DICOM file's first stored window, else the 0.5-99.5 percentiles
            of the slice), ``"full"`` (the slice's minimum to maximum), a CT preset of
            :data:`~monai_rmisr.transforms.intensity.CT_WINDOWS` (HU) or ``(centre, width)``. A window in the
            file's units (its own, or a ``CENTRE,WIDTH`` from it or a PACS) of a MONOCHROME1 image, which is read
            inverted (``inversion_sum - x``), is moved with it: its centre becomes ``inversion_sum - centre``.

    Raises:
        ValueError: an unknown preset, a width that is not positive, or a value that is not a finite number.
    """
    plane = session.plane
    if isinstance(window, str):
        name = window.strip().lower()
        if name == "full":
            low, high = float(plane.min()), float(plane.max())
        elif name == "auto":
            centre, width = session.image.meta.get("window_center"), session.image.meta.get("window_width")
            first = [v[0] if isinstance(v, (list, tuple)) else v for v in (centre, width)]
            if None not in first and float(first[1]) > 0:
                return display_range(session, [float(first[0]), float(first[1])])
            low, high = (float(v) for v in np.percentile(plane, AUTO_PERCENTILES))
        elif name in CT_WINDOWS:
            centre, width = CT_WINDOWS[name]
            return centre - width / 2, centre + width / 2
        else:
            parts = name.split(",")
            try:
                numbers = [float(p) for p in parts]
            except ValueError:
                numbers = []
            if len(parts) != 2 or len(numbers) != 2:
                raise ValueError(
                    f"--window must be auto, full, one of {', '.join(CT_WINDOWS)} or CENTRE,WIDTH (two numbers), "
                    f"got {window!r}."
                )
            return display_range(session, numbers)
        return (low, high) if high > low else (low, low + 1.0)
    centre, width = (float(v) for v in window)
    if not (math.isfinite(centre) and math.isfinite(width)):
        raise ValueError(f"the display window's centre and width must be finite numbers, got {centre:g}, {width:g}.")
    if not width > 0:
        raise ValueError(f"the display window's width must be > 0, got {width:g}.")
    meta = session.image.meta
    if meta.get("inverted") and meta.get("inversion_sum") is not None:
        # a window is given in the file's units (as a PACS shows them), but a MONOCHROME1 image is read inverted
        # (inversion_sum - x): its centre is there
        centre = float(meta["inversion_sum"]) - centre
    return centre - width / 2, centre + width / 2


def _command_lines(command: str, width: int = STATUS_WIDTH) -> list[str]:
    """A shell command cut between words into lines of about ``width`` characters."""
    lines = [""]
    for word in command.split(" "):
        if lines[-1] and len(lines[-1]) + 1 + len(word) > width:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return lines


class SRViewer:
    """The viewer's figure and its controls, over a :class:`~monai_rmisr.viewer.session.ViewerSession`.

    Everything the mouse does is also a method (:meth:`select`, :meth:`set_model`,
    :meth:`set_mode`, :meth:`set_scale`, :meth:`set_slice`), so the viewer can be scripted and
    tested; each one recomputes the comparison and redraws. A failure (a fixed-scale model asked
    for another scale, a region too small to check) is shown in the status panel in red and
    leaves the last good result on screen.

    Args:
        session: the open image.
        scale: the first scale.
        model: the first model (``"auto"``, a registry name or a checkpoint path; a path is added
            to the model list under its file name).
        mode: ``"upscale"`` or ``"check"``.
        roi: the first region ``(x0, y0, x1, y1)``; default a central 128 x 128 one.
        window: the display window (see :func:`display_range`).
        figure: draw into this figure (``pyplot.figure()`` for a window); default a new
            off-screen :class:`~matplotlib.figure.Figure`.
    """

    def __init__(
        self,
        session: ViewerSession,
        scale: float = 2.0,
        model: str | os.PathLike[str] = "auto",
        mode: str = "upscale",
        roi: Any = None,
        window: str | Sequence[float] = "auto",
        figure: Figure | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        self.session = session
        self.window = window
        self.display = display_range(session, window)
        self.scale = float(scale)
        self.mode = mode
        self.roi = session.check_roi(roi) if roi is not None else session.default_roi()
        self.models: dict[str, str] = {"auto": "auto", **{name: name for name in list_pretrained(True)}}
        label = str(model)
        if label not in self.models:  # a checkpoint path, listed under its file name
            label = Path(model).name
            self.models[label] = str(model)
        self.model = label
        self.comparison: Comparison | None = None
        self.error: str | None = None
        self.figure = figure if figure is not None else Figure(figsize=(14, 8.5))
        self._build()
        self.run()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        fig = self.figure
        self.image_axes = fig.add_axes((0.235, 0.07, 0.31, 0.85))
        self.panel_axes = {
            "bicubic": fig.add_axes((0.56, 0.53, 0.2, 0.38)),
            "model": fig.add_axes((0.78, 0.53, 0.2, 0.38)),
            "bicubic_detail": fig.add_axes((0.56, 0.07, 0.2, 0.38)),
            "model_detail": fig.add_axes((0.78, 0.07, 0.2, 0.38)),
        }
        for axes in (self.image_axes, *self.panel_axes.values()):
            axes.set_xticks([])
            axes.set_yticks([])
        self.image_axes.imshow(self._to_display(self.session.plane), **self._imshow_args(self.session.plane))
        self.image_axes.set_title(self._image_title(), fontsize=10)
        self.edge_labels = self._draw_edge_labels()
        self.selector = RectangleSelector(
            self.image_axes,
            self._on_select,
            useblit=False,
            button=[1],
            minspanx=2,
            minspany=2,
            spancoords="data",
            interactive=True,
            props={"edgecolor": "yellow", "fill": False, "linewidth": 1.5},
        )
        self._show_roi()

        names = list(self.models)
        model_axes = fig.add_axes((0.01, 0.62, 0.2, 0.03 + 0.035 * len(names)))
        model_axes.set_title("model", fontsize=10, loc="left")
        self.model_buttons = RadioButtons(model_axes, names, active=names.index(self.model))
        self.model_buttons.on_clicked(self.set_model)
        mode_axes = fig.add_axes((0.01, 0.48, 0.2, 0.09))
        mode_axes.set_title("mode", fontsize=10, loc="left")
        self.mode_buttons = RadioButtons(mode_axes, [MODE_LABELS[m] for m in MODES], active=MODES.index(self.mode))
        self.mode_buttons.on_clicked(lambda label: self.set_mode(self._mode_from_label(label)))
        scale_axes = fig.add_axes((0.06, 0.42, 0.08, 0.04))
        self.scale_box = TextBox(scale_axes, "scale ", initial=f"{self.scale:.12g}")
        self.scale_box.on_submit(self.set_scale)
        self.slice_slider = None
        self.volume_slider = None
        if self.session.volumes > 1:
            volume_axes = fig.add_axes((0.06, 0.37 - 0.04 * (self.session.depth > 1), 0.1, 0.03))
            self.volume_slider = Slider(
                volume_axes, "volume", 1, self.session.volumes, valinit=self.session.volume_index + 1, valstep=1
            )
            self.volume_slider.on_changed(lambda value: self.set_volume(int(value) - 1))
        if self.session.depth > 1:
            slider_axes = fig.add_axes((0.06, 0.37, 0.1, 0.03))
            # counted from 1 on screen, as the title and DICOM instance numbers count
            self.slice_slider = Slider(
                slider_axes, "slice", 1, self.session.depth, valinit=self.session.slice_index + 1, valstep=1
            )
            self.slice_slider.on_changed(lambda value: self.set_slice(int(value) - 1))
        self.status = fig.text(
            0.01, 0.33 - 0.04 * (self.session.volumes > 1), "", fontsize=7.5, family="monospace", va="top"
        )

    @staticmethod
    def _mode_from_label(label: str) -> str:
        return next(mode for mode, text in MODE_LABELS.items() if text == label)

    def _image_title(self) -> str:
        session = self.session
        where = f", volume {session.volume_index + 1}/{session.volumes}" if session.volumes > 1 else ""
        where += f", slice {session.slice_index + 1}/{session.depth}" if session.depth > 1 else ""
        return f"{self.session.name}{where} ({self.session.width}x{self.session.height}): drag to select a region"

    # -- display ----------------------------------------------------------------------------
    def _draw_edge_labels(self) -> list[Any]:
        """The anatomical letters at the edges of a turned NIfTI slice (none for an image shown as stored); drawn
        once, as the orientation is the same for every slice."""
        edges = self.session.orientation.edges
        if edges is None:
            return []
        places = ((0.5, 0.98, "center", "top"), (0.5, 0.02, "center", "bottom"))
        places += ((0.02, 0.5, "left", "center"), (0.98, 0.5, "right", "center"))
        return [
            self.image_axes.text(
                x, y, letter, transform=self.image_axes.transAxes, ha=ha, va=va, color="orange", fontsize=11
            )
            for letter, (x, y, ha, va) in zip(edges, places)
        ]

    def _to_display(self, array: np.ndarray) -> np.ndarray:
        """(C, H, W) file units -> what imshow takes: (H, W) grey, or (H, W, 3) RGB in [0, 1]; turned as the
        session's :class:`~monai_rmisr.viewer.orientation.DisplayOrientation` says."""
        array = self.session.orientation.plane(array)
        if array.shape[0] == 3:
            low, high = self.display
            return np.clip((np.moveaxis(array, 0, -1) - low) / (high - low), 0.0, 1.0)
        return array[0]

    def _imshow_args(self, array: np.ndarray) -> dict[str, Any]:
        """imshow's settings for an image in the display window: nearest pixels drawn to the pixel spacing."""
        shape = {"interpolation": "nearest", "aspect": self.session.pixel_aspect}
        if array.shape[0] == 3:
            return shape
        return {"cmap": "gray", "vmin": self.display[0], "vmax": self.display[1], **shape}

    def _show_roi(self) -> None:
        x0, y0, x1, y1 = self.session.orientation.roi_to_screen(self.roi, self.session.height, self.session.width)
        self.selector.extents = (x0 - 0.5, x1 - 0.5, y0 - 0.5, y1 - 0.5)

    def _draw(self, result: Comparison) -> None:
        def show(key: str, array: np.ndarray, title: str, **detail_args: Any) -> None:
            """An image panel (the display window), or with ``detail_args`` a one-channel map."""
            axes = self.panel_axes[key]
            axes.clear()
            axes.set_xticks([])
            axes.set_yticks([])
            if detail_args:
                turned = self.session.orientation.plane(array)
                axes.imshow(
                    turned[0] if turned.shape[0] != 3 else turned.mean(0),
                    aspect=self.session.pixel_aspect,
                    **detail_args,
                )
            else:
                axes.imshow(self._to_display(array), **self._imshow_args(array))
            axes.set_title(title, fontsize=9)

        def title(name: str) -> str:
            score = (result.scores or {}).get(name)
            return name if score is None else f"{name}: {score.psnr:.2f} dB, SSIM {score.ssim:.4f}"

        show("bicubic", result.bicubic, title(BICUBIC))
        show("model", result.super_resolved, title(result.model_name))
        if result.mode == "check":
            limit = float(np.percentile(result.bicubic_detail, 99.5)) or 1.0
            error = {"cmap": "magma", "vmin": 0.0, "vmax": limit, "interpolation": "nearest"}
            show("bicubic_detail", result.bicubic_detail, "|bicubic - region|", **error)
            show("model_detail", result.super_resolved_detail, f"|{result.model_name} - region|", **error)
        else:
            both = np.concatenate([np.abs(result.bicubic_detail).ravel(), np.abs(result.super_resolved_detail).ravel()])
            limit = float(np.percentile(both, 99.5)) or 1.0
            edges = {"cmap": "gray", "vmin": -limit, "vmax": limit, "interpolation": "nearest"}
            show("bicubic_detail", result.bicubic_detail, "Laplacian map, bicubic", **edges)
            show("model_detail", result.super_resolved_detail, f"Laplacian map, {result.model_name}", **edges)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.set_text(text)
        self.status.set_color("red" if error else "black")

    def _fail(self, message: str) -> None:
        """Show a failure in the status panel (red); the panels keep the last good result."""
        self.error = message
        self._set_status("error: " + message, error=True)
        self.figure.canvas.draw_idle()

    # -- actions ----------------------------------------------------------------------------
    def run(self) -> Comparison | None:
        """Recompute the comparison for the current settings and redraw; None (and a red status) on failure."""
        try:
            result = self.session.compare(self.roi, self.scale, self.models[self.model], self.mode)
        except (ValueError, FileNotFoundError, RuntimeError) as err:
            self._fail(str(err))
            return None
        self.error = None
        self.comparison = result
        self._draw(result)
        status = result.summary()
        if result.mode == "upscale":
            # the file's name only: a long path would run over the image (the command line prints it whole)
            command = self.session.upscale_command(self.roi, self.scale, self.models[self.model], short=True)
            status += "\n\nas a file (in its folder):\n" + " \\\n    ".join(_command_lines(command))
        else:
            status += "\n\nthe region is the truth; its LR is\nMATLAB bicubic (the benchmark protocol)"
        self._set_status(status)
        self.figure.canvas.draw_idle()
        return result

    def select(self, roi: Any) -> Comparison | None:
        """Make ``roi`` ``(x0, y0, x1, y1)`` the region and recompute."""
        try:
            self.roi = self.session.check_roi(roi)
        except ValueError as err:
            self._fail(str(err))
            return None
        self._show_roi()
        return self.run()

    def _on_select(self, press: Any, release: Any) -> None:
        xmin, xmax, ymin, ymax = self.selector.extents
        orientation, height, width = self.session.orientation, self.session.height, self.session.width
        screen_height, screen_width = orientation.screen_size(height, width)
        x0, x1 = (int(np.clip(np.floor(v + 0.5), 0, screen_width)) for v in (xmin, xmax))
        y0, y1 = (int(np.clip(np.floor(v + 0.5), 0, screen_height)) for v in (ymin, ymax))
        self.select(orientation.roi_from_screen((x0, y0, x1, y1), height, width))

    def _sync(self, widget: Any, update: Any) -> None:
        """Show a setting made by a method call on its widget, without the widget calling back."""
        widget.eventson = False
        try:
            update()
        finally:
            widget.eventson = True

    def set_model(self, label: str) -> Comparison | None:
        """Choose a model by its label in the list (``"auto"``, a registry name, a checkpoint's file name)."""
        if label not in self.models:
            raise ValueError(f"unknown model {label!r}; the list has {', '.join(self.models)}.")
        self.model = label
        self._sync(self.model_buttons, lambda: self.model_buttons.set_active(list(self.models).index(label)))
        return self.run()

    def set_mode(self, mode: str) -> Comparison | None:
        """``"upscale"`` or ``"check"``."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
        self.mode = mode
        self._sync(self.mode_buttons, lambda: self.mode_buttons.set_active(MODES.index(mode)))
        return self.run()

    def set_scale(self, text: str | float) -> Comparison | None:
        """A new scale (the scale box's text); a bad one is reported in the status panel."""
        try:
            value = float(text)
        except (TypeError, ValueError):
            self._fail(f"scale must be a number > 1, got {text!r}.")
            return None
        self.scale = value
        self._sync(self.scale_box, lambda: self.scale_box.set_val(f"{value:.12g}"))
        return self.run()

    def set_slice(self, index: int) -> Comparison | None:
        """Show slice ``index`` (0-based; the slider shows ``index + 1``) of a volume; the region stays."""
        self.session.set_slice(index)
        if self.slice_slider is not None:
            self._sync(self.slice_slider, lambda: self.slice_slider.set_val(index + 1))
        self._show_plane()
        return self.run()

    def set_volume(self, index: int) -> Comparison | None:
        """Show volume ``index`` (0-based; the slider shows ``index + 1``) of an image of several; the region
        and the slice stay."""
        self.session.set_volume(index)
        if self.volume_slider is not None:
            self._sync(self.volume_slider, lambda: self.volume_slider.set_val(index + 1))
        self._show_plane()
        return self.run()

    def _show_plane(self) -> None:
        """Redraw the image after the slice or the volume changed (its display window recomputed)."""
        self.display = display_range(self.session, self.window)
        self.image_axes.images[0].set_data(self._to_display(self.session.plane))
        self.image_axes.images[0].set_clim(*self.display)
        self.image_axes.set_title(self._image_title(), fontsize=10)

    def save_dpi(self) -> int:
        """The resolution :meth:`save` renders at: enough for every image panel to show each of its pixels (at 100
        dots per inch a 1024-pixel output was drawn in about 280, every fourth pixel: a model's one-pixel detail
        came out as broad stripes), at least 100 and at most :data:`MAX_SAVE_DPI`."""
        width, height = self.figure.get_size_inches()
        needed = 100.0
        for axes in self.figure.axes:
            axes.apply_aspect()
            box = axes.get_position()
            for image in axes.get_images():
                rows, columns = image.get_array().shape[:2]
                if box.width > 0 and box.height > 0:
                    needed = max(needed, columns / (box.width * width), rows / (box.height * height))
        return int(min(math.ceil(needed), MAX_SAVE_DPI))

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Write the figure (PNG, PDF, SVG: by the suffix) at :meth:`save_dpi`; never half a file, never over the
        input."""
        output = check_output_path(path, [self.session.image.path] if self.session.image.path else [], overwrite)
        dpi = self.save_dpi()
        with atomic_output(output) as temporary:
            self.figure.savefig(temporary, dpi=dpi, format=output.suffix.lstrip(".").lower() or "png")
        return output
