"""Build small FIT files byte by byte for decoder tests."""

from __future__ import annotations

import struct

from fit_converter.fit import compute_crc


def header(data_size: int, *, size: int = 14, crc: int | None = None) -> bytes:
    """Return a FIT file header; ``crc`` None computes the header CRC, 0 leaves it unset."""
    head = struct.pack("<BBHI4s", size, 0x20, 2132, data_size, b".FIT")
    if size == 12:
        return head
    value = compute_crc(head) if crc is None else crc
    return head + struct.pack("<H", value)


def definition(
    local: int,
    mesg_num: int,
    fields: list[tuple[int, int, int]],
    dev_fields: list[tuple[int, int, int]] | None = None,
    *,
    big_endian: bool = False,
) -> bytes:
    """Return a definition message: ``fields`` contains (number, size, base type)."""
    record_header = 0x40 | local | (0x20 if dev_fields is not None else 0)
    order = ">" if big_endian else "<"
    body = struct.pack(order + "BBHB", 0, 1 if big_endian else 0, mesg_num, len(fields))
    body += b"".join(bytes(field) for field in fields)
    if dev_fields is not None:
        body += bytes([len(dev_fields)]) + b"".join(bytes(field) for field in dev_fields)
    return bytes([record_header]) + body


def data(local: int, payload: bytes) -> bytes:
    """Return a data message with a normal header."""
    return bytes([local]) + payload


def compressed(local: int, time_offset: int, payload: bytes) -> bytes:
    """Return a data message with a compressed-timestamp header."""
    return bytes([0x80 | (local << 5) | (time_offset & 0x1F)]) + payload


def fit_file(*messages: bytes, header_size: int = 14, header_crc: int | None = None) -> bytes:
    """Return a complete FIT file (header, messages, file CRC)."""
    body = b"".join(messages)
    head = header(len(body), size=header_size, crc=header_crc)
    content = head + body
    return content + struct.pack("<H", compute_crc(content))
