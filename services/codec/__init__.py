"""The codec server (`ticketflow codec`): the Temporal UI and CLI send it the encrypted payloads
they show, and it answers them decrypted, to agents only (Temporal's remote codec protocol)."""
