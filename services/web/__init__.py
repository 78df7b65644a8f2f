"""The requester portal: server-rendered pages in front of intake's public API.

It holds no ticket rule and no database: every read and command goes through `/api/v1` with
the person's own credential (a link credential for their ticket), so the browser gets exactly
the API's authorisation, validation, idempotency and answers."""
