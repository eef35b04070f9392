#!/usr/bin/python3
"""Times PyTorch's CPU convolution on the shapes of bench/shapes/conv_s1_s8.txt (or --shapes).

Prints one line per (shape, threads, pass) with effective GFLOPS
(2 * N * K * C * R * S * OH * OW / groups per pass), the median of 5 runs, in the format
bench/compare_pytorch.sh reads:  <shape> <threads> <fwd|bwd_data|bwd_weights> <gflops>
Passes: forward with bias; backward-data (grad input); backward-weights (grad weight + bias).
PyTorch's best setting is used: glibc malloc thresholds raised so large tensors are not
mmap'ed/unmapped per call, and torch.set_num_threads(threads).
Requires Debian's python3-torch (tools/setup.sh tools/apt-packages-bench.txt).
"""
import argparse
import os
import statistics
import sys
import time

_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "33554432", "MALLOC_TRIM_THRESHOLD_": "17179869184"}


def ensure_malloc_env():
    """Re-executes this script with the malloc settings if they are not in effect."""
    if all(os.environ.get(k) == v for k, v in _MALLOC_ENV.items()):
        return
    env = dict(os.environ, **_MALLOC_ENV)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def read_shapes(path):
    shapes = []
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            line = line.split("#", 1)[0].split()
            if not line:
                continue
            if len(line) not in (9, 10):
                sys.exit(f"{path}:{line_no}: expected 'name N C H W K R stride pad [groups]', "
                         f"got {line}")
            try:
                fields = list(map(int, line[1:]))
            except ValueError:
                sys.exit(f"{path}:{line_no}: non-integer field in {line}")
            if len(fields) == 8:
                fields.append(1)
            if min(fields) < 0 or fields[1] % fields[8] or fields[4] % fields[8]:
                sys.exit(f"{path}:{line_no}: negative size, or groups not dividing C and K in "
                         f"{line}")
            shapes.append((line[0], *fields))
    return shapes


def time_pass(fn, min_seconds=0.2):
    """Returns seconds per call: warm up, then the median of 5 runs of enough calls each."""
    fn()
    start = time.perf_counter()
    fn()
    one = max(time.perf_counter() - start, 1e-6)
    calls = max(1, int(min_seconds / one))
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - start) / calls)
    return statistics.median(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--shapes", default=os.path.join(here, "shapes", "conv_s1_s8.txt"))
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--only", default="", help="run only this shape name (e.g. S4)")
    args = parser.parse_args()
    ensure_malloc_env()
    import torch  # after the malloc settings are in place

    torch.manual_seed(0)
    for name, n, c, h, w, k, r, stride, pad, groups in read_shapes(args.shapes):
        if args.only and name != args.only:
            continue
        x = torch.randn(n, c, h, w)
        weight = torch.randn(k, c // groups, r, r) * 0.1
        bias = torch.randn(k) * 0.1
        y = torch.nn.functional.conv2d(x, weight, bias, stride, pad, 1, groups)
        dy = torch.randn_like(y)
        oh, ow = y.shape[2], y.shape[3]
        flops = 2.0 * n * k * c * r * r * oh * ow / groups
        conv_bwd = torch.ops.aten.convolution_backward
        passes = {
            "fwd": lambda: torch.nn.functional.conv2d(x, weight, bias, stride, pad, 1, groups),
            "bwd_data": lambda: conv_bwd(dy, x, weight, [k], [stride] * 2, [pad] * 2, [1, 1],
                                         False, [0, 0], groups, [True, False, False]),
            "bwd_weights": lambda: conv_bwd(dy, x, weight, [k], [stride] * 2, [pad] * 2, [1, 1],
                                            False, [0, 0], groups, [False, True, True]),
        }
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            with torch.no_grad():
                for pass_name, fn in passes.items():
                    seconds = time_pass(fn)
                    print(f"{name} {threads} {pass_name} {flops / seconds * 1e-9:.1f}", flush=True)


if __name__ == "__main__":
    main()
