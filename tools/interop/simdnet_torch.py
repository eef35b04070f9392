#!/usr/bin/python3
"""PyTorch interop for simdnet: model specs as torch.nn modules, simdnet checkpoints both ways.

Run with Debian's python3-torch (/usr/bin/python3); safetensors is read and written with the
standard library (json + struct), since Debian packages no safetensors module.

  build_model(spec_text, num_classes, input_shape=None) -> SimdnetModule (torch.nn.Module whose
      state_dict names are simdnet's parameter and buffer names, e.g. "features.0.weight")
  load_checkpoint(module_or_None, path) -> (module, info): a simdnet checkpoint into torch
  save_checkpoint(module, path, ...): a FULL simdnet checkpoint (spec, input shape, classes,
      normalization none) that `simdnet eval/predict/finetune --checkpoint=` loads unchanged

CLI:
  simdnet_torch.py export --spec=lenet5|FILE --state_dict=x.pt --out=w.safetensors
      [--num_classes=10] [--input_shape=1,28,28]
  simdnet_torch.py check --checkpoint=c.safetensors [--batch=8] [--seed=0]
      [--parity_logits=bazel-bin/tools/parity/parity_logits]
      (loads the checkpoint into torch, runs a random [0, 1) batch (normalized as the checkpoint
      says) in eval mode and reports the logits; with --parity_logits also runs simdnet on it
      and prints the max logit difference; tools/parity/parity.py compares gradients too)
  simdnet_torch.py names --spec=lenet5 [--num_classes=10]   (prints state_dict names, shapes)
"""
import argparse
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

CHECKPOINT_FORMAT = "simdnet-checkpoint"
CHECKPOINT_VERSION = "1"


class SpecError(ValueError):
    pass


# -------------------------------------------------------------------------------------------
# Presets: read from layers/model_presets.cc so that they never drift from the C++ ones.

def _find_model_spec_cc():
    for root in (os.path.join(HERE, "..", ".."), os.getcwd()):
        path = os.path.join(root, "layers", "model_presets.cc")
        if os.path.exists(path):
            return path
    return None


def preset_specs():
    """Returns {name: spec text} parsed from layers/model_presets.cc (empty if not found)."""
    path = _find_model_spec_cc()
    if path is None:
        return {}
    with open(path, encoding="utf-8") as f:
        source = f.read()
    raw = dict(re.findall(r'constexpr char (k\w+)\[\] = R"\((.*?)\)";', source, re.S))
    table = re.findall(r'\{"([\w-]+)", (k\w+)\}', source)
    return {name: raw[var] for name, var in table if var in raw}


def load_spec_text(name_or_path):
    presets = preset_specs()
    if name_or_path in presets:
        return presets[name_or_path]
    if not os.path.exists(name_or_path):
        raise SpecError("model spec '%s' is neither a preset (%s) nor a readable file"
                        % (name_or_path, ", ".join(sorted(presets))))
    with open(name_or_path, encoding="ascii") as f:
        return f.read()


# -------------------------------------------------------------------------------------------
# Tokenizer and statement tree (the grammar of layers/model_spec.h).

def _tokenize(text):
    tokens = []  # (kind, text, line) with kind in word, open, close, sep, end
    line = 1
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            tokens.append(("sep", "\n", line))
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        elif c in "{};":
            tokens.append(({"{": "open", "}": "close", ";": "sep"}[c], c, line))
            i += 1
        else:
            j = i
            while j < len(text) and 0x20 < ord(text[j]) < 0x7F and text[j] not in "{};#":
                j += 1
            if j == i:
                raise SpecError("line %d: unexpected character %r" % (line, c))
            tokens.append(("word", text[i:j], line))
            i = j
    tokens.append(("end", "", line))
    return tokens


class _Stmt:
    def __init__(self, keyword, args, line):
        self.keyword, self.args, self.line = keyword, args, line
        self.body, self.shortcut = [], None


def _parse(tokens):
    pos = [0]

    def parse_list(closed):
        out = []
        while True:
            while tokens[pos[0]][0] == "sep":
                pos[0] += 1
            kind, text, line = tokens[pos[0]]
            if kind == "end":
                if closed:
                    raise SpecError("line %d: missing '}'" % line)
                return out
            if kind == "close":
                if not closed:
                    raise SpecError("line %d: unbalanced '}'" % line)
                pos[0] += 1
                return out
            if kind == "open":
                raise SpecError("line %d: '{' must follow 'block NAME' or 'residual'" % line)
            pos[0] += 1
            s = _Stmt(text, [], line)
            while tokens[pos[0]][0] == "word":
                s.args.append(tokens[pos[0]][1])
                pos[0] += 1
            if text in ("block", "residual"):
                if tokens[pos[0]][0] != "open":
                    raise SpecError("line %d: expected '{' after '%s'" % (line, text))
                pos[0] += 1
                s.body = parse_list(True)
                if text == "residual":
                    look = pos[0]
                    while tokens[look][0] == "sep":
                        look += 1
                    if tokens[look][0] == "word" and tokens[look][1] == "shortcut":
                        if tokens[look + 1][0] != "open":
                            raise SpecError("line %d: expected '{' after 'shortcut'" % line)
                        pos[0] = look + 2
                        s.shortcut = parse_list(True)
            out.append(s)

    return parse_list(False)


# -------------------------------------------------------------------------------------------
# Argument helpers.

class _Args:
    def __init__(self, stmt):
        self.stmt = stmt
        self.used = [False] * len(stmt.args)

    def flag(self, name):
        for i, a in enumerate(self.stmt.args):
            if not self.used[i] and a == name:
                self.used[i] = True
                return True
        return False

    def find(self, prefix):
        for i, a in enumerate(self.stmt.args):
            if self.used[i] or not a.startswith(prefix) or len(a) == len(prefix):
                continue
            if len(prefix) == 1 and not (a[1].isdigit() or a[1] in "+-"):
                continue
            self.used[i] = True
            return a[len(prefix):]
        return None

    def pair(self, prefix):
        v = self.find(prefix)
        if v is None:
            return None
        parts = v.split("x")
        if len(parts) > 2:
            raise SpecError("line %d: %s must be N or HxW" % (self.stmt.line, prefix + v))
        h = int(parts[0])
        return (h, int(parts[1]) if len(parts) == 2 else h)

    def positional(self):
        for i, a in enumerate(self.stmt.args):
            if not self.used[i]:
                self.used[i] = True
                return a
        return None

    def finish(self):
        for i, a in enumerate(self.stmt.args):
            if not self.used[i]:
                raise SpecError("line %d: '%s': unknown or repeated option for '%s'"
                                % (self.stmt.line, a, self.stmt.keyword))


def _pads4(text, line):
    parts = text.split(",")
    if len(parts) != 4:
        raise SpecError("line %d: pad= takes four pads T,L,B,R" % line)
    return tuple(int(p) for p in parts)


def _same_pads(size, kernel, stride, dilation, lower):
    """Returns (begin, end) pads of one axis for ONNX auto_pad SAME_UPPER / SAME_LOWER."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    begin = total - total // 2 if lower else total // 2
    return begin, total - begin


# -------------------------------------------------------------------------------------------
# Layers whose simdnet options PyTorch has no direct module for. Parameter / buffer names stay
# those of the PyTorch module they extend.

class PaddedConv2d(nn.Conv2d):
    """Conv2d with explicit (top, left, bottom, right) zero pads applied before the conv."""

    def __init__(self, pads, *args, **kwargs):
        super().__init__(*args, padding=0, **kwargs)
        self.pads = pads

    def forward(self, x):
        top, left, bottom, right = self.pads
        return super().forward(F.pad(x, (left, right, top, bottom)))


class SimdnetBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm1d/2d with simdnet's options: no num_batches_tracked buffer (simdnet has none),
    momentum_convention=onnx (running = m * running + (1 - m) * batch) and var=biased (the
    running variance takes the biased batch variance)."""

    def __init__(self, num_features, eps, momentum, affine, onnx, biased, rank):
        torch_momentum = 1.0 - momentum if onnx else momentum
        super().__init__(num_features, eps=eps, momentum=torch_momentum, affine=affine)
        self.num_batches_tracked = None  # dropped from state_dict, as simdnet stores none
        self.biased = biased
        self.rank = rank

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # Skip _BatchNorm's hook, which adds a num_batches_tracked entry to old-style state.
        nn.Module._load_from_state_dict(self, state_dict, prefix, *args)

    def _check_input_dim(self, x):
        if x.dim() != self.rank + 1:
            raise ValueError("expected a rank-%d input, got %s" % (self.rank + 1, tuple(x.shape)))

    def forward(self, x):
        if not (self.training and self.biased):
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        var, mean = torch.var_mean(x, dim=dims, unbiased=False)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - mean.reshape(shape)) * torch.rsqrt(var.reshape(shape) + self.eps)
        if self.affine:
            y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
        return y


class Pool2d(nn.Module):
    """simdnet's Pool2d (layers/pooling.h): max or average, asymmetric / SAME pads, dilation (max),
    PyTorch's ceil_mode last-window rule, count_include_pad and divisor_override (avg)."""

    def __init__(self, kind, in_shape, kernel, stride, pads, dilation, ceil_mode,
                 include_pad, divisor, same):
        super().__init__()
        c, h, w = in_shape
        self.kind, self.kernel, self.stride, self.dilation = kind, kernel, stride, dilation
        self.ceil_mode, self.include_pad, self.divisor = ceil_mode, include_pad, divisor
        if same is not None:
            top, bottom = _same_pads(h, kernel[0], stride[0], dilation[0], same == "lower")
            left, right = _same_pads(w, kernel[1], stride[1], dilation[1], same == "lower")
            pads = (top, left, bottom, right)
        self.pads = pads
        self.in_hw = (h, w)
        self.out_hw = (self._size(h, 0, pads[0], pads[2]), self._size(w, 1, pads[1], pads[3]))
        self.out_shape = (c, self.out_hw[0], self.out_hw[1])
        self.last_indices = None  # max pooling: argmax in the unpadded input (for maxunpool)

    def _size(self, n, axis, begin, end):
        span = n + begin + end - self.dilation[axis] * (self.kernel[axis] - 1) - 1
        if not self.ceil_mode:
            return span // self.stride[axis] + 1
        out = (span + self.stride[axis] - 1) // self.stride[axis] + 1
        if (out - 1) * self.stride[axis] >= n + begin:
            out -= 1
        return out

    def forward(self, x):
        top, left, bottom, right = self.pads
        oh, ow = self.out_hw
        if self.kind == "max":
            xp = F.pad(x, (left, right, top, bottom), value=-math.inf)
            y, idx = F.max_pool2d(xp, self.kernel, self.stride, 0, self.dilation,
                                  ceil_mode=self.ceil_mode, return_indices=True)
            y, idx = y[:, :, :oh, :ow], idx[:, :, :oh, :ow]
            wp = xp.shape[3]
            r, c = idx // wp - top, idx % wp - left
            self.last_indices = r * self.in_hw[1] + c
            return y.contiguous()
        xp = F.pad(x, (left, right, top, bottom))
        sums = F.avg_pool2d(xp, self.kernel, self.stride, 0, ceil_mode=self.ceil_mode,
                            divisor_override=1)[:, :, :oh, :ow]
        if self.divisor:
            return sums / self.divisor
        if self.include_pad:
            mask = torch.ones(1, 1, xp.shape[2], xp.shape[3], dtype=x.dtype)
        else:
            mask = F.pad(torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype),
                         (left, right, top, bottom))
        counts = F.avg_pool2d(mask, self.kernel, self.stride, 0, ceil_mode=self.ceil_mode,
                              divisor_override=1)[:, :, :oh, :ow]
        return sums / counts


class MaxUnpool2d(nn.Module):
    """Scatters x to the argmax positions of a named earlier Pool2d (PyTorch's MaxUnpool2d to
    the pool's input size)."""

    def __init__(self, pool):
        super().__init__()
        self._pool = [pool]  # a list, so the pool is not registered twice as a child

    def forward(self, x):
        pool = self._pool[0]
        n, c = x.shape[0], x.shape[1]
        h, w = pool.in_hw
        out = torch.zeros(n, c, h * w, dtype=x.dtype)
        out = out.scatter(2, pool.last_indices.reshape(n, c, -1), x.reshape(n, c, -1))
        return out.reshape(n, c, h, w)


class Residual(nn.Module):
    """y = main(x) + shortcut(x): main-branch children unprefixed, the shortcut's under
    "shortcut." (simdnet's layers/residual.h names)."""

    def __init__(self, main, shortcut):
        super().__init__()
        for name, child in main.named_children():
            self.add_module(name, child)
        self._main_names = [name for name, _ in main.named_children()]
        self.shortcut = shortcut

    def forward(self, x):
        y = x
        for name in self._main_names:
            y = getattr(self, name)(y)
        return y + (self.shortcut(x) if self.shortcut is not None else x)


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


class LogSoftmax(nn.Module):
    def forward(self, x):
        return F.log_softmax(x, dim=1)


class SimdnetModule(nn.Sequential):
    """The root Sequential of a simdnet model, with the spec and shapes it was built from."""

    def __init__(self, spec, input_shape, num_classes):
        super().__init__()
        self.spec, self.input_shape, self.num_classes = spec, tuple(input_shape), num_classes


# -------------------------------------------------------------------------------------------
# Builder.

def _parse_shape(text):
    return tuple(int(d) for d in text.replace(",", "x").split("x"))


class _Builder:
    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.named_pools = {}

    def build_list(self, stmts, seq, shape):
        for s in stmts:
            if s.keyword == "input":
                raise SpecError("line %d: 'input' must be the first statement" % s.line)
            if s.keyword == "block":
                if len(s.args) != 1:
                    raise SpecError("line %d: 'block' takes exactly one NAME" % s.line)
                inner = nn.Sequential()
                shape = self.build_list(s.body, inner, shape)
                seq.add_module(s.args[0], inner)
                continue
            layer, shape = self.build_layer(s, shape)
            seq.add_module(str(len(seq)), layer)
        return shape

    def out_count(self, s, a):
        t = a.positional()
        if t is None:
            raise SpecError("line %d: '%s' needs an output count" % (s.line, s.keyword))
        return self.num_classes if t == "classes" else int(t)

    def build_layer(self, s, shape):
        kw, a = s.keyword, _Args(s)
        if kw == "conv":
            k, st, p = a.pair("k"), a.pair("s") or (1, 1), a.pair("p")
            pads = a.find("pad=")
            same, same_lower = a.flag("same"), a.flag("same_lower")
            d, g = a.pair("d") or (1, 1), a.pair("g") or (1, 1)
            bias = not a.flag("nobias")
            a.find("init=")  # initializers do not matter once the weights are loaded
            a.find("bias_init=")
            out = self.out_count(s, a)
            a.finish()
            c, h, w = shape
            if same or same_lower:
                top, bottom = _same_pads(h, k[0], st[0], d[0], same_lower)
                left, right = _same_pads(w, k[1], st[1], d[1], same_lower)
                pads = (top, left, bottom, right)
            elif pads is not None:
                pads = _pads4(pads, s.line)
            else:
                p = p or (0, 0)
                pads = (p[0], p[1], p[0], p[1])
            if pads[0] == pads[2] and pads[1] == pads[3]:
                layer = nn.Conv2d(c, out, k, st, (pads[0], pads[1]), d, g[0], bias)
            else:
                layer = PaddedConv2d(pads, c, out, k, st, dilation=d, groups=g[0], bias=bias)
            oh = (h + pads[0] + pads[2] - d[0] * (k[0] - 1) - 1) // st[0] + 1
            ow = (w + pads[1] + pads[3] - d[1] * (k[1] - 1) - 1) // st[1] + 1
            return layer, (out, oh, ow)
        if kw == "linear":
            bias = not a.flag("nobias")
            a.find("init=")
            a.find("bias_init=")
            out = self.out_count(s, a)
            a.finish()
            if len(shape) != 1:
                raise SpecError("line %d: 'linear' needs a flat input, got %s" % (s.line, shape))
            return nn.Linear(shape[0], out, bias), (out,)
        if kw == "bn":
            eps, momentum = a.find("eps="), a.find("momentum=")
            convention, var = a.find("momentum_convention="), a.find("var=")
            affine = not a.flag("noaffine")
            a.finish()
            if convention not in (None, "pytorch", "onnx") or var not in (None, "unbiased",
                                                                          "biased"):
                raise SpecError("line %d: bad momentum_convention= or var=" % s.line)
            layer = SimdnetBatchNorm(shape[0], float(eps) if eps else 1e-5,
                                     float(momentum) if momentum else 0.1, affine,
                                     convention == "onnx", var == "biased", len(shape))
            return layer, shape
        if kw in ("relu", "tanh", "sigmoid", "lrelu", "leaky_relu"):
            if kw in ("lrelu", "leaky_relu"):
                slope = a.positional()
                a.finish()
                return nn.LeakyReLU(float(slope) if slope else 0.01), shape
            a.finish()
            return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[kw](), shape
        if kw in ("maxpool", "avgpool"):
            k, st, p, d = a.pair("k"), a.pair("s"), a.pair("p"), a.pair("d") or (1, 1)
            include_pad = not a.flag("exclude_pad") if kw == "avgpool" else True
            ceil = a.flag("ceil")
            divisor = a.find("divisor=")
            pads = a.find("pad=")
            same = "upper" if a.flag("same") else ("lower" if a.flag("same_lower") else None)
            name = a.find("name=") if kw == "maxpool" else None
            a.finish()
            if k is None:
                raise SpecError("line %d: '%s' needs a kernel size" % (s.line, kw))
            st = st or k
            if pads is not None:
                pads = _pads4(pads, s.line)
            else:
                p = p or (0, 0)
                pads = (p[0], p[1], p[0], p[1])
            layer = Pool2d("max" if kw == "maxpool" else "avg", shape, k, st, pads, d, ceil,
                           include_pad, int(divisor) if divisor else 0, same)
            if name is not None:
                self.named_pools[name] = layer
            return layer, layer.out_shape
        if kw == "maxunpool":
            name = a.positional()
            a.finish()
            if name not in self.named_pools:
                raise SpecError("line %d: no earlier 'maxpool ... name=%s'" % (s.line, name))
            pool = self.named_pools[name]
            return MaxUnpool2d(pool), (shape[0],) + pool.in_hw
        if kw == "gap":
            a.finish()
            return GlobalAvgPool(), (shape[0],)
        if kw == "flatten":
            a.finish()
            return nn.Flatten(), (math.prod(shape),)
        if kw == "log_softmax":
            a.finish()
            return LogSoftmax(), shape
        if kw == "dropout":
            rate = a.positional()
            a.finish()
            return nn.Dropout(float(rate) if rate else 0.5), shape
        if kw == "residual":
            if s.args:
                raise SpecError("line %d: 'residual' takes no options" % s.line)
            main = nn.Sequential()
            out = self.build_list(s.body, main, shape)
            shortcut = None
            if s.shortcut is not None:
                shortcut = nn.Sequential()
                if self.build_list(s.shortcut, shortcut, shape) != out:
                    raise SpecError("line %d: shortcut and main shapes differ" % s.line)
            elif out != shape:
                raise SpecError("line %d: identity shortcut needs equal shapes" % s.line)
            return Residual(main, shortcut), out
        raise SpecError("line %d: '%s': unknown layer" % (s.line, kw))


def build_model(spec, num_classes, input_shape=None):
    """Returns the SimdnetModule of spec text `spec` (or a preset name). `input_shape` (C, H, W)
    or (F) overrides the spec's input statement, as ModelFromSpec does."""
    if "\n" not in spec and ";" not in spec and spec in preset_specs():
        spec = preset_specs()[spec]
    stmts = _parse(_tokenize(spec))
    if stmts and stmts[0].keyword == "input":
        if input_shape is None:
            input_shape = _parse_shape(stmts[0].args[0])
        stmts = stmts[1:]
    if input_shape is None:
        raise SpecError("the spec has no 'input' statement and no input shape was given")
    model = SimdnetModule(spec, input_shape, num_classes)
    out = _Builder(num_classes).build_list(stmts, model, tuple(input_shape))
    if out != (num_classes,):
        raise SpecError("the network ends in %s, expected (%d)" % (out, num_classes))
    return model


# -------------------------------------------------------------------------------------------
# safetensors (F32 only, as simdnet's model tensors) with the standard library.

def read_safetensors(path):
    """Returns ({name: float32 tensor}, {metadata key: value}); other dtypes are skipped."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    body = data[8 + n:]
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            continue
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32)
        tensors[name] = flat.reshape(entry["shape"]).clone()
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} as F32 safetensors with string metadata, atomically."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        blob = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # 8-byte aligned data, as the reference writer
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_npy(path, tensor):
    """Writes a C-order .npy v1.0 file ('<f4' or '<i8' by the tensor's dtype)."""
    t = tensor.detach().contiguous()
    descr = "<i8" if t.dtype == torch.int64 else "<f4"
    shape = "(%s)" % "".join("%d," % d for d in t.shape) if t.dim() == 1 else \
        "(%s)" % ", ".join(str(d) for d in t.shape)
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("ascii"))
        f.write(t.numpy().astype(descr).tobytes())


# -------------------------------------------------------------------------------------------
# Checkpoints.

def load_checkpoint(module, path):
    """Loads a simdnet checkpoint into `module` (built from its spec when None).

    Returns (module, info) with info = {"model_spec", "input_shape", "num_classes",
    "class_names", "normalization"}. Every tensor name and shape must match (no missing or extra
    model tensor; "optimizer/..." slots are ignored); ValueError naming the first that does not.
    """
    tensors, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("%s: metadata 'format' is %r, expected %r"
                         % (path, meta.get("format"), CHECKPOINT_FORMAT))
    info = {
        "model_spec": meta["model_spec"],
        "input_shape": tuple(int(d) for d in meta["input_shape"].split(",")),
        "num_classes": int(meta["num_classes"]),
        "class_names": json.loads(meta.get("class_names") or "[]"),
        "normalization": json.loads(meta.get("normalization") or "{}"),
    }
    if module is None:
        module = build_model(info["model_spec"], info["num_classes"], info["input_shape"])
    weights = {k: v for k, v in tensors.items() if not k.startswith("optimizer/")}
    load_weights(module, weights, path)
    return module, info


def load_weights(module, weights, source):
    """Copies {name: tensor} into module's state_dict, checking every name and shape."""
    state = module.state_dict()
    for name, t in state.items():
        if name not in weights:
            raise ValueError("%s: tensor '%s' of the model is missing" % (source, name))
        if tuple(weights[name].shape) != tuple(t.shape):
            raise ValueError("%s: tensor '%s' has shape %s but the model expects %s"
                             % (source, name, tuple(weights[name].shape), tuple(t.shape)))
    for name in weights:
        if name not in state:
            raise ValueError("%s: tensor '%s' does not belong to the model" % (source, name))
    module.load_state_dict(weights, strict=True)


def normalize_input(x, normalization):
    """Applies a checkpoint's normalization (data/normalize.h) to raw [0, 1] inputs (N, C, H, W)."""
    kind = normalization.get("kind", "none")
    if kind == "none":
        return x
    mean = torch.tensor([float(v) for v in normalization["mean"].split(",")])
    std = torch.tensor([float(v) for v in normalization["std"].split(",")]) \
        if normalization.get("std") else None
    if kind == "mean_image":
        return x - mean.reshape(x.shape[1:])
    return (x - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)


def save_checkpoint(module, path, class_names=None, extra=None):
    """Writes `module` (a SimdnetModule) as a full simdnet checkpoint: its state_dict plus the
    metadata ReadCheckpoint requires (spec, input shape, classes; normalization none; no
    optimizer state), so `simdnet eval/predict/finetune --checkpoint=path` loads it."""
    shape = ",".join(str(d) for d in module.input_shape)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_spec": module.spec,
        "input_shape": shape,
        "num_classes": str(module.num_classes),
        "class_names": json.dumps(list(class_names or [])),
        "normalization": json.dumps({"kind": "none", "shape": "0,0,0", "mean": "", "std": ""}),
        "frozen": "[]",
        "rng": "{}",
        "trainer": "{}",
        "schedule_spec": "",
    }
    for k, v in (extra or {}).items():
        meta["extra." + k] = v
    write_safetensors(path, module.state_dict(), meta)


save_state_dict = save_checkpoint


# -------------------------------------------------------------------------------------------
# CLI.

def _cmd_export(args):
    spec = load_spec_text(args.spec)
    shape = _parse_shape(args.input_shape) if args.input_shape else None
    module = build_model(spec, args.num_classes, shape)
    state = torch.load(args.state_dict, map_location="cpu")
    if isinstance(state, nn.Module):
        state = state.state_dict()
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    load_weights(module, state, args.state_dict)
    save_checkpoint(module, args.out)
    print("wrote %s (%d tensors)" % (args.out, len(module.state_dict())))


def _cmd_check(args):
    module, info = load_checkpoint(None, args.checkpoint)
    module.eval()
    torch.manual_seed(args.seed)
    x = torch.rand((args.batch,) + info["input_shape"])
    with torch.no_grad():
        logits = module(normalize_input(x, info["normalization"]))
    print("%s: %d tensors loaded; logits %s, min %.6g, max %.6g, finite %s" % (
        args.checkpoint, len(module.state_dict()), tuple(logits.shape), logits.min().item(),
        logits.max().item(), bool(torch.isfinite(logits).all())))
    if not args.parity_logits:
        return
    # simdnet on the same (already normalized) batch, through tools/parity:parity_logits.
    with tempfile.TemporaryDirectory() as tmp:
        x_path, y_path = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        out_path = os.path.join(tmp, "out.safetensors")
        write_npy(x_path, normalize_input(x, info["normalization"]).reshape(args.batch, -1))
        write_npy(y_path, torch.zeros(args.batch, dtype=torch.int64))
        subprocess.run([args.parity_logits, "--checkpoint=" + args.checkpoint,
                        "--input=" + x_path, "--labels=" + y_path, "--out=" + out_path],
                       check=True)
        ours = read_safetensors(out_path)[0]["logits"]
    diff = (ours - logits).abs().max().item()
    print("max |simdnet - torch| logit difference: %.3g (max |logit| %.3g)"
          % (diff, logits.abs().max().item()))


def _cmd_names(args):
    shape = _parse_shape(args.input_shape) if args.input_shape else None
    module = build_model(load_spec_text(args.spec), args.num_classes, shape)
    for name, t in module.state_dict().items():
        print(name, tuple(t.shape))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="a torch state_dict (.pt) -> a simdnet checkpoint")
    p.add_argument("--spec", required=True, help="preset name or spec file")
    p.add_argument("--state_dict", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--input_shape", default=None, help="C,H,W (default: the spec's input)")
    p.set_defaults(fn=_cmd_export)
    p = sub.add_parser("check", help="load a simdnet checkpoint into torch and run it")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parity_logits", default="",
                   help="path of the tools/parity:parity_logits binary: also run simdnet on the "
                   "batch and print the max logit difference")
    p.set_defaults(fn=_cmd_check)
    p = sub.add_parser("names", help="print the state_dict names and shapes of a spec")
    p.add_argument("--spec", required=True)
    p.add_argument("--num_classes", type=int, default=10)
    p.add_argument("--input_shape", default=None)
    p.set_defaults(fn=_cmd_names)
    args = parser.parse_args(argv)
    try:
        args.fn(args)
    except (SpecError, ValueError, OSError, KeyError, subprocess.CalledProcessError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
