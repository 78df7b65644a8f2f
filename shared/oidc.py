"""OpenID Connect tokens of one issuer, verified against its keys: the ID token the console
obtains at sign-in (it runs the authorization code flow with PKCE and hands the token over to
the API), and the access token a Temporal UI signed in with SSO passes to the codec server.

The issuer's discovery document (OIDC_ISSUER/.well-known/openid-configuration) and its keys
(JWKS) are fetched on first use and kept for an hour; a token signed with a key not among them
fetches the keys again (the issuer rotated them), at most once a minute. A token must be
signed by one of those keys with an asymmetric algorithm, issued by the issuer for our
audience (an ID token: our client, and azp when there are other audiences), not expired, and
carry a verified address; an ID token, the nonce the console sent too. An access token is
verified only as a JWT (RFC 9068, as most providers issue them): an opaque one is refused.
JOSE is joserfc's: Authlib's own `authlib.jose` is deprecated in its favour."""

import asyncio
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

KEPT_FOR_SECONDS = 3600.0
REFETCH_AT_MOST_EVERY_SECONDS = 60.0
LEEWAY_SECONDS = 60
# Asymmetric only: a symmetric one would take the client secret, and never the issuer's keys.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


class ProviderUnavailable(Exception):
    """The issuer's discovery document or keys could not be had."""


class InvalidToken(Exception):
    """Not a token of the issuer for our audience (forged, expired, another's, malformed)."""


class UnverifiedEmail(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str


@dataclass(frozen=True)
class _Provider:
    issuer: str
    keys: KeySet
    fetched: float


class OidcVerifier:
    """Verifies tokens of one issuer for one audience (the console's client id, or what the
    issuer names the codec server in access tokens); one per app, shared by its requests."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuer = issuer.rstrip("/")
        self._audience = audience
        self._timeout = timeout
        self._clock = clock
        self._provider: _Provider | None = None
        self._lock = asyncio.Lock()

    async def verify(self, id_token: str, nonce: str) -> Identity:
        """Whose verified address the ID token carries; InvalidToken, UnverifiedEmail, or
        ProviderUnavailable otherwise."""
        claims = await self._claims(id_token)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self._audience:
            raise InvalidToken()
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise InvalidToken()
        return _identity(claims)

    async def verify_access_token(self, access_token: str) -> Identity:
        """Whose verified address the access token (a JWT) carries; InvalidToken,
        UnverifiedEmail, or ProviderUnavailable otherwise."""
        return _identity(await self._claims(access_token))

    async def _claims(self, token: str) -> dict[str, Any]:
        """The claims of a token the issuer signed for our audience that has not expired."""
        provider = await self._current(refresh=False)
        try:
            decoded = _decode(token, provider.keys)
        except InvalidKeyIdError:  # signed with a key the issuer added since
            provider = await self._current(refresh=True)
            try:
                decoded = _decode(token, provider.keys)
            except InvalidKeyIdError as err:
                raise InvalidToken() from err
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": self._audience},
            sub={"essential": True},
            exp={"essential": True},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as err:
            raise InvalidToken() from err
        return decoded.claims

    async def _current(self, *, refresh: bool) -> _Provider:
        async with self._lock:
            provider, now = self._provider, self._clock()
            fresh = provider is not None and now - provider.fetched < KEPT_FOR_SECONDS
            recent = provider is not None and now - provider.fetched < REFETCH_AT_MOST_EVERY_SECONDS
            if provider is not None and fresh and (not refresh or recent):
                return provider
            self._provider = await self._fetch()
            return self._provider

    async def _fetch(self) -> _Provider:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                discovery = await _json(client, f"{self._issuer}/.well-known/openid-configuration")
                issuer, jwks_uri = discovery.get("issuer"), discovery.get("jwks_uri")
                if not isinstance(issuer, str) or issuer.rstrip("/") != self._issuer:
                    raise ProviderUnavailable(f"the discovery document names issuer {issuer!r}")
                if not isinstance(jwks_uri, str):
                    raise ProviderUnavailable("the discovery document names no jwks_uri")
                keys = KeySet.import_key_set(await _json(client, jwks_uri))  # type: ignore[arg-type]
        except (httpx.HTTPError, ValueError, KeyError, JoseError) as err:
            raise ProviderUnavailable(str(err)) from err
        return _Provider(issuer=issuer, keys=keys, fetched=self._clock())


def _identity(claims: dict[str, Any]) -> Identity:
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise UnverifiedEmail()
    if claims.get("email_verified") not in (True, "true"):
        raise UnverifiedEmail()
    return Identity(subject=str(claims["sub"]), email=email.strip())


def _decode(token: str, keys: KeySet) -> jwt.Token:
    """The token, if one of `keys` signed it (InvalidKeyIdError: it names another key)."""
    try:
        return jwt.decode(token, keys, algorithms=list(ALGORITHMS))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError) as err:
        raise InvalidToken() from err


async def _json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    response.raise_for_status()
    document = response.json()
    if not isinstance(document, dict):
        raise ValueError(f"{url} answered no JSON object")
    return document
