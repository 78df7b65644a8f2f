"""One message on standard input (`ticketflow mail-in < message.eml`), for Postfix's pipe(8)
or procmail, like rt-mailgate. The exit status is what an MTA acts on (sysexits.h):

- 0: accepted (acted on, ignored as an auto-reply, a duplicate, or refused and recorded);
- 65 EX_DATAERR: not a mail message we can read, or larger than MAIL_IN_MAX_BYTES (bounced);
- 75 EX_TEMPFAIL: a dependency (database, Temporal) is down: the MTA keeps it and retries.
"""

import logging
from typing import BinaryIO, TextIO

from services.mail_in.processor import MailIn, TempFail, Unparseable
from services.tickets.service import Tickets
from shared.db.engine import engine_for, make_sessionmaker
from shared.settings import Settings
from shared.temporal.client import connect

log = logging.getLogger("ticketflow.mail_in.pipe")

EX_OK = 0
EX_DATAERR = 65
EX_TEMPFAIL = 75


async def deliver(
    settings: Settings,
    source: BinaryIO,
    out: TextIO,
    *,
    sender: str | None,
    recipients: tuple[str, ...],
) -> int:
    raw = source.read(settings.mail_in_max_bytes + 1)
    if len(raw) > settings.mail_in_max_bytes:
        print(f"refused: larger than {settings.mail_in_max_bytes} bytes", file=out)
        return EX_DATAERR
    engine = engine_for(settings)
    try:
        client = await connect(settings, lazy=True)
        mail_in = MailIn(Tickets(client, make_sessionmaker(engine), settings))
        result = await mail_in.receive(raw, sender=sender, recipients=recipients)
    except Unparseable as err:
        print(f"refused: {err}", file=out)
        return EX_DATAERR
    except TempFail as err:
        print(f"deferred: {err}", file=out)
        return EX_TEMPFAIL
    except Exception as err:  # never lose mail: the MTA keeps it and retries
        log.exception("deferred after an unexpected error")
        print(f"deferred: {type(err).__name__}", file=out)
        return EX_TEMPFAIL
    finally:
        engine.dispose()
    print(result.summary(), file=out)
    return EX_OK
