"""One webhook POST: signed, sent only to an address the SSRF rule allows, never redirected.

The host is resolved here and every address it resolves to is checked; the request then
connects to a checked address (the URL's name still goes in `Host` and in TLS's SNI, against
which the certificate is verified), so a name that resolves elsewhere a moment later (DNS
rebinding) cannot lead the connection to an internal address.
"""

import json
import socket
import ssl
import time
from collections.abc import Callable
from ipaddress import ip_address
from typing import Any

import httpx

from shared.db.webhook_attempts import LeasedAttempt, Outcome
from shared.domain.webhook_signing import signed_headers
from shared.domain.webhook_urls import IPAddress, Target, UrlPolicy, UrlRefused, check_address
from shared.domain.webhook_urls import check_url as check_target

Resolver = Callable[[str, int], list[str]]
USER_AGENT = "ticketflow-webhooks/1"
MAX_READ = 64 * 1024  # of a receiver's answer; its start goes in the log if it is an error
SNIPPET = 200


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def body_of(event: dict[str, Any]) -> bytes:
    """The event as the change feed serves it, as compact UTF-8 JSON."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


class Sender:
    def __init__(
        self,
        policy: UrlPolicy,
        timeout: float,
        concurrency: int,
        resolver: Resolver = resolve,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._policy = policy
        self._resolve = resolver
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=limits,
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: the address checked is the one used
            verify=verify,
        )

    def close(self) -> None:
        self._client.close()

    def send(self, claimed: LeasedAttempt) -> Outcome:
        start = time.perf_counter()
        try:
            request = self._request(claimed)
        except UrlRefused as err:
            return Outcome(None, _ms(start), f"refused: {err}")
        except OSError as err:  # the name did not resolve
            return Outcome(None, _ms(start), f"could not resolve the host: {err}")
        try:
            with self._client.stream(**request) as response:
                # Read (a bounded start of) the answer: a connection read to its end is reused.
                snippet = _read_some(response)
        except httpx.HTTPError as err:
            return Outcome(None, _ms(start), f"{type(err).__name__}: {err}"[:500] or "error")
        error = None if response.is_success else f"HTTP {response.status_code}: {snippet}"
        return Outcome(response.status_code, _ms(start), error)

    def _request(self, claimed: LeasedAttempt) -> dict[str, Any]:
        target = check_target(claimed.url, self._policy)
        address = self._address(target, claimed.attempts)
        body = body_of(claimed.event)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **signed_headers(claimed.secret, claimed.webhook_id, int(time.time()), body),
        }
        url = httpx.URL(claimed.url)
        extensions: dict[str, Any] = {}
        if target.address is None:
            headers["host"] = url.netloc.decode("ascii")
            url = url.copy_with(host=str(address))
            if target.scheme == "https":
                extensions["sni_hostname"] = target.host
        return {
            "method": "POST",
            "url": url,
            "content": body,
            "headers": headers,
            "extensions": extensions,
        }

    def _address(self, target: Target, attempt: int) -> IPAddress:
        """A checked address to connect to: every one the name resolves to must pass."""
        if target.address is not None:
            return target.address
        addresses = [
            ip_address(a.split("%", 1)[0]) for a in self._resolve(target.host, target.port)
        ]
        if not addresses:
            raise UrlRefused(f"{target.host} resolves to no address")
        for address in addresses:
            check_address(target, address, self._policy)
        return addresses[attempt % len(addresses)]  # another address at the next attempt


def _read_some(response: httpx.Response) -> str:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= MAX_READ:
            break
    return data[:SNIPPET].decode("utf-8", errors="replace")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000
