"""Attachments, the pure part: what a file's name and type may be, how it is offered for
download, and the caps that keep a thread entry's references small.

No I/O: the blob store and the `attachments` table live in shared/blobs.py and
shared/db/attachments.py.
"""

import re
import unicodedata
from urllib.parse import quote

# Hard caps on what one thread entry carries through workflow state and history (the API's
# settings may be lower, never higher): at most this many references, each with a name and a
# content type of bounded length, so an entry's references stay a few KB at most.
MAX_FILES_PER_ENTRY = 20
NAME_MAX = 200
CONTENT_TYPE_MAX = 100
# An extension this long or shorter is kept when a long name is shortened.
_EXTENSION_MAX = 16
FALLBACK_NAME = "attachment"
FALLBACK_TYPE = "application/octet-stream"

# RFC 9110 token characters; a media type is token "/" token (parameters are dropped).
_TOKEN = r"[a-z0-9!#$%&'*+.^_`|~-]+"
_MEDIA_TYPE = re.compile(rf"({_TOKEN})/({_TOKEN})")
# Control and format characters (category Cc, Cf: NUL, CR, LF, bidi overrides that make
# "txt.exe" read as "exe.txt"), line and paragraph separators, surrogates, private use.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ASCII_SAFE = re.compile(r"[^A-Za-z0-9 ._()+-]")


def sanitize_filename(raw: str | None) -> str:
    """A file name safe to store and to offer for download: the last path component only
    (browsers may send "C:\\Users\\me\\a.txt"), without control or format characters, without
    leading or trailing spaces and dots, at most NAME_MAX characters (the extension kept);
    "attachment" if nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if char.isspace() else char
        for char in name
        if unicodedata.category(char) not in _REFUSED_CATEGORIES or char in "\t\n\r"
    )
    name = re.sub(r" {2,}", " ", name).strip(" .")
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= _EXTENSION_MAX:
            name = stem[: NAME_MAX - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:NAME_MAX].rstrip(" .")
    return name or FALLBACK_NAME


def sanitize_content_type(raw: str | None) -> str:
    """The upload's media type, lower case and without parameters, if it is a well-formed
    type/subtype; else application/octet-stream. Never trusted for display: downloads are
    always offered as attachments, and never sniffed."""
    value = (raw or "").split(";", 1)[0].strip().lower()
    if len(value) > CONTENT_TYPE_MAX or not _MEDIA_TYPE.fullmatch(value):
        return FALLBACK_TYPE
    return value


def content_disposition(name: str) -> str:
    """`attachment`, with an ASCII fallback name and the exact name in RFC 5987 encoding.

    Neither form can carry a quote, a semicolon, CR or LF: nothing a client sends in a name
    can add or break a header."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    plain = _ASCII_SAFE.sub("_", plain).strip(" .") or FALLBACK_NAME
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def human_size(size: int) -> str:
    """10485760 -> "10 MiB"; for error messages."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"
