"""Resumable, verified downloads and safe archive extraction (standard library only).

Why not ``urllib.request.urlretrieve`` + ``tarfile.extractall``: a corpus archive is gigabytes
over a connection that may drop, so a download must continue from the bytes already on disk
(HTTP ``Range``), must be checked against a published checksum before anything trusts it, and
must appear under its final name only once complete (so a half-written file never looks done).
An archive from the network is untrusted: member names with ``..`` or absolute paths, links and
device files are refused instead of being written wherever they point.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

Progress = Callable[[int, int | None], None]
"""``progress(bytes_done, bytes_total_or_None)``."""

CHUNK_BYTES = 1 << 20
USER_AGENT = "tts-ebm-downloader"


class DownloadError(OSError):
    """A download that failed or did not verify; the message says what to do next."""


class UnsafeArchiveError(ValueError):
    """An archive member that would escape the destination, or is a link or device file."""


@dataclass(frozen=True)
class Checksum:
    """Expected digest of a file: ``algorithm`` is any :mod:`hashlib` name (sha256, md5, ...)."""

    algorithm: str
    hexdigest: str

    def __post_init__(self) -> None:
        if self.algorithm not in hashlib.algorithms_available:
            raise ValueError(f"unknown checksum algorithm {self.algorithm!r}")
        if not re.fullmatch(r"[0-9a-fA-F]+", self.hexdigest):
            raise ValueError(f"checksum {self.hexdigest!r} is not a hexadecimal digest")


def file_digest(path: Path, algorithm: str, progress: Progress | None = None) -> str:
    """Hex digest of a file, read in chunks (gigabyte archives do not fit in memory)."""
    digest = hashlib.new(algorithm)
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def verify(
    path: Path,
    *,
    size: int | None = None,
    checksums: tuple[Checksum, ...] = (),
    progress: Progress | None = None,
    name: str | None = None,
) -> None:
    """Raise :class:`DownloadError` when ``path`` has the wrong size or digest; messages call
    the file ``name`` (default: its own)."""
    name = name or path.name
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        raise DownloadError(f"{name} has {actual_size} bytes, expected {size}")
    for checksum in checksums:
        actual = file_digest(path, checksum.algorithm, progress)
        if actual.lower() != checksum.hexdigest.lower():
            raise DownloadError(
                f"{checksum.algorithm} of {name} is {actual}, expected {checksum.hexdigest}"
            )


def download(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    checksums: tuple[Checksum, ...] = (),
    progress: Progress | None = None,
    timeout: float = 60.0,
    retries: int = 3,
    retry_wait: float = 2.0,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` from an earlier attempt.

    ``dest`` is verified (``size``, ``checksums``) and reused when it already exists. Data arrive
    in ``DEST.part``; a dropped connection is retried ``retries`` times, each continuing with a
    ``Range`` request after ``retry_wait`` seconds (doubling). Only a verified file is renamed
    to ``dest``; one that fails verification is deleted (resuming from bad bytes would never
    succeed), and the error says so.
    """
    dest = Path(dest)
    if dest.is_file():
        try:
            verify(dest, size=size, checksums=checksums)
            return dest
        except DownloadError as exc:
            raise DownloadError(
                f"{dest} exists but does not verify ({exc}); delete it and run again"
            ) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch(url, part, size, progress, timeout)
            break
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            ConnectionError,
            TimeoutError,
        ) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code < 500:
                raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
            attempt += 1
            if attempt > retries:
                reason = getattr(exc, "reason", exc)
                kept = part.stat().st_size if part.is_file() else 0
                again = f"{kept} bytes kept in {part}; run again to resume" if kept else "offline?"
                raise DownloadError(f"cannot download {url}: {reason} ({again})") from exc
            time.sleep(min(30.0, retry_wait * 2 ** (attempt - 1)))
    try:
        verify(part, size=size, checksums=checksums, progress=progress, name=dest.name)
    except DownloadError as exc:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"download of {url} is corrupt: {exc}; the file was deleted, run again to download "
            "it afresh (if this repeats, the server's file differs from the expected one)"
        ) from None
    os.replace(part, dest)
    return dest


def _fetch(
    url: str, part: Path, size: int | None, progress: Progress | None, timeout: float
) -> None:
    """Append the rest of ``url`` to ``part``; restart from zero when the server ignores
    ``Range``; return at once when ``part`` is already complete."""
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have >= size:
        return  # complete (or too long: verification will say so)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (any scheme ok)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return  # nothing left to send: the part file is complete
        raise
    with response:
        status = getattr(response, "status", None) or 200
        if status == 206 and _range_start(response.headers.get("Content-Range")) != have:
            part.unlink(missing_ok=True)  # not the bytes asked for: start over on the retry
            raise ConnectionError(f"the server sent an unexpected range for {url}")
        if have and status == 206:
            mode = "ab"
        else:
            have, mode = 0, "wb"  # the server ignores Range (200): start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        done = have
        with part.open(mode) as out:
            while block := response.read(CHUNK_BYTES):
                out.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    if length and length.isdigit() and done != total:
        raise ConnectionError(f"connection closed after {done} of {total} bytes")


def _range_start(content_range: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", content_range or "")
    return int(match.group(1)) if match else None


def safe_member_path(name: str, dest: Path) -> Path:
    """Where an archive member may be written, or :class:`UnsafeArchiveError`."""
    posix = PurePosixPath(name)
    if posix.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if ".." in posix.parts or "\\" in name:
        raise UnsafeArchiveError(f"archive member {name!r} points outside the destination")
    target = (dest / Path(*posix.parts)).resolve() if posix.parts else dest.resolve()
    if not target.is_relative_to(dest.resolve()):
        raise UnsafeArchiveError(f"archive member {name!r} points outside the destination")
    return target


def extract_tar(archive: Path, dest: Path, progress: Progress | None = None) -> list[str]:
    """Extract ``archive`` (any compression ``tarfile`` reads) into ``dest``; return the names
    of its top-level entries.

    Only plain files and folders are written; a member that would land outside ``dest`` or is
    a link or device file aborts the extraction with :class:`UnsafeArchiveError`, and nothing
    of this call is left behind. The archive is read as a stream: seeking backwards in a bz2
    file decompresses it again from the start, which made random-access extraction crawl.
    ``progress`` gets compressed bytes read so far and the archive size.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(dest / f".extract-{archive.name}")
    if staging.exists():
        shutil.rmtree(staging)  # an interrupted extraction: start it again
    staging.mkdir()
    total = archive.stat().st_size
    tops: list[str] = []
    try:
        with archive.open("rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            for member in tar:
                target = safe_member_path(member.name, staging)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    assert source is not None  # a regular file always has data
                    with source, target.open("wb") as out:
                        shutil.copyfileobj(source, out, CHUNK_BYTES)
                    os.utime(target, (member.mtime, member.mtime))
                else:
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    raise UnsafeArchiveError(
                        f"archive member {member.name!r} is a {kind}; only files and folders "
                        "are extracted"
                    )
                parts = PurePosixPath(member.name).parts
                if parts and parts[0] not in tops:
                    tops.append(parts[0])
                if progress:
                    progress(raw.tell(), total)
        for top in tops:
            if (dest / top).exists():
                raise DownloadError(
                    f"{dest / top} exists already: use it, or remove it and extract again"
                )
        for top in tops:
            os.replace(staging / top, dest / top)
    except tarfile.TarError as exc:
        raise DownloadError(f"{archive} is not a readable tar archive: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tops
