#!/usr/bin/python3
"""PyTorch parity: simdnet and torch on IDENTICAL weights and the same batch.

For each model (the presets lenet5, vgg-small, resnet-small, plus tools/parity/options.spec,
which uses every layer option of the spec language), this script
  1. trains one batch with `simdnet train --epochs=1 --max_batches=1` (on Fashion-MNIST, so the
     weights and BatchNorm running statistics are no longer their initial values),
  2. loads that checkpoint into the torch.nn module that tools/interop/simdnet_torch.py builds
     from the checkpoint's spec (or, with --weights_from=torch, the other direction: torch's
     initialization written by simdnet_torch.save_checkpoint and loaded by simdnet),
  3. runs `parity_logits` (tools/parity/logits_main.cc) and torch (float64 as the reference,
     float32 for its own rounding error) on the same random batch and labels, and compares the
     logits, the softmax cross-entropy loss, and the gradients of the loss with respect to every
     parameter and to the input, in eval mode (BatchNorm running statistics, no dropout) and,
     for models without dropout, in train mode (batch statistics).

Each comparison prints max |simdnet - torch f64| ("|diff|") and that divided by max |torch f64|
of the tensor ("rel"). A tensor passes when |diff| <= rtol * max|ref| + 10 * max|torch f32 -
ref| (rtol 1e-4 by default: float32 sums over a few thousand terms in different orders; the
second term covers gradients that vanish up to cancellation, e.g. a bias before train-mode
BatchNorm). Gradients are not compared (reported as KINK) when some ReLU input lies within
1e-6 max|z| of 0, where float32 rounding can flip the derivative. Exits non-zero if any tensor
fails.

Needs Debian's python3-torch (run with /usr/bin/python3) and the two binaries:
  bazel build -c opt //train:simdnet //tools/parity:parity_logits
  /usr/bin/python3 tools/parity/parity.py [--models=lenet5,vgg-small] [--batch=16]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "interop"))
import simdnet_torch  # noqa: E402  (found through the path set above)

MODELS = ["lenet5", "vgg-small", "resnet-small", os.path.join(HERE, "options.spec")]


def torch_run(ckpt, mode, x, y, dtype):
    """Returns {"logits", "loss", "grad/input", "grad/<param>"} of torch in `dtype`."""
    # Fresh weights per run: train mode updates the BatchNorm running statistics.
    module, _ = simdnet_torch.load_checkpoint(None, ckpt)
    module = module.to(dtype)
    module.train(mode == "train")
    # Counts ReLU / LeakyReLU inputs within float32 rounding of the kink (|z| <= 1e-6 max|z|):
    # there the two float32 implementations may take different derivatives.
    kinks = [0]

    def count_kinks(unused_module, inputs, unused_output):
        z = inputs[0].detach()
        kinks[0] += int((z.abs() <= 1e-6 * z.abs().max()).sum())

    for m in module.modules():
        if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            m.register_forward_hook(count_kinks)
    xg = x.to(dtype).clone().requires_grad_(True)
    logits = module(xg)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = {"logits": logits.detach(), "loss": loss.detach().reshape(1), "grad/input": xg.grad}
    for name, p in module.named_parameters():
        out["grad/" + name] = p.grad
    return out, kinks[0]


def compare(name, ours, ref64, ref32, rtol, rows):
    """Compares simdnet's tensor with torch float64 (the reference). A tensor passes when
    max|simdnet - ref| <= rtol * max|ref| + 10 * max|torch float32 - ref|: the second term admits
    gradients that are zero up to cancellation (e.g. a bias before train-mode BatchNorm), where
    float32 rounding is all there is and torch float32 is no closer."""
    ref = ref64.detach().double()
    ours = ours.reshape(ref.shape).double()
    diff = (ours - ref).abs().max().item() if ref.numel() else 0.0
    diff32 = (ref32.detach().double() - ref).abs().max().item() if ref.numel() else 0.0
    scale = ref.abs().max().item() if ref.numel() else 0.0
    rel = diff / scale if scale > 0 else diff
    bound = rtol * scale + 10.0 * diff32
    good = diff <= bound
    rows.append((name, diff, rel, good, diff32, diff / bound if bound > 0 else float(diff > 0)))
    return good


def write_torch_checkpoint(model, path, seed):
    """Writes torch's default initialization of `model` (random BatchNorm running statistics
    and affine parameters, so they matter) as a simdnet checkpoint with save_checkpoint."""
    torch.manual_seed(seed)
    module = simdnet_torch.build_model(simdnet_torch.load_spec_text(model), 10)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0.0, 0.2)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    simdnet_torch.save_checkpoint(module, path)


def run_model(model, args, work):
    tag = os.path.splitext(os.path.basename(model))[0]
    out_dir = os.path.join(work, tag)
    ckpt = os.path.join(out_dir, "checkpoint.safetensors")
    if args.weights_from == "torch":
        write_torch_checkpoint(model, ckpt, args.seed)
    else:
        train = subprocess.run(
            [args.simdnet, "train", "--model=" + model, "--epochs=1", "--max_batches=1",
             "--batch_size=32", "--train_samples=256", "--test_samples=64", "--progress=false",
             "--report=false", "--seed=%d" % args.seed, "--out=" + out_dir],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if train.returncode != 0:
            sys.stderr.write(train.stdout.decode("utf-8", "replace"))
            raise SystemExit("simdnet train --model=%s failed" % model)
    module, info = simdnet_torch.load_checkpoint(None, ckpt)

    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn((args.batch,) + info["input_shape"], generator=gen)
    y = torch.randint(0, info["num_classes"], (args.batch,), generator=gen)
    x_path, y_path = os.path.join(out_dir, "x.npy"), os.path.join(out_dir, "y.npy")
    simdnet_torch.write_npy(x_path, x.reshape(args.batch, -1))
    simdnet_torch.write_npy(y_path, y)

    has_dropout = any(isinstance(m, nn.Dropout) and m.p > 0 for m in module.modules())
    modes = ["eval"] if has_dropout else ["eval", "train"]
    ok = True
    for mode in modes:
        res_path = os.path.join(out_dir, "result_%s.safetensors" % mode)
        subprocess.run([args.parity_logits, "--checkpoint=" + ckpt, "--input=" + x_path,
                        "--labels=" + y_path, "--out=" + res_path, "--mode=" + mode, "--grads"],
                       check=True)
        ours, _ = simdnet_torch.read_safetensors(res_path)
        ref64, kinks = torch_run(ckpt, mode, x, y, torch.float64)
        ref32, _ = torch_run(ckpt, mode, x, y, torch.float32)
        rows = []
        for name in ref64:
            tol = args.rtol if name in ("logits", "loss") else args.grad_rtol
            good = compare(name, ours[name], ref64[name], ref32[name], tol, rows)
            # A gradient past a ReLU input that float32 rounds to the other side of 0 differs
            # by that input's whole contribution; that is not a defect of either side.
            ok &= good or (name.startswith("grad/") and kinks > 0)
        loss = ref64["loss"]
        grads = [r for r in rows if r[0].startswith("grad/")]
        worst = max(grads, key=lambda r: r[5])  # closest to (or furthest past) its bound
        print("%-14s %-5s logits max|diff| %.3g (rel %.3g)  loss %.7g vs %.7g (|diff| %.3g)  "
              "grads: %d tensors, worst %s |diff| %.3g (rel %.3g)  %s" % (
                  tag, mode, rows[0][1], rows[0][2], ours["loss"].item(), loss.item(),
                  rows[1][1], len(grads), worst[0], worst[1], worst[2],
                  "OK" if all(r[3] for r in rows) else
                  ("FAIL" if not all(r[3] for r in rows[:2]) or kinks == 0 else
                   "KINK (%d ReLU inputs within 1e-6 max|z| of 0: gradients not comparable; "
                   "try another --seed)" % kinks)))
        if args.verbose or not all(r[3] for r in rows):
            for name, diff, rel, good, diff32, _ in rows:
                print("    %-40s max|diff| %.3g rel %.3g (torch f32: %.3g)%s"
                      % (name, diff, rel, diff32, "" if good else "  FAIL"))
    return ok


def built(*path):
    """Returns the -c opt output of a target if it exists, else the bazel-bin one (bazel-bin
    follows the last build's configuration, e.g. a sanitizer build)."""
    opt = os.path.join(ROOT, "bazel-out", "k8-opt", "bin", *path)
    return opt if os.path.exists(opt) else os.path.join(ROOT, "bazel-bin", *path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated presets or spec files")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2,
                        help="weights (simdnet train) and batch seed; seed 1 puts a resnet-small "
                        "ReLU input 2e-8 from 0 (KINK)")
    parser.add_argument("--rtol", type=float, default=1e-4,
                        help="max |diff| / max |torch| allowed for logits and loss")
    parser.add_argument("--grad_rtol", type=float, default=1e-4,
                        help="the same for gradients")
    parser.add_argument("--simdnet", default=built("train", "simdnet"))
    parser.add_argument("--parity_logits", default=built("tools", "parity", "parity_logits"))
    parser.add_argument("--weights_from", default="simdnet", choices=["simdnet", "torch"],
                        help="simdnet: one `simdnet train` batch, loaded into torch; torch: "
                        "torch's initialization, written by simdnet_torch.save_checkpoint and "
                        "loaded by simdnet")
    parser.add_argument("--work_dir", default="", help="keep the runs here (default: a temp dir)")
    parser.add_argument("--verbose", action="store_true", help="print every tensor")
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or tmp
        for model in args.models.split(","):
            ok &= run_model(model, args, work)
    print("parity: %s (rtol %g logits/loss, %g gradients)" % ("OK" if ok else "FAIL", args.rtol,
                                                              args.grad_rtol))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
