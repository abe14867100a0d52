"""Build small, valid FIT activity files by hand, for tests that need many or big files."""

from __future__ import annotations

import struct

from fitdecode.utils import compute_crc

_FILE_ID_DEFINITION = (
    bytes([0x40, 0, 0])
    + struct.pack("<H", 0)  # global message number 0: file_id
    + bytes([3, 0, 1, 0x00, 1, 2, 0x84, 4, 4, 0x86])  # type, manufacturer, time_created
)
_RECORD_DEFINITION = (
    bytes([0x41, 0, 0])
    + struct.pack("<H", 20)  # global message number 20: record
    + bytes([4, 253, 4, 0x86, 3, 1, 0x02, 7, 2, 0x84, 5, 4, 0x86])
)


def build_fit(records: int, *, start: int = 1_000_000_000, seed: int = 0) -> bytes:
    """Return a FIT activity with ``records`` one-second records after FIT time ``start``.

    Each record has timestamp, heart_rate, power and distance; ``seed`` changes the
    values so files with the same record count differ in content and SHA-256.
    """
    body = bytearray(_FILE_ID_DEFINITION)
    body += bytes([0x00, 4]) + struct.pack("<HI", 1, start)  # activity file by Garmin
    body += _RECORD_DEFINITION
    for index in range(records):
        body += bytes([0x01]) + struct.pack(
            "<IBHI",
            start + index,
            60 + (index + seed) % 120,
            (index * 7 + seed) % 400,
            index * 500 + seed,
        )

    header = bytearray(struct.pack("<BBHI4s", 14, 0x20, 2132, len(body), b".FIT"))
    header += struct.pack("<H", compute_crc(header))
    data = bytes(header) + bytes(body)
    return data + struct.pack("<H", compute_crc(data))
