"""The pure rules of webhooks: which events a subscription takes, the retry schedule, and
where deliveries may go (the SSRF rule)."""

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.webhook_urls import UrlPolicy, UrlRefused, check_address, check_url
from shared.domain.webhooks import Backoff, EventFilter, webhook_id

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def event(
    type_: str = "ticket.created",
    internal: bool = False,
    department: str = "online-banking",
    help_topic: str = "online-banking",
) -> dict[str, Any]:
    return {
        "id": "100000-1",
        "type": type_,
        "internal": internal,
        "snapshot": {"department": department, "help_topic": help_topic},
    }


def test_an_empty_filter_takes_every_public_event_and_no_internal_note() -> None:
    everything = EventFilter()
    assert everything.matches(event())
    assert not everything.matches(event("ticket.noted", internal=True))
    assert EventFilter(include_internal=True).matches(event("ticket.noted", internal=True))


def test_filters_by_type_department_and_help_topic_all_apply() -> None:
    wanted = EventFilter.of(
        ["ticket.created", "ticket.resolved"], ["online-banking"], ["card", "online-banking"], False
    )
    assert wanted.matches(event("ticket.resolved"))
    assert not wanted.matches(event("ticket.assigned"))
    assert not wanted.matches(event(department="cards"))
    assert not wanted.matches(event(help_topic="loans"))
    notes = EventFilter.of(["ticket.noted"], [], [], include_internal=False)
    assert not notes.matches(event("ticket.noted", internal=True))  # asked for, not allowed


def test_a_delivery_id_is_stable_per_subscription_and_event_and_new_per_replay() -> None:
    assert webhook_id(3, "100000-4") == webhook_id(3, "100000-4") == "msg_3_100000-4"
    assert webhook_id(4, "100000-4") != webhook_id(3, "100000-4")
    assert webhook_id(3, "100000-4", "ab12cd34") == "msg_3_100000-4_rab12cd34"


BACKOFF = Backoff(
    base=timedelta(seconds=5), cap=timedelta(hours=1), give_up=timedelta(days=3), jitter=0.5
)


def test_backoff_doubles_up_to_its_cap_and_jitter_only_shortens_it() -> None:
    longest = [BACKOFF.delay(n, draw=lambda: 0.0).total_seconds() for n in range(1, 13)]
    assert longest == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]
    shortest = [BACKOFF.delay(n, draw=lambda: 1.0).total_seconds() for n in range(1, 13)]
    assert shortest == [s / 2 for s in longest]
    drawn = [BACKOFF.delay(4).total_seconds() for _ in range(200)]
    assert all(20 <= d <= 40 for d in drawn) and len(set(drawn)) > 100  # spread, not lockstep


def test_retries_go_on_for_three_days_then_the_delivery_gives_up() -> None:
    now, attempts, times = T0, 1, []
    while (retry := BACKOFF.next_attempt(attempts, T0, now, draw=lambda: 0.0)) is not None:
        times.append(retry)
        now, attempts = retry, attempts + 1
    assert times[-1] == T0 + timedelta(days=3)  # the last try is at the deadline exactly
    assert 70 < attempts < 90  # about hourly once the cap is reached
    assert BACKOFF.next_attempt(attempts, T0, T0 + timedelta(days=3)) is None


DEV = UrlPolicy.of("development")
PROD = UrlPolicy.of("production")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://[::1]:9000/hook",
        "http://localhost:9000/hook",
        "https://hooks.example.com/in",
        "https://10.1.2.3/in",  # private ranges are refused in production only
    ],
)
def test_development_takes_https_anywhere_and_http_to_loopback(url: str) -> None:
    check_url(url, DEV)
    check_url(url, UrlPolicy.of("test"))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/in", "http is only for a receiver on loopback"),
        ("http://10.0.0.8/in", "http is only for loopback"),
        ("ftp://127.0.0.1/in", "a webhook URL is https"),
        ("https://user:pw@hooks.example.com/in", "may not carry credentials"),
        ("https:///in", "names no host"),
        ("https://hooks.example.com:99999/in", "not a valid URL"),
    ],
)
def test_development_refuses(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        check_url(url, DEV)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/in", "must use https in production"),
        ("http://127.0.0.1:9000/in", "must use https in production"),
        ("https://127.0.0.1/in", "loopback"),
        ("https://localhost/in", "loopback"),
        ("https://10.0.0.8/in", "private"),
        ("https://192.168.1.1/in", "private"),
        ("https://172.16.0.1/in", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/in", "link-local"),
        ("https://[::ffff:10.0.0.1]/in", "private"),  # IPv4 written as IPv6
        ("https://224.0.0.1/in", "multicast"),
        ("https://0.0.0.0/in", "unspecified"),
        ("https://[fd00::1]/in", "private"),
        ("https://100.64.0.1/in", "non-global"),  # carrier-grade NAT
    ],
)
def test_production_refuses_plain_http_and_internal_addresses(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        check_url(url, PROD)


def test_production_takes_https_to_public_hosts() -> None:
    assert check_url("https://hooks.example.com/in", PROD).port == 443
    assert check_url("https://93.184.215.14:8443/in", PROD).port == 8443


def test_the_allow_list_names_internal_hosts_or_networks_production_may_reach() -> None:
    allowed = UrlPolicy.of("production", ["crm.internal", "10.20.0.0/16", "fd00::/8"])
    check_url("https://10.20.3.4/in", allowed)
    check_url("https://[fd00::5]/in", allowed)
    with pytest.raises(UrlRefused, match="WEBHOOK_ALLOWED_HOSTS"):
        check_url("https://10.21.0.1/in", allowed)
    with pytest.raises(UrlRefused, match="https in production"):
        check_url("http://10.20.3.4/in", allowed)  # the allow-list does not allow plain http
    crm = check_url("https://crm.internal/in", allowed)
    check_address(crm, ipaddress.ip_address("10.9.9.9"), allowed)  # named: any address


def test_at_delivery_a_name_that_resolves_inside_is_refused() -> None:
    """A name passes when written (it is only a name) and is judged by its addresses."""
    target = check_url("https://hooks.example.com/in", PROD)
    check_address(target, ipaddress.ip_address("93.184.215.14"), PROD)
    for inside in ("127.0.0.1", "10.1.1.1", "169.254.169.254", "::1", "::ffff:192.168.0.1"):
        with pytest.raises(UrlRefused, match=r"hooks\.example\.com resolves to .*, a .* address"):
            check_address(target, ipaddress.ip_address(inside), PROD)
    local = check_url("http://localhost:9000/in", DEV)
    with pytest.raises(UrlRefused, match="http is only for loopback"):
        check_address(local, ipaddress.ip_address("192.168.0.9"), DEV)
