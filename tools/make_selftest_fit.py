#!/usr/bin/env python3
"""Write src/fit_converter/selftest/selftest.fit from the records in fit_converter.selftest.

The bytes are laid out by hand after the FIT protocol (a 14-byte header, definition and
data messages, a CRC-16 at the end), so the file depends on no encoder. Run it from the
repository root with the package installed: .venv/bin/python tools/make_selftest_fit.py
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

from fitdecode.utils import compute_crc

from fit_converter.selftest import FILE_NAME, RECORDS

#: Seconds between the Unix epoch and the FIT epoch, 1989-12-31T00:00:00Z.
FIT_EPOCH = 631065600
PROTOCOL_VERSION = 0x20  # 2.0
PROFILE_VERSION = 2132  # 21.32

# Global message numbers and base types from the FIT SDK profile.
MESG_FILE_ID = 0
MESG_RECORD = 20
ENUM, UINT8, UINT16, SINT32, UINT32, UINT32Z = 0x00, 0x02, 0x84, 0x85, 0x86, 0x8C

#: (field number, size, base type) of each message, in the order the data is written.
FILE_ID_FIELDS = ((0, 1, ENUM), (1, 2, UINT16), (2, 2, UINT16), (3, 4, UINT32Z), (4, 4, UINT32))
RECORD_FIELDS = (
    (253, 4, UINT32),  # timestamp, s since the FIT epoch
    (0, 4, SINT32),  # position_lat, semicircles
    (1, 4, SINT32),  # position_long, semicircles
    (2, 2, UINT16),  # altitude, (m + 500) * 5
    (3, 1, UINT8),  # heart_rate, bpm
    (6, 2, UINT16),  # speed, mm/s
    (7, 2, UINT16),  # power, W
)


def definition(
    local_message_type: int, global_message_number: int, fields: tuple[tuple[int, int, int], ...]
) -> bytes:
    """Encode a definition message, little-endian architecture."""
    header = 0x40 | local_message_type
    body = struct.pack("<BBBHB", header, 0, 0, global_message_number, len(fields))
    return body + b"".join(struct.pack("<BBB", *field) for field in fields)


def semicircles(degrees: float) -> int:
    return round(degrees * 2**31 / 180)


def encode() -> bytes:
    """Return the complete FIT file."""
    created = int(RECORDS[0].timestamp.timestamp()) - FIT_EPOCH
    data = definition(0, MESG_FILE_ID, FILE_ID_FIELDS)
    # type 4 = activity, manufacturer 255 = development, product 0, serial number 1.
    data += struct.pack("<BBHHII", 0, 4, 255, 0, 1, created)

    data += definition(1, MESG_RECORD, RECORD_FIELDS)
    for record in RECORDS:
        data += struct.pack(
            "<BIiiHBHH",
            1,
            int(record.timestamp.timestamp()) - FIT_EPOCH,
            semicircles(record.latitude),
            semicircles(record.longitude),
            round((record.altitude + 500) * 5),
            record.heart_rate,
            round(record.speed * 1000),
            record.power,
        )

    header = struct.pack("<BBHI4s", 14, PROTOCOL_VERSION, PROFILE_VERSION, len(data), b".FIT")
    header += struct.pack("<H", compute_crc(header))
    body = header + data
    return body + struct.pack("<H", compute_crc(body))


def main() -> int:
    target = Path(__file__).resolve().parents[1] / "src" / "fit_converter" / "selftest" / FILE_NAME
    target.write_bytes(encode())
    print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
