"""The activities the v1 workflow scheduled, by name and signature only: histories replay
against them (a replay never runs an activity). They are not registered on any worker.
"""

from temporalio import activity

from services.workflows.v1.models import NotificationRequest, NotificationResult, TicketState


class TicketActivities:
    @activity.defn(name="persist_ticket")
    def persist_ticket(self, state: TicketState) -> bool:
        raise NotImplementedError("v1 activities are kept for replay only")

    @activity.defn(name="send_notification")
    def send_notification(self, request: NotificationRequest) -> NotificationResult:
        raise NotImplementedError("v1 activities are kept for replay only")
