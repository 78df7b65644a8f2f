"""The ticket application service: every way in (HTTP, mail, the web through the API) opens,
commands and reads tickets through `Tickets` (services.tickets.service), with one set of
rules and one set of errors (services.tickets.errors)."""
