"""Counting what a protobuf message holds without parsing it: the ONNX reader refuses a graph with too many nodes
before the parser builds millions of node objects (a 200 MB file of tiny nodes would take gigabytes)."""

from __future__ import annotations


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it; (-1, len) when the bytes end inside it."""
    value = shift = 0
    while pos < len(data):
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    return -1, len(data)


def fields(data: bytes, start: int = 0, end: int | None = None):
    """(field number, wire type, payload start, payload end) of each field of the message in data[start:end]; it
    stops quietly at anything malformed (the real parser then says what is wrong)."""
    pos, end = start, len(data) if end is None else end
    while pos < end:
        key, pos = _varint(data, pos)
        if key < 0:
            return
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, nxt = _varint(data, pos)
            yield number, wire, pos, nxt
        elif wire == 1:
            nxt = pos + 8
            yield number, wire, pos, nxt
        elif wire == 2:
            length, pos = _varint(data, pos)
            if length < 0:
                return
            nxt = pos + length
            yield number, wire, pos, nxt
        elif wire == 5:
            nxt = pos + 4
            yield number, wire, pos, nxt
        else:
            return
        if nxt > end:
            return
        pos = nxt


def onnx_node_count(data: bytes) -> int:
    """Nodes in an ONNX ModelProto's main graph (ModelProto field 7 = graph, GraphProto field 1 = node), counted at
    the wire level; 0 when no graph is found."""
    count = 0
    for number, wire, a, b in fields(data):
        if number == 7 and wire == 2:
            count += sum(1 for n, w, _, _ in fields(data, a, b) if n == 1 and w == 2)
    return count
