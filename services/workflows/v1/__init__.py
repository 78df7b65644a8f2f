"""The ticket workflow as it ran before the lean core (workflow type `TicketWorkflow`), frozen.

Histories recorded with it replay against this copy (tests/workflows/test_replay.py). Nothing
here changes: new tickets run `services.workflows.ticket_workflow` (type `Ticket`). Delete this
package once no `TicketWorkflow` run is left on any server:
`temporal workflow count --query "WorkflowType='TicketWorkflow' AND ExecutionStatus='Running'"`.
"""
