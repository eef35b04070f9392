#!/usr/bin/python3
"""Writes train/testdata/torchvision_logits.safetensors: torchvision's logits for every
architecture simdnet presets, on hash-seeded weights and a hash-seeded input batch, computed in
float64 (the reference simdnet's float32 logits are compared with by
//train:torchvision_parity_test). Run once with Debian's python3-torch / python3-torchvision:

  /usr/bin/python3 tools/torchvision/make_logit_fixture.py [--out=PATH]

Nothing is downloaded: the weights come from the name-keyed formula of
tools/interop/torchvision_export.py (hash_tensor), which train/hash_weights.cc implements bit for
bit, and the input is hash_input((N, 3, H, W)) there (noise plus a per-image, per-channel
offset and ramp, values in [-3, 3), like a normalized image). The fixture holds, per architecture, a tensor "<arch>" of float32 logits (N, 1000) and
the metadata "<arch>.input" = "N,3,H,W".
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import torchvision_export as tv  # noqa: E402

# (arch, batch, input side). Batch 2 where the network is cheap, to cover batching; 1 else.
CASES = [
    ("alexnet", 2, 224),
    ("vgg11", 2, 224),
    ("vgg11_bn", 1, 224),
    ("vgg16", 1, 224),
    ("vgg16_bn", 1, 224),
    ("resnet18", 2, 224),
    ("resnet34", 1, 224),
    ("resnet50", 2, 224),
    ("mobilenet_v2", 2, 224),
]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--out", default=os.path.join(here, "..", "..", "train", "testdata",
                                                 "torchvision_logits.safetensors"))
    args = p.parse_args()
    torch.set_num_threads(2)
    tensors, meta = {}, {"format": "simdnet-torchvision-logits",
                         "torch_version": torch.__version__,
                         "torchvision_version": tv.torchvision.__version__,
                         "precision": "float64 forward, rounded to float32"}
    for arch, n, side in CASES:
        start = time.time()
        model = tv.fill_hash_seeded(tv.build(arch)).double()
        x = tv.hash_input((n, 3, side, side)).double()
        with torch.no_grad():
            logits = model(x)
        tensors[arch] = logits.float()
        meta[arch + ".input"] = "%d,3,%d,%d" % (n, side, side)
        diff = (logits[0] - logits[-1]).abs().max().item() if n > 1 else float("nan")
        print("%-13s input %s  logits max|.| %.3f  std %.3f  image 0 vs %d max|diff| %.4f  "
              "top-1 %s  (%.1f s)" % (arch, meta[arch + ".input"], logits.abs().max().item(),
                                      logits.std().item(), n - 1, diff,
                                      logits.argmax(dim=1).tolist(), time.time() - start))
        del model
    tv.write_state_dict(os.path.abspath(args.out), tensors, meta)
    print("wrote", os.path.abspath(args.out))


if __name__ == "__main__":
    main()
