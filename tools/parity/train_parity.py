#!/usr/bin/python3
"""Training parity: S steps of SGD in simdnet and in PyTorch from identical weights and batches.

For each model without dropout (lenet5, resnet-small; vgg-small is skipped: its dropout
masks cannot be the same on both sides), this script
  1. trains one batch with `simdnet train` to get a checkpoint with non-initial weights and
     BatchNorm statistics (as parity.py does),
  2. runs `parity_logits --train_steps=S` (tools/parity/logits_main.cc): S steps of
     SGD (torch.optim.SGD semantics: form=pytorch, momentum 0.9, weight decay 5e-4 on conv and
     linear weights only, as simdnet's defaults mark them) over the first N Fashion-MNIST
     training images (normalized as the checkpoint says) in consecutive batches of B, no
     shuffling, train mode,
  3. runs the same steps in torch on the module tools/interop/simdnet_torch.py builds from that
     checkpoint (float32 and float64),
and compares the loss curves step by step, the final parameters and the BatchNorm running
statistics. Float32 differences grow along a trajectory (chaotic in the long run), so the
tolerances are stated relative to torch float32's own distance from float64 over the same run:
simdnet passes when its distance to float64 is at most 10x torch float32's plus 1e-5.

  bazel build -c opt //train:simdnet //tools/parity:parity_logits
  /usr/bin/python3 tools/parity/train_parity.py [--steps=200] [--batch=32] [--lr=0.01]
"""
import argparse
import gzip
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "interop"))
import simdnet_torch  # noqa: E402

MOMENTUM, WEIGHT_DECAY = 0.9, 5e-4


def fashion_mnist(n):
    """Returns the first n Fashion-MNIST training images (n, 1, 28, 28) in [0, 1] and labels."""
    root = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        _, count, rows, cols = struct.unpack(">IIII", f.read(16))
        pixels = f.read(n * rows * cols)
    with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        labels = f.read(n)
    x = torch.tensor(list(pixels), dtype=torch.float32).reshape(n, 1, rows, cols) / 255.0
    return x, torch.tensor(list(labels), dtype=torch.int64)


def torch_train(ckpt, x, y, steps, batch, lr, dtype):
    module, _ = simdnet_torch.load_checkpoint(None, ckpt)
    module = module.to(dtype).train()
    decay, no_decay = [], []
    for m in module.modules():
        for name, p in m.named_parameters(recurse=False):
            is_weight = name == "weight" and isinstance(m, (nn.Conv2d, nn.Linear))
            (decay if is_weight else no_decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": WEIGHT_DECAY},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=MOMENTUM)
    x = x.to(dtype)
    n = x.shape[0]
    curve = []
    for step in range(steps):
        idx = [(step * batch + i) % n for i in range(batch)]
        opt.zero_grad()
        loss = F.cross_entropy(module(x[idx]), y[idx])
        loss.backward()
        opt.step()
        curve.append(loss.item())
    state = {k: v.detach().to(torch.float64) for k, v in module.state_dict().items()}
    return torch.tensor(curve, dtype=torch.float64), state


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lenet5,resnet-small")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--simdnet", default=os.path.join(ROOT, "bazel-bin", "train", "simdnet"))
    parser.add_argument("--parity_logits",
                        default=os.path.join(ROOT, "bazel-bin", "tools", "parity", "parity_logits"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    ok = True
    with tempfile.TemporaryDirectory() as work:
        for model in args.models.split(","):
            out_dir = os.path.join(work, model)
            subprocess.run(
                [args.simdnet, "train", "--model=" + model, "--epochs=1", "--max_batches=1",
                 "--batch_size=32", "--train_samples=256", "--test_samples=64",
                 "--progress=false", "--report=false", "--seed=%d" % args.seed,
                 "--out=" + out_dir], check=True, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            ckpt = os.path.join(out_dir, "checkpoint.safetensors")
            module, info = simdnet_torch.load_checkpoint(None, ckpt)
            if any(isinstance(m, nn.Dropout) and m.p > 0 for m in module.modules()):
                print("%-14s skipped: dropout masks differ between the two sides" % model)
                continue
            # Real images (the checkpoint was trained on them, normalized as it says), so the
            # trajectories learn instead of memorizing noise.
            x, y = fashion_mnist(args.samples)
            x = simdnet_torch.normalize_input(x, info["normalization"])
            x_path, y_path = os.path.join(out_dir, "x.npy"), os.path.join(out_dir, "y.npy")
            simdnet_torch.write_npy(x_path, x.reshape(args.samples, -1))
            simdnet_torch.write_npy(y_path, y)
            res = os.path.join(out_dir, "train.safetensors")
            subprocess.run([args.parity_logits, "--checkpoint=" + ckpt, "--input=" + x_path,
                            "--labels=" + y_path, "--out=" + res,
                            "--train_steps=%d" % args.steps, "--batch=%d" % args.batch,
                            "--optimizer=sgd:lr=%g,momentum=%g,form=pytorch,weight_decay=%g"
                            % (args.lr, MOMENTUM, WEIGHT_DECAY)], check=True)
            ours, _ = simdnet_torch.read_safetensors(res)
            curve64, state64 = torch_train(ckpt, x, y, args.steps, args.batch, args.lr,
                                           torch.float64)
            curve32, state32 = torch_train(ckpt, x, y, args.steps, args.batch, args.lr,
                                           torch.float32)
            ours_curve = ours["loss_curve"].to(torch.float64)
            d_curve = (ours_curve - curve64).abs().max().item()
            d_curve32 = (curve32 - curve64).abs().max().item()
            # The final tensor furthest past (or closest to) its bound 10 * d32 + 1e-5.
            worst, worst_name, worst32, margin = 0.0, "", 0.0, -float("inf")
            compared = 0
            for name, ref in state64.items():
                key = ("buffer/" if ("running_" in name) else "param/") + name
                if key not in ours:
                    continue
                compared += 1
                d = (ours[key].to(torch.float64) - ref).abs().max().item()
                d32 = (state32[name] - ref).abs().max().item()
                if d - 10 * d32 > margin:
                    worst, worst_name, worst32, margin = d, key, d32, d - 10 * d32
            if compared == 0:
                raise SystemExit("%s: no final tensor names in common" % model)
            good = d_curve <= 10 * d_curve32 + 1e-5 and worst <= 10 * worst32 + 1e-5
            ok &= good
            print("%-14s %d steps: loss %.5f -> %.5f (torch f64 %.5f -> %.5f); loss curve "
                  "max|diff| %.3g (torch f32: %.3g); worst final tensor %s max|diff| %.3g "
                  "(torch f32: %.3g)  %s" % (
                      model, args.steps, ours_curve[0].item(), ours_curve[-1].item(),
                      curve64[0].item(), curve64[-1].item(), d_curve, d_curve32, worst_name,
                      worst, worst32, "OK" if good else "FAIL"))
    print("train parity: %s" % ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
