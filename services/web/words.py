"""What a person reads when the API refused or could not be reached: one sentence per answer,
never a stack trace, and never anything that says the text they typed is gone."""

from services.web.api import ApiError
from shared.domain.attachments import human_size
from shared.settings import Settings

NOT_SENT = "Not sent: nothing was saved. Please send it again."


def problem(err: ApiError, settings: Settings) -> str:
    """The sentence for `err`; 422's faults are shown beside their fields as well."""
    status = err.status
    if status in (0, 502, 503, 504):
        return NOT_SENT
    if status == 409:
        return f"This could not be done: {_sentence(err.detail)}"
    if status == 412:
        return "The ticket changed while you were writing. Your text is still here: send again."
    if status == 413:
        return (
            f"Too large: each file may be at most {human_size(settings.max_attachment_bytes)}, "
            f"a message at most {human_size(settings.max_body_bytes)} "
            f"({_sentence(err.detail)})"
        )
    if status == 422:
        return "Please correct what is marked below; everything you typed is still here."
    if status == 429:
        return f"Too many messages just now. Please try again {retry_in(err.retry_after)}."
    if status in (401, 403):
        return "This page's sign-in has expired or is not valid for this ticket."
    if status == 404:
        return "There is no such ticket or file."
    return "Something went wrong on our side. Nothing you typed is lost: please try again."


def retry_in(seconds: int | None) -> str:
    if seconds is None:
        return "in a minute"
    if seconds < 60:
        return f"in {max(seconds, 1)} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def _sentence(text: str) -> str:
    text = text.strip() or "the ticket's state does not allow it"
    return text if text.endswith(".") else text + "."
