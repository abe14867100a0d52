"""Write a small, valid FIT activity file for the package test.

The container test needs a FIT file that exists without the sample corpus, which may
not be beside the repository. The script uses only the standard library, because it
runs under the container's Debian python3, outside the package's venv. The file has
a file_id message and ``--records`` record messages (timestamp, position in
semicircles, heart rate, distance, speed), with the header and file CRCs of FIT
protocol 2.0.

Usage: python3 make_fit.py OUTPUT [--records N]
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

#: Nibble table of the CRC-16 that FIT uses for the header and file checks.
CRC_TABLE = (
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
    0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
)  # fmt: skip

#: Seconds from the Unix epoch to the FIT epoch (1989-12-31T00:00:00Z).
FIT_EPOCH_OFFSET = 631065600

#: 2024-06-01T08:30:00Z as a FIT timestamp.
START_TIME = 1717230600 - FIT_EPOCH_OFFSET

BASE_ENUM, BASE_UINT8, BASE_SINT32, BASE_UINT16, BASE_UINT32 = 0x00, 0x02, 0x85, 0x84, 0x86


def fit_crc(data: bytes, crc: int = 0) -> int:
    """Return the FIT CRC-16 of ``data``, continuing from ``crc``."""
    for byte in data:
        for nibble in (byte & 0x0F, byte >> 4):
            low = CRC_TABLE[crc & 0x0F]
            crc = (crc >> 4) & 0x0FFF
            crc = crc ^ low ^ CRC_TABLE[nibble]
    return crc


def definition(
    local_message_type: int, global_number: int, fields: list[tuple[int, int, int]]
) -> bytes:
    """Encode a definition message: little-endian, (field number, size, base type) each."""
    head = struct.pack("<BBBHB", 0x40 | local_message_type, 0, 0, global_number, len(fields))
    return head + b"".join(struct.pack("<BBB", *field) for field in fields)


def build_activity(records: int) -> bytes:
    """Return the bytes of a FIT activity file with ``records`` record messages."""
    data = bytearray()

    # file_id: type=activity (4), manufacturer=development (255), time_created.
    data += definition(0, 0, [(0, 1, BASE_ENUM), (1, 2, BASE_UINT16), (4, 4, BASE_UINT32)])
    data += struct.pack("<BBHI", 0, 4, 255, START_TIME)

    # record: timestamp, position_lat, position_long, heart_rate, distance (1/100 m),
    # speed (1/1000 m/s).
    data += definition(
        1,
        20,
        [
            (253, 4, BASE_UINT32),
            (0, 4, BASE_SINT32),
            (1, 4, BASE_SINT32),
            (3, 1, BASE_UINT8),
            (5, 4, BASE_UINT32),
            (6, 2, BASE_UINT16),
        ],
    )
    latitude, longitude = 570000000, 120000000  # about 47.78 N, 10.06 E
    for second in range(records):
        data += struct.pack(
            "<BIiiBIH",
            1,
            START_TIME + second,
            latitude + second * 100,
            longitude + second * 100,
            120 + second % 40,
            second * 500,
            5000,
        )

    header = struct.pack("<BBHI4s", 14, 0x20, 2132, len(data), b".FIT")
    header += struct.pack("<H", fit_crc(header))
    body = header + bytes(data)
    return body + struct.pack("<H", fit_crc(body))


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a small FIT activity file.")
    parser.add_argument("output", type=Path, help="path of the .fit file to write")
    parser.add_argument("--records", type=int, default=60, help="record messages (default: 60)")
    args = parser.parse_args()
    args.output.write_bytes(build_activity(args.records))


if __name__ == "__main__":
    main()
