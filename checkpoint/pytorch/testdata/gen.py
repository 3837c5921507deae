#!/usr/bin/python3
"""Regenerates the torch.save fixtures in this folder. The Go tests do not run it; they read
what it wrote, which is committed. Written for Debian bookworm's python3-torch (1.13):

    apt-get install -y python3-torch && cd checkpoint/pytorch/testdata && /usr/bin/python3 gen.py

expected.json records, for every tensor of every fixture, the dtype, shape and the bytes of
t.contiguous() (base64), as torch itself sees them after loading the file back.
"""
import base64
import collections
import io
import json

import torch

torch.manual_seed(0)


def raw(t):
    t = t.detach().contiguous()
    # bf16 has no numpy dtype: view the bits as int16 (a no-op on the bytes).
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return base64.b64encode(t.numpy().tobytes()).decode()


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def record(path):
    sd = torch.load(path)
    return {k: {"dtype": DTYPES[v.dtype], "shape": list(v.shape), "data": raw(v)} for k, v in sd.items()}


expected = {}

# mixed.pt: the three float dtypes, views, shared storages, a Parameter, an int64 buffer.
big = torch.arange(8 * 6, dtype=torch.float32).reshape(8, 6)
emb = torch.randn(5, 4).to(torch.bfloat16)
mixed = collections.OrderedDict()
mixed["f32"] = torch.randn(3, 4)
mixed["f16"] = torch.randn(2, 3, 2).to(torch.float16)
mixed["bf16"] = torch.randn(7).to(torch.bfloat16)
mixed["scalar"] = torch.tensor(2.5)
mixed["empty"] = torch.zeros(0, 3)
mixed["big"] = big                           # whole storage
mixed["big.rows"] = big[2:5]                 # contiguous slice: storage offset 12
mixed["big.t"] = big.t()                     # transposed view: non-contiguous
mixed["big.cols"] = big[:, 1:4]              # strided slice: offset and non-contiguous
mixed["big.every2"] = big[::2, ::3]          # step slicing
mixed["emb"] = emb                           # tied weights: the same tensor twice
mixed["lm_head"] = emb
mixed["param"] = torch.nn.Parameter(torch.randn(2, 2).to(torch.float16))  # _rebuild_parameter
mixed["position_ids"] = torch.arange(6).reshape(1, 6)  # int64: skipped by the Go reader
torch.save(mixed, "mixed.pt")
expected["mixed.pt"] = record("mixed.pt")

# A module's state_dict: an OrderedDict carrying _metadata, restored with BUILD.
lin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
torch.save(lin.state_dict(), "state_dict.pt")
expected["state_dict.pt"] = record("state_dict.pt")

# The archive folder is named after the file: "my.custom-name" here.
torch.save({"w": torch.randn(2, 3)}, "my.custom-name.bin")
expected["my.custom-name.bin"] = record("my.custom-name.bin")

# Saved to a buffer, the folder is "archive".
buf = io.BytesIO()
torch.save({"w": torch.randn(3).to(torch.bfloat16)}, buf)
with open("buffer.pt", "wb") as f:
    f.write(buf.getvalue())
expected["buffer.pt"] = record("buffer.pt")

# Pickle protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL.
torch.save({"w": torch.randn(2, 2), "v": big[1]}, "proto4.pt", pickle_protocol=4)
expected["proto4.pt"] = record("proto4.pt")

# The pre-1.6 format, which the Go reader refuses.
torch.save({"w": torch.randn(2)}, "legacy.pt", _use_new_zipfile_serialization=False)

with open("expected.json", "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
