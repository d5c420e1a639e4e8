"""Decoding uploads: every bad or unusual file a user can upload, generated in memory; preprocessing step by step."""

from __future__ import annotations

import builtins
import contextlib
import os

import numpy as np
import pytest
import torch
from PIL import Image

from effnets.runtime import images, inference, preprocessing, weights
from effnets.runtime.images import BACKGROUND, ImageError, load_image
from effnets.runtime.preprocessing import preprocess
from tests.fixtures import images as fx


def _rgb(loaded) -> np.ndarray:
    return np.asarray(loaded.image)


# ----- refused ---------------------------------------------------------------------------------------------------


def test_zero_bytes():
    with pytest.raises(ImageError, match=r"^'empty\.jpg' is empty \(0 bytes\)"):
        load_image(b"", "empty.jpg")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"Dear student, this is a text file renamed to .jpg\n", "text, not an image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF document"),
        (b"PK\x03\x04\x14\x00\x06\x00", "a ZIP archive"),
        (bytes(range(256)) * 4, "not a recognised image format"),
    ],
)
def test_non_image_bytes_with_an_image_extension(data, what):
    with pytest.raises(ImageError) as e:
        load_image(data, "holiday.jpg")
    msg = str(e.value)
    assert msg.startswith("'holiday.jpg' is not an image (")
    assert what in msg
    assert "Accepted formats: JPEG, PNG, WebP, BMP, GIF, TIFF" in msg


def test_truncated_jpeg_is_refused_not_decoded_partially():
    data = fx.truncated_jpeg()
    with pytest.raises(ImageError, match=r"^'cut\.jpg' is truncated: .*JPEG.*not decoded partially") as e:
        load_image(data, "cut.jpg")
    assert f"{len(data):,} bytes" in str(e.value)


def test_the_complete_jpeg_of_the_truncated_one_decodes():
    full = fx.encode(fx.gradient(256, 256), "JPEG", quality=90)
    assert load_image(full, "full.jpg").size == (256, 256)


def test_decompression_bomb_refused_from_the_header(monkeypatch):
    data = fx.png_header_only(100_000, 100_000)
    assert len(data) < 200
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self))
    with pytest.raises(ImageError) as e:
        load_image(data, "bomb.png")
    msg = str(e.value)
    assert msg.startswith("'bomb.png' declares 10,000,000,000 pixels")
    assert "decompression bomb" in msg
    assert f"the limit is {images.DEFAULT_MAX_PIXELS:,} pixels" in msg
    assert decoded == []  # refused before any pixel was decoded


def test_bomb_below_pillows_limit_but_above_ours_names_size_and_limit():
    data = fx.png_header_only(12_000, 12_000)
    with pytest.raises(ImageError) as e:
        load_image(data, "big.png")
    msg = str(e.value)
    assert "declares 12,000 x 12,000 = 144,000,000 pixels" in msg
    assert "decompression bomb" in msg
    assert "the limit is 64,000,000 pixels (64 megapixels)" in msg


def test_pixel_limit_is_a_parameter():
    data = fx.encode(fx.gradient(300, 300), "PNG")
    with pytest.raises(ImageError, match=r"300 x 300 = 90,000 pixels; the limit is 10,000 pixels"):
        load_image(data, "x.png", max_pixels=10_000)
    assert load_image(data, "x.png", max_pixels=90_000).size == (300, 300)


def test_huge_side_refused():
    data = fx.encode(Image.new("L", (30_000, 10)), "PNG")
    with pytest.raises(ImageError, match=r"'strip\.png' is 30,000 x 10 pixels: the longest side may be at most 20,000"):
        load_image(data, "strip.png")


def test_extreme_aspect_ratio_refused():
    data = fx.encode(Image.new("L", (2_000, 10)), "PNG")
    with pytest.raises(ImageError, match=r"2,000 x 10 pixels, more than 100:1"):
        load_image(data, "line.png")


@pytest.mark.parametrize(("fmt", "name"), [("PPM", "PPM"), ("ICO", "ICO"), ("TGA", "TGA")])
def test_other_formats_refused_by_name(fmt, name):
    data = fx.encode(fx.gradient(), fmt)
    with pytest.raises(ImageError, match=rf"^'pic\.png' is in the {name} format, which is not accepted"):
        load_image(data, "pic.png")


def test_damaged_png_body():
    data = bytearray(fx.encode(fx.gradient(64, 64), "PNG"))
    data[60:80] = b"\x00" * 20  # corrupt the compressed stream
    with pytest.raises(ImageError, match=r"^'broken\.png' (could not be decoded|is truncated|has a damaged)"):
        load_image(bytes(data), "broken.png")


# ----- handled, with a note ---------------------------------------------------------------------------------------


def test_16_bit_grayscale_png_is_scaled_not_clipped():
    values = np.array([[0, 257, 32896, 65535]] * 4)
    out = load_image(fx.gray16_png(values), "depth.png")
    assert out.original_mode == "I;16"
    assert _rgb(out)[0, :, 0].tolist() == [0, 1, 128, 255]  # clipping would give [0, 255, 255, 255]
    assert (_rgb(out)[..., 0] == _rgb(out)[..., 2]).all()
    assert any("16-bit grayscale" in n and "not clipped" in n for n in out.notes)


def test_16_bit_rgb_png_is_reduced_to_8_bits():
    rgb16 = np.array([[[0, 2000, 65535], [32896, 256, 65280]]], dtype=np.uint16)
    out = load_image(fx.png_rgb16(rgb16), "scan.png")
    assert _rgb(out).tolist() == [[[0, 7, 255], [128, 1, 255]]]
    assert any("16-bit PNG" in n for n in out.notes)


def test_cmyk_jpeg_becomes_rgb():
    out = load_image(fx.cmyk_jpeg(), "print.jpg")
    assert out.original_mode == "CMYK" and out.image.mode == "RGB"
    red, white = _rgb(out)[16, 5].astype(int), _rgb(out)[16, 50].astype(int)
    assert np.abs(red - [255, 0, 0]).max() <= 8
    assert np.abs(white - [255, 255, 255]).max() <= 8
    assert any("CMYK" in n for n in out.notes)


def test_palette_with_transparency_composited_on_grey():
    out = load_image(fx.palette_with_transparency(), "logo.png")
    assert out.original_mode == "P"
    assert tuple(_rgb(out)[0, 0]) == BACKGROUND
    assert tuple(_rgb(out)[0, 7]) == (255, 0, 0)
    assert any("transparency (50% of pixels not opaque)" in n for n in out.notes)


def test_rgba_composited_on_grey():
    out = load_image(fx.rgba_half_transparent(), "sticker.png")
    assert tuple(_rgb(out)[3, 0]) == BACKGROUND
    assert tuple(_rgb(out)[3, 7]) == (0, 0, 255)
    assert any("composited onto neutral grey" in n for n in out.notes)


def test_opaque_alpha_is_just_dropped():
    out = load_image(fx.encode(Image.new("LA", (300, 300), (77, 255)), "PNG"), "la.png")
    assert np.unique(_rgb(out)).tolist() == [77]
    assert any("fully opaque: alpha dropped" in n for n in out.notes)


@pytest.mark.parametrize(
    ("mode", "fill", "expected", "note"),
    [("L", 77, 77, "grayscale"), ("1", 1, 255, "1-bit"), ("LA", (90, 255), 90, "alpha")],
)
def test_grayscale_modes(mode, fill, expected, note):
    out = load_image(fx.encode(Image.new(mode, (240, 240), fill), "PNG"), f"g_{mode}.png")
    assert out.original_mode == mode and out.image.mode == "RGB"
    assert np.unique(_rgb(out)).tolist() == [expected]
    assert any(note in n for n in out.notes)


@pytest.mark.parametrize(("orientation", "red_at"), [(6, "top-right"), (8, "bottom-left"), (3, "bottom-right")])
def test_exif_rotated_photo_is_shown_upright(orientation, red_at):
    out = load_image(fx.exif_rotated_jpeg(orientation), "phone.jpg")
    assert out.original_size == (96, 64)
    assert out.size == ((64, 96) if orientation in (6, 8) else (96, 64))
    a = _rgb(out).astype(int)
    corners = {"top-left": a[3, 3], "top-right": a[3, -4], "bottom-left": a[-4, 3], "bottom-right": a[-4, -4]}
    assert np.abs(corners[red_at] - [255, 0, 0]).max() < 20, corners
    assert any(f"EXIF orientation {orientation}" in n for n in out.notes)


def test_one_pixel_image_works_with_an_upscaling_note():
    out = load_image(fx.encode(Image.new("RGB", (1, 1), (5, 6, 7)), "PNG"), "dot.png")
    assert out.size == (1, 1) and tuple(_rgb(out)[0, 0]) == (5, 6, 7)
    assert any("upscaled" in n for n in out.notes)
    x = preprocess(out.image).tensor
    assert x.shape == (1, 3, 224, 224)
    assert preprocess(out.image).steps[0].description.startswith("short side 1 -> 256 (upscaled)")


def test_animated_gif_first_frame():
    out = load_image(fx.animated_gif(), "anim.gif")
    assert out.n_frames == 3
    assert tuple(_rgb(out)[8, 8]) == (255, 0, 0)
    assert "animated GIF: showing the first of 3 frames." in out.notes


def test_multipage_tiff_first_page():
    a, b = Image.new("RGB", (240, 240), (10, 20, 30)), Image.new("RGB", (240, 240), (200, 0, 0))
    out = load_image(fx.encode(a, "TIFF", save_all=True, append_images=[b]), "scan.tif")
    assert out.n_frames == 2 and tuple(_rgb(out)[0, 0]) == (10, 20, 30)
    assert "multi-page TIFF: showing the first of 2 pages." in out.notes


@pytest.mark.parametrize(
    ("fmt", "ext", "tol"), [("WEBP", "webp", 12), ("BMP", "bmp", 0), ("TIFF", "tiff", 0), ("PNG", "png", 0)]
)
def test_formats_round_trip(fmt, ext, tol):
    src = fx.gradient(240, 240)
    kwargs = {"lossless": False, "quality": 95} if fmt == "WEBP" else {}
    out = load_image(fx.encode(src, fmt, **kwargs), f"x.{ext}")
    assert out.format == fmt and out.notes == []
    assert np.abs(_rgb(out).astype(int) - np.asarray(src).astype(int)).max() <= tol


def test_extension_that_lies_is_noted():
    out = load_image(fx.encode(fx.gradient(240, 240), "PNG"), "photo.jpg")
    assert out.format == "PNG"
    assert "the file name says JPEG but the content is PNG: decoded as PNG." in out.notes


def test_nothing_is_written_to_disk(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    real_open, real_os_open = builtins.open, os.open
    writes: list[str] = []

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+"):
            writes.append(str(file))
            raise AssertionError(f"load_image wrote {file}")
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append(str(path))
            raise AssertionError(f"load_image wrote {path}")
        return real_os_open(path, flags, *args, **kwargs)

    cases = [
        fx.exif_rotated_jpeg(6),
        fx.cmyk_jpeg(),
        fx.animated_gif(),
        fx.gray16_png(np.arange(16).reshape(4, 4) * 4000),
        fx.encode(fx.gradient(), "TIFF"),
        fx.encode(fx.gradient(), "WEBP"),
        fx.truncated_jpeg(),
        fx.png_header_only(100_000, 100_000),
    ]
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    for data in cases:
        with contextlib.suppress(ImageError):
            load_image(data, "upload")
    monkeypatch.undo()
    assert writes == []
    assert list(tmp_path.iterdir()) == []


def test_next_upload_works_after_a_bad_one():
    with pytest.raises(ImageError):
        load_image(fx.truncated_jpeg(), "bad.jpg")
    assert load_image(fx.encode(fx.gradient(240, 240), "JPEG"), "good.jpg").size == (240, 240)


# ----- samples and preprocessing ----------------------------------------------------------------------------------


def test_sample_images_bundled_and_rgb():
    samples = images.sample_images()
    assert list(samples) == list(images.SAMPLE_IMAGES)
    assert {"chelsea", "coffee", "astronaut", "rocket"} <= set(samples)
    for name, img in samples.items():
        assert img.mode == "RGB", name
        assert min(img.size) >= 100, name
    assert samples["chelsea"].size == (451, 300)
    with pytest.raises(ValueError, match="unknown sample image 'dog'"):
        images.sample_image("dog")


def test_preprocess_matches_torchvision_transform():
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.transforms.functional import pil_to_tensor

    img = images.sample_image("coffee")
    tv = MobileNet_V2_Weights.IMAGENET1K_V1.transforms()  # resize 256, crop 224, imagenet mean/std, bilinear
    expected = tv(pil_to_tensor(img)).unsqueeze(0)
    got = preprocess(img, resize=256, crop=224)
    assert got.tensor.shape == (1, 3, 224, 224)
    assert [s.name for s in got.steps] == ["resize", "centre crop", "to tensor", "normalise"]
    # torchvision resizes a uint8 tensor, we resize the PIL image: both antialiased bilinear, rounding may differ
    assert (got.tensor - expected).abs().max() < 0.05
    assert (got.tensor - expected).abs().mean() < 0.005


def test_preprocess_steps_statistics():
    img = Image.new("RGB", (400, 300), (255, 127, 0))
    r = preprocess(img, resize=256, crop=224, mean="tf_lite")
    resize, crop, tensor, norm = r.steps
    assert resize.stats.shape == (3, 256, 341) and resize.image.size == (341, 256)
    assert crop.stats.shape == (3, 224, 224) and crop.image.size == (224, 224)
    assert crop.stats.max == [255.0, 127.0, 0.0] and crop.stats.std == [0.0, 0.0, 0.0]
    assert tensor.stats.mean == pytest.approx([1.0, 127 / 255, 0.0])
    # (p - 127) / 128 on 0..255 pixels
    assert norm.stats.mean == pytest.approx([(255 - 127) / 128, 0.0, -127 / 128], abs=1e-6)
    assert r.normalization.name == "tf_lite"
    rows = norm.stats.rows()
    assert [row["channel"] for row in rows] == ["R", "G", "B"]
    assert torch.equal(r.tensor[0], norm.tensor)


def test_preprocess_imagenet_preset_and_errors():
    img = fx.gradient(300, 300)
    a = preprocess(img, mean="imagenet").tensor
    b = preprocess(img, mean=preprocessing.IMAGENET_MEAN, std=preprocessing.IMAGENET_STD).tensor
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="crop=300 must not exceed resize=256"):
        preprocess(img, crop=300)
    with pytest.raises(ValueError, match="unknown normalisation 'caffe'"):
        preprocess(img, mean="caffe")
    with pytest.raises(ValueError, match="interpolation 'lanczos'"):
        preprocess(img, interpolation="lanczos")
    batch = preprocessing.preprocess_batch([img, fx.marker_photo()])
    assert batch.shape == (2, 3, 224, 224)


@pytest.fixture(scope="module")
def lite0_model():
    return weights.load_model("efficientnet_lite0")[0].eval()


@pytest.mark.parametrize("name", [n for n, s in images.SAMPLES.items() if s.expected])
def test_sample_photos_with_an_imagenet_class_are_classified_as_expected(name, lite0_model):
    """What the Inference Lab says to expect of a sample photo holds for the default model."""
    tf = weights.eval_transform("efficientnet_lite0")
    img = images.sample_image(name)
    x = preprocessing.preprocess(img, tf.resize, tf.crop, tf.normalization, interpolation=tf.interpolation).tensor
    top = inference.classify(lite0_model, x, 3)[0]
    assert images.expectation(name, top[0].label)[0] is True, [p.label for p in top]
    if name == "chelsea":  # the lesson: "the top three are cats"
        assert all(p.label in images.CAT_CLASSES for p in top)


def test_sample_photos_without_a_class_say_why():
    for name, s in images.SAMPLES.items():
        right, text = images.expectation(name, "bubble")
        assert (right is None) == (not s.expected)
        assert text and ("No ImageNet class" in text if right is None else "Expected:" in text)
