"""Save uploads to a staging folder: single FIT files, gzipped FIT files and .zip exports.

Nothing in here trusts a name or a size that came with the upload. Zip entry names
only ever become display names through ``clean_name``, never paths, so an entry such
as ``../../etc/passwd.fit`` cannot write outside the staging folder. Sizes are counted
while decompressing, so a zip bomb whose headers lie is stopped at the limit.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from werkzeug.datastructures import FileStorage

from fit_converter.web.names import clean_name, suffix_of

#: Bytes read per step while copying or decompressing.
CHUNK_SIZE = 1 << 20

#: Suffixes accepted as uploads. Zip entries may have them too, with zips one level deep.
UPLOAD_SUFFIXES = (".fit", ".fit.gz", ".zip")

log = logging.getLogger("fit_converter.web.staging")


class UploadRejected(Exception):
    """An upload that cannot be accepted. ``status`` is the HTTP status of the response."""

    def __init__(self, reason: str, hint: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.status = status


@dataclass(frozen=True)
class StagedFile:
    """One FIT file saved in its own staging folder, with the name the user gave it."""

    path: Path
    name: str
    #: Subfolder, relative to the inbox, that the outputs keep; "" except for a retried
    #: file that came from an inbox subfolder.
    folder: str = ""


@dataclass(frozen=True)
class ZipLimits:
    """Limits on one upload: entry count and bytes after decompression."""

    max_files: int
    max_bytes: int
    min_free_bytes: int


@dataclass
class StagingResult:
    """FIT files ready for conversion, and the zip entries left out, each with its reason."""

    files: list[StagedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Budget:
    """Count decompressed bytes across one upload and stop at the limit."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.used = 0
        self.what = what

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise UploadRejected(
                f"{self.what} expands to more than {self.limit // 2**20} MiB",
                "Upload fewer files at a time, or raise FIT_CONVERTER_ZIP_MAX_MB.",
                413,
            )


def _copy_counted(source: _Readable, target: Path, budget: _Budget) -> int:
    written = 0
    with target.open("xb") as handle:
        while block := source.read(CHUNK_SIZE):
            budget.spend(len(block))
            handle.write(block)
            written += len(block)
    return written


@contextmanager
def incoming_folder(uploads_root: Path) -> Iterator[Path]:
    """Yield a new folder for one request's files and remove what is left in it at the end."""
    uploads_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="incoming-", dir=uploads_root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Stager:
    """Stage uploads into numbered sub-folders of one request's incoming folder."""

    def __init__(self, folder: Path, limits: ZipLimits) -> None:
        self.folder = folder
        self.limits = limits
        self.result = StagingResult()
        self._count = 0
        self._entries = 0

    def _slot(self, name: str) -> Path:
        self._count += 1
        slot = self.folder / f"{self._count:05d}"
        slot.mkdir()
        return slot / name

    def add_upload(self, upload: FileStorage) -> None:
        """Stage one uploaded file; raise UploadRejected for a file that cannot be used."""
        raw_name = upload.filename or ""
        name = clean_name(raw_name)
        suffix = suffix_of(name)
        if suffix not in UPLOAD_SUFFIXES:
            raise UploadRejected(
                f"'{name}' is not a .fit, .fit.gz or .zip file",
                "Upload the FIT file exported from the device or its app, or a .zip of them.",
                415,
            )

        budget = _Budget(self.limits.max_bytes, f"'{name}'")
        if suffix == ".fit":
            target = self._slot(name)
            size = _copy_counted(upload.stream, target, budget)
            if size == 0:
                raise UploadRejected(
                    f"'{name}' is empty (0 bytes)",
                    "Export the activity again and upload the new file.",
                    400,
                )
            self.result.files.append(StagedFile(target, name))
        elif suffix == ".fit.gz":
            self._add_gzip(upload.stream, name, budget)
        else:
            self._add_zip(upload, name, budget)

    def _add_gzip(self, stream: IO[bytes], name: str, budget: _Budget) -> None:
        fit_name = name[: -len(".gz")]
        target = self._slot(fit_name)
        try:
            with gzip.GzipFile(fileobj=stream, mode="rb") as unpacked:
                size = _copy_counted(unpacked, target, budget)
        except (OSError, EOFError, zlib.error) as error:
            raise UploadRejected(
                f"'{name}' is not a readable gzip file ({error})",
                "Upload the .fit file itself, or the .fit.gz exactly as it was exported.",
                400,
            ) from error
        if size == 0:
            raise UploadRejected(f"'{name}' contains an empty file", "Export it again.", 400)
        self.result.files.append(StagedFile(target, fit_name))

    def add_path(self, path: Path, name: str) -> None:
        """Stage the FIT files of a ``.fit.gz`` or ``.zip`` file on disk, called ``name``.

        Raises UploadRejected like ``add_upload``, and ValueError for another suffix.
        The file at ``path`` itself is left in place.
        """
        suffix = suffix_of(name)
        budget = _Budget(self.limits.max_bytes, f"'{name}'")
        if suffix == ".fit.gz":
            with path.open("rb") as stream:
                self._add_gzip(stream, name, budget)
        elif suffix == ".zip":
            self._unpack_zip(path, name, budget)
        else:
            raise ValueError(f"{name!r} is neither a .fit.gz nor a .zip file")

    def _add_zip(self, upload: FileStorage, name: str, budget: _Budget) -> None:
        archive_path = self.folder / "upload.zip"
        try:
            with archive_path.open("xb") as handle:
                shutil.copyfileobj(upload.stream, handle, CHUNK_SIZE)
            self._unpack_zip(archive_path, name, budget)
        finally:
            archive_path.unlink(missing_ok=True)

    def _unpack_zip(self, archive_path: Path, name: str, budget: _Budget) -> None:
        if archive_path.stat().st_size == 0:
            raise UploadRejected(f"'{name}' is empty (0 bytes)", "Export it again.", 400)

        try:
            with zipfile.ZipFile(archive_path) as archive:
                self._extract(archive, name, budget)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
            raise UploadRejected(
                f"'{name}' is not a readable zip file ({error})",
                "Use the .zip exactly as it was downloaded, or the .fit files in it.",
                400,
            ) from error

        if not self.result.files:
            raise UploadRejected(
                f"'{name}' contains no .fit files",
                "A Garmin or Strava export holds its activities as .fit or .fit.gz files; "
                "upload the zip that contains them.",
                422,
            )

    def _extract(
        self, archive: zipfile.ZipFile, name: str, budget: _Budget, depth: int = 0
    ) -> None:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        self._entries += len(entries)
        if self._entries > self.limits.max_files:
            raise UploadRejected(
                f"'{name}' contains {self._entries} files, more than the limit of "
                f"{self.limits.max_files}",
                "Split the export into smaller zips, or raise FIT_CONVERTER_ZIP_MAX_FILES.",
                413,
            )

        declared = sum(info.file_size for info in entries)
        if budget.used + declared > self.limits.max_bytes:
            budget.spend(declared)
        free = shutil.disk_usage(self.folder).free
        if free - declared < self.limits.min_free_bytes:
            raise UploadRejected(
                f"'{name}' needs {declared // 2**20} MiB but only {free // 2**20} MiB are free",
                "Free some space on the appliance, then upload again.",
                507,
            )

        for info in entries:
            entry_name = clean_name(info.filename, default="entry")
            if info.flag_bits & 0x1:
                self.result.skipped.append(f"{entry_name}: encrypted, cannot be read")
            elif suffix_of(entry_name) == ".zip":
                self._extract_inner_zip(archive, info, entry_name, budget, depth)
            elif suffix_of(entry_name) in (".fit", ".fit.gz"):
                self._extract_fit(archive, info, entry_name, budget)
            else:
                self.result.skipped.append(f"{entry_name}: not a .fit or .fit.gz file")
        log.info(
            "unpacked %s: %d FIT file(s) so far, %d skipped, %d bytes",
            name,
            len(self.result.files),
            len(self.result.skipped),
            budget.used,
        )

    def _extract_inner_zip(
        self,
        archive: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        entry_name: str,
        budget: _Budget,
        depth: int,
    ) -> None:
        """Unpack a zip inside the zip, one level deep, as Garmin's export nests its files."""
        if depth >= 1:
            self.result.skipped.append(f"{entry_name}: a zip nested two levels deep")
            return
        self._count += 1
        inner_path = self.folder / f"inner-{self._count:05d}.zip"
        try:
            with archive.open(info) as member:
                _copy_counted(member, inner_path, budget)
            with zipfile.ZipFile(inner_path) as inner:
                self._extract(inner, entry_name, budget, depth + 1)
        except zipfile.BadZipFile as error:
            self.result.skipped.append(f"{entry_name}: not a readable zip ({error})")
        finally:
            inner_path.unlink(missing_ok=True)

    def _extract_fit(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, entry_name: str, budget: _Budget
    ) -> None:
        gzipped = suffix_of(entry_name) == ".fit.gz"
        fit_name = entry_name[: -len(".gz")] if gzipped else entry_name
        target = self._slot(fit_name)
        with archive.open(info) as member:
            if not gzipped:
                size = _copy_counted(member, target, budget)
            else:
                try:
                    with gzip.GzipFile(fileobj=member, mode="rb") as unpacked:
                        size = _copy_counted(unpacked, target, budget)
                except (gzip.BadGzipFile, EOFError, zlib.error) as error:
                    target.unlink(missing_ok=True)
                    self.result.skipped.append(f"{entry_name}: not readable gzip ({error})")
                    return
        if size == 0:
            target.unlink()
            self.result.skipped.append(f"{entry_name}: empty (0 bytes)")
            return
        self.result.files.append(StagedFile(target, fit_name))
