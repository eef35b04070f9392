#!/usr/bin/python3
"""PyTorch's side of bench/compare_torchvision.sh: one measurement of a torchvision network.

Modes (batch --batch, 224x224 random inputs, --threads intra-op threads):
  infer     eval mode under torch.no_grad(): images/s of the forward pass (1000-way head).
  full      fine-tuning: the head replaced by a --classes-way Linear, train mode, every parameter
            learns: forward, cross-entropy, backward, SGD (momentum 0.9, weight decay 1e-4).
  backbone  the same with every parameter but the new head's frozen (requires_grad = False).
Prints one JSON line: {"model", "mode", "batch", "images_per_second", "steps"}; the timed loop
runs for --seconds after two warm-up calls and reports the median call.
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def head_of(net):
    """Returns (parent module, attribute) of the network's final Linear."""
    if hasattr(net, "fc"):
        return net, "fc"
    return net.classifier, str(len(net.classifier) - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=["infer", "full", "backbone"], required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--classes", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    net = getattr(torchvision.models, a.model)(weights=None)
    x = torch.randn(a.batch, 3, 224, 224)
    if a.mode == "infer":
        net.eval()

        def call():
            with torch.no_grad():
                net(x)
    else:
        parent, name = head_of(net)
        old = getattr(parent, name)
        setattr(parent, name, torch.nn.Linear(old.in_features, a.classes))
        if a.mode == "backbone":
            for p in net.parameters():
                p.requires_grad = False
            for p in getattr(parent, name).parameters():
                p.requires_grad = True
        net.train()
        params = [p for p in net.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9, weight_decay=1e-4)
        y = torch.arange(a.batch) % a.classes

        def call():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
    for _ in range(2):
        call()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < a.seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"model": a.model, "mode": a.mode, "batch": a.batch,
                      "images_per_second": a.batch / statistics.median(times),
                      "steps": len(times)}))


if __name__ == "__main__":
    main()
