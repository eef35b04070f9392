#!/usr/bin/env python3
"""Generates layers/testdata/pool2d_golden.h: max/avg pooling outputs, argmax indices and input
gradients computed by PyTorch for the options of layers/pooling.h (ceil_mode, dilation,
asymmetric and SAME padding, count_include_pad, divisor_override), and max unpooling.

Run once with Debian's python3-torch (1.13):
  /usr/bin/python3 tools/golden/make_pool2d_golden.py > layers/testdata/pool2d_golden.h
layers/pooling_test.cc (Pool2dGoldenTest, MaxUnpool2dGoldenTest) replays every case. PyTorch is a peer for this check
only, never a dependency.

PyTorch pools with symmetric padding only. Asymmetric pads (and the SAME pads, which may be
asymmetric) are applied with F.pad (value -inf for max, 0 for average) before pooling with pad 0,
the ONNX semantics: padded cells count in the average divisor when count_include_pad. With
exclude-pad the average is sum_pool(pad(x)) / sum_pool(pad(mask)). With ceil_mode, windows that
would start in the bottom/right padding are dropped (PyTorch's rule, stated by ONNX for pads),
so the F.pad route slices its output to that size.
"""
import math

import torch
import torch.nn.functional as F

N, C = 2, 2


def same_pads(size, k, s, d, lower):
    total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
    small, big = total // 2, total - total // 2
    return (big, small) if lower else (small, big)


def out_size(size, k, s, d, begin, end, ceil):
    span = size + begin + end - d * (k - 1) - 1
    if ceil:
        out = -(-span // s) + 1
        if (out - 1) * s >= size + begin:
            out -= 1
    else:
        out = span // s + 1
    return out


# name, max?, (H, W), (kh, kw), (sh, sw), (dh, dw), pads (T, L, B, R) or "same_upper"/"same_lower",
# ceil, count_include_pad, divisor_override (0 = none)
CASES = [
    ("MaxK3S2P1Ceil", True, (7, 6), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), True, True, 0),
    ("MaxK2S2P1CeilDropsLastWindow", True, (5, 7), (2, 2), (2, 2), (1, 1), (1, 1, 1, 1), True,
     True, 0),
    ("MaxK3S1D2P1", True, (7, 6), (3, 3), (1, 1), (2, 2), (1, 1, 1, 1), False, True, 0),
    ("MaxK3x2S2D2x3CeilP1x0", True, (8, 9), (3, 2), (2, 2), (2, 3), (1, 0, 1, 0), True, True, 0),
    ("MaxAsymPads", True, (7, 6), (3, 3), (2, 2), (1, 1), (1, 0, 0, 1), False, True, 0),
    ("MaxAsymPadsCeil", True, (6, 7), (3, 3), (2, 2), (1, 1), (0, 1, 1, 0), True, True, 0),
    ("MaxSameUpperEvenKernel", True, (5, 7), (2, 2), (2, 2), (1, 1), "same_upper", False, True, 0),
    ("MaxSameLowerK4S3", True, (7, 8), (4, 4), (3, 3), (1, 1), "same_lower", False, True, 0),
    ("MaxSameUpperDilated", True, (6, 5), (3, 3), (1, 1), (2, 2), "same_upper", False, True, 0),
    ("AvgK3S2P1CeilIncludePad", False, (5, 6), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), True, True,
     0),
    ("AvgK3S2P1CeilExcludePad", False, (5, 6), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), True, False,
     0),
    ("AvgK2S2P1CeilDropsLastWindow", False, (5, 7), (2, 2), (2, 2), (1, 1), (1, 1, 1, 1), True,
     True, 0),
    ("AvgAsymPadsCeilIncludePad", False, (7, 6), (3, 3), (2, 2), (1, 1), (1, 0, 0, 1), True, True,
     0),
    ("AvgAsymPadsCeilExcludePad", False, (7, 6), (3, 3), (2, 2), (1, 1), (1, 0, 0, 1), True,
     False, 0),
    ("AvgDivisorOverride", False, (6, 7), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), True, True, 5),
    ("AvgSameLowerIncludePad", False, (7, 8), (4, 4), (3, 3), (1, 1), "same_lower", False, True,
     0),
    ("AvgSameUpperExcludePad", False, (7, 8), (4, 2), (3, 3), (1, 1), "same_upper", False, False,
     0),
]


def run(case, gen):
    name, is_max, (h, w), k, s, d, pads, ceil, include, divisor = case
    auto = pads if isinstance(pads, str) else ""
    if auto:
        lower = auto == "same_lower"
        ph = same_pads(h, k[0], s[0], d[0], lower)
        pw = same_pads(w, k[1], s[1], d[1], lower)
        pads = (ph[0], pw[0], ph[1], pw[1])
    t, l, b, r = pads
    oh = out_size(h, k[0], s[0], d[0], t, b, ceil)
    ow = out_size(w, k[1], s[1], d[1], l, r, ceil)
    x = torch.randn(N, C, h, w, generator=gen, dtype=torch.float64).float()
    dy = torch.randn(N, C, oh, ow, generator=gen, dtype=torch.float64).float()
    xd = x.double().requires_grad_(True)
    symmetric = t == b and l == r and not auto
    indices = None
    if is_max:
        if symmetric:
            y, idx = F.max_pool2d(xd, k, s, (t, l), d, ceil_mode=ceil, return_indices=True)
            indices = idx
        else:
            xp = F.pad(xd, (l, r, t, b), value=-math.inf)
            y, idx = F.max_pool2d(xp, k, s, 0, d, ceil_mode=ceil, return_indices=True)
            y, idx = y[..., :oh, :ow], idx[..., :oh, :ow]
            wp = w + l + r
            indices = (idx // wp - t) * w + (idx % wp - l)
    else:
        assert d == (1, 1)
        if symmetric:
            y = F.avg_pool2d(xd, k, s, (t, l), ceil_mode=ceil, count_include_pad=include,
                             divisor_override=divisor or None)
        else:
            assert divisor == 0
            xp = F.pad(xd, (l, r, t, b))
            if include:
                y = F.avg_pool2d(xp, k, s, 0, ceil_mode=ceil)
            else:
                mask = F.pad(torch.ones_like(xd), (l, r, t, b))
                y = (F.avg_pool2d(xp, k, s, 0, ceil_mode=ceil, divisor_override=1) /
                     F.avg_pool2d(mask, k, s, 0, ceil_mode=ceil, divisor_override=1))
            y = y[..., :oh, :ow]
    assert tuple(y.shape) == (N, C, oh, ow), (name, y.shape, oh, ow)
    (y * dy.double()).sum().backward()
    return dict(name=name, is_max=is_max, h=h, w=w, k=k, s=s, d=d, pads=pads, auto=auto,
                ceil=ceil, include=include, divisor=divisor, oh=oh, ow=ow, x=x.flatten().tolist(),
                y=y.detach().flatten().tolist(), dy=dy.flatten().tolist(),
                dx=xd.grad.flatten().tolist(),
                indices=None if indices is None else indices.flatten().tolist())


# Max unpooling after max pooling (symmetric pads, non-overlapping windows so that no two
# outputs share an index): name, (H, W), kernel, stride, pad, ceil.
UNPOOL_CASES = [
    ("UnpoolK2S2", (6, 8), 2, 2, 0, False),
    ("UnpoolK2S2P1Ceil", (5, 7), 2, 2, 1, True),
    ("UnpoolK3S3Ceil", (7, 8), 3, 3, 0, True),
]


def run_unpool(case, gen):
    name, (h, w), k, s, p, ceil = case
    x = torch.randn(N, C, h, w, generator=gen, dtype=torch.float64).float()
    _, idx = F.max_pool2d(x.double(), k, s, p, ceil_mode=ceil, return_indices=True)
    oh, ow = idx.shape[2], idx.shape[3]
    u = torch.randn(N, C, oh, ow, generator=gen, dtype=torch.float64).float()
    dy = torch.randn(N, C, h, w, generator=gen, dtype=torch.float64).float()
    ud = u.double().requires_grad_(True)
    y = F.max_unpool2d(ud, idx, k, s, p, output_size=(h, w))
    (y * dy.double()).sum().backward()
    return dict(name=name, h=h, w=w, k=k, s=s, p=p, ceil=ceil, oh=oh, ow=ow,
                x=x.flatten().tolist(), u=u.flatten().tolist(),
                y=y.detach().flatten().tolist(), dy=dy.flatten().tolist(),
                du=ud.grad.flatten().tolist())


def literal(f):
    assert math.isfinite(f)
    text = "%.9g" % f
    return text + ("f" if ("." in text or "e" in text) else ".0f")


def floats(v):
    return "{" + ", ".join(literal(f) for f in v) + "}"


def main():
    gen = torch.Generator().manual_seed(20261205)
    results = [run(c, gen) for c in CASES]
    print("// Generated by tools/golden/make_pool2d_golden.py with PyTorch %s. Do not edit." %
          torch.__version__)
    print("// Pooling forward outputs, argmax indices and input gradients (for the upstream")
    print("// gradient dy) from torch.nn.functional.max_pool2d / avg_pool2d, in double precision.")
    print("#ifndef SIMDNET_LAYERS_TESTDATA_POOL2D_GOLDEN_H_")
    print("#define SIMDNET_LAYERS_TESTDATA_POOL2D_GOLDEN_H_")
    print()
    print("#include <cstdint>")
    print()
    print("namespace simdnet {")
    print("namespace pool2d_golden {")
    print()
    print("constexpr int64_t kN = %d, kC = %d;" % (N, C))
    print()
    for i, r in enumerate(results):
        print("// %s" % r["name"])
        print("constexpr float kX%d[] = %s;" % (i, floats(r["x"])))
        print("constexpr float kY%d[] = %s;" % (i, floats(r["y"])))
        print("constexpr float kDy%d[] = %s;" % (i, floats(r["dy"])))
        print("constexpr float kDx%d[] = %s;" % (i, floats(r["dx"])))
        if r["indices"] is not None:
            print("constexpr int32_t kIdx%d[] = {%s};" % (i, ", ".join(str(v) for v in r["indices"])))
        print()
    print("struct Case {")
    print("  const char* name;")
    print("  bool max;")
    print("  int64_t h, w, kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w;")
    print("  // Resolved pads (top, left, bottom, right); auto_pad is \"\", \"same_upper\" or")
    print("  // \"same_lower\" (then the pads are what the SAME rule must produce).")
    print("  int64_t pad_top, pad_left, pad_bottom, pad_right;")
    print("  const char* auto_pad;")
    print("  bool ceil_mode, count_include_pad;")
    print("  int64_t divisor_override, out_h, out_w;")
    print("  const float *x, *y, *dy, *dx;")
    print("  const int32_t* indices;  // max only, else null")
    print("};")
    print()
    print("constexpr Case kCases[] = {")
    for i, r in enumerate(results):
        print('    {"%s", %s, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, "%s", %s, %s, %d, %d, %d,'
              % (r["name"], "true" if r["is_max"] else "false", r["h"], r["w"], r["k"][0],
                 r["k"][1], r["s"][0], r["s"][1], r["d"][0], r["d"][1], *r["pads"], r["auto"],
                 "true" if r["ceil"] else "false", "true" if r["include"] else "false",
                 r["divisor"], r["oh"], r["ow"]))
        print("     kX%d, kY%d, kDy%d, kDx%d, %s}," % (i, i, i, i,
                                                     "kIdx%d" % i if r["is_max"] else "nullptr"))
    print("};")
    print()
    unpools = [run_unpool(c, gen) for c in UNPOOL_CASES]
    for i, r in enumerate(unpools):
        print("// %s" % r["name"])
        print("constexpr float kUnpoolX%d[] = %s;" % (i, floats(r["x"])))
        print("constexpr float kUnpoolU%d[] = %s;" % (i, floats(r["u"])))
        print("constexpr float kUnpoolY%d[] = %s;" % (i, floats(r["y"])))
        print("constexpr float kUnpoolDy%d[] = %s;" % (i, floats(r["dy"])))
        print("constexpr float kUnpoolDu%d[] = %s;" % (i, floats(r["du"])))
        print()
    print("// F.max_unpool2d(u, indices of F.max_pool2d(x), ..., output_size=(h, w)) = y, and its")
    print("// input gradient du for the upstream gradient dy.")
    print("struct UnpoolCase {")
    print("  const char* name;")
    print("  int64_t h, w, kernel, stride, pad;")
    print("  bool ceil_mode;")
    print("  int64_t out_h, out_w;  // of the pool")
    print("  const float *x, *u, *y, *dy, *du;")
    print("};")
    print()
    print("constexpr UnpoolCase kUnpoolCases[] = {")
    for i, r in enumerate(unpools):
        print('    {"%s", %d, %d, %d, %d, %d, %s, %d, %d, kUnpoolX%d, kUnpoolU%d, kUnpoolY%d,'
              % (r["name"], r["h"], r["w"], r["k"], r["s"], r["p"],
                 "true" if r["ceil"] else "false", r["oh"], r["ow"], i, i, i))
        print("     kUnpoolDy%d, kUnpoolDu%d}," % (i, i))
    print("};")
    print()
    print("}  // namespace pool2d_golden")
    print("}  // namespace simdnet")
    print()
    print("#endif  // SIMDNET_LAYERS_TESTDATA_POOL2D_GOLDEN_H_")


if __name__ == "__main__":
    main()
