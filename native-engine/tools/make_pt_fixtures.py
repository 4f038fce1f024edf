#!/usr/bin/env python3
"""One-off generator of the PyTorch checkpoint fixtures in native-engine/testdata/pt/.

Run by hand (not part of the build or tests) with a real PyTorch install, CPU only:
    python3 native-engine/tools/make_pt_fixtures.py
The fixtures were produced with torch 2.15.0 (PyPI wheel). Every .pt file is real
torch.save output except the ones that are explicitly re-packed below (deflated.pt,
bigendian.pt); each is reloaded with torch.load to prove it is valid where torch can read
it. expected.safetensors holds the expected value of every tensor the C++ reader must
return, under "<fixture stem>/<tensor name>", in its original dtype and contiguous
layout; its __metadata__ maps each fixture stem to the JSON list of tensor names in
state-dict order. Values are arange-based so they are exactly representable.
"""
import collections
import io
import json
import os
import struct
import zipfile

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "pt")
SAFETENSORS_DTYPE = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
expected = {}  # name -> tensor
order = {}  # fixture stem -> [names]


def ar(shape, dtype, scale=1.0, start=0.0):
    n = 1
    for s in shape:
        n *= s
    return (torch.arange(n, dtype=torch.float64) * scale + start).reshape(shape).to(dtype)


def strip(name):
    return name[len("module."):] if name.startswith("module.") else name


def record(stem, state):
    order[stem] = []
    for k, v in state.items():
        if isinstance(v, torch.Tensor):
            name = strip(k)
            order[stem].append(name)
            expected[stem + "/" + name] = v.detach().clone().contiguous()


def save(stem, obj, state=None, **kw):
    path = os.path.join(OUT, stem + ".pt")
    torch.save(obj, path, **kw)
    # Proves torch can read it back (its weights_only unpickler rejects FRAME, so protocol 4+ loads fully).
    torch.load(path, weights_only=kw.get("pickle_protocol", 2) < 4)
    if state is not None:
        record(stem, state)
    return path


def repack(src, dst, replace=None, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1]
            zout.writestr(info.filename, data)


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    # Widest dtypes first keeps every tensor naturally aligned (the header is padded to 8).
    for name, t in sorted(tensors.items(), key=lambda kv: -kv[1].element_size()):
        raw = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": SAFETENSORS_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Evil:
    """Pickles as a call of os.system: a loader that executes pickles would run it."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/vggt-pt-fixture-pwned",))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))

    # Every dtype the reader maps, with the default (zip) serialization.
    basic = {
        "f32": ar((2, 3, 4), torch.float32, 0.25, -3.0),
        "f16": ar((5, 3), torch.float16, 0.5, -4.0),
        "bf16": ar((4, 4), torch.bfloat16, 1.0, -8.0),
        "f64": ar((3,), torch.float64, 0.1, 1.0),
        "i64": ar((2, 2), torch.int64, 1e10, -7.0),
        "i32": ar((3,), torch.int32, 1000, -1000),
        "i16": ar((3,), torch.int16, 300, -300),
        "i8": ar((4,), torch.int8, 20, -40),
        "u8": ar((4,), torch.uint8, 60, 0),
        "flags": torch.tensor([True, False, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros((0, 3)),
        "num_batches_tracked": torch.tensor(7),
    }
    save("basic", basic, basic)

    # Views: transposes and strided slices are non-contiguous; slices and views share storage.
    base = ar((4, 6), torch.float32, 1.0, 1.0)
    views = {
        "base": base,
        "transposed": base.t(),
        "row_slice": base[1:3],  # contiguous, storage offset 6
        "col_stride": base[:, ::2],
        "reshaped": base.view(2, 12),  # same storage as base
        "expanded": ar((3, 1), torch.float16, 1.0, 0.0).expand(3, 4),  # stride 0
        "bf16_t": ar((2, 3), torch.bfloat16, 1.0, 0.0).t(),
    }
    save("views", views, views)

    # A module state dict with nn.Parameter entries (keep_vars) and the OrderedDict _metadata attribute.
    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(4, 12)
            self.proj = nn.Linear(4, 4, bias=False)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(4)
            self.attn = Attn()

    class PatchEmbed(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(), Block()])

    class Aggregator(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = PatchEmbed()
            self.camera_token = nn.Parameter(torch.zeros(1, 2, 1, 4))
            self.register_buffer("bn_count", torch.tensor(3))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.aggregator = Aggregator()
            self.head = nn.Linear(4, 2).to(torch.float16)

    model = Model()
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(ar(tuple(p.shape), torch.float64, 0.125, -i).to(p.dtype))
    sd = model.state_dict(keep_vars=True)
    assert isinstance(sd, collections.OrderedDict) and any(isinstance(v, nn.Parameter) for v in sd.values())
    assert hasattr(sd, "_metadata")
    save("module_state", sd, sd)

    # A training checkpoint: weights nested under "model", DDP's "module." prefix, other bookkeeping.
    plain = model.state_dict()
    ddp = collections.OrderedDict(("module." + k, v) for k, v in plain.items())
    save("nested_model", {"epoch": 3, "model": ddp, "optimizer": {"lr": 0.1, "betas": (0.9, 0.99)}, "note": "x"}, ddp)

    # Pickle protocols 4 and 5 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE) and a parameter.
    p4 = collections.OrderedDict([("w", nn.Parameter(ar((3, 2), torch.float32, -0.5, 2.0))), ("b", ar((2,), torch.bfloat16, 1.0, 0.0))])
    save("protocol4", p4, p4, pickle_protocol=4)
    save("protocol5", p4, p4, pickle_protocol=5)

    # Saved to a buffer: the archive folder is "archive" instead of the file stem.
    buf = io.BytesIO()
    small = {"x": ar((3,), torch.float32, 1.0, 0.0)}
    torch.save(small, buf)
    with open(os.path.join(OUT, "from_buffer.pt"), "wb") as f:
        f.write(buf.getvalue())
    torch.load(os.path.join(OUT, "from_buffer.pt"), weights_only=True)
    record("from_buffer", small)

    # Re-packed with deflate (what re-zipping a checkpoint produces); torch can still read it.
    repack(os.path.join(OUT, "basic.pt"), os.path.join(OUT, "deflated.pt"), compression=zipfile.ZIP_DEFLATED)
    torch.load(os.path.join(OUT, "deflated.pt"), weights_only=True)
    record("deflated", basic)

    # Failure cases (no expected tensors).
    repack(os.path.join(OUT, "from_buffer.pt"), os.path.join(OUT, "bigendian.pt"), replace=("/byteorder", b"big"))
    torch.save(nn.Linear(2, 2), os.path.join(OUT, "whole_module.pt"))  # pickles a class instance
    torch.save({"payload": Evil()}, os.path.join(OUT, "evil.pt"))
    torch.save({"u16": torch.tensor([1, 2, 3], dtype=torch.int32).to(torch.uint16)}, os.path.join(OUT, "uint16.pt"))  # _rebuild_tensor_v3
    torch.save(small, os.path.join(OUT, "legacy.pt"), _use_new_zipfile_serialization=False)

    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {k: json.dumps(v) for k, v in order.items()})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, {len(expected)} expected tensors")


if __name__ == "__main__":
    main()
