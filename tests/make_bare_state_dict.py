#!/usr/bin/env python3
"""Writes tests/fixtures/reference/bare_state_dict.pth: the reference weights as a BARE
state_dict (an OrderedDict of tensors, no training wrapper) in torch.save's zip format, with
the complex BN tensors as complex64 storages -- without torch installed.

torch.save pickles each tensor as a call of torch._utils._rebuild_tensor_v2 whose first
argument is a persistent id ('storage', torch.<X>Storage, key, 'cpu', numel); the storage bytes
live in the archive at <name>/data/<key>. This script emits the same structure with stand-in
`torch` modules, from weights.safetensors (parsed by hand: numpy only). The complex tensors
(stored [C, 2] in safetensors) become complex64 [C], as the reference holds them. One tensor
is written as a strided view (a transposed storage) to exercise stride handling.

Run: python3 tests/make_bare_state_dict.py
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REF = os.path.join(HERE, "fixtures", "reference")


def stand_in(module_name, name, obj):
    module = sys.modules.setdefault(module_name, types.ModuleType(module_name))
    obj.__module__, obj.__qualname__, obj.__name__ = module_name, name, name
    setattr(module, name, obj)
    return obj


def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
    raise NotImplementedError


stand_in("torch._utils", "_rebuild_tensor_v2", _rebuild_tensor_v2)
sys.modules["torch"] = sys.modules.get("torch", types.ModuleType("torch"))
FloatStorage = stand_in("torch", "FloatStorage", type("FloatStorage", (), {}))
ComplexFloatStorage = stand_in("torch", "ComplexFloatStorage", type("ComplexFloatStorage", (), {}))


class Storage:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (_rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.numel)
        return None


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype="<f4").reshape(info["shape"])
    return out


def main():
    weights = read_safetensors(os.path.join(REF, "weights.safetensors"))
    state = collections.OrderedDict()
    blobs = {}
    for i, (name, array) in enumerate(weights.items()):
        key = str(i)
        if name.endswith(("bn.bias", "bn.running_mean")):
            c = array[:, 0].astype(np.complex64) + 1j * array[:, 1].astype(np.complex64)
            blobs[key] = c.astype("<c8").tobytes()
            state[name] = Tensor(Storage(ComplexFloatStorage, key, c.size), 0, c.shape, (1,))
        elif name == "attention.fc1.weight":
            # Stored transposed: the [32, 8] tensor is a view with strides (1, 32).
            blobs[key] = np.ascontiguousarray(array.T).astype("<f4").tobytes()
            state[name] = Tensor(Storage(FloatStorage, key, array.size), 0, array.shape, (1, array.shape[0]))
        else:
            blobs[key] = np.ascontiguousarray(array).astype("<f4").tobytes()
            strides = [int(np.prod(array.shape[d + 1 :])) for d in range(array.ndim)]
            state[name] = Tensor(Storage(FloatStorage, key, array.size), 0, array.shape, strides)
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(state)
    path = os.path.join(REF, "bare_state_dict.pth")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("bare_state_dict/data.pkl", buf.getvalue())
        z.writestr("bare_state_dict/byteorder", "little")
        for key, blob in blobs.items():
            z.writestr(f"bare_state_dict/data/{key}", blob)
    print(f"wrote {path} ({os.path.getsize(path)} bytes, {len(state)} tensors)")


if __name__ == "__main__":
    main()
