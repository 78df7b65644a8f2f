"""An RFC 5322 message, read into what mail-in needs: who, to whom, about what, in reply to
what, its text (HTML-only mail converted) and its attachments' names, types and sizes."""

from dataclasses import dataclass, field
from email import policy
from email.errors import MessageError
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from shared.domain.mail.addresses import message_id, message_ids, normal_address
from shared.domain.mail.auto import auto_reply_reason
from shared.domain.mail.html_text import html_to_text

# Headers naming recipients, after the envelope's: the first that routes to a help topic wins.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")
_PARSER = BytesParser(policy=policy.default)


class Unparseable(ValueError):
    """Input that is not a mail message we can read (the MTA should bounce it: EX_DATAERR)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    # The decoded content (an attached message: its bytes), kept with the ticket's message.
    data: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class InboundMessage:
    message_id: str | None
    sender: str  # the From address, lower case
    sender_name: str
    recipients: tuple[str, ...]  # the envelope's first, then the headers', lower case
    subject: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str  # the body as plain text, history not yet cut
    attachments: tuple[Attachment, ...]
    auto_reason: str | None  # why a machine sent it (never answered), or None
    size: int
    # The Authentication-Results headers' values, topmost first (shared.domain.mail.trust).
    authentication_results: tuple[str, ...] = ()

    @property
    def referenced(self) -> list[str]:
        """The ids it answers, nearest first: In-Reply-To, then References from the last."""
        ordered = [*self.in_reply_to, *reversed(self.references)]
        return list(dict.fromkeys(ordered))


def parse(
    raw: bytes, *, envelope_sender: str | None = None, envelope_recipients: tuple[str, ...] = ()
) -> InboundMessage:
    """Read `raw`; raises Unparseable when it holds no message with a sender."""
    if not raw.strip():
        raise Unparseable("empty input")
    try:
        message = _PARSER.parsebytes(raw)
    except (MessageError, ValueError, IndexError, TypeError) as err:
        raise Unparseable(f"not an RFC 5322 message: {err}") from err
    if not message.keys():
        raise Unparseable("no header fields")
    sender, name = _sender(message)
    if not sender:
        raise Unparseable("no From address")
    text, attachments = _content(message)
    recipients = [normal_address(r) for r in envelope_recipients]
    for header in RECIPIENT_HEADERS:
        recipients += [normal_address(a) for _, a in getaddresses(_all(message, header)) if a]
    return InboundMessage(
        message_id=message_id(_one(message, "Message-ID")),
        sender=sender,
        sender_name=name,
        recipients=tuple(dict.fromkeys(r for r in recipients if r)),
        subject=_one(message, "Subject") or "",
        in_reply_to=tuple(message_ids(_one(message, "In-Reply-To"))),
        references=tuple(message_ids(_one(message, "References"))),
        text=text,
        attachments=tuple(attachments),
        auto_reason=auto_reply_reason(message, envelope_sender, sender),
        size=len(raw),
        authentication_results=tuple(_all(message, "Authentication-Results")),
    )


def _one(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except (MessageError, ValueError, IndexError, TypeError):
        value = message.get_all(name, [None])[0] if hasattr(message, "get_all") else None
    return None if value is None else str(value)


def _all(message: Message, name: str) -> list[str]:
    try:
        return [str(value) for value in message.get_all(name, [])]
    except (MessageError, ValueError, IndexError, TypeError):
        return []


def _sender(message: Message) -> tuple[str, str]:
    header = _one(message, "From") or ""
    name, address = parseaddr(header)
    address = normal_address(address)
    if "@" not in address:
        return "", ""
    return address, " ".join(name.split())


def _content(message: Message) -> tuple[str, list[Attachment]]:
    """The first plain-text body part (else the first HTML one, as text) and the attachments.
    An attached message (message/rfc822) is one attachment, not read into the body."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    _walk(message, plain, html, attachments)
    if plain:
        return plain[0], attachments
    if html:
        return html_to_text(html[0]), attachments
    return "", attachments


def _walk(part: Message, plain: list[str], html: list[str], attachments: list[Attachment]) -> None:
    content_type = part.get_content_type()
    if part.is_multipart() and content_type != "message/rfc822":
        for child in part.get_payload():
            if isinstance(child, Message):
                _walk(child, plain, html, attachments)
        return
    filename = part.get_filename()
    disposition = part.get_content_disposition()
    if disposition == "attachment" or filename or content_type not in ("text/plain", "text/html"):
        attachments.append(
            Attachment(
                filename=" ".join((filename or "").split()) or "(unnamed)",
                content_type=content_type,
                size=_size(part),
                data=_data(part),
            )
        )
        return
    (plain if content_type == "text/plain" else html).append(_text(part))


def _data(part: Message) -> bytes:
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        return part.as_bytes(policy=policy.default)
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _size(part: Message) -> int:
    if part.get_content_type() == "message/rfc822" or part.is_multipart():
        return len(part.as_bytes(policy=policy.default))
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else 0


def _text(part: Message) -> str:
    if isinstance(part, EmailMessage):
        try:
            content = part.get_content()
            if isinstance(content, str):
                return content
        except (LookupError, UnicodeError, MessageError, ValueError):
            pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset
        return payload.decode("utf-8", errors="replace")
