"""Where webhooks may be sent (the SSRF rule). Pure: the caller resolves names.

- production: `https` only, and never to a loopback, private, link-local, multicast or other
  non-global address, unless the allow-list (WEBHOOK_ALLOWED_HOSTS) names the host or a
  network holding the address;
- development and test: `https` anywhere, or `http` to loopback (a local receiver).

The rule is applied to the URL when a subscription is written, and again to every address
its host resolves to when a delivery is made (a name can resolve elsewhere later).
"""

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
MAX_URL_CHARS = 2000


class UrlRefused(ValueError):
    """The reason a webhook may not go to this URL or address, fit to show an admin."""


@dataclass(frozen=True)
class UrlPolicy:
    production: bool
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, environment: str, allowed: Collection[str] = ()) -> "UrlPolicy":
        """`allowed`: host names and networks (CIDR, or one address), as in the setting."""
        hosts, networks = set(), []
        for entry in allowed:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(environment == "production", frozenset(hosts), tuple(networks))


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, without brackets
    port: int
    address: IPAddress | None  # when the host is an address literal


def check_url(url: str, policy: UrlPolicy) -> Target:
    """The URL's target, or UrlRefused; checks what can be checked without resolving."""
    if len(url) > MAX_URL_CHARS:
        raise UrlRefused(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise UrlRefused(f"not a valid URL: {err}") from err
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("a webhook URL is https (or http to loopback outside production)")
    if policy.production and scheme != "https":
        raise UrlRefused("webhook URLs must use https in production")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("a webhook URL may not carry credentials: deliveries are signed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("the URL names no host")
    if any(c.isspace() for c in url):
        raise UrlRefused("the URL contains white space")
    address = _address(host)
    target = Target(scheme, host, port or (443 if scheme == "https" else 80), address)
    if address is not None:
        check_address(target, address, policy)
    elif _loopback_name(host):
        check_address(target, ipaddress.IPv4Address("127.0.0.1"), policy)
    elif scheme == "http":
        raise UrlRefused(
            "http is only for a receiver on loopback (127.0.0.1, ::1, localhost); use https"
        )
    return target


def check_address(target: Target, address: IPAddress, policy: UrlPolicy) -> None:
    """UrlRefused unless a delivery to `target` may connect to `address`."""
    address = _unmapped(address)
    named = target.address is None
    where = f"{target.host} resolves to {address}" if named else str(address)
    if target.scheme == "http" and not address.is_loopback:
        raise UrlRefused(f"{where}: http is only for loopback receivers")
    if not policy.production or not _internal(address):
        return
    if target.host in policy.allowed_hosts:
        return
    if any(address in network for network in policy.allowed_networks):
        return
    raise UrlRefused(
        f"{where}{', ' if named else ' is '}a {_kind(address)} address: webhooks may not go "
        "there in production unless WEBHOOK_ALLOWED_HOSTS names it"
    )


def _address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _loopback_name(host: str) -> bool:
    return host in LOOPBACK_NAMES or host.endswith(".localhost")


def _unmapped(address: IPAddress) -> IPAddress:
    """An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _internal(address: IPAddress) -> bool:
    return not address.is_global or address.is_multicast or address.is_reserved


def _kind(address: IPAddress) -> str:
    for name in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return "non-global"
