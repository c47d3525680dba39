"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, messages kept in memory."""

from __future__ import annotations

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
