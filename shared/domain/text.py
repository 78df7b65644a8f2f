"""What free text, e-mail addresses and keys every service accepts: one rule each, as pure
functions and as the pydantic types that both intake and notify import.

- Text must be valid Unicode: a JSON "\\ud800" (a lone UTF-16 surrogate) cannot be encoded as
  UTF-8, and NUL cannot be stored by PostgreSQL; neither is ever accepted.
- No control characters (Unicode category Cc) except tab, LF and CR in multi-line bodies.
- Single-line fields (subjects, names, addresses) hold no line break of any kind (CR, LF, VT,
  FF, NEL, U+2028, U+2029) and no tab, so nothing built from them can inject a mail header.
- Limits leave room for what is added later: a ticket subject of SUBJECT_MAX characters with
  the longest notice prefix still fits notify's MAIL_SUBJECT_MAX.
"""

import hashlib
import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

SUBJECT_MAX = 200
# Notices prefix subjects, e.g. "[#123456789012] Transferred to your department: " (48).
SUBJECT_PREFIX_ROOM = 100
MAIL_SUBJECT_MAX = SUBJECT_MAX + SUBJECT_PREFIX_ROOM
NAME_MAX = 200
BODY_MAX = 20_000
# Notices add a greeting, the ticket number, an access link or a closing line to a body.
MAIL_BODY_MAX = BODY_MAX + 10_000
# RFC 5321: a path holds at most 256 octets including "<" and ">"; a local part 64.
EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
DOMAIN_MAX = 253
KEY_MAX = 200
HANDLE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_PATTERN = r"^[!-~]+$"

_SURROGATE = re.compile("[\ud800-\udfff]")
# Category Cc is exactly U+0000-U+001F and U+007F-U+009F.
_SINGLE_LINE_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
_PRINTABLE_ASCII = re.compile(KEY_PATTERN)
_HASHED_KEY_PREFIX = "sha256:"


class TextError(ValueError):
    """Text that breaks one of the rules of this module; the message says which and where."""


def text_problem(text: str, *, multiline: bool) -> str | None:
    """Why `text` may not be accepted, or None if it may."""
    surrogate = _SURROGATE.search(text)
    if surrogate:
        return (
            f"must be valid Unicode: contains a lone UTF-16 surrogate ({_code(surrogate[0])}) "
            f"at position {surrogate.start()}, which cannot be encoded as UTF-8"
        )
    refused = (_MULTI_LINE_REFUSED if multiline else _SINGLE_LINE_REFUSED).search(text)
    if refused is None:
        return None
    char, where = refused[0], refused.start()
    if char in _LINE_BREAKS and not multiline:
        return f"must be a single line: contains a line break, {_code(char)}, at position {where}"
    return f"may not contain the control character {_code(char)}, found at position {where}"


def check_text(text: str, *, multiline: bool) -> str:
    problem = text_problem(text, multiline=multiline)
    if problem is not None:
        raise TextError(problem)
    return text


def scrub(text: str, *, multiline: bool) -> str:
    """`text` with every character the rules refuse replaced: line breaks and tabs of a
    single line by a space, anything else by U+FFFD. For output that must be safe even if
    the stored text predates the rules (mail headers)."""

    def replace(match: re.Match[str]) -> str:
        spacing = match[0] in _LINE_BREAKS or match[0] == "\t"
        return " " if spacing and not multiline else "\ufffd"

    pattern = _MULTI_LINE_REFUSED if multiline else _SINGLE_LINE_REFUSED
    return pattern.sub(replace, _SURROGATE.sub("\ufffd", text))


_CHAR_NAMES = {
    "\x00": "NUL",
    "\t": "tab",
    "\n": "line feed",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\r": "carriage return",
    "\x1b": "escape",
    "\x7f": "delete",
    "\x85": "next line",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}


def _code(char: str) -> str:
    name = _CHAR_NAMES.get(char)
    return f"U+{ord(char):04X} ({name})" if name else f"U+{ord(char):04X}"


# E-mail addresses: a dot-atom local part (RFC 5322 atext, plus any printable non-ASCII
# character as RFC 6531 allows; no quoted strings) at a domain that has an IDNA form.
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_ASCII_ATOM = re.compile(f"[{_ATEXT}]+")
_LDH_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# IDNA 2003 (the stdlib codec) maps these to other letters, IDNA 2008 keeps them: the two
# would send to different domains, so such a domain must be given in its xn-- form.
_IDNA_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")


def email_problem(address: str) -> str | None:
    """Why `address` is not an address we send to, or None if it is."""
    try:
        mail_address(address)
    except TextError as err:
        return str(err)
    return None


def mail_address(address: str) -> tuple[str, str]:
    """Local part and IDNA (ASCII) domain of an address, as SMTP takes them; raises
    TextError if it is not an address we send to."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise TextError("must be an e-mail address such as name@example.com")
    if len(local.encode()) > EMAIL_LOCAL_MAX:
        raise TextError(f"local part (before the @) may be at most {EMAIL_LOCAL_MAX} bytes")
    atoms = local.split(".")
    if not all(atoms):
        raise TextError("local part may not begin or end with a dot, nor hold two in a row")
    if not all(_valid_atom(atom) for atom in atoms):
        raise TextError(
            "local part may hold only letters, digits and !#$%&'*+/=?^_`{|}~- "
            "between dots (no spaces, quotes, @ or brackets)"
        )
    ascii_domain = _ascii_domain(domain)
    if len(f"{local}@{ascii_domain}".encode()) > EMAIL_MAX:
        raise TextError(f"may be at most {EMAIL_MAX} bytes as sent (domain in its IDNA form)")
    # The stdlib parser has the last word on the shape; it knows no RFC 6531, so non-ASCII
    # letters of the local part stand in as "x".
    ascii_spec = "".join(c if c.isascii() else "x" for c in local) + "@" + ascii_domain
    try:
        parsed = Address(addr_spec=ascii_spec)
    except (HeaderParseError, ValueError, IndexError) as err:
        raise TextError("is not an address the e-mail standard allows") from err
    if parsed.addr_spec != ascii_spec:
        raise TextError("is not an address the e-mail standard allows")
    return local, ascii_domain


def _valid_atom(atom: str) -> bool:
    ascii_part = "".join(c for c in atom if c.isascii())
    if ascii_part and not _ASCII_ATOM.fullmatch(ascii_part):
        return False
    return all(c.isascii() or c.isprintable() for c in atom)


def _ascii_domain(domain: str) -> str:
    if _IDNA_DEVIATIONS.intersection(domain):
        raise TextError("domain holds ß, ς or a zero-width joiner: give it in its xn-- form")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as err:
        raise TextError("domain is not a valid (internationalised) domain name") from err
    labels = ascii_domain.split(".")
    if len(ascii_domain) > DOMAIN_MAX or len(labels) < 2:
        raise TextError(f"domain must be a name such as example.com, at most {DOMAIN_MAX} long")
    if not all(_LDH_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
        raise TextError("domain may hold only letters, digits and inner hyphens between dots")
    return ascii_domain


def bounded_key(*parts: str) -> str:
    """An idempotency key of `parts` joined by ":" while that is printable ASCII of at most
    KEY_MAX characters; otherwise "sha256:" and the hex digest of the joined text (71
    characters), so any address or text may go into a key and it still fits."""
    if not parts:
        raise ValueError("a key needs at least one part")
    joined = ":".join(parts)
    readable = (
        len(joined) <= KEY_MAX
        and _PRINTABLE_ASCII.fullmatch(joined) is not None
        and not joined.startswith(_HASHED_KEY_PREFIX)
    )
    if readable:
        return joined
    digest = hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()
    return _HASHED_KEY_PREFIX + digest


def key_problem(key: str) -> str | None:
    if len(key) > KEY_MAX:
        return (
            f"may be at most {KEY_MAX} characters, not {len(key)}: "
            "shorten long keys with shared.domain.text.bounded_key"
        )
    if not _PRINTABLE_ASCII.fullmatch(key):
        return "must be printable ASCII without spaces (see shared.domain.text.bounded_key)"
    return None


# --- pydantic glue -----------------------------------------------------------------------


class Unencodable(str):
    """Input that held lone surrogates, with them written as "\\udXXX" escapes: an error
    message may then echo it (FastAPI's 422 would fail to encode the original)."""


def escape_unencodable(value: Any) -> Any:
    """`value` (any JSON value) with each string that is not valid Unicode, key or value,
    replaced by an `Unencodable`; the text types refuse those with a clear message."""
    if isinstance(value, str):
        if isinstance(value, Unencodable) or not _SURROGATE.search(value):
            return value
        return Unencodable(value.encode("utf-8", "backslashreplace").decode("utf-8"))
    if isinstance(value, dict):
        return {escape_unencodable(k): escape_unencodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_unencodable(item) for item in value]
    return value


def _refuse(kind: str, problem: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{problem}", {"problem": problem})


def _unencodable_problem(value: Unencodable) -> str:
    escape = re.search(r"\\ud[89a-f][0-9a-f]{2}", value)
    code = f"U+{escape[0][2:].upper()}" if escape else "a surrogate"
    return (
        f"must be valid Unicode: contains a lone UTF-16 surrogate ({code}), "
        "which cannot be encoded as UTF-8"
    )


def input_text_problem(value: str, *, multiline: bool) -> str | None:
    """`text_problem` for a value that went through `escape_unencodable`."""
    if isinstance(value, Unencodable):
        return _unencodable_problem(value)
    return text_problem(value, multiline=multiline)


def _text_rules(multiline: bool) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str):
            problem = input_text_problem(value, multiline=multiline)
            if problem is not None:
                raise _refuse("text_characters", problem)
        return value

    return BeforeValidator(check)


def _email_rule(value: str) -> str:
    problem = email_problem(value)
    if problem is not None:
        raise _refuse("email_address", f"not a valid e-mail address: {problem}")
    return value


def _key_rule(value: Any) -> Any:
    if isinstance(value, str):
        problem = key_problem(value)
        if problem is not None:
            raise _refuse("idempotency_key", problem)
    return value


# Order matters: StringConstraints first (they apply to the str itself, stripping before
# counting), then the rules, then the escape, which pydantic runs first of all.
_ESCAPE = BeforeValidator(escape_unencodable)
_SINGLE_LINE = _text_rules(multiline=False)
_MULTI_LINE = _text_rules(multiline=True)

Subject = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=SUBJECT_MAX),
    _SINGLE_LINE,
    _ESCAPE,
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    _SINGLE_LINE,
    _ESCAPE,
]
Body = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=BODY_MAX),
    _MULTI_LINE,
    _ESCAPE,
]
# A requester's comment on their rating: a short body.
COMMENT_MAX = 2_000
Comment = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX),
    _MULTI_LINE,
    _ESCAPE,
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=EMAIL_MAX),
    AfterValidator(_email_rule),
    _SINGLE_LINE,
    _ESCAPE,
]
Handle = Annotated[str, StringConstraints(pattern=HANDLE_PATTERN), _ESCAPE]
# What a notification in the outbox holds: composed by the workflow, so stored exactly as
# sent (never stripped).
MailSubject = Annotated[
    str, StringConstraints(min_length=1, max_length=MAIL_SUBJECT_MAX), _SINGLE_LINE, _ESCAPE
]
MailBody = Annotated[str, StringConstraints(max_length=MAIL_BODY_MAX), _MULTI_LINE, _ESCAPE]
IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=KEY_MAX, pattern=KEY_PATTERN),
    BeforeValidator(_key_rule),
    _ESCAPE,
]


class InputModel(BaseModel):
    """Base of every request body: unknown fields are refused, and text that is not valid
    Unicode anywhere in the input (even in a key or an enum field) gives a 422, not a 500."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _escape_unencodable(cls, data: Any) -> Any:
        return escape_unencodable(data)
