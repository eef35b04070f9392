#!/usr/bin/python3
"""Exports torchvision 0.14 classifiers' state_dicts as safetensors for `simdnet --weights=`.

Uses only Debian's python3-torch and python3-torchvision (run with /usr/bin/python3); nothing is
downloaded: the weights come from a .pth file you already have, or from the hash-seeded formula
below, which simdnet implements too (train/hash_weights.h), so both sides hold bit-identical
weights without any weight file entering the repository.

  torchvision_export.py export --arch=resnet18 --pth=resnet18-f37072fd.pth --out=r18.safetensors
  torchvision_export.py export --arch=resnet18 --hash_seeded --out=r18.safetensors
  torchvision_export.py classes --out=imagenet_classes.txt   (torchvision's 1000 class names)
  torchvision_export.py names --arch=mobilenet_v2             (state_dict names, shapes, dtypes)

The file holds exactly the model's state_dict: F32 parameters and running statistics, and the
BatchNorm `num_batches_tracked` counters as I64 (simdnet checks and ignores them).

Hash-seeded weights (the formula train/hash_weights.cc implements; keep the two in step):
  h = FNV-1a 64 of the tensor name (UTF-8); for element i (C order):
  z = splitmix64(h + (i + 1) * 0x9E3779B97F4A7C15 mod 2^64), u = (z >> 11) * 2^-53 in [0, 1),
  v = 2u - 1 in [-1, 1), and the value, computed in double then rounded to float32, is
    *.running_mean: 0.1 v          *.running_var: 1 + 0.25 (v + 1)
    rank >= 2 (conv / linear weights): sqrt(6 / fan_in) v, fan_in = numel / shape[0]
    other rank-1 *.weight (BatchNorm scale): 1 + 0.25 v
    other (biases, the test input "input"): 0.1 v, and 2 v for "input"
    *.num_batches_tracked: 0 (I64)
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torchvision

ARCHS = ["alexnet", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn", "resnet18", "resnet34",
         "resnet50", "mobilenet_v2"]

_MASK = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & _MASK
    return h


def hash_uniform(name, count):
    """Returns v in [-1, 1) (float64, shape (count,)) for the first `count` elements of `name`."""
    h = np.uint64(fnv1a64(name))
    with np.errstate(over="ignore"):
        i = np.arange(1, count + 1, dtype=np.uint64)
        z = h + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(11)).astype(np.float64) * (2.0 ** -53)
    return 2.0 * u - 1.0


def hash_tensor(name, shape):
    """Returns the hash-seeded float32 tensor for `name` (see the module docstring)."""
    count = int(np.prod(shape)) if len(shape) else 1
    v = hash_uniform(name, count)
    if name.endswith("running_mean"):
        x = 0.1 * v
    elif name.endswith("running_var"):
        x = 1.0 + 0.25 * (v + 1.0)
    elif len(shape) >= 2:
        x = math.sqrt(6.0 / (count // shape[0])) * v
    elif name.endswith("weight"):
        x = 1.0 + 0.25 * v
    elif name == "input":
        x = 2.0 * v
    else:
        x = 0.1 * v
    return torch.from_numpy(x.astype(np.float32).reshape(shape))


def hash_input(shape):
    """Returns the hash-seeded test batch (N, C, H, W), float32: per element
    x = v_input + o + s * (2 h / (H - 1) - 1), with v_input = hash_uniform("input", i) (i the
    C-order index), o = hash_uniform("input.offset", n * C + c) and s = hash_uniform(
    "input.slope", n * C + c): noise plus a per-image, per-channel offset and vertical ramp, so
    the images of a batch differ after global pooling (i.i.d. noise alone averages out)."""
    n, c, h, w = shape
    v = hash_uniform("input", n * c * h * w).reshape(n, c, h, w)
    o = hash_uniform("input.offset", n * c).reshape(n, c, 1, 1)
    s = hash_uniform("input.slope", n * c).reshape(n, c, 1, 1)
    ramp = (2.0 * np.arange(h, dtype=np.float64) / (h - 1) - 1.0).reshape(1, 1, h, 1)
    x = (v + o) + s * ramp
    return torch.from_numpy(x.astype(np.float32))


def build(arch, num_classes=1000):
    """Returns torchvision's `arch` (no weights downloaded), in eval mode."""
    if arch not in ARCHS:
        raise SystemExit("unknown --arch=%s (expected one of %s)" % (arch, ", ".join(ARCHS)))
    return getattr(torchvision.models, arch)(weights=None, num_classes=num_classes).eval()


def fill_hash_seeded(model):
    """Overwrites every parameter and buffer of `model` with the hash-seeded values."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.zero_()
            else:
                t.copy_(hash_tensor(name, tuple(t.shape)))
    return model


def load_pth(model, path):
    """Loads a .pth state_dict (or a dict holding one under 'state_dict' / 'model', or a pickled
    module) into `model`, strictly: every name and shape must match torchvision's."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a pickled nn.Module needs the full unpickler (trusted files only)
        obj = torch.load(path, map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise SystemExit("%s: not a state_dict (a %s)" % (path, type(obj).__name__))
    obj = {k[len("module."):] if k.startswith("module.") else k: v for k, v in obj.items()}
    expected = model.state_dict()
    for name, t in expected.items():
        if name not in obj:
            raise SystemExit("%s: tensor '%s' of %s is missing" % (path, name, model.arch))
        if tuple(obj[name].shape) != tuple(t.shape):
            raise SystemExit("%s: tensor '%s' has shape %s but %s expects %s"
                             % (path, name, tuple(obj[name].shape), model.arch, tuple(t.shape)))
    for name in obj:
        if name not in expected:
            raise SystemExit("%s: tensor '%s' is not part of %s" % (path, name, model.arch))
    model.load_state_dict(obj, strict=True)
    return model


def write_state_dict(path, state, metadata):
    """Writes {name: tensor} as safetensors (float tensors as F32, integer ones as I64),
    atomically (temp file, fsync, rename), streaming the data."""
    header, items, offset = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().contiguous().cpu()
        if t.is_floating_point():
            t, dtype, size = t.to(torch.float32), "F32", 4
        else:
            t, dtype, size = t.to(torch.int64), "I64", 8
        nbytes = t.numel() * size
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + nbytes]}
        items.append(t)
        offset += nbytes
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in items:
            arr = t.numpy()
            f.write(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def class_names():
    """Returns torchvision's 1000 ImageNet class names (package metadata; no download)."""
    return list(torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


def _cmd_export(args):
    model = build(args.arch, args.num_classes)
    model.arch = args.arch
    if args.hash_seeded == bool(args.pth):
        raise SystemExit("export: give exactly one of --pth=FILE and --hash_seeded")
    if args.hash_seeded:
        fill_hash_seeded(model)
        source = "hash-seeded"
    else:
        load_pth(model, args.pth)
        source = os.path.basename(args.pth)
    meta = {"format": "torchvision-state-dict", "arch": args.arch, "source": source,
            "torchvision_version": torchvision.__version__}
    write_state_dict(args.out, model.state_dict(), meta)
    n = sum(t.numel() for t in model.state_dict().values())
    print("wrote %s: %s state_dict (%d tensors, %d values) from %s"
          % (args.out, args.arch, len(model.state_dict()), n, source))


def _cmd_classes(args):
    names = class_names()
    tmp = "%s.tmp.%d" % (args.out, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        for name in names:
            f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, args.out)
    print("wrote %s: %d ImageNet class names" % (args.out, len(names)))


def _cmd_names(args):
    for name, t in build(args.arch, args.num_classes).state_dict().items():
        print("%s %s %s" % (name, "x".join(str(d) for d in t.shape) or "scalar",
                            "F32" if t.is_floating_point() else "I64"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="write a state_dict as safetensors")
    e.add_argument("--arch", required=True, choices=ARCHS)
    e.add_argument("--pth", help="a torchvision .pth state_dict you have")
    e.add_argument("--hash_seeded", action="store_true", help="the hash-seeded weights")
    e.add_argument("--num_classes", type=int, default=1000)
    e.add_argument("--out", required=True)
    c = sub.add_parser("classes", help="write the 1000 ImageNet class names, one per line")
    c.add_argument("--out", required=True)
    n = sub.add_parser("names", help="print state_dict names, shapes and dtypes")
    n.add_argument("--arch", required=True, choices=ARCHS)
    n.add_argument("--num_classes", type=int, default=1000)
    args = p.parse_args(argv)
    {"export": _cmd_export, "classes": _cmd_classes, "names": _cmd_names}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
