#!/usr/bin/python3
"""Trains a simdnet preset in PyTorch the way `simdnet train` does, for bench/compare_training.sh.

Same architecture (tools/interop/simdnet_torch.py builds it from the preset with simdnet's
names), same hyper-parameters as simdnet's defaults: SGD momentum 0.9 Nesterov, lr 0.05, weight
decay 5e-4 on weights only (simdnet flags conv/linear biases and BatchNorm affine parameters
weight_decay = false: layers/conv2d.cc, linear.cc, batch_norm.cc), cosine schedule per iteration
over the whole run (PyTorch CosineAnnealingLR closed form, eta_min 0), batch 64, softmax cross
entropy, per-channel normalization with the training set's mean and population std, no
augmentation. Fashion-MNIST is read into memory with gzip + struct; there is no DataLoader.

Prints one line of JSON: train_images_per_second (training loop only: the test pass is excluded,
as in simdnet's metrics.csv), test_accuracy, infer_images_per_second {batch: images/s} (eval mode,
median of timed calls, random inputs) and the settings in effect.

Usage: torch_training.py --model=lenet5 [--epochs=1] [--train_samples=0] [--threads=2]
       [--data_dir=/usr/share/datasets/fashion-mnist] [--seed=1] [--bench_seconds=1]
"""
import argparse
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                                "interop"))
import simdnet_torch  # noqa: E402


def read_idx(path):
    """Returns the IDX file at `path` as a uint8 tensor of its stated dims."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, rank = struct.unpack_from(">HBB", data, 0)
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack_from(">%dI" % rank, data, 4)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)[4 + 4 * rank:].reshape(dims)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, prefix + "-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, prefix + "-labels-idx1-ubyte.gz"))
    return images.float().div_(255.0).unsqueeze(1), labels.long()


def evaluate(model, x, y, batch=256):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / x.shape[0]


def inference_speed(model, shape, batch, seconds):
    """Returns images/s at `batch` in eval mode: the median of calls timed for ~`seconds`."""
    model.eval()
    x = torch.rand((batch,) + tuple(shape))
    times = []
    with torch.no_grad():
        for _ in range(3):
            model(x)  # warm-up
        start = time.perf_counter()
        while time.perf_counter() - start < seconds or len(times) < 5:
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return batch / statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="lenet5")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--train_samples", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data_dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bench_seconds", type=float, default=1.0)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight_decay", type=float, default=5e-4)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load_split(args.data_dir, "train")
    x_test, y_test = load_split(args.data_dir, "t10k")
    if 0 < args.train_samples < x_train.shape[0]:
        keep = torch.randperm(x_train.shape[0])[:args.train_samples].sort().values
        x_train, y_train = x_train[keep], y_train[keep]
    # Per-channel statistics of the training set (population std, floored as data/normalize.h).
    mean = x_train.mean(dim=(0, 2, 3), keepdim=True)
    std = x_train.std(dim=(0, 2, 3), unbiased=False, keepdim=True).clamp_min(1e-6)
    # In place, so that the peak memory is not that of two copies of the data set.
    x_train.sub_(mean).div_(std)
    x_test.sub_(mean).div_(std)

    shape = tuple(x_train.shape[1:])
    model = simdnet_torch.build_model(args.model, 10, shape)
    decay = [q for _, q in model.named_parameters() if q.dim() > 1]  # conv / linear weights
    no_decay = [q for _, q in model.named_parameters() if q.dim() <= 1]  # biases, BN affine
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    n = x_train.shape[0]
    batches = (n + args.batch_size - 1) // args.batch_size
    total = args.epochs * batches
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total)))

    train_seconds = 0.0
    images = 0
    accuracy = float("nan")
    for epoch in range(args.epochs):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(n)
        for b in range(batches):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            images += idx.shape[0]
        train_seconds += time.perf_counter() - start
        accuracy = evaluate(model, x_test, y_test)
        print("torch epoch %d/%d: loss %.4f test acc %.2f%% %.0f img/s" % (
            epoch + 1, args.epochs, loss.item(), 100 * accuracy, images / train_seconds),
            file=sys.stderr)

    infer = {str(b): inference_speed(model, shape, b, args.bench_seconds) for b in (1, 64)}
    print(json.dumps({
        "model": args.model,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_images": images,
        "train_images_per_second": images / train_seconds,
        "test_accuracy": accuracy,
        "infer_images_per_second": infer,
        "env": {k: os.environ.get(k, "unset") for k in (
            "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
            "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")},
    }))


if __name__ == "__main__":
    main()
