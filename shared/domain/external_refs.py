"""External references: what a ticket's links to other systems' records (`jira:OPS-12`) may
hold, as pure functions. The API's input types and the state machine both use them.

- system: `[a-z0-9][a-z0-9_.-]{0,31}` (a name, never a colon: `system:id` splits at the first).
- id: 1 to ID_MAX printable characters (no control, format or separator characters but the
  space), not starting or ending with a space; colons and slashes are fine.
- url (optional): http or https, with a host, at most URL_MAX characters, no spaces or
  control characters.
- A ticket holds at most MAX_PER_TICKET of them, MAX_BYTES in all, and a reference is on one
  ticket only.
"""

import json
import re
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from shared.domain.enums import EventKind
from shared.domain.models import Actor, ExternalRef, TicketState
from shared.domain.text import input_text_problem
from shared.domain.timeline import add_event

SYSTEM_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,31}$"
ID_MAX = 200
URL_MAX = 2000
MAX_PER_TICKET = 20
# What a ticket's references may hold in all (their fields' UTF-8 bytes): they ride in its
# state and in every command's answer kept in history, which stay well under 64 KB; twenty
# references with 2,000-character urls would take 45 KB.
MAX_BYTES = 8 * 1024
# Temporal fails a workflow whose search attribute value exceeds 2,048 bytes (as JSON): the
# TicketExternalRef attribute lists the references that fit in this much (all, in practice).
SEARCH_ATTRIBUTE_BUDGET = 1900

_SYSTEM = re.compile(SYSTEM_PATTERN)
_URL_REFUSED = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def system_problem(system: str) -> str | None:
    if not _SYSTEM.fullmatch(system):
        return (
            "must be 1 to 32 characters of lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return None


def id_problem(ref_id: str) -> str | None:
    problem = input_text_problem(ref_id, multiline=False)
    if problem is not None:
        return problem
    if not 1 <= len(ref_id) <= ID_MAX:
        return f"must be 1 to {ID_MAX} characters, not {len(ref_id)}"
    if ref_id != ref_id.strip(" "):
        return "may not begin or end with a space"
    odd = next((char for char in ref_id if not char.isprintable()), None)
    if odd is not None:
        return f"must be printable: contains U+{ord(odd):04X} at position {ref_id.index(odd)}"
    return None


def url_problem(url: str) -> str | None:
    problem = input_text_problem(url, multiline=False)
    if problem is not None:
        return problem
    if len(url) > URL_MAX:
        return f"may be at most {URL_MAX} characters, not {len(url)}"
    if _URL_REFUSED.search(url):
        return "may not contain spaces or control characters (percent-encode them)"
    try:
        parts = urlsplit(url)
    except ValueError as err:
        return f"is not a valid URL: {err}"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    return None


def ref_problem(ref: ExternalRef) -> str | None:
    """Why `ref` may not be linked, or None."""
    for field, problem in (
        ("system", system_problem(ref.system)),
        ("id", id_problem(ref.id)),
        ("url", url_problem(ref.url) if ref.url is not None else None),
    ):
        if problem is not None:
            return f"external reference {field} {problem}"
    return None


def find(refs: Iterable[ExternalRef], key: tuple[str, str]) -> ExternalRef | None:
    return next((ref for ref in refs if ref.key == key), None)


def size(refs: Iterable[ExternalRef]) -> int:
    """What `refs` hold, in UTF-8 bytes of their fields (counted against MAX_BYTES)."""
    return sum(len(f"{ref.system}{ref.id}{ref.url or ''}".encode()) for ref in refs)


def bounded(refs: Iterable[ExternalRef]) -> list[ExternalRef]:
    """`refs` without repeats (the first of a key wins), while within MAX_PER_TICKET and
    MAX_BYTES."""
    kept: dict[tuple[str, str], ExternalRef] = {}
    for ref in refs:
        if ref.key in kept:
            continue
        if len(kept) == MAX_PER_TICKET or size([*kept.values(), ref]) > MAX_BYTES:
            break
        kept[ref.key] = ref
    return list(kept.values())


def link(state: TicketState, ref: ExternalRef, actor: Actor, now: datetime) -> None:
    """Add `ref` to the ticket, or give the one it holds of that key the new url (in place)."""
    refs = state.external_refs
    held = find(refs, ref.key)
    state.external_refs = [ref if r is held else r for r in refs] if held else [*refs, ref]
    detail = {"system": ref.system, "id": ref.id} | ({"url": ref.url} if ref.url else {})
    add_event(state, EventKind.LINKED, actor, now, **detail)


def unlink(state: TicketState, ref: ExternalRef, actor: Actor, now: datetime) -> None:
    state.external_refs = [r for r in state.external_refs if r.key != ref.key]
    add_event(state, EventKind.UNLINKED, actor, now, system=ref.system, id=ref.id)


def parse_label(label: str) -> tuple[str, str]:
    """`system:id` as (system, id); ValueError saying why if it is not one."""
    system, colon, ref_id = label.partition(":")
    if not colon:
        raise ValueError("must be system:id, e.g. jira:OPS-12")
    problem = system_problem(system) or id_problem(ref_id)
    if problem is not None:
        raise ValueError(f"must be system:id, e.g. jira:OPS-12: {problem}")
    return system, ref_id


def search_labels(refs: Iterable[ExternalRef]) -> list[str]:
    """The `system:id` labels for the TicketExternalRef search attribute: in order, as many
    as fit in SEARCH_ATTRIBUTE_BUDGET bytes of JSON (Temporal's encoding, ASCII-escaped)."""
    labels: list[str] = []
    for ref in refs:
        candidate = [*labels, ref.label]
        if len(json.dumps(candidate, separators=(",", ":"))) > SEARCH_ATTRIBUTE_BUDGET:
            break
        labels = candidate
    return labels
