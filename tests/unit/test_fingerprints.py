"""Stored fingerprints stay valid: an Idempotency-Key retried after this code changed is still
recognised as the same request, not refused as another one (values from the code before the
command arguments were carried as one model; rate and send_link from when they came)."""

from datetime import UTC, datetime

import pytest

from services.tickets.inputs import (
    AssignBody,
    CommandArgs,
    LinkBody,
    MessageBody,
    NoArgs,
    PendingBody,
    PriorityBody,
    RatingBody,
    ResolveBody,
    TransferBody,
)
from services.tickets.keys import command_fingerprint
from shared.domain.enums import Action, Priority, Rating

REF = {"system": "jira", "id": "OPS-12", "url": "https://jira.example.com/browse/OPS-12"}
STORED: list[tuple[Action, CommandArgs, bool, str]] = [
    (
        Action.ASSIGN,
        AssignBody(agent="john"),
        False,
        "e783ff63079c050e5bfa8b7156c4f244b7b0e6f3535157f55cb96bb80b8d3e2b",
    ),
    (
        Action.ASSIGN,
        AssignBody(team="online-banking"),
        False,
        "0b5574933d5e3cda2c06083e65e77a7ffabc3c3980051f487d95f951acbd3034",
    ),
    (
        Action.CHANGE_PRIORITY,
        PriorityBody(priority=Priority.EMERGENCY),
        False,
        "4599d5b053a99aceb9be931b2336a582365c74fac73c0b9d6203747fbe55d7b3",
    ),
    (
        Action.TRANSFER,
        TransferBody(department="cards"),
        False,
        "050feeca2d12a4e2e3c7645eafbd06843bb8c97f5dc06d3b839834d37069ddf5",
    ),
    (
        Action.RESPOND,
        MessageBody(message="On it"),
        False,
        "70627a5136fec29e5394b104bdf0f89b8ce236f73e8060d1fe59683f609bf271",
    ),
    (
        Action.NOTE,
        MessageBody(message="internal"),
        False,
        "d52ffd592bb76796849fbd603d40993d92f45848a4bc9ad49a5b8a9d7cfe8412",
    ),
    (
        Action.REQUESTER_REPLY,
        MessageBody(message="still down"),
        False,
        "dd2c087344290f47159916d4b4433c890c557c653b4028c8e23a1be843b2a78d",
    ),
    (
        Action.REQUESTER_REPLY,
        MessageBody(message="still down"),
        True,
        "cabd816ca226c8f2d15f2ed2c6f7d1f535beb0d82816892cdf82a46232d47468",
    ),
    (
        Action.SET_PENDING,
        PendingBody(remind_at=datetime(2026, 12, 7, 9, tzinfo=UTC)),
        False,
        "afe6a262604972dec0a26e648d3db5fbc70f47b69df67c2d2cdbe605511bd910",
    ),
    (
        Action.SET_PENDING,
        PendingBody(),
        False,
        "7e7ad168d3ccbda62b4013201b124a308f5335942c569e80e4a1175f889b24c8",
    ),
    (
        Action.RESOLVE,
        ResolveBody(resolution="fixed"),
        False,
        "85a34a8ac556b9fa00b61f74642248679a41e52b2ddcc90511e6db2faf82706e",
    ),
    (
        Action.RESOLVE,
        ResolveBody(),
        False,
        "3e2d25b41e5ebfd273d54d2757a7eda612400e8c55b2e0b585851d11d774e55e",
    ),
    (
        Action.CLOSE,
        NoArgs(),
        False,
        "0649c362470acbf40ddfb6719e4f709bbdf9fb213e7dc317b93cdb74976b3e1a",
    ),
    (
        Action.REOPEN,
        NoArgs(),
        False,
        "322d99e4251e2336e01bf1b00177015a8a72754345f2413e816be52be7f31e5a",
    ),
    (
        Action.LINK,
        LinkBody(**REF),
        False,
        "6d00495426c1b0c5626989ff136aa734900e71d7d3c41f244f76f0c742c37156",
    ),
    (
        Action.UNLINK,
        LinkBody(system="jira", id="OPS-12"),
        False,
        "ae7d6ad3369886a9544be0d2ab374914d9ea698f5f1acb9b4373a68024b1fb65",
    ),
    (
        Action.RATE,
        RatingBody(rating=Rating.GOOD, comment="quick, thanks"),
        False,
        "8a75a915d4c8f7e1665380b371c4c8801a85682d367df051361ffcd5621d7ea9",
    ),
    (
        Action.RATE,
        RatingBody(rating=Rating.BAD),
        False,
        "66d92c98e2a434722e946b7eb128483d6abce3e92760466d2d728f45515bdd09",
    ),
    (
        Action.SEND_LINK,
        NoArgs(),
        False,
        "6db3fd89ac9e1e8f4ce6dbc2da0ccc7bcd3f1d9b2255575fac62515d2c34fbd4",
    ),
]


@pytest.mark.parametrize(("action", "args", "unverified", "stored"), STORED)
def test_a_command_keeps_the_fingerprint_stored_before(
    action: Action, args: CommandArgs, unverified: bool, stored: str
) -> None:
    fields = args.command_fields() | ({"unverified": True} if unverified else {})
    assert command_fingerprint(action, fields) == stored


def test_every_action_is_pinned() -> None:
    assert {action for action, *_ in STORED} == set(Action)
