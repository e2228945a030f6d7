"""The stored seed files of the image fuzz harness (tests/fixtures/images): kinds the
`image` crate decodes but does not write, so the harness cannot make them itself.

    pip install pillow && python3 scripts/make-image-fixtures.py
"""
import os

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "images")


def pattern(mode, w, h, channels):
    image = Image.new(mode, (w, h))
    image.putdata([tuple((x * 7 + y * 13 + c * 29) % 251 for c in range(channels)) if channels > 1 else (x * 7 + y * 13) % 251 for y in range(h) for x in range(w)])
    return image


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb = pattern("RGB", 24, 16, 3)
    # Palette PNGs: 8-bit with a transparent entry (tRNS), and 4-bit.
    rgb.quantize(colors=200).save(os.path.join(OUT, "palette-8bit.png"), transparency=0)
    rgb.quantize(colors=16).save(os.path.join(OUT, "palette-4bit.png"), bits=4)
    # JPEG in CMYK (Adobe's inverted CMYK, as Photoshop writes it) and progressive.
    rgb.convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=90)
    rgb.save(os.path.join(OUT, "progressive.jpg"), quality=90, progressive=True)
    # An animated WebP of three frames (the first is the one a still decoder shows).
    frames = [pattern("RGB", 24, 16, 3).rotate(90 * i) for i in range(3)]
    frames[0].save(os.path.join(OUT, "animated.webp"), save_all=True, append_images=frames[1:], duration=100, loop=0, lossless=True)
    # Lossy WebP.
    rgb.save(os.path.join(OUT, "lossy.webp"), quality=80)
    for name in sorted(os.listdir(OUT)):
        with Image.open(os.path.join(OUT, name)) as im:
            print(f"{name}: {im.format} {im.mode} {im.size} {getattr(im, 'n_frames', 1)} frame(s), {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
