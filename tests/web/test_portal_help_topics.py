"""Help topics on the portal, over the real intake API in process: descriptions on the support
center, instructions beside the topic's choice (JavaScript off: listed, and the chosen one's
shown), all as text; inactive topics offered nowhere."""

import re

from fastapi.testclient import TestClient

from shared.db.engine import make_engine, make_sessionmaker
from shared.reference import service as reference
from shared.reference.schemas import HelpTopicUpdate

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"


def change_topic(database: str, handle: str, **changes: object) -> None:
    engine = make_engine(database)
    try:
        with make_sessionmaker(engine).begin() as session:
            data = HelpTopicUpdate.model_validate(changes)
            reference.update_help_topic(session=session, handle=handle, data=data)
    finally:
        engine.dispose()


def hint_of(page: str) -> str:
    """The hint beside the topic's select (the chosen topic's instructions)."""
    match = re.search(r'<div id="help_topic-instructions"[^>]*>(.*?)</div>', page, re.S)
    assert match, "no instructions area beside the select"
    return match.group(1)


def test_the_support_center_shows_each_topic_s_description(portal: TestClient) -> None:
    page = portal.get("/").text
    assert (
        '<span class="topic-description">Online banking down, slow or showing errors: signing in,'
        in page
    )
    assert "No connection to the network, Wi-Fi or VPN" in page


def test_descriptions_and_instructions_render_as_text(portal: TestClient, database: str) -> None:
    change_topic(
        database,
        "general",
        description=f"Description {HOSTILE}",
        instructions=f"First {HOSTILE}\nSecond & last",
    )
    home = portal.get("/")
    assert f"Description {ESCAPED}" in home.text
    form = portal.get("/tickets/new", params={"topic": "general"})
    assert form.status_code == 200, form.text
    for page in (home.text, form.text):
        assert "<script>alert" not in page and "<img src=x" not in page
    # A paragraph a line, beside the select (the topic chosen already) and in the list.
    lines = f"<p>First {ESCAPED}</p>\n<p>Second &amp; last</p>"
    assert lines in hint_of(form.text)
    assert form.text.count(lines) == 2
    assert "For General inquiry, please tell us:" in hint_of(form.text)


def test_the_form_lists_every_topic_s_instructions_and_shows_the_chosen_one_s(
    portal: TestClient,
) -> None:
    page = portal.get("/tickets/new").text
    assert 'data-instructions="help_topic-instructions"' in page
    assert not hint_of(page).strip()  # nothing chosen yet
    listed = page.split('<details class="hint" id="help_topic-all">', 1)[1].split("</details>")[0]
    assert re.findall(r'data-topic="([^"]+)"', listed) == [
        "account-access",
        "network",
        "online-banking",
    ]  # general has no instructions
    chosen = portal.get("/tickets/new", params={"topic": "online-banking"}).text
    assert "<p>The date and time it started, and whether it still happens.</p>" in hint_of(chosen)
    assert "For Online banking, please tell us:" in hint_of(chosen)


def test_an_inactive_topic_is_offered_nowhere(portal: TestClient, database: str) -> None:
    change_topic(database, "network", active=False)
    assert "Network / connectivity" not in portal.get("/").text
    page = portal.get("/tickets/new", params={"topic": "network"}).text
    assert 'value="network"' not in page and "Network / connectivity" not in page
    assert 'value="online-banking"' in page


def test_a_topic_taken_off_while_the_form_was_open_is_marked_and_the_text_kept(
    portal: TestClient, database: str
) -> None:
    page = portal.get("/tickets/new", params={"topic": "network"}).text
    change_topic(database, "network", active=False)
    fields = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "form_key": re.search(r'name="form_key" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "name": "Ann Requester",
        "email": "ann@example.com",
        "help_topic": "network",
        "subject": "No Wi-Fi",
        "message": "Since nine",
    }
    answer = portal.post("/tickets/new", data=fields)
    assert answer.status_code == 422, answer.text[:500]
    assert 'id="help_topic-error">This help topic takes no new tickets' in answer.text
    assert 'value="No Wi-Fi"' in answer.text and ">\nSince nine</textarea>" in answer.text
    assert "Please correct what is marked below" in answer.text
