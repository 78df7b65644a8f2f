"""What /api/v1/auth takes and answers: sign-in (password or OIDC), sessions, invites and
two-factor. Bodies follow the input rules of every other body (unknown fields, control
characters and invalid Unicode are refused); a password is never stripped."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

from services.tickets.inputs import Strict
from shared.db.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from shared.domain import text
from shared.domain.enums import Role


def _one_line(value: Any) -> Any:
    if isinstance(value, str):
        problem = text.input_text_problem(value, multiline=False)
        if problem is not None:
            raise PydanticCustomError("text_characters", "{problem}", {"problem": problem})
    return value


_ONE_LINE = BeforeValidator(_one_line)
# The address as typed: matched case-insensitively, and never judged (a malformed one is a
# wrong address, answered as any other).
SignInEmail = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320), _ONE_LINE
]
Password = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_CHARS), _ONE_LINE]
NewPassword = Annotated[
    str,
    StringConstraints(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS),
    _ONE_LINE,
]
# A 6-digit code of the authenticator app, or a recovery code (xxxx-xxxx-xxxx-xxxx).
Code = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64), _ONE_LINE]


class PasswordSignIn(Strict):
    email: SignInEmail
    password: Password
    totp: Code | None = Field(
        None,
        description="With two-factor on: the code the authenticator app shows, or one of the "
        "recovery codes (each good once).",
    )


class OidcSignIn(Strict):
    id_token: Annotated[str, StringConstraints(min_length=1, max_length=16_384)] = Field(
        description="The ID token the identity provider issued to the console's client "
        "(authorization code flow)."
    )
    nonce: Annotated[str, StringConstraints(min_length=1, max_length=512), _ONE_LINE] = Field(
        description="The nonce the console sent in its authorization request."
    )


class NewPasswordBody(Strict):
    password: NewPassword


class CodeBody(Strict):
    code: Code


class AgentAccount(BaseModel):
    handle: str
    name: str
    email: str
    role: Role
    two_factor: bool = Field(description="Whether the agent signs in with a second factor")


class SessionStarted(BaseModel):
    token: str = Field(
        description="The session's credential (tfs_…), sent as `Authorization: Bearer …` to "
        "every route, as the agent's API token is: shown only here, since just its hash is "
        "kept."
    )
    expires_at: datetime = Field(description="When the session ends, whatever happens")
    idle_timeout_seconds: int = Field(
        description="The session ends after this long without a request (to the minute)"
    )
    agent: AgentAccount
    must_enrol_two_factor: bool = Field(
        description="The desk requires two-factor of this admin: until it is set up "
        "(POST /api/v1/auth/two-factor, then …/confirm), the session may only call "
        "/api/v1/auth/* (elsewhere: 403)."
    )


class InvitedAgent(BaseModel):
    handle: str
    name: str
    email: str


class InviteSent(BaseModel):
    url: str = Field(description="The one-time link to the console's page that sets a password")
    expires_at: datetime


class TwoFactorSetup(BaseModel):
    secret: str = Field(description="The TOTP secret (base32), to type into the app")
    otpauth_uri: str = Field(description="The same as an otpauth:// URI, to show as a QR code")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str] = Field(
        description="Each good once in place of a code: shown only here, since just their "
        "hashes are kept."
    )
