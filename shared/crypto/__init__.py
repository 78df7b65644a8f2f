"""Encryption of what ticketflow hands to Temporal: key-encryption keys from the environment,
data keys per ticket kept wrapped in the database."""
