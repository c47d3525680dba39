"""Mail in tests: the inbox of the real SMTP server (aiosmtpd on 127.0.0.1, the ``smtp`` fixture) and
what the tests read from the messages Canopy sends."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import Message


def body_of(message: Message) -> str:
    """The decoded text of a single-part message (what Canopy sends)."""
    return message.get_payload(decode=True).decode()  # type: ignore[union-attr]


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def code_in(message: Message) -> str:
    """The one-time code of a sign-in (or verification) email: its first run of 4 to 10 digits."""
    body = body_of(message)
    found = re.search(r"\b(\d{4,10})\b", body)
    assert found, body
    return found.group(1)


def recovery_code_in(message: Message) -> str:
    """The code of a password-recovery email."""
    found = re.search(r"Or type this code on the page: (\d+)", body_of(message))
    assert found, body_of(message)
    return found.group(1)


def signup_code_in(message: Message) -> str:
    """The code in the link of a sign-up verification email."""
    found = re.search(r"code=(\d{4,10})", body_of(message))
    assert found, body_of(message)
    return found.group(1)


def invitation_link_in(message: Message) -> str:
    """The path of the acceptance link of an invitation email."""
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    found = re.search(r"http://[^\s]+/t/mightybank/invitations/accept/\?token=[^\s]+", body)
    assert found, body
    return found.group(0).split("127.0.0.1:8000", 1)[-1]
