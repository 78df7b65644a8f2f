"""Mail in: inbound mail opens tickets and joins their threads, through the same ticket
service as the HTTP API (one state machine, the same validation), by SMTP or by a pipe."""
