"""The SMTP listener an MTA relays inbound mail to (`ticketflow mail-in --smtp`).

Answers as an MTA expects: 250 once the message is recorded and acted on (or ignored, or
refused and recorded: never answered with a bounce, which would be backscatter), 451 when a
dependency is down (the MTA keeps the message and retries), 554 for input that is no mail
message, 550 at RCPT time for an address with no help topic (only when there is no default).
"""

import asyncio
import logging
import signal

from aiosmtpd.smtp import SMTP, Envelope, Session

from services.mail_in.processor import MailIn, TempFail, Unparseable
from services.tickets.service import Tickets
from shared.db.engine import engine_for, make_sessionmaker
from shared.settings import Settings
from shared.temporal.client import connect

log = logging.getLogger("ticketflow.mail_in.smtp")

SERVER_NAME = "ticketflow-mail-in"


class InboundHandler:
    """aiosmtpd handler: each message goes through `MailIn.receive`."""

    def __init__(self, mail_in: MailIn) -> None:
        self._mail_in = mail_in

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self._mail_in.accepts_recipient(address):
            return "550 5.1.1 No help topic takes mail for this address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            result = await self._mail_in.receive(
                raw, sender=envelope.mail_from, recipients=tuple(envelope.rcpt_tos)
            )
        except Unparseable:
            return "554 5.6.0 Not a mail message ticketflow can read"
        except TempFail as err:
            log.warning("deferred a message: %s", err)
            return "451 4.3.0 Temporarily unable to take the message, try again later"
        except Exception:  # never lose mail: the MTA keeps it and retries
            log.exception("deferred a message after an unexpected error")
            return "451 4.3.0 Temporarily unable to take the message, try again later"
        return f"250 2.0.0 Accepted ({result.outcome.value})"


async def serve(settings: Settings, host: str, port: int) -> None:
    """Listen until SIGTERM or SIGINT."""
    engine = engine_for(settings)
    try:
        client = await connect(settings, lazy=True)
        handler = InboundHandler(MailIn(Tickets(client, make_sessionmaker(engine), settings)))
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(
                handler,
                hostname=SERVER_NAME,  # no DNS lookup of our own name
                data_size_limit=settings.mail_in_max_bytes,
                enable_SMTPUTF8=True,
            ),
            host=host,
            port=port,
        )
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("mail-in listening on %s:%d (SMTP)", host, port)
        try:
            await stop.wait()
        finally:
            server.close()
            await server.wait_closed()
    finally:
        engine.dispose()
