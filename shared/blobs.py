"""The blob store: attachment contents, addressed by their sha256, outside the database.

One backend so far, a folder (BLOB_STORE_DIR, default var/blobs). `BlobStore` is the interface
another backend (S3-compatible storage) would implement; none is implemented yet.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from shared.settings import Settings

CHUNK = 1024 * 1024


class BlobTooLarge(Exception):
    """The data ran past the limit it was stored with; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class BlobMissing(Exception):
    """No blob has this digest (a store emptied or moved by hand)."""


@dataclass(frozen=True)
class Blob:
    sha256: str
    size: int


class BlobStore(Protocol):
    def put(self, data: BinaryIO, *, max_bytes: int | None = None) -> Blob:
        """Store what `data` holds from where it stands; the same content is stored once."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The content, to read; `BlobMissing` if there is none."""
        ...


class LocalBlobStore:
    """A folder: `<root>/ab/cd/<sha256>`, written to a temporary file in the same folder tree,
    flushed to disk and renamed into place, so a reader never sees a partial blob and a crash
    leaves at most a stray temporary file (under `<root>/tmp`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: BinaryIO, *, max_bytes: int | None = None) -> Blob:
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, name = tempfile.mkstemp(dir=staging, prefix="upload-")
        temporary = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := data.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            blob = Blob(sha256=digest.hexdigest(), size=size)
            target = self.path(blob.sha256)
            if target.exists():
                return blob  # stored before: same digest, same bytes
            target.parent.mkdir(parents=True, exist_ok=True)
            # Atomic on one file system; two writers of the same content both land it whole.
            os.replace(temporary, target)
            _sync_directory(target.parent)
            return blob
        finally:
            temporary.unlink(missing_ok=True)

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError as err:
            raise BlobMissing(sha256) from err


def _sync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry is in the directory)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def blob_store(settings: Settings) -> BlobStore:
    """The store the settings name (BLOB_STORE_URL is refused at start-up until S3 exists)."""
    return LocalBlobStore(Path(settings.blob_store_dir))
