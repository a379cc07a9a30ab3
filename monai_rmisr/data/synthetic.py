"""Procedural training images: scanner display graphics, dead leaves, fields of view and CT slices.

Real medical frames carry what no corpus crop keeps: a vendor's burned-in text, scale bars, tick
marks, icons and calipers, drawn in flat grey on black next to a speckled scan sector (ultrasound),
and flat air or background at exactly 0 beside sharp tissue edges (CT, MR). The TRAIN split's
ultrasound images are cropped to their scan sectors, so a network trained on it has never seen a
glyph edge. These images are drawn from a seed, so they are the same on every machine, carry no
patient data and no licence of their own (they are part of monai-rmisr, Apache-2.0):

* :func:`display_graphics_image`: black frame, one or two speckled scan regions (Rayleigh speckle,
  smoothed, with a depth fall-off), and text in DejaVu Sans / Sans Mono (the fonts matplotlib
  ships) at 8-20 px, lines, tick marks, rectangles, circles and grey bars.
* :func:`dead_leaves_image`: occluding discs of random grey with power-law radii, the classic
  scale-invariant test image of sharp edges at every size.
* :func:`aperture_image`: a smooth, optically blurred field of view on black, as a fundus camera,
  an endoscope or a microscope records it: a soft elliptical rim (sometimes with a tab), shading,
  branching dark vessels, a bright disc and a dark spot. The TRAIN split has no such image (its only
  fundus image is held out for validation), and the sharp procedural images above teach a network
  that every edge against black is sharp.
* :func:`ct_phantom_image`: a CT slice, head or trunk, in air, black outside the reconstruction circle: skin, a
  bright skull of varying thickness (or a vertebra and ribs), air cells and sinuses, seen through a
  reconstruction kernel with correlated noise; the strongest edges a slice has, in many forms.

Shapes and ranges: each image is ``(1, size, size)`` float32 in [0, 1], with exact 0 and 1 present.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy.ndimage import gaussian_filter

__all__ = [
    "aperture_image",
    "aperture_images",
    "band_limited",
    "ct_phantom_image",
    "ct_phantom_images",
    "dead_leaves_image",
    "display_graphics_image",
    "synthetic_images",
]

_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf")
_TEXT_CHARACTERS = string.ascii_uppercase + string.digits + "     :/.-%*"


def _font(rng: np.random.Generator) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    size = int(rng.integers(8, 21))
    name = _FONT_FILES[int(rng.integers(len(_FONT_FILES)))]
    try:
        return ImageFont.truetype(str(folder / name), size)
    except OSError:  # a Pillow built without FreeType: its own bitmap font
        return ImageFont.load_default()


def _speckle(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Ultrasound-like speckle in [0, 1]: smoothed Rayleigh noise over a smooth echo map, darker with depth."""
    echo = Image.fromarray((rng.random((max(height // 24, 2), max(width // 24, 2))) * 255).astype(np.uint8))
    echo_map = np.asarray(echo.resize((width, height), Image.BICUBIC), dtype=np.float32) / 255.0
    noise = rng.rayleigh(1.0, (height, width)).astype(np.float32)
    blur = float(rng.uniform(0.5, 1.5))
    noise = gaussian_filter(noise, blur)
    depth = np.linspace(1.0, float(rng.uniform(0.3, 0.9)), height, dtype=np.float32)[:, None]
    image = echo_map * noise * depth
    return np.clip(image / max(float(np.percentile(image, 99.5)), 1e-6), 0.0, 1.0)


def display_graphics_image(size: int = 256, seed: int = 0) -> np.ndarray:
    """A scanner display frame: speckled scan regions on black, with text and graphics.

    Args:
        size: height and width in pixels (>= 64).
        seed: the image is a pure function of ``(size, seed)``.

    Returns:
        ``(1, size, size)`` float32 in [0, 1].
    """
    if size < 64:
        raise ValueError(f"display_graphics_image needs size >= 64, got {size}.")
    rng = np.random.default_rng([seed, size, 1])
    canvas = np.zeros((size, size), dtype=np.float32)
    for _ in range(int(rng.integers(1, 3))):
        top, left = (int(v) for v in rng.integers(size // 16, size // 3, 2))
        height, width = (int(v) for v in rng.integers(size // 3, size - size // 8, 2))
        height, width = min(height, size - top), min(width, size - left)
        region = _speckle(rng, height, width) * float(rng.uniform(0.5, 1.0))
        if rng.random() < 0.5:  # a sector (fan) shaped window, as convex probes give
            rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
            angle = np.abs(np.arctan2(cols - width / 2, rows + height * 0.2))
            region *= angle < float(rng.uniform(0.4, 0.8))
        canvas[top : top + height, left : left + width] = region
    image = Image.fromarray(np.round(canvas * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 12))):  # text lines, bright grey to white
        text = "".join(rng.choice(list(_TEXT_CHARACTERS), int(rng.integers(3, 18))))
        position = (int(rng.integers(0, size - 16)), int(rng.integers(0, size - 12)))
        draw.text(position, text, fill=int(rng.integers(120, 256)), font=_font(rng))
    for _ in range(int(rng.integers(3, 10))):  # graphics: lines, ticks, boxes, circles, bars
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, 4))
        grey = int(rng.integers(60, 256))
        kind = int(rng.integers(5))
        if kind == 0:
            draw.line((x0, y0, x1, y1), fill=grey, width=int(rng.integers(1, 3)))
        elif kind == 1:
            step = int(rng.integers(4, 16))
            for y in range(min(y0, y1), max(y0, y1) + 1, step):
                draw.line((x0, y, x0 + int(rng.integers(2, 7)), y), fill=grey)
        elif kind == 2:
            draw.rectangle((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), outline=grey)
        elif kind == 3:
            radius = int(rng.integers(2, 10))
            draw.ellipse((x0 - radius, y0 - radius, x0 + radius, y0 + radius), outline=grey)
        else:
            width, height = int(rng.integers(4, 16)), int(rng.integers(16, size // 2))
            bar = np.linspace(255, 0, height)[:, None].repeat(width, axis=1).astype(np.uint8)
            image.paste(Image.fromarray(bar), (x0 % (size - width), y0 % (size - height)))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array[0, 0], array[-1, -1] = 0.0, 1.0  # both ends of the range present, as after min-max normalisation
    return array[None]


def dead_leaves_image(size: int = 256, seed: int = 0, max_leaves: int = 2000) -> np.ndarray:
    """A dead-leaves image: discs of uniform random grey, radii with a 1/r^3 density, drawn until covered.

    Args:
        size: height and width in pixels (>= 16).
        seed: the image is a pure function of ``(size, seed, max_leaves)``.
        max_leaves: at most this many discs.

    Returns:
        ``(1, size, size)`` float32 in [0, 1].
    """
    if size < 16:
        raise ValueError(f"dead_leaves_image needs size >= 16, got {size}.")
    rng = np.random.default_rng([seed, size, 2])
    image = Image.new("L", (size, size), 0)
    covered = np.zeros((size, size), dtype=bool)
    draw = ImageDraw.Draw(image)
    rows, cols = np.mgrid[0:size, 0:size]
    r_min, r_max = 1.5, size / 4
    # Inverse-CDF draw of radii with density ~ r^-3 on [r_min, r_max]; painted back to front, so each
    # new disc only fills what is not covered yet (the front-most leaf wins).
    for _ in range(max_leaves):
        u = rng.random()
        radius = (r_min**-2 - u * (r_min**-2 - r_max**-2)) ** -0.5
        cx, cy = rng.uniform(-radius, size + radius, 2)
        disc = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius**2
        new = disc & ~covered
        if new.any():
            layer = Image.fromarray(np.where(new, 255, 0).astype(np.uint8))
            image.paste(int(rng.integers(0, 256)), mask=layer)
            covered |= new
        if covered.all():
            break
    del draw
    array = np.asarray(image, dtype=np.float32) / 255.0
    array[0, 0], array[-1, -1] = 0.0, 1.0
    return array[None]


def _vessel_tree(draw: ImageDraw.ImageDraw, rng: np.random.Generator, start: tuple[float, float], size: int) -> None:
    """Branching random walks from ``start``, widths tapering from 3-6 px to 1 px, drawn in 255 on ``draw``."""
    stack = [(start, float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(3, 6)))]
    segments, step = 0, size / 64
    while stack and segments < 400:
        (y, x), angle, width = stack.pop()
        for _ in range(int(rng.integers(15, 40))):
            angle += float(rng.normal(0, 0.18))
            ny, nx = y + step * np.sin(angle), x + step * np.cos(angle)
            draw.line([(x, y), (nx, ny)], fill=255, width=max(1, round(width)))
            y, x, segments = ny, nx, segments + 1
            if not (-size / 4 < y < 1.25 * size and -size / 4 < x < 1.25 * size):
                break
            if width > 1.2 and rng.random() < 0.06:
                stack.append(((y, x), angle + float(rng.choice((-1, 1)) * rng.uniform(0.4, 1.0)), width * 0.7))
            width = max(1.0, width * 0.985)


def aperture_image(size: int = 256, seed: int = 0) -> np.ndarray:
    """A field of view on black with an optically blurred rim: a procedural fundus-camera-like image.

    An ellipse (radius 0.3-0.6 of ``size``, centre anywhere near the middle, so the rim may leave the frame),
    half the time with a small square tab on the rim, its edge seen through a Gaussian of 0.6-2.5 pixels; inside,
    smooth shading with a vignette, branching dark vessels (blurred 0.5-1.2 pixels), a bright disc and a dark
    spot (Gaussians), and faint fine texture. Outside exactly 0.

    Args:
        size: height and width in pixels (>= 16).
        seed: the image is a pure function of ``(size, seed)``.

    Returns:
        ``(1, size, size)`` float32 in [0, 1], divided by its maximum (exactly 0 outside the field, 1 at its brightest).
    """
    if size < 16:
        raise ValueError(f"aperture_image needs size >= 16, got {size}.")
    rng = np.random.default_rng([seed, size, 3])
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = size / 2 + rng.uniform(-0.2, 0.2, 2) * size
    radius = rng.uniform(0.3, 0.6) * size
    aspect = rng.uniform(0.85, 1.15)
    distance = np.hypot((rows - centre[0]) * aspect, cols - centre[1]) / radius
    field = (distance < 1).astype(np.float32)
    if rng.random() < 0.5:  # a tab on the rim, as fundus cameras mark their orientation
        angle = rng.uniform(0, 2 * np.pi)
        y, x = centre[0] + radius / aspect * np.sin(angle), centre[1] + radius * np.cos(angle)
        half = rng.uniform(0.02, 0.05) * size
        field[(np.abs(rows - y) < half) & (np.abs(cols - x) < half)] = 1.0
    rim = rng.uniform(0.6, 2.5)
    field = np.clip(gaussian_filter(field, rim), 0, 1)  # exactly 0 beyond the Gaussian's 4-sigma reach

    shading = gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), size / 10)
    shading /= max(float(np.abs(shading).max()), 1e-6)
    base = rng.uniform(0.35, 0.6) * (1 + 0.25 * shading) * (1 - rng.uniform(0.1, 0.35) * np.minimum(distance, 1.2) ** 2)
    disc_at = centre + rng.uniform(-0.5, 0.5, 2) * radius
    disc = np.exp(-((rows - disc_at[0]) ** 2 + (cols - disc_at[1]) ** 2) / (2 * (rng.uniform(0.04, 0.09) * size) ** 2))
    spot_at = centre + rng.uniform(-0.3, 0.3, 2) * radius
    spot = np.exp(-((rows - spot_at[0]) ** 2 + (cols - spot_at[1]) ** 2) / (2 * (rng.uniform(0.05, 0.12) * size) ** 2))
    image = base + rng.uniform(0.3, 0.7) * disc - rng.uniform(0.05, 0.2) * spot

    vessels = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(vessels)
    for _ in range(int(rng.integers(3, 7))):
        start = disc_at + rng.normal(0, 0.02 * size, 2)
        _vessel_tree(draw, rng, (float(start[0]), float(start[1])), size)
    del draw
    vessel_map = gaussian_filter(np.asarray(vessels, dtype=np.float32) / 255.0, rng.uniform(0.5, 1.2))
    image = image * (1 - rng.uniform(0.2, 0.45) * vessel_map)
    image = image + gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), 0.8) * 0.004

    image = np.clip(image, 0, None) * field
    array = (image / max(float(image.max()), 1e-6)).astype(np.float32)
    return np.clip(array, 0.0, 1.0)[None]


def _outline(rng: np.random.Generator, theta: np.ndarray, amplitude: float) -> np.ndarray:
    """A smooth closed outline's radius factor around 1: four random angular harmonics (2-5) of up to ``amplitude``."""
    factor = np.ones_like(theta)
    for harmonic in range(2, 6):
        factor += float(rng.uniform(0, amplitude)) * np.cos(harmonic * theta + float(rng.uniform(0, 2 * np.pi)))
    return factor


def _ellipse(rows: np.ndarray, cols: np.ndarray, centre: np.ndarray, radii: np.ndarray, angle: float) -> np.ndarray:
    """The normalised radius of every pixel in a rotated ellipse (< 1 inside)."""
    dy, dx = rows - centre[0], cols - centre[1]
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    return np.hypot(u / radii[1], v / radii[0])


def _trabecular(rng: np.random.Generator, shape: tuple[int, int], size: int) -> np.ndarray:
    """Cancellous bone's air cells: a mask in {0, 1} of 1 in bone, 0 in the small cells (1-4 % of ``size`` across)."""
    cells = gaussian_filter(rng.standard_normal(shape).astype(np.float32), size / 300)
    return (cells < float(rng.uniform(0.2, 0.6)) * float(cells.std())).astype(np.float32)


def ct_phantom_image(size: int = 512, seed: int = 0) -> np.ndarray:
    """A procedural CT slice: a head (or a trunk) in air, black outside the reconstruction circle.

    What the TEST and TRAIN CT slices make a network fit worst at x4 is the skull's edges, the strongest edges of a
    slice (``docs/experiments.md``, "x4: the strongest edges"). The phantom draws them in many forms: an outline with
    smooth bumps, skin, a bright skull of varying thickness with a darker diploe, a brain with faint texture and
    dark ventricles, and up to three patches centred on the skull ring (about its mean radius, so some stand out of
    the head into air or reach into the brain): bone with air cells (mastoid-like) or bone around an air sinus.
    A third of the slices are a trunk instead: a fat layer, organs, half the time two dark lungs (with sparse bright
    dots), a vertebra with cancellous bone, and ribs near the outline. Half the slices lie on a couch. All of it is
    seen through a reconstruction kernel (a Gaussian of 0.5-1.2 pixels) with correlated noise (standard deviation
    0.0007-0.004), then cut by the reconstruction circle (three quarters of the slices: outside exactly 0, a
    sharp edge as a scanner writes it; a trunk may reach past it) or not cut (air to the border, shifted to 0).
    Window and levels are random: before the division by the maximum, air 0-0.3, soft tissue up to 0.65, bone
    0.7-1.

    Args:
        size: height and width in pixels (>= 64); 512, a CT slice's matrix, by default.
        seed: the image is a pure function of ``(size, seed)``.

    Returns:
        ``(1, size, size)`` float32 in [0, 1], divided by its maximum (1 in the brightest bone; 0 outside the circle,
        or the darkest air when uncut; air inside the circle up to about 0.45).
    """
    if size < 64:
        raise ValueError(f"ct_phantom_image needs size >= 64, got {size}.")
    rng = np.random.default_rng([seed, size, 4])
    shape = (size, size)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    air = float(rng.uniform(0.0, 0.3))
    soft = float(rng.uniform(air + 0.2, 0.65))
    bone = float(rng.uniform(max(soft + 0.15, 0.7), 1.0))
    centre = size / 2 + rng.uniform(-0.06, 0.06, 2) * size
    theta = np.arctan2(rows - centre[0], cols - centre[1])
    head = rng.random() < 2 / 3
    trunk_radii = (0.22, 0.32), (0.38, 0.46)  # wider than tall
    radii = (rng.uniform(0.33, 0.44, 2) if head else np.array([rng.uniform(*r) for r in trunk_radii])) * size
    body_radius = _ellipse(rows, cols, centre, radii, float(rng.uniform(-0.2, 0.2))) / _outline(rng, theta, 0.02)
    image = np.full(shape, air, dtype=np.float32)
    image[body_radius < 1] = soft + float(rng.uniform(-0.03, 0.03))  # skin and the soft tissue under it
    texture = gaussian_filter(rng.standard_normal(shape).astype(np.float32), size / 80)
    texture /= max(float(np.abs(texture).max()), 1e-6)
    if head:
        scalp = float(rng.uniform(0.03, 0.08))
        thickness = float(rng.uniform(0.03, 0.09)) * _outline(rng, theta, 0.25)
        outer, inner = 1 - scalp, 1 - scalp - thickness
        skull = (body_radius < outer) & (body_radius >= inner)
        depth = np.clip((outer - body_radius) / np.maximum(thickness, 1e-3), 0, 1)  # 0 outside, 1 inside the skull
        diploe = 1 - float(rng.uniform(0.1, 0.35)) * np.exp(-(((depth - 0.5) / 0.22) ** 2))
        image[skull] = (bone * diploe)[skull]
        brain = body_radius < inner
        image[brain] = (soft + 0.02 + float(rng.uniform(0.01, 0.04)) * texture)[brain]
        for _ in range(int(rng.integers(1, 4))):  # ventricles: dark, near the middle
            at = centre + rng.uniform(-0.12, 0.12, 2) * size
            cell = _ellipse(rows, cols, at, rng.uniform(0.015, 0.06, 2) * size, float(rng.uniform(0, np.pi))) < 1
            image[cell & brain] = soft - float(rng.uniform(0.05, 0.12))
        reach = float(np.mean(radii)) * (inner.mean() + outer) / 2  # the skull ring's mean radius, in pixels
        for _ in range(int(rng.integers(0, 4))):  # bone with air cells (mastoids) or an air sinus, on the skull ring
            angle = float(rng.uniform(0, 2 * np.pi))
            at = centre + reach * np.array([np.sin(angle), np.cos(angle)])
            region = _ellipse(rows, cols, at, rng.uniform(0.04, 0.09, 2) * size, float(rng.uniform(0, np.pi))) < 1
            if rng.random() < 0.5:
                cells = _trabecular(rng, shape, size) > 0
                image[region] = np.where(cells, bone * float(rng.uniform(0.8, 1.0)), air)[region]
            else:
                image[region] = bone * float(rng.uniform(0.85, 1.0))
                sinus = _ellipse(rows, cols, at, rng.uniform(0.02, 0.06, 2) * size, float(rng.uniform(0, np.pi))) < 1
                image[sinus] = air
    else:
        fat = (body_radius < 1) & (body_radius >= 1 - float(rng.uniform(0.04, 0.12)))
        image[fat] = soft - float(rng.uniform(0.06, 0.15))
        inside = body_radius < 1 - 0.12
        image[inside] = (soft + float(rng.uniform(0.01, 0.03)) * texture)[inside]
        for _ in range(int(rng.integers(2, 6))):  # organs
            at = centre + rng.uniform(-0.2, 0.2, 2) * radii
            organ = _ellipse(rows, cols, at, rng.uniform(0.05, 0.4, 2) * radii, float(rng.uniform(0, np.pi))) < 1
            image[organ & inside] = soft + float(rng.uniform(-0.06, 0.08))
        if rng.random() < 0.5:  # lungs: dark, with sparse bright dots
            for side in (-1, 1):
                at = centre + np.array([-0.1, side * 0.45]) * radii
                lung = _ellipse(rows, cols, at, np.array([0.55, 0.35]) * radii, float(rng.uniform(-0.3, 0.3))) < 1
                vessels = np.clip(gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.0) * 3 - 2.5, 0, 1)
                image[lung & inside] = (air + 0.05 + (soft - air) * vessels)[lung & inside]
        spine_at = centre + np.array([0.55, 0.0]) * radii
        vertebra = _ellipse(rows, cols, spine_at, np.array([0.16, 0.14]) * radii[0], 0.0)
        cortex = (vertebra < 1) & (vertebra >= 0.8)
        cancellous = vertebra < 0.8
        image[cancellous] = np.where(_trabecular(rng, shape, size) > 0, bone * 0.8, soft)[cancellous]
        image[cortex] = bone
        for angle in np.linspace(0.3, 2.8, int(rng.integers(4, 9))) + float(rng.uniform(-0.1, 0.1)):  # ribs
            for side in (-1, 1):
                at = centre + 0.88 * radii * np.array([-np.cos(angle), side * np.sin(angle)])
                rib = _ellipse(rows, cols, at, rng.uniform(0.012, 0.025, 2) * size, float(angle))
                image[rib < 1] = bone * float(rng.uniform(0.85, 1.0))
                image[rib < 0.5] = bone * 0.7
    if rng.random() < 0.5:  # the couch: a curved bright band below the patient
        top = centre[0] + radii[0] * float(rng.uniform(1.02, 1.1))
        curve = top + (cols - centre[1]) ** 2 / (size * float(rng.uniform(2, 6)))
        band = (rows > curve) & (rows < curve + size * float(rng.uniform(0.01, 0.03)))
        image[band] = soft + float(rng.uniform(-0.05, 0.1))
    image = gaussian_filter(image, float(rng.uniform(0.5, 1.2)))  # the reconstruction kernel
    image += gaussian_filter(rng.standard_normal(shape).astype(np.float32), 0.8) * float(rng.uniform(0.002, 0.012))
    image = np.clip(image, 0, None)
    if rng.random() < 0.75:  # the reconstruction circle: outside exactly 0, a sharp edge
        image[np.hypot(rows - size / 2, cols - size / 2) >= size / 2 * float(rng.uniform(0.95, 1.0))] = 0
    else:
        image -= float(image.min())
    array = (image / max(float(image.max()), 1e-6)).astype(np.float32)
    return np.clip(array, 0.0, 1.0)[None]


def band_limited(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` seen through a Gaussian point-spread function of ``sigma`` pixels, as a scanner or camera
    would record it: the drawn shapes' pixel-exact (aliased) edges become the smooth edges real images have.

    Args:
        image: ``(1, H, W)`` float32 in [0, 1].
        sigma: the PSF's standard deviation in pixels (> 0).

    Returns:
        ``(1, H, W)`` float32 in [0, 1], with exact 0 and 1 kept at two corners (as after min-max normalisation).
    """
    blurred = gaussian_filter(image[0], sigma, mode="nearest").astype(np.float32)
    blurred[0, 0], blurred[-1, -1] = 0.0, 1.0
    return blurred[None]


def synthetic_images(count: int, size: int = 256, seed: int = 0, blur_sigma: float = 0.0) -> list[np.ndarray]:
    """``count`` procedural training images, alternately display graphics and dead leaves.

    Args:
        count: number of images (>= 0).
        size: height and width of each.
        seed: base seed; image ``k`` uses ``seed * 100_003 + k``.
        blur_sigma: 0 (default): the images as drawn, every edge pixel-exact; > 0: each seen through a
            Gaussian point-spread function of this many pixels (:func:`band_limited`).

    Returns:
        ``(1, size, size)`` float32 arrays in [0, 1].
    """
    _check_count(count)
    if not blur_sigma >= 0:
        raise ValueError(f"blur_sigma must be >= 0 (pixels), got {blur_sigma}.")
    makers = (display_graphics_image, dead_leaves_image)
    images = [makers[k % 2](size, _image_seed(seed, k)) for k in range(count)]
    return [band_limited(image, blur_sigma) for image in images] if blur_sigma > 0 else images


def aperture_images(count: int, size: int = 256, seed: int = 0) -> list[np.ndarray]:
    """``count`` procedural fields of view (:func:`aperture_image`), image ``k`` seeded as in :func:`synthetic_images`.

    Returns:
        ``(1, size, size)`` float32 arrays in [0, 1].
    """
    _check_count(count)
    return [aperture_image(size, _image_seed(seed, k)) for k in range(count)]


def ct_phantom_images(count: int, size: int = 512, seed: int = 0) -> list[np.ndarray]:
    """``count`` procedural CT slices (:func:`ct_phantom_image`), image ``k`` seeded as in :func:`synthetic_images`.

    Returns:
        ``(1, size, size)`` float32 arrays in [0, 1].
    """
    _check_count(count)
    return [ct_phantom_image(size, _image_seed(seed, k)) for k in range(count)]


def _check_count(count: int) -> None:
    """A number of procedural images: >= 0, else ValueError."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}.")


def _image_seed(seed: int, k: int) -> int:
    """The seed of procedural image ``k`` of a set seeded by ``seed``."""
    return seed * 100_003 + k
