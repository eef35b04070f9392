#!/usr/bin/python3
"""Writes data/testdata/imagenet_preprocess_golden.txt: torchvision 0.14's PIL preprocessing
(Resize(short side), CenterCrop) of small synthetic RGB images, which
//data:imagenet_preprocess_test regenerates in C++ and compares byte for byte. Run once with
Debian's python3-torchvision (/usr/bin/python3 tools/golden/imagenet_preprocess_golden.py).

Image (h, w): pixel (y, x, c) = (x * 37 + y * 11 + c * 71 + (x * y) % 17) % 256.
Each line: "h w resize crop" then the (3, crop, crop) planar bytes in hex.
"""
import os

import numpy as np
from PIL import Image
import torchvision.transforms as T

CASES = [(37, 53, 20, 16), (41, 29, 24, 19), (30, 30, 30, 27), (64, 48, 13, 13),
         (19, 200, 8, 5)]


def image(h, w):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((x * 37 + y * 11 + c * 71 + (x * y) % 17) % 256).astype(np.uint8)


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                       "testdata", "imagenet_preprocess_golden.txt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    lines = []
    for h, w, resize, crop in CASES:
        pil = Image.fromarray(image(h, w), "RGB")
        t = T.Compose([T.Resize(resize), T.CenterCrop(crop)])(pil)
        planar = np.asarray(t).transpose(2, 0, 1).copy()
        assert planar.shape == (3, crop, crop), planar.shape
        lines.append("%d %d %d %d %s" % (h, w, resize, crop, planar.tobytes().hex()))
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", os.path.abspath(out))


if __name__ == "__main__":
    main()
