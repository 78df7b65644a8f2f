"""What proves who sent an inbound message: a From header proves nothing, anyone writes it.

- Our notifications' Message-IDs are keyed with the server's secret, so an answer that names
  one (In-Reply-To, References) was written by someone who received that mail.
- The receiving MTA may vouch for the From domain: an Authentication-Results header (RFC 8601)
  stamped by an authserv-id we trust, saying `dmarc=pass` for that domain. Only the topmost
  header with a trusted authserv-id counts: the MTA adds its own above whatever the sender
  wrote, and every other instance may be forged.
"""

import hashlib
import hmac
import re
from collections.abc import Sequence

# A keyed Message-ID's local part: hex of an HMAC-SHA256, cut to this many characters.
DIGEST_CHARS = 40
_COMMENT = re.compile(r"\([^()]*\)")
_QUOTED = re.compile(r'"([^"\\]*)"')


def keyed_message_id(idempotency_key: str, *, secret_key: str, mail_from: str) -> str:
    """The Message-ID of the notification with this key: the same key always yields the
    same id (a resent mail is recognised), and nobody without the secret can compute it."""
    domain = mail_from.rpartition("@")[2].strip("<> ") or "ticketflow.local"
    return f"<{_digest(idempotency_key, secret_key)}@{domain}>"


def is_keyed(message_id: str, idempotency_key: str, *, secret_key: str) -> bool:
    """Whether `message_id` is the keyed id of that notification (whatever its domain)."""
    local = message_id.strip().strip("<>").partition("@")[0]
    return hmac.compare_digest(local, _digest(idempotency_key, secret_key))


def _digest(idempotency_key: str, secret_key: str) -> str:
    mac = hmac.new(secret_key.encode(), idempotency_key.encode(), hashlib.sha256)
    return mac.hexdigest()[:DIGEST_CHARS]


def dmarc_pass(results: Sequence[str], *, trusted: frozenset[str], domain: str) -> bool:
    """Whether the topmost Authentication-Results header in `results` (in the message's order,
    topmost first) whose authserv-id is `trusted` says dmarc=pass for `domain`."""
    if not trusted or not domain:
        return False
    for header in results:
        authserv_id, methods = _parse(header)
        if authserv_id not in trusted:
            continue
        return any(
            method == "dmarc"
            and result == "pass"
            and properties.get("header.from", "").lower() == domain.lower()
            for method, result, properties in methods
        )
    return False


Method = tuple[str, str, dict[str, str]]


def _parse(header: str) -> tuple[str, list[Method]]:
    """An Authentication-Results value: its authserv-id (lower case) and its results, each
    as method, result and properties (`header.from` -> `example.com`)."""
    text = _QUOTED.sub(lambda m: m[1], _uncommented(" ".join(header.split())))
    first, *rest = text.split(";")
    words = first.split()
    authserv_id = words[0].lower() if words else ""
    methods: list[Method] = []
    for resinfo in rest:
        tokens = resinfo.split()
        if not tokens or "=" not in tokens[0]:
            continue  # "none", or nothing
        method, _, result = tokens[0].partition("=")
        properties = {}
        for token in tokens[1:]:
            name, equals, value = token.partition("=")
            if equals:
                properties[name.lower()] = value
        methods.append((method.lower().partition("/")[0], result.lower(), properties))
    return authserv_id, methods


def _uncommented(text: str) -> str:
    """`text` without its (comments), nested ones included."""
    while True:
        stripped = _COMMENT.sub(" ", text)
        if stripped == text:
            return text
        text = stripped
