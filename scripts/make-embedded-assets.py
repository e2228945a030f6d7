#!/usr/bin/env python3
"""Cut the embedded dataset subsets in assets/ from the full IDX files.

Usage: scripts/make-embedded-assets.py DATA_DIR
DATA_DIR is what scripts/fetch-data.sh fills (DATA_DIR/fashion-mnist, DATA_DIR/mnist).
Writes assets/<set>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz holding the first
TRAIN_N training and the first TEST_N test images, in the original IDX format.
"""
import gzip, os, struct, sys

TRAIN_N, TEST_N = 10000, 2000
SETS = ["fashion-mnist", "mnist"]

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]

def write_idx(path, magic_type, dims, payload):
    header = bytes([0, 0, magic_type, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(header + payload)

def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"missing {stem} in {folder}: run scripts/fetch-data.sh first")

def main():
    data_dir = sys.argv[1] if len(sys.argv) > 1 else "data"
    root = os.path.join(os.path.dirname(__file__), "..", "assets")
    for name in SETS:
        out = os.path.join(root, name)
        os.makedirs(out, exist_ok=True)
        for split, n in (("train", TRAIN_N), ("t10k", TEST_N)):
            dims, pix = read_idx(find(os.path.join(data_dir, name), f"{split}-images-idx3-ubyte"))
            per = dims[1] * dims[2]
            write_idx(os.path.join(out, f"{split}-images-idx3-ubyte.gz"), 0x08, (n, dims[1], dims[2]), pix[: n * per])
            _, lab = read_idx(find(os.path.join(data_dir, name), f"{split}-labels-idx1-ubyte"))
            write_idx(os.path.join(out, f"{split}-labels-idx1-ubyte.gz"), 0x08, (n,), lab[:n])
        print(name, "->", out)

if __name__ == "__main__":
    main()
