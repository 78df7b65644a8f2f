"""`POST /decode` and `POST /encode`, also under any path prefix (the protocol reads only the
last part of the path: `temporal --codec-endpoint 'https://codec.example.com/{namespace}'`
sends `/default/decode`). Every payload is decoded by its own key, whatever the namespace."""

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session, sessionmaker

from services.codec import payloads
from services.codec.access import Caller, caller_of
from shared.temporal.codec import EncryptionCodec

log = logging.getLogger(__name__)
router = APIRouter()


async def get_caller(request: Request) -> Caller:
    """Checked before the body is read (the routes read it themselves, afterwards)."""
    state = request.app.state
    sessions: sessionmaker[Session] = state.sessions
    return await caller_of(
        request, sessions=sessions, settings=state.settings, verifier=state.verifier
    )


async def get_codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec = request.app.state.codec
    return codec


CurrentCaller = Annotated[Caller, Depends(get_caller)]
CodecDep = Annotated[EncryptionCodec, Depends(get_codec)]


@router.post("/decode")
@router.post("/{prefix:path}/decode")
async def decode(request: Request, caller: CurrentCaller, codec: CodecDep) -> Response:
    """The payloads decrypted; one whose key was erased (or is not ours) reads "[erased]"
    (or "[unreadable]"), and one that was never encrypted comes back as it came."""
    batch = payloads.parse(await request.body())
    decoded = await payloads.decode(codec, batch)
    log.info("%s decoded %d payloads", caller.handle, len(batch))
    return Response(payloads.to_json(decoded), media_type="application/json")


@router.post("/encode")
@router.post("/{prefix:path}/encode")
async def encode(request: Request, caller: CurrentCaller, codec: CodecDep) -> Response:
    """The payloads encrypted under the shared key (a UI's signal or start input)."""
    batch = payloads.parse(await request.body())
    encoded = await codec.encode(batch)
    log.info("%s encoded %d payloads", caller.handle, len(batch))
    return Response(payloads.to_json(encoded), media_type="application/json")
