#!/usr/bin/env bash
# Makes assets/backgrounds/: six CC0 / public-domain photos and textures from scikit-image
# 0.26.0's sample data (PyPI), each scaled and centre-cropped to 192×192 RGB JPEG, the
# backgrounds of the quadrant scenes (core/src/data/scenes.rs). Licences: assets/LICENSES.md.
# Needs pip and ImageMagick (convert).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
(cd "$work" && pip download --no-deps --quiet scikit-image==0.26.0 && unzip -q -o scikit_image-*.whl 'skimage/data/*')
mkdir -p assets/backgrounds
for name in grass brick coffee chelsea rocket astronaut; do
  src=$(ls "$work"/skimage/data/"$name".* | head -1)
  convert "$src" -colorspace sRGB -type TrueColor -resize 192x192^ -gravity center -extent 192x192 -quality 90 "assets/backgrounds/$name.jpg"
done
rm -rf "$work"
ls -l assets/backgrounds
