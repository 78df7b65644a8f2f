"""Mail in on the real stack: a ticket opened by mail, its acknowledgement in the mail sink,
the requester's reply threading onto it (and one that does not, marked unverified), agents
writing by mail only when their sending is proven (a forged From is refused), auto-replies
ignored, a
message delivered twice counted once, the pipe mode's exit codes, and two autoresponders that
answer every mail (one marks its answers, one does not) talking to ticketflow until the
exchange stops.

ticketflow's outgoing mail goes through `Relay`, an MTA in the test: it hands every mail to
the stack's mail sink and plays the other help desks, whose autoresponders answer by SMTP to
mail-in, as a real MTA would deliver them.
"""

import asyncio
import email
import hashlib
import re
import smtplib
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.devstack import Stack
from services.processes import free_port
from tests.builders import mail
from tests.e2e.conftest import JANE, JOHN, ROOT, eventually, started_stack

pytestmark = [pytest.mark.e2e]

HELPDESK = "helpdesk@ticketflow.local"  # MAIL_FROM: where autoresponders answer
BANKING = "banking@ticketflow.test"
MARKING_DESK = "support@polite-desk.test"  # answers every mail, marked Auto-Submitted
RUDE_DESK = "help@rude-desk.test"  # answers every mail as if a person wrote a new one
HOURLY_LIMIT = 4
MX = "mx.ticketflow.test"  # the authserv-id of the MTA in front of mail-in, trusted
VOUCHED = f"{MX}; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"


class Relay:
    """The test's MTA: every mail to the sink; mail to another desk also gets its answer."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sink_port = 0
        self.mail_in_port = 0
        self.delivered: list[tuple[list[str], EmailMessage]] = []
        self.answers: dict[str, int] = {MARKING_DESK: 0, RUDE_DESK: 0}
        self.errors: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=2)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        rcpts = list(envelope.rcpt_tos)
        await asyncio.get_running_loop().run_in_executor(self._pool, self._forward, rcpts, raw)
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.delivered.append((rcpts, message))
        for desk in set(rcpts) & set(self.answers):
            # Answered after this delivery completes, as an autoresponder's MTA would.
            self._pool.submit(self._autorespond, desk, message)
        return "250 OK"

    def _forward(self, rcpts: list[str], raw: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.sink_port, timeout=10) as smtp:
            smtp.sendmail(HELPDESK, rcpts, raw)

    def _autorespond(self, desk: str, original: EmailMessage) -> None:
        try:
            if desk == MARKING_DESK:
                answer = mail(
                    sender=desk,
                    to=HELPDESK,
                    subject=f"Auto: {original['Subject']}",
                    body="I am out of the office.",
                    in_reply_to=str(original["Message-ID"]),
                    headers={"Auto-Submitted": "auto-replied"},
                )
            else:  # no marks, no threading: it looks like a person's new request
                answer = mail(
                    sender=desk, to=HELPDESK, subject="Thank you", body="We got your mail."
                )
            self.answers[desk] += 1
            with smtplib.SMTP("127.0.0.1", self.mail_in_port, timeout=30) as smtp:
                smtp.send_message(answer, from_addr=desk, to_addrs=[HELPDESK])
        except Exception as err:
            self.errors.append(f"{desk}: {type(err).__name__}: {err}")

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.delivered if address in rcpts]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def relay() -> Iterator[Relay]:
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=relay.port, server_hostname="relay")
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()
        relay.close()


# SQLite only, to keep this module near 35 s: the inbound log's dedupe runs on both databases
# in tests/mail_in/test_inbound_log.py.
@pytest.fixture(scope="module", params=["sqlite"])
def mail_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, relay: Relay
) -> Iterator[Stack]:
    env = {
        "SMTP_PORT": str(relay.port),  # notify hands its mail to the relay
        "MAIL_FROM": HELPDESK,
        "MAIL_IN_ADDRESSES": f"{BANKING}=online-banking",
        "MAIL_IN_DEFAULT_TOPIC": "general",
        "MAIL_IN_HOURLY_LIMIT": str(HOURLY_LIMIT),
        "MAIL_IN_TRUSTED_AUTHSERV_IDS": MX,
    }
    var = tmp_path_factory.mktemp(f"mail-{request.param}")
    with started_stack(request.param, var, extra_env=env) as stack:
        relay.sink_port, relay.mail_in_port = stack.smtp_port, stack.mail_in_port
        procs = list(stack.procs.values())
        yield stack
    assert procs and all(proc.poll() is not None for proc in procs)  # all stopped


@pytest.fixture
def api(mail_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mail_stack.intake_url, timeout=30) as client:
        yield client


def send(stack: Stack, message: EmailMessage, sender: str | None = None) -> None:
    with smtplib.SMTP("127.0.0.1", stack.mail_in_port, timeout=30) as smtp:
        refused = smtp.send_message(message, from_addr=sender or str(message["From"]))
    assert refused == {}


def inbound(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/admin/mail-in", params=params, headers=JANE)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def logged(api: httpx.Client, message_id: str) -> list[dict[str, Any]]:
    return [item for item in inbound(api, limit=500) if item["message_id"] == message_id]


def outcome_of(api: httpx.Client, message: EmailMessage) -> str:
    def entries() -> list[dict[str, Any]]:
        return logged(api, str(message["Message-ID"]))

    outcome: str = eventually(entries, what=f"{message['Subject']}")[0]["outcome"]
    return outcome


def ticket(api: httpx.Client, number: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/tickets/{number}", headers=JANE)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def sink(stack: Stack, to: str) -> list[EmailMessage]:
    """The mails the sink holds for `to`, oldest first."""
    found = []
    for path in sorted((stack.var / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        if to in str(message["To"]):
            found.append(message)
    return found


def test_a_mail_thread(mail_stack: Stack, api: httpx.Client) -> None:
    requester = "alice.mail@example.com"
    first = mail(sender=f"Alice Mail <{requester}>", to=BANKING, body="Customers cannot log in.")
    send(mail_stack, first)
    [created] = eventually(lambda: logged(api, str(first["Message-ID"])), what="the new ticket")
    assert created["outcome"] == "created", created
    number = created["ticket"]
    opened = ticket(api, number)
    assert (opened["source"], opened["help_topic"]) == ("email", "online-banking")
    assert opened["requester"] == {"name": "Alice Mail", "email": requester}
    assert [e["body"] for e in opened["thread"]] == ["Customers cannot log in."]

    # The acknowledgement arrives, with the ticket number in its subject, marked automatic.
    [ack] = eventually(lambda: sink(mail_stack, requester), what="the acknowledgement")
    assert f"[#{number}]" in str(ack["Subject"])
    assert ack["Auto-Submitted"] == "auto-generated"

    # The requester answers it; the reply threads by In-Reply-To (its subject has no token).
    reply = mail(
        sender=requester,
        to=HELPDESK,
        subject="Re: my login problem",
        body=(
            "It works again on Firefox.\n\n"
            f"On Mon, 23 Nov 2026 at 10:00, Help Desk <{HELPDESK}> wrote:\n> We received"
        ),
        in_reply_to=str(ack["Message-ID"]),
    )
    send(mail_stack, reply)
    [replied] = eventually(lambda: logged(api, str(reply["Message-ID"])), what="the reply")
    assert (replied["outcome"], replied["ticket"]) == ("replied", number), replied
    thread = ticket(api, number)["thread"]
    assert [(e["kind"], e["body"]) for e in thread][-1] == ("message", "It works again on Firefox.")

    # The same message again: recorded as a duplicate, nothing added.
    send(mail_stack, reply)

    def both_deliveries() -> list[dict[str, Any]] | None:
        found = logged(api, str(reply["Message-ID"]))
        return found if len(found) == 2 else None

    entries = eventually(both_deliveries, what="the duplicate")
    assert sorted(e["outcome"] for e in entries) == ["duplicate", "replied"]

    # An out-of-office answer to the acknowledgement is recorded and ignored.
    away = mail(
        sender=requester,
        to=HELPDESK,
        subject=f"Automatic reply: {ack['Subject']}",
        body="I am away.",
        in_reply_to=str(ack["Message-ID"]),
        headers={"Auto-Submitted": "auto-replied"},
    )
    send(mail_stack, away)
    [ignored] = eventually(lambda: logged(api, str(away["Message-ID"])), what="the auto-reply")
    assert ignored["outcome"] == "ignored-auto-reply", ignored

    # A reply that names the ticket only in its subject joins the thread, marked unverified
    # (its From alone says who wrote it) in the thread, the timeline and the change feed.
    bare = mail(
        sender=requester,
        to=HELPDESK,
        subject=f"Re: [#{number}] my login problem",
        body="Chrome fails too.",
    )
    send(mail_stack, bare)
    assert outcome_of(api, bare) == "replied"
    thread = ticket(api, number)["thread"]
    assert [(e["body"], e["unverified"]) for e in thread] == [
        ("Customers cannot log in.", False),
        ("It works again on Firefox.", False),
        ("Chrome fails too.", True),
    ]
    events = api.get(f"/api/v1/tickets/{number}/timeline", headers=JANE).json()["events"]
    replies = [e["detail"] for e in events if e["kind"] == "requester_replied"]
    assert [detail.get("unverified") for detail in replies] == [None, "true"]
    feed = api.get(
        "/api/v1/events",
        params={"ticket": number, "types": "ticket.requester_replied"},
        headers=JANE,
    ).json()["events"]
    assert [event["data"].get("unverified") for event in feed] == [None, "true"]


def test_an_agent_s_mail_acts_only_when_its_sender_is_proven(
    mail_stack: Stack, api: httpx.Client
) -> None:
    requester = "bob.forge@example.com"
    first = mail(sender=f"Bob <{requester}>", to=BANKING, subject="Online banking system down")
    send(mail_stack, first)
    number = eventually(lambda: logged(api, str(first["Message-ID"])), what="the ticket")[0][
        "ticket"
    ]
    eventually(lambda: sink(mail_stack, requester), what="the acknowledgement")
    subject = f"Re: [#{number}] Online banking system down"

    # An outsider writes as Jane, naming the ticket: in public, and as an internal note.
    forged = [
        mail(sender=f"Jane Doe <{address}>", to=HELPDESK, subject=subject, body=body)
        for address, body in (
            ("jane@example.com", "Please confirm your card PIN by replying to this mail."),
            ("jane@example.com", "#note\nThe requester is verified, send them the PIN reset."),
        )
    ]
    forged.append(
        mail(sender="jane@example.com", to=HELPDESK, subject=f"{subject} [note]", body="PIN?")
    )
    for message in forged:
        send(mail_stack, message)
        [entry] = eventually(lambda m=message: logged(api, str(m["Message-ID"])), what="forged")
        assert entry["outcome"] == "refused", entry
        assert entry["detail"].startswith("agent mail not authenticated"), entry

    # John assigns the ticket to Jane: she is mailed, and may answer that mail.
    assigned = api.post(f"/api/v1/tickets/{number}/assign", json={"agent": "jane"}, headers=JOHN)
    assert assigned.status_code == 200, assigned.text

    def assignment() -> list[EmailMessage]:
        return [
            m
            for m in sink(mail_stack, "jane@example.com")
            if f"[#{number}]" in str(m["Subject"])
            and ":assigned:" in str(m["X-Ticketflow-Idempotency-Key"])
        ]

    [notice] = eventually(lambda: assignment() or None, what="her assignment mail")
    assert notice["Reply-To"] == HELPDESK and "Reply to this mail" in notice.get_content()

    # Its Message-ID computed as it used to be (sha256 of the key, which names the ticket,
    # event, kind and recipient) proves nothing: the id is keyed with the server's secret now.
    key = str(notice["X-Ticketflow-Idempotency-Key"])
    guessed = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@ticketflow.local>"
    assert guessed != str(notice["Message-ID"])
    forged_reply = mail(
        sender="jane@example.com", to=HELPDESK, subject=subject, body="PIN?", in_reply_to=guessed
    )
    send(mail_stack, forged_reply)
    assert outcome_of(api, forged_reply) == "refused"

    # Jane answers her notification from her mail client: her response is posted.
    answer = mail(
        sender="Jane Doe <jane@example.com>",
        to=str(notice["Reply-To"]),
        subject=f"Re: {notice['Subject']}",
        body="We restarted the load balancer: please try again.",
        in_reply_to=str(notice["Message-ID"]),
    )
    send(mail_stack, answer)
    assert outcome_of(api, answer) == "replied"

    # A trusted MTA vouches for John's domain: his note is posted. A failed DMARC, a pass
    # stamped by an MTA we do not trust, or a forged pass above the MTA's fail: refused.
    vouched = [
        ((VOUCHED,), "noted"),
        ((VOUCHED.replace("dmarc=pass", "dmarc=fail"),), "refused"),
        ((VOUCHED.replace(MX, "mx.attacker.test"),), "refused"),
        (
            (
                VOUCHED.replace(MX, "mx.attacker.test"),
                VOUCHED.replace("dmarc=pass", "dmarc=fail"),
            ),
            "refused",
        ),
    ]
    for results, expected in vouched:
        note = mail(
            sender="John Smith <john@example.com>",
            to=HELPDESK,
            subject=subject,
            body="#note\nThe load balancer in DC2 restarted at 9:02.",
            authentication_results=results,
        )
        send(mail_stack, note)
        assert outcome_of(api, note) == expected, results

    # Someone who is neither the requester nor an agent is refused, as before.
    stranger = mail(sender="mallory@example.com", to=HELPDESK, subject=subject, body="List?")
    send(mail_stack, stranger)
    assert outcome_of(api, stranger) == "refused"

    thread = ticket(api, number)["thread"]
    assert [(e["kind"], e["author"], e["body"]) for e in thread] == [
        ("message", "Bob", "Since this morning I cannot log in."),
        ("response", "Jane Doe", "We restarted the load balancer: please try again."),
        ("note", "John Smith", "The load balancer in DC2 restarted at 9:02."),
    ]

    # The requester gets Jane's response by mail (a person's words: not marked automatic),
    # and nothing of what the forger wrote.
    def response_mail() -> EmailMessage | None:
        mails = [m for m in sink(mail_stack, requester) if "Re:" in str(m["Subject"])]
        return mails[0] if mails else None

    response = eventually(response_mail, what="the response mail")
    assert f"[#{number}]" in str(response["Subject"]) and response["Auto-Submitted"] is None
    assert "load balancer" in response.get_content()
    mailed = [m.get_content() for m in sink(mail_stack, requester)]
    assert len(mailed) == 2 and not any("PIN" in text for text in mailed)


def pipe(stack: Stack, raw: bytes, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv/bin/ticketflow"), "mail-in", *args],
        input=raw.decode("latin-1"),
        env={**stack.env, **env},
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=60,
    )


def test_the_pipe_mode(mail_stack: Stack, api: httpx.Client) -> None:
    message = mail(
        sender="Carol <carol.pipe@example.com>",
        to="it@ticketflow.test",  # routed by the envelope recipient given on the command line
        subject="VPN down",
        html="<p>The <b>VPN</b> is down.</p><p>Since 9:00.</p>",
    )
    message.add_attachment(b"log line\n", maintype="text", subtype="plain", filename="vpn.log")
    raw = message.as_bytes()

    done = pipe(mail_stack, raw, "--recipient", BANKING, "--sender", "carol.pipe@example.com")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("created ticket "), done.stdout
    number = done.stdout.split()[2].rstrip(":")
    opened = ticket(api, number)
    assert opened["help_topic"] == "online-banking"
    assert opened["thread"][0]["body"] == "The VPN is down.\n\nSince 9:00."
    [entry] = logged(api, str(message["Message-ID"]))
    assert entry["attachments"] == [
        {"filename": "vpn.log", "content_type": "text/plain", "size": 9}
    ]
    # The file is kept with the ticket's first message, and downloads as it was sent.
    [file] = opened["thread"][0]["attachments"]
    assert (file["name"], file["size"]) == ("vpn.log", 9)
    download = api.get(file["download"], headers=JANE)
    assert download.status_code == 200 and download.content == b"log line\n"

    again = pipe(mail_stack, raw)
    assert again.returncode == 0
    assert again.stdout.startswith(f"duplicate ticket {number}:"), again.stdout

    garbage = pipe(mail_stack, b"\x00\x01 this is no mail\n")
    assert garbage.returncode == 65, garbage.stdout + garbage.stderr

    # An agent's mail that proves nothing is refused in the pipe mode too; vouched, it acts.
    subject = f"Re: [#{number}] VPN down"
    forged = mail(sender="jane@example.com", subject=subject, body="Send me your password.")
    done = pipe(mail_stack, forged.as_bytes())
    assert done.returncode == 0
    assert done.stdout.startswith(f"refused ticket {number}: agent mail not authenticated")
    vouched = mail(
        sender="jane@example.com",
        subject=subject,
        body="The VPN is back.",
        authentication_results=[VOUCHED],
    )
    done = pipe(mail_stack, vouched.as_bytes())
    assert done.stdout.startswith(f"replied ticket {number}: response by agent jane"), done.stdout


def test_a_dependency_down_defers_and_the_redelivery_acts_once(
    mail_stack: Stack, api: httpx.Client
) -> None:
    message = mail(sender="dave.retry@example.com", subject="Printer on fire")
    raw = message.as_bytes()
    down = pipe(
        mail_stack,
        raw,
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        TEMPORAL_RPC_TIMEOUT_SECONDS="2",
    )
    assert down.returncode == 75, down.stdout + down.stderr
    [entry] = logged(api, str(message["Message-ID"]))
    assert entry["outcome"] == "received"  # recorded, not acted on

    retried = pipe(mail_stack, raw)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    [entry] = logged(api, str(message["Message-ID"]))
    assert entry["outcome"] == "created"
    listed = api.get("/api/v1/tickets", params={"q": "dave.retry"}, headers=JANE).json()
    mine = [t for t in listed["items"] if t["requester"]["email"] == "dave.retry@example.com"]
    assert len(mine) == 1


def quiet(count: Any, seconds: float = 3.0, timeout: float = 40.0) -> int:
    """Wait until `count()` has not changed for `seconds`; its value then."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() - since < seconds:
        assert time.monotonic() < deadline, "the exchange did not stop"
        time.sleep(0.2)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    value: int = last
    return value


def test_an_autoresponder_that_marks_its_answers_gets_one_and_is_ignored(
    mail_stack: Stack, api: httpx.Client, relay: Relay
) -> None:
    request = mail(sender=MARKING_DESK, to=BANKING, subject="Please update our contact")
    send(mail_stack, request)
    eventually(lambda: relay.answers[MARKING_DESK] >= 1, what="the autoresponder's answer")
    assert quiet(lambda: len(relay.to(MARKING_DESK)) + relay.answers[MARKING_DESK]) == 2
    outcomes = sorted(
        e["outcome"] for e in inbound(api, limit=500) if e["mail_from"] == MARKING_DESK
    )
    assert outcomes == ["created", "ignored-auto-reply"]
    assert not relay.errors


def test_an_autoresponder_that_does_not_mark_them_is_stopped_by_the_hourly_limit(
    mail_stack: Stack, api: httpx.Client, relay: Relay
) -> None:
    """Each unmarked answer looks like a new request and opens a ticket, whose acknowledgement
    it answers again; at the limit its mail is refused, nothing is sent, and it falls silent."""
    send(mail_stack, mail(sender=RUDE_DESK, to=BANKING, subject="Hello"))
    total = quiet(lambda: len(relay.to(RUDE_DESK)) + relay.answers[RUDE_DESK])
    mine = [e for e in inbound(api, limit=500) if e["mail_from"] == RUDE_DESK]
    outcomes = [e["outcome"] for e in reversed(mine)]
    assert outcomes == ["created"] * HOURLY_LIMIT + ["refused"]
    assert "limit" in mine[0]["detail"]
    # One acknowledgement per ticket, each answered once: the exchange is bounded.
    assert len(relay.to(RUDE_DESK)) == HOURLY_LIMIT
    assert relay.answers[RUDE_DESK] == HOURLY_LIMIT
    assert total == 2 * HOURLY_LIMIT
    assert not relay.errors


def test_the_inbound_log_is_for_admins_only(api: httpx.Client) -> None:
    john = {"Authorization": "Bearer dev-john-token"}
    assert api.get("/api/v1/admin/mail-in", headers=john).status_code == 403
    assert api.get("/api/v1/admin/mail-in").status_code == 401
    assert api.get("/api/v1/admin/mail-in", params={"limit": 0}, headers=JANE).status_code == 422
    created = inbound(api, outcome="created")
    assert created and all(e["outcome"] == "created" for e in created)


def test_the_readme_mail_in_example_runs(mail_stack: Stack, tmp_path: Path) -> None:
    """The shell block of the README's "Mail in" section, verbatim but for the ports."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Mail in") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no shell block under 'Mail in'"
    script = (
        match.group(1)
        .replace("127.0.0.1:2525", f"127.0.0.1:{mail_stack.mail_in_port}")
        .replace(".venv/bin/ticketflow", str(ROOT / ".venv/bin/ticketflow"))
    )
    prelude = (
        "set -euo pipefail\n"
        'curl() { command curl --fail-with-body "$@"; }\n'
        f"API={mail_stack.intake_url}/api/v1\n"
        "JANE='Authorization: Bearer dev-jane-token'\n"
    )
    done = subprocess.run(
        ["bash", "-c", prelude + script],
        capture_output=True,
        text=True,
        timeout=120,
        env=mail_stack.env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    assert re.search(r'"subject":\s*"VPN down",\s*"outcome":\s*"created"', done.stdout)
    assert re.search(r"duplicate ticket \d+: ", done.stdout), done.stdout
