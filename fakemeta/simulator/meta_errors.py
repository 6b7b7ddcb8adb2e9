"""Meta's error codes: one table for webhook errors and the fake Graph API.

The same code travels two ways. Inside webhooks (a failed status's `errors`,
a `value.errors` delivery, an unsupported message) it is written as
`{code, title, message, error_data {details}, href}`; from the Graph API it
is `{"error": {message, type, code, error_subcode, error_data, fbtrace_id}}`
with the message prefixed `(#<code>)`. Titles and details are Meta's own
wording, from its error-code reference and from live payloads published in
public repositories (e.g. 131047's details sentence, 131056's title).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ERROR_HREF", "META_ERRORS", "MetaError", "meta_error"]

#: The `href` live status webhooks carry. Meta's newer docs show a relative
#: `/documentation/business-messaging/whatsapp/support/error-codes`; the
#: absolute one is what captured bodies hold, and its `/` exercise the `\/`
#: escape.
ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


@dataclass(frozen=True)
class MetaError:
    """One of Meta's error codes.

    `title` is also the webhook `message` (Meta's status reference: "This
    value is the same as the title property value"). `http_status` and
    `graph_type` are what the Graph API answers with; `graph_message`
    overrides the usual `(#<code>) <title>` where Meta words it otherwise.
    """

    code: int
    title: str
    details: str
    http_status: int = 400
    graph_type: str = "OAuthException"
    graph_message: str | None = None
    error_subcode: int | None = None

    @property
    def message(self) -> str:
        """The Graph API's `error.message`."""
        if self.graph_message is not None:
            return self.graph_message
        return f"(#{self.code}) {self.title}"


def _table(*errors: MetaError) -> dict[int, MetaError]:
    return {e.code: e for e in errors}


META_ERRORS: dict[int, MetaError] = _table(
    MetaError(
        131047,
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number.",
    ),
    MetaError(130429, "Rate limit hit", "Cloud API message throughput has been reached."),
    MetaError(
        131056,
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time.",
    ),
    MetaError(131026, "Message undeliverable", "Message Undeliverable."),
    MetaError(131051, "Unsupported message type", "Message type is not currently supported."),
    # 130501 is what an inbound `unsupported` message carries in its `errors`.
    MetaError(130501, "Unsupported message type", "Message type is not currently supported"),
    MetaError(
        131000,
        "Something went wrong",
        "Message failed to send due to an unknown error.",
        http_status=500,
    ),
    MetaError(
        131049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
    ),
    MetaError(
        131050,
        "Unable to deliver the message. This recipient has chosen to stop receiving "
        "marketing messages on WhatsApp from your business",
        "The recipient has stopped marketing messages from this business.",
    ),
    # A malformed or expired token: the Graph API words this one without `(#190)`.
    MetaError(
        190,
        "Access token has expired",
        "Your access token has expired. Get a new access token.",
        http_status=401,
        graph_message="Invalid OAuth access token - Cannot parse access token",
    ),
    MetaError(100, "Invalid parameter", "The parameter is invalid or missing.", http_status=400),
    # Graph API answers only (fake Graph API). Titles and details from Meta's
    # error-code reference; 104's wording from live Graph responses.
    MetaError(
        104,
        "Access token required",
        "An access token is required to request this resource.",
        graph_message="An access token is required to request this resource.",
    ),
    MetaError(131008, "Required parameter is missing", "A required parameter is missing."),
    MetaError(131009, "Parameter value is not valid", "One or more parameter values are invalid."),
    MetaError(131053, "Media upload error", "Unable to upload the media used in the message."),
    MetaError(
        132001,
        "Template name does not exist in the translation",
        "The template does not exist in the specified language or the template has not been "
        "approved.",
        http_status=404,
    ),
)


def meta_error(code: int) -> MetaError:
    """The table entry for `code`; a `KeyError` names the known codes."""
    try:
        return META_ERRORS[code]
    except KeyError:
        known = sorted(META_ERRORS)
        raise KeyError(
            f"Expected a Meta error code from META_ERRORS {known} but got code={code!r}; "
            "pass title= and details= to describe another code"
        ) from None
