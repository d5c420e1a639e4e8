"""Images in: robust decoding of user uploads and the bundled sample photos (preprocessing: :mod:`preprocessing`).

Everything here works in memory: :func:`load_image` decodes bytes (an upload, a camera snapshot) without writing a
file, and refuses what it cannot show honestly with an :class:`ImageError` whose message names the file and the
problem. What it does to an image it can show (a rotation read from EXIF, a 16-bit PNG reduced to 8 bits, a
transparent background filled) is listed in :attr:`LoadedImage.notes`, so a page can tell the user.

The rules, stated once:

* Accepted formats: JPEG, PNG, WebP, BMP, GIF, TIFF (:data:`ACCEPTED_FORMATS`). Anything else is refused, even when
  Pillow could read it.
* Size limits are checked on the header, before any pixel is decoded: at most ``max_pixels`` pixels
  (:data:`DEFAULT_MAX_PIXELS`), at most :data:`MAX_SIDE` pixels on a side, at most :data:`MAX_ASPECT` : 1.
* A truncated file is refused (not decoded partially): a half-grey photo would give a confident wrong answer.
* Transparent pixels are composited onto neutral grey :data:`BACKGROUND`; animations and multi-page TIFFs show their
  first frame; EXIF orientation is applied so the photo is shown upright.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
"""Pillow format names :func:`load_image` decodes (MPO, a multi-picture JPEG some cameras write, counts as JPEG)."""

_PILLOW_FORMATS = ACCEPTED_FORMATS  # a multi-picture JPEG (MPO) opens through the JPEG plugin
DEFAULT_MAX_PIXELS = 64_000_000
"""64 megapixels: a 48 MP phone photo passes; decoding it takes about 200 MB as RGB."""
MAX_SIDE = 20_000
"""Longest side accepted, in pixels."""
MAX_ASPECT = 100
"""Longest / shortest side accepted: resizing the short side of a 1 x 10000 strip to 256 would create 2.5 G pixels."""
SMALL_SIDE = 224
"""Images whose short side is below this get a note: the model sees an upscaled, blurry version."""
BACKGROUND = (128, 128, 128)
"""Neutral grey that transparent pixels are composited onto (close to the mean of both normalisations)."""

_EXTENSIONS = {
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "jpe": "JPEG",
    "jfif": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "bmp": "BMP",
    "dib": "BMP",
    "gif": "GIF",
    "tif": "TIFF",
    "tiff": "TIFF",
}

_SIGNATURES = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or a .docx/.xlsx/.pptx document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"<svg", "an SVG drawing (vector graphics, not pixels)"),
    (b"<?xml", "an XML file"),
    (b"<!DOCTYPE html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"GIF8", "a damaged GIF"),
    (b"\x89PNG", "a damaged PNG"),
    (b"\xff\xd8\xff", "a damaged JPEG"),
)

_EXIF_ORIENTATION = {
    2: "mirrored left-right",
    3: "rotated 180 degrees",
    4: "mirrored top-bottom",
    5: "transposed (mirrored along the main diagonal)",
    6: "rotated 90 degrees clockwise",
    7: "transversed (mirrored along the anti-diagonal)",
    8: "rotated 90 degrees counter-clockwise",
}


class ImageError(ValueError):
    """An upload that cannot be turned into an RGB image; the message names the file and says what to do."""


@dataclass
class LoadedImage:
    """A decoded upload.

    Attributes:
        image: RGB image shown upright (EXIF orientation applied), 8 bits per channel.
        filename: the name it was uploaded under ("" if none).
        format: Pillow's format name of the content ("JPEG", "PNG", ...), whatever the file name says.
        original_mode: Pillow mode of the file before conversion ("RGB", "CMYK", "I;16", "P", "RGBA", "1", ...).
        original_size: (width, height) as stored in the file, before the EXIF rotation.
        n_frames: frames (GIF/WebP animation) or pages (TIFF) in the file; only the first is used.
        notes: what was done to the image, one human-readable sentence each (empty when nothing was needed).
    """

    image: Image.Image
    filename: str
    format: str
    original_mode: str
    original_size: tuple[int, int]
    n_frames: int = 1
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of :attr:`image`, i.e. after the EXIF rotation."""
        return self.image.size


def _label(filename: str) -> str:
    return f"'{filename}'" if filename else "the image"


def _describe_bytes(data: bytes) -> str:
    head = data[:64].lstrip()
    for sig, what in _SIGNATURES:
        if head.startswith(sig) or head.lower().startswith(sig.lower()):
            return what
    try:
        text = data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return "not a recognised image format"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "text, not an image"
    return "not a recognised image format"


def _declared_pixels(message: str) -> int | None:
    m = re.search(r"\((\d+) pixels\)", message)
    return int(m.group(1)) if m else None


def _png_bit_depth(data: bytes) -> int | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 25:
        return data[24]
    return None


def _size_problem(label: str, w: int, h: int, n_bytes: int, max_pixels: int) -> str | None:
    pixels = w * h
    if pixels > max_pixels:
        bomb = ""
        if pixels > 1000 * max(n_bytes, 1):
            bomb = f" from only {n_bytes:,} bytes of data: this looks like a decompression bomb"
        return (
            f"{label} declares {w:,} x {h:,} = {pixels:,} pixels{bomb}; the limit is {max_pixels:,} pixels "
            f"({max_pixels / 1e6:g} megapixels). Nothing was decoded. Resize it to fewer pixels and upload it again."
        )
    if max(w, h) > MAX_SIDE:
        return (
            f"{label} is {w:,} x {h:,} pixels: the longest side may be at most {MAX_SIDE:,} pixels. "
            "Resize it and upload it again."
        )
    if min(w, h) < 1:
        return f"{label} declares an empty size ({w} x {h} pixels)."
    if max(w, h) / min(w, h) > MAX_ASPECT:
        return (
            f"{label} is {w:,} x {h:,} pixels, more than {MAX_ASPECT}:1; resizing its short side to the model's input "
            "would make a huge image. Crop it to a less elongated shape and upload it again."
        )
    return None


def _to_8bit(im: Image.Image, notes: list[str]) -> Image.Image:
    """Modes with more than 8 bits per sample -> 'L', scaled (not clipped) to 0..255."""
    a = np.asarray(im)
    if im.mode.startswith("I;16"):
        out = (a.astype(np.uint32) * 255 + 32767) // 65535
        notes.append("16-bit grayscale: scaled to 8 bits (value / 257), not clipped.")
    elif im.mode == "I":
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0 and hi <= 255:
            out = a
            notes.append("32-bit integer grayscale with values 0..255: used as 8-bit.")
        elif lo >= 0 and hi <= 65535:
            out = (a.astype(np.int64) * 255 + 32767) // 65535
            notes.append("16-bit grayscale: scaled to 8 bits (value / 257), not clipped.")
        else:
            out = (a.astype(np.float64) - lo) * 255.0 / max(hi - lo, 1)
            notes.append(f"32-bit integer grayscale with values {lo}..{hi}: stretched linearly to 0..255.")
    else:  # "F"
        a = np.nan_to_num(a.astype(np.float64))
        lo, hi = float(a.min()), float(a.max())
        if lo >= 0.0 and hi <= 1.0:
            out = a * 255.0
            notes.append("floating-point grayscale in 0..1: scaled to 0..255.")
        else:
            out = (a - lo) * 255.0 / max(hi - lo, 1e-12)
            notes.append(f"floating-point grayscale with values {lo:g}..{hi:g}: stretched linearly to 0..255.")
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "L")


def _to_rgb(im: Image.Image, notes: list[str]) -> Image.Image:
    """Any Pillow mode -> RGB, compositing transparency onto :data:`BACKGROUND`."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _to_8bit(im, notes).convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"))
        if alpha.min() == 255:
            notes.append(f"{mode} with an alpha channel that is fully opaque: alpha dropped.")
            return rgba.convert("RGB")
        share = float((alpha < 255).mean())
        background = Image.new("RGBA", rgba.size, (*BACKGROUND, 255))
        notes.append(
            f"{'palette image' if mode in ('P', 'PA') else mode} with transparency ({share:.0%} of pixels not "
            f"opaque): composited onto neutral grey {BACKGROUND}."
        )
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "1":
        notes.append("1-bit black-and-white: converted to RGB (black 0, white 255).")
        return im.convert("L").convert("RGB")
    if mode == "L":
        notes.append("grayscale: the gray channel is copied to R, G and B.")
        return im.convert("RGB")
    if mode == "P":
        notes.append("palette (indexed colour) image: converted to RGB.")
        return im.convert("RGB")
    if mode == "CMYK":
        notes.append("CMYK (print colours): converted to RGB without a colour profile; colours may be slightly off.")
        return im.convert("RGB")
    notes.append(f"{mode} colour space: converted to RGB.")
    return im.convert("RGB")


def load_image(data: bytes, filename: str = "", max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an uploaded image in memory into an upright RGB image, or say clearly why not.

    Args:
        data: the file's bytes (an upload, a camera snapshot, a file read by the CLI).
        filename: the name shown in messages; its extension is only compared with the content, never trusted.
        max_pixels: most pixels (width x height) accepted; checked on the header before decoding.

    Returns:
        A :class:`LoadedImage` whose ``image`` is RGB, with ``notes`` on every conversion made.

    Raises:
        ImageError: empty data, not an image, a format outside :data:`ACCEPTED_FORMATS`, a truncated or corrupt file,
            or a size over the limits (a decompression bomb is refused before any pixel is decoded).
    """
    label = _label(filename)
    if max_pixels < 1:
        raise ValueError(f"max_pixels={max_pixels} must be at least 1")
    if isinstance(data, memoryview | bytearray):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"load_image expects bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError(f"{label} is empty (0 bytes): the upload or the file is incomplete. Choose the file again.")

    notes: list[str] = []
    buf = io.BytesIO(data)
    try:
        # Pillow warns (and above 2x its own limit raises) on huge headers; our own limit is checked just below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(buf, formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as e:
        pixels = _declared_pixels(str(e))
        declared = f"declares {pixels:,} pixels" if pixels else "declares a gigantic size"
        raise ImageError(
            f"{label} {declared} in {len(data):,} bytes: this looks like a decompression bomb; the limit is "
            f"{max_pixels:,} pixels ({max_pixels / 1e6:g} megapixels). Nothing was decoded."
        ) from None
    except UnidentifiedImageError:
        raise ImageError(_unidentified_message(label, data)) from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
        raise ImageError(f"{label} has a damaged header and could not be read ({e}).") from None

    with im:
        fmt = "JPEG" if im.format == "MPO" else (im.format or "unknown")
        ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        if ext in _EXTENSIONS and _EXTENSIONS[ext] != fmt:
            notes.append(f"the file name says {_EXTENSIONS[ext]} but the content is {fmt}: decoded as {fmt}.")
        w, h = im.size
        problem = _size_problem(label, w, h, len(data), max_pixels)
        if problem:
            raise ImageError(problem)
        original_mode = im.mode
        n_frames = _count_frames(im)
        if n_frames > 1:
            what = "pages" if fmt == "TIFF" else "frames"
            kind = "multi-page TIFF" if fmt == "TIFF" else f"animated {fmt if fmt != 'WEBP' else 'WebP'}"
            notes.append(f"{kind}: showing the first of {n_frames} {what}.")
        try:
            im.seek(0)
            im.load()
            upright = _exif_upright(im, notes)
            rgb = _to_rgb(upright, notes)
            if rgb is im:  # never hand out the file-backed object: closing the file would invalidate it
                rgb = rgb.copy()
            rgb.load()
        except OSError as e:
            if "truncated" in str(e).lower():
                raise ImageError(
                    f"{label} is truncated: the file ends before the {fmt} image data does ({len(data):,} bytes "
                    "received). It was not decoded partially; upload the complete file."
                ) from None
            raise ImageError(f"{label} could not be decoded as {fmt}: {e}. The file is probably damaged.") from None
        except (SyntaxError, ValueError, struct.error, EOFError, IndexError) as e:
            raise ImageError(f"{label} could not be decoded as {fmt}: {e}. The file is probably damaged.") from None

    if fmt == "PNG" and _png_bit_depth(data) == 16 and original_mode in ("RGB", "RGBA"):
        notes.append("16-bit PNG: reduced to 8 bits per channel (the high byte: value / 256), not clipped.")
    if min(rgb.size) < SMALL_SIDE:
        notes.append(
            f"small image ({rgb.size[0]} x {rgb.size[1]} pixels): it will be upscaled to the model's input size, so "
            "the network sees an enlarged, blurry version and its prediction means little."
        )
    return LoadedImage(
        image=rgb,
        filename=filename,
        format=fmt,
        original_mode=original_mode,
        original_size=(w, h),
        n_frames=n_frames,
        notes=notes,
    )


def _unidentified_message(label: str, data: bytes) -> str:
    accepted = ", ".join(f if f != "WEBP" else "WebP" for f in ACCEPTED_FORMATS)
    try:  # identify only (header), to name a format we do not accept
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as other:
                fmt = other.format
    except Exception:
        fmt = None
    if fmt:
        return f"{label} is in the {fmt} format, which is not accepted. Accepted formats: {accepted}. Convert it first."
    return f"{label} is not an image ({_describe_bytes(data)}). Accepted formats: {accepted}."


def _count_frames(im: Image.Image) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        return 1


def _exif_upright(im: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = int(im.getexif().get(0x0112, 1))
    except Exception:
        return im
    if orientation in _EXIF_ORIENTATION:
        out = ImageOps.exif_transpose(im)
        notes.append(
            f"EXIF orientation {orientation}: the stored pixels are {_EXIF_ORIENTATION[orientation]}; "
            "turned upright for display and classification."
        )
        return out
    return im


# ----- sample images --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplePhoto:
    """A photo bundled with scikit-image, and what an ImageNet classifier should say about it.

    Attributes:
        description: what the photo shows.
        expected: the ImageNet classes that count as right; empty for a photo of something ImageNet has no class for.
        note: why, for a photo without an ImageNet class (what the prediction teaches instead).
    """

    description: str
    expected: tuple[str, ...] = ()
    note: str = ""


CAT_CLASSES = ("tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat")

SAMPLES: dict[str, SamplePhoto] = {
    # photos of ImageNet classes first: a class trusts what it sees them get right
    "chelsea": SamplePhoto("Chelsea the cat (a tabby)", CAT_CLASSES),
    "coffee": SamplePhoto("a cup of coffee on a saucer", ("espresso", "cup", "coffee mug")),
    "camera": SamplePhoto("cameraman with a camera on a tripod (grayscale)", ("tripod", "reflex camera")),
    "rocket": SamplePhoto("a rocket on the launch pad", ("missile", "projectile", "space shuttle")),
    # and photos of things ImageNet has no class for: the model must still pick one of its 1000
    "astronaut": SamplePhoto(
        "astronaut Eileen Collins (portrait)",
        note="ImageNet has no class for a person, so the model picks the nearest object it knows (a helmet, a "
        "bobsled): a classifier can only answer with one of its 1000 classes.",
    ),
    "coins": SamplePhoto(
        "Greek coins (grayscale)", note="ImageNet has no coin class: expect round shiny things (bubble, Petri dish)."
    ),
    "moon": SamplePhoto("surface of the moon (grayscale)", note="ImageNet has no moon or crater class."),
    "hubble_deep_field": SamplePhoto(
        "Hubble deep field (galaxies)", note="ImageNet has no class for galaxies: small bright blobs become bubbles."
    ),
    "immunohistochemistry": SamplePhoto(
        "immunohistochemistry (stained tissue, microscope)",
        note="ImageNet has no microscopy classes: the texture reads as wool or coral.",
    ),
    "retina": SamplePhoto(
        "human retina (fundus photograph)",
        note="ImageNet has no medical classes: a glowing disc reads as a lampshade.",
    ),
}
SAMPLE_IMAGES: dict[str, str] = {name: s.description for name, s in SAMPLES.items()}
"""Photos bundled with scikit-image (no download needed), name -> description. Grayscale ones are returned as RGB."""


def expectation(name: str, top1: str) -> tuple[bool | None, str]:
    """Whether ``top1`` is what a sample photo should get (None for a photo with no ImageNet class), and a sentence
    saying so for the page."""
    s = SAMPLES[name]
    if not s.expected:
        return None, f"No ImageNet class fits this photo. {s.note}"
    if top1 in s.expected:
        return True, f"Expected: {', '.join(s.expected)}. The top-1 is one of them."
    return False, f"Expected: {', '.join(s.expected)}; this model says {top1}."


def sample_image(name: str) -> Image.Image:
    """One of :data:`SAMPLE_IMAGES` as an RGB PIL image (read from scikit-image's package data, never downloaded)."""
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image '{name}'; choose one of: {', '.join(SAMPLE_IMAGES)}")
    import skimage.data

    arr = np.asarray(getattr(skimage.data, name)())
    if arr.dtype != np.uint8:
        arr = (arr.astype(np.float64) * (255.0 / max(float(arr.max()), 1.0))).round().astype(np.uint8)
    img = Image.fromarray(arr)
    return img if img.mode == "RGB" else img.convert("RGB")


def sample_images() -> dict[str, Image.Image]:
    """All :data:`SAMPLE_IMAGES` as RGB PIL images, in the order of the table (chelsea first)."""
    return {name: sample_image(name) for name in SAMPLE_IMAGES}
