#!/usr/bin/env python3
"""Writes the safetensors replay corpus with an independent (struct + json) implementation of
the HuggingFace layout: valid_* files must load, bad_* files must be rejected with a message.
Run from this directory: python3 make_safetensors_corpus.py"""
import json
import os
import struct

OUT = "safetensors_corpus"


def pack(header, data, pad=True):
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def write(name, blob):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def main():
    os.makedirs(OUT, exist_ok=True)
    # A PyTorch-style state dict: features.0.weight (2,1,2,2) = 0..7, features.0.bias (2) = [.5,-.5],
    # num_batches_tracked I64 scalar = 7, metadata like safetensors.torch writes ({"format": "pt"}).
    w = struct.pack("<8f", *[float(i) for i in range(8)])
    b = struct.pack("<2f", 0.5, -0.5)
    n = struct.pack("<q", 7)
    hdr = {
        "__metadata__": {"format": "pt", "model_spec": "conv(2,2)"},
        "bn.num_batches_tracked": entry("I64", [], 0, 8),
        "features.0.bias": entry("F32", [2], 8, 16),
        "features.0.weight": entry("F32", [2, 1, 2, 2], 16, 48),
    }
    write("valid_torch_state_dict.safetensors", pack(hdr, n + b + w))
    write("valid_unpadded_header.safetensors", pack(hdr, n + b + w, pad=False))
    write("valid_empty.safetensors", pack({}, b""))
    write("valid_i32_and_zero_size.safetensors",
          pack({"step": entry("I32", [2], 0, 8), "none": entry("F32", [0], 8, 8)},
               struct.pack("<2i", -3, 2147483647)))

    write("bad_truncated_length.safetensors", b"\x10\x00\x00")
    write("bad_huge_header_length.safetensors", struct.pack("<Q", 2**63) + b"{}")
    write("bad_truncated_data.safetensors", pack(hdr, n + b + w)[:-5])
    write("bad_f16_dtype.safetensors", pack({"h": entry("F16", [2], 0, 4)}, b"\0" * 4))
    write("bad_negative_dim.safetensors", pack({"x": entry("F32", [-1], 0, 4)}, b"\0" * 4))
    write("bad_overlap.safetensors",
          pack({"a": entry("F32", [2], 0, 8), "b": entry("F32", [1], 4, 8)}, b"\0" * 8))
    write("bad_gap.safetensors",
          pack({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, b"\0" * 12))
    write("bad_metadata_number.safetensors", pack({"__metadata__": {"epoch": 3}}, b""))
    write("bad_not_json.safetensors", struct.pack("<Q", 8) + b"{garbage")
    dup = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' \
          b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    write("bad_duplicate_name.safetensors", struct.pack("<Q", len(dup)) + dup + b"\0" * 4)


if __name__ == "__main__":
    main()
