"""The blob store: attachment contents, addressed by their sha256, outside the database.

Two backends behind one interface (`BlobStore`): a folder (BLOB_STORE_DIR, default var/blobs),
and S3-compatible storage when BLOB_STORE_URL names a bucket (`s3://bucket/prefix`), reached at
S3_ENDPOINT_URL (AWS when unset) with the standard AWS credentials chain.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol

from shared.settings import Settings

CHUNK = 1024 * 1024


class BlobTooLarge(Exception):
    """The data ran past the limit it was stored with; nothing was kept."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class BlobMissing(Exception):
    """No blob has this digest (a store emptied or moved by hand)."""


class BlobStoreUnavailable(OSError):
    """The store could not be reached or refused us (an outage, wrong credentials, no such
    bucket): nothing was stored. An OSError, as a full disk is for the folder: callers answer
    503 for both."""


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

    def delete(self, sha256: str) -> None:
        """Remove the content for good (an erasure); nothing if there is none."""
        ...


class LocalBlobStore:
    """A folder: `<root>/ab/cd/<sha256>`, written to a temporary file in the same folder tree,
    flushed to disk and renamed into place, so a reader never sees a partial blob and a crash
    leaves at most a stray temporary file (under `<root>/tmp`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        _check_digest(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: BinaryIO, *, max_bytes: int | None = None) -> Blob:
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=staging, prefix="upload-")
        temporary = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                blob = _copy_measured(data, out, max_bytes)
                out.flush()
                os.fsync(out.fileno())
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

    def delete(self, sha256: str) -> None:
        path = self.path(sha256)
        path.unlink(missing_ok=True)
        if path.parent.exists():
            _sync_directory(path.parent)


def _sync_directory(path: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry is in the directory)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class S3BlobStore:
    """A bucket of S3-compatible storage: key `<prefix>/ab/cd/<sha256>`.

    The upload is spooled (in memory up to SPOOL_IN_MEMORY, then to a temporary file) while
    its digest and size are taken and the limit is checked, so nothing is sent for a file
    that is too large, and content already in the bucket is not sent again. An object is
    visible only once whole (S3 puts are atomic), so a reader never sees a partial blob.
    """

    SPOOL_IN_MEMORY = 8 * 1024 * 1024

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> "S3BlobStore":
        import boto3
        from botocore.config import Config

        assert settings.blob_store_url is not None
        bucket, _, prefix = settings.blob_store_url.removeprefix("s3://").partition("/")
        config = Config(
            connect_timeout=settings.s3_timeout_seconds,
            read_timeout=settings.s3_timeout_seconds,
            retries={"max_attempts": 2, "mode": "standard"},
            # Buckets by path: what S3-compatible servers (MinIO, SeaweedFS, Ceph) all take.
            s3={"addressing_style": settings.s3_addressing_style},
        )
        # A session of its own: boto3's default one keeps the credentials it first found.
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url,
            region_name=settings.s3_region,
            config=config,
        )
        return cls(client, bucket, prefix)

    def key(self, sha256: str) -> str:
        _check_digest(sha256)
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, data: BinaryIO, *, max_bytes: int | None = None) -> Blob:
        with tempfile.SpooledTemporaryFile(max_size=self.SPOOL_IN_MEMORY) as spool:
            blob = _copy_measured(data, spool, max_bytes)
            key = self.key(blob.sha256)
            with self._reached():
                if self._has(key):
                    return blob  # stored before: same digest, same bytes
                spool.seek(0)
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=spool,
                    ContentLength=blob.size,
                    ContentType="application/octet-stream",
                )
            return blob

    def open(self, sha256: str) -> BinaryIO:
        key = self.key(sha256)
        with self._reached(missing=sha256):
            body: BinaryIO = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            return body

    def delete(self, sha256: str) -> None:
        key = self.key(sha256)
        with self._reached():
            # S3 answers a delete of no object as done.
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def _has(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if _status(err) == 404:
                return False
            raise
        return True

    @contextmanager
    def _reached(self, missing: str | None = None) -> Iterator[None]:
        """botocore's errors as ours: no such object (when reading `missing`) or unavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if missing is not None and (code in ("NoSuchKey", "404") or _status(err) == 404):
                raise BlobMissing(missing) from err
            raise BlobStoreUnavailable(f"S3 bucket {self.bucket!r}: {code}") from err
        except BotoCoreError as err:  # unreachable endpoint, timeouts, missing credentials
            raise BlobStoreUnavailable(f"S3 bucket {self.bucket!r}: {err}") from err


def _status(err: Any) -> int | None:
    status: int | None = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status


def _check_digest(sha256: str) -> None:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a sha256 digest: {sha256!r}")


def blob_store(settings: Settings) -> BlobStore:
    """The store the settings name: the bucket of BLOB_STORE_URL, else BLOB_STORE_DIR."""
    if settings.blob_store_url:
        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(Path(settings.blob_store_dir))


def _copy_measured(data: BinaryIO, out: IO[bytes], max_bytes: int | None) -> Blob:
    """Copy `data` to `out` in chunks: its digest and size (BlobTooLarge past `max_bytes`, before
    the chunk that crosses it is written)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := data.read(CHUNK):
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise BlobTooLarge(max_bytes)
        digest.update(chunk)
        out.write(chunk)
    return Blob(sha256=digest.hexdigest(), size=size)
