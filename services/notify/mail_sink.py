"""A local SMTP sink for development and tests: every mail received becomes an .eml file.

python -m services.notify.mail_sink --host 127.0.0.1 --port 1025 --dir var/mail
"""

import argparse
import itertools
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class EmlWriter:
    """aiosmtpd handler: writes each message's raw bytes to `<timestamp>-<n>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self._lock:
            n = next(self._counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.directory / f"{stamp}-{n}.eml"
        # Written aside and renamed, so a reader never sees half a message.
        partial = target.with_suffix(".part")
        partial.write_bytes(content)
        os.replace(partial, target)
        return "250 Message accepted for delivery"


def start_mail_sink(host: str, port: int, directory: Path | str) -> Controller:
    """Start the sink in a background thread; call `.stop()` on the result to end it."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    # server_hostname avoids a DNS lookup of our own name at start-up; SMTPUTF8 lets mail to
    # an address with a non-ASCII local part (jürgen@example.com) through, as real servers do.
    controller = Controller(
        EmlWriter(path),
        hostname=host,
        port=port,
        server_hostname="ticketflow-mail-sink",
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Store every mail received as an .eml file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args(argv)
    controller = start_mail_sink(args.host, args.port, args.dir)
    print(f"mail sink on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
