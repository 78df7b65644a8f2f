"""Addresses and message ids as inbound mail carries them."""

import hashlib
import re

# An SMTP null reverse-path: bounces and other notifications that must not be answered.
NULL_SENDERS = frozenset({"", "<>"})
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# "[#123456]": notify puts it in every subject; numbers as the API accepts them.
_TICKET_TOKEN = re.compile(r"\[#([1-9][0-9]{5,15})\]")


def normal_address(address: str) -> str:
    """Addresses compare without case (the local part's case is, in practice, never used)."""
    return address.strip().strip("<>").strip().lower()


def message_ids(header: str | None) -> list[str]:
    """The "<id>"s of a Message-ID, In-Reply-To or References header, in order."""
    return _MESSAGE_ID.findall(header or "")


def message_id(header: str | None) -> str | None:
    """A message's own id: the first "<id>" of its header, else the header as it is."""
    found = message_ids(header)
    if found:
        return found[0]
    value = (header or "").strip()
    return value or None


def dedupe_key(message_id: str | None, raw: bytes) -> str:
    """What makes two deliveries the same message: its Message-ID, else its exact bytes."""
    if message_id:
        return hashlib.sha256(f"mid:{message_id}".encode()).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def ticket_token(subject: str) -> str | None:
    """The ticket number of the first "[#123456]" in a subject."""
    found = _TICKET_TOKEN.search(subject)
    return found[1] if found else None
