"""The portal's pages, one module per part: the support center and status form, opening a
ticket, a ticket's page, and the links mailed to requesters."""
