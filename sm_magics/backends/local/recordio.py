"""SageMaker's ``application/x-recordio-protobuf``, dense rows only, without protobuf.

The format (the SDK's ``RecordSerializer``, the built-in algorithms' input): a stream of
RecordIO frames (``0xced7230a``, a 32-bit length, the payload padded to 4 bytes), each an
``aialgs.data.Record`` message whose ``features["values"]`` is a float32/float64/int32
tensor (``values``, optional sparse ``keys`` and ``shape``). The XGBoost container reads
it with ``mlio``; we decode the few wire types the message uses by hand, so serving needs
no protobuf runtime.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

MAGIC = 0xCED7230A
_FLOAT32, _FLOAT64, _INT32 = 2, 3, 7  # Value's oneof field numbers


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Yield ``(field number, wire type, value)`` of one protobuf message."""
    pos = 0
    value: Any
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _packed(payload: bytes, wire: int, kind: str) -> list[Any]:
    if wire == 2 and kind in "fdi":
        if kind == "i":
            out, pos = [], 0
            while pos < len(payload):
                value, pos = _varint(payload, pos)
                out.append(value - (1 << 64) if value >= 1 << 63 else value)
            return out
        size = 4 if kind == "f" else 8
        return list(struct.unpack(f"<{len(payload) // size}{kind}", payload))
    if wire == 5:
        return list(struct.unpack("<f", payload))
    if wire == 1:
        return list(struct.unpack("<d", payload))
    return [payload]


def _tensor(payload: bytes, kind: str) -> list[float]:
    values: list[float] = []
    keys: list[int] = []
    shape: list[int] = []
    for number, wire, value in _fields(payload):
        if number == 1:
            values += _packed(value, wire, kind) if wire != 0 else [value]
        elif number in (2, 3):
            ints = _packed(value, wire, "i") if wire == 2 else [value]
            (keys if number == 2 else shape).extend(int(i) for i in ints)
    if not keys:
        return [float(v) for v in values]
    dense = [0.0] * (shape[0] if shape else max(keys) + 1)
    for key, value in zip(keys, values, strict=True):
        dense[key] = float(value)
    return dense


def _row(record: bytes) -> list[float] | None:
    for number, _wire, entry in _fields(record):
        if number != 1:  # features (label, uid... are ignored, as the container ignores labels)
            continue
        name, value = "", b""
        for sub, _w, item in _fields(entry):
            if sub == 1:
                name = item.decode()
            elif sub == 2:
                value = item
        if name != "values":
            continue
        for kind_number, _w, tensor in _fields(value):
            kind = {_FLOAT32: "f", _FLOAT64: "d", _INT32: "i"}.get(kind_number)
            if kind:
                return _tensor(tensor, kind)
    return None


def frames(body: bytes) -> Iterator[bytes]:
    """Yield the payload of each RecordIO frame."""
    pos = 0
    while pos + 8 <= len(body):
        magic, length = struct.unpack("<II", body[pos : pos + 8])
        if magic != MAGIC:
            raise ValueError(f"not a RecordIO frame at byte {pos}")
        length &= (1 << 29) - 1
        yield body[pos + 8 : pos + 8 + length]
        pos += 8 + length + (-length % 4)
    if pos != len(body):
        raise ValueError("trailing bytes after the last RecordIO frame")


def read_dense(body: bytes) -> Any:
    """Return the ``features["values"]`` of every record as a 2-D numpy array."""
    import numpy as np

    rows = [row for row in (_row(frame) for frame in frames(body)) if row is not None]
    if not rows:
        raise ValueError("no record with features['values']")
    return np.array(rows, dtype=float)


def _key(number: int, wire: int) -> bytes:
    return _encode_varint(number << 3 | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _key(number, 2) + _encode_varint(len(payload)) + payload


def write_dense(rows: Any) -> bytes:
    """Encode a 2-D array as the SDK's ``RecordSerializer`` does (float32 dense tensors)."""
    out = bytearray()
    for row in rows:
        floats = struct.pack(f"<{len(row)}f", *(float(v) for v in row))
        tensor = _length_delimited(1, floats)
        value = _length_delimited(_FLOAT32, tensor)
        entry = _length_delimited(1, b"values") + _length_delimited(2, value)
        record = _length_delimited(1, entry)
        out += struct.pack("<II", MAGIC, len(record)) + record + b"\0" * (-len(record) % 4)
    return bytes(out)
