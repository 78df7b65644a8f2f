"""Inbound mail, pure: parse an RFC 5322 message, classify it, cut its quoted history, and
decide what it does to a ticket. No I/O: `services/mail_in` looks things up and acts."""
