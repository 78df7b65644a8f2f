"""What proves a sender: keyed Message-IDs, and a trusted MTA's Authentication-Results."""

import hashlib

from shared.domain.mail.trust import dmarc_pass, is_keyed, keyed_message_id

SECRET = "s" * 32
MX = frozenset({"mx.desk.test"})


def test_a_keyed_id_is_stable_and_needs_the_secret() -> None:
    key = "100000:3:assigned:agent:jane"
    first = keyed_message_id(key, secret_key=SECRET, mail_from="Help <help@desk.test>")
    assert first == keyed_message_id(key, secret_key=SECRET, mail_from="help@desk.test")
    assert first.endswith("@desk.test>")
    assert is_keyed(first, key, secret_key=SECRET)
    assert is_keyed(first.replace("desk.test", "other.test"), key, secret_key=SECRET)
    assert not is_keyed(first, key, secret_key="t" * 32)
    assert not is_keyed(first, key + "x", secret_key=SECRET)
    old = f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@desk.test>"  # before the key
    assert not is_keyed(old, key, secret_key=SECRET)


def passes(*results: str, domain: str = "example.com") -> bool:
    return dmarc_pass(results, trusted=MX, domain=domain)


def test_authentication_results_as_opendmarc_and_relays_write_them() -> None:
    assert passes("mx.desk.test; dmarc=pass (p=none dis=none) header.from=example.com")
    assert passes(
        "MX.Desk.Test 1; dkim=pass header.d=example.com; dmarc=pass header.from=Example.COM"
    )
    assert passes(
        "mx.desk.test;\r\n\tspf=pass (sender IP is 192.0.2.1) smtp.mailfrom=example.com;\r\n"
        '\tdmarc=pass action=none header.from="example.com"'
    )
    assert not passes("mx.desk.test; dmarc=pass header.from=example.com", domain="other.test")
    assert not passes("mx.desk.test; dmarc=fail header.from=example.com")
    assert not passes("mx.desk.test; dmarc=pass")  # for no domain
    assert not passes("mx.desk.test; none")
    assert not passes("mx.desk.test (dmarc=pass header.from=example.com); spf=pass")
    assert not passes("other.test; dmarc=pass header.from=example.com")
    assert not passes()


def test_only_the_topmost_trusted_header_counts() -> None:
    good = "mx.desk.test; dmarc=pass header.from=example.com"
    bad = "mx.desk.test; dmarc=fail header.from=example.com"
    forged = "mx.attacker.test; dmarc=pass header.from=example.com"
    assert passes(forged, good)
    assert not passes(forged, bad)
    assert not passes(bad, good)  # the sender's forged pass sits below the MTA's own
    assert passes(good, bad)


def test_nothing_trusted_proves_nothing() -> None:
    good = "mx.desk.test; dmarc=pass header.from=example.com"
    assert not dmarc_pass([good], trusted=frozenset(), domain="example.com")
