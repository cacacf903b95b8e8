"""A real local SMTP server (aiosmtpd) that keeps what it receives, for tests of outgoing email."""

from __future__ import annotations

import re
import socket
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller

LINK_RE = re.compile(r"https?://\S+/password/set\?token=[A-Za-z0-9_\-]+")


class MailSink:
    """``with MailSink() as sink``: ``sink.url`` is the ``KB_SMTP_URL``, ``sink.messages`` what arrived."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 Message accepted for delivery"

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._controller.stop()

    def wait_for(self, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        """The messages once at least ``count`` arrived (emails are sent by a thread after the commit)."""
        from workflow.account_mail import wait_until_sent

        deadline = time.monotonic() + timeout
        wait_until_sent(timeout)
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) >= count, f"expected {count} emails, got {len(self.messages)}"
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]


def link_in(message: EmailMessage) -> str:
    match = LINK_RE.search(message.get_content())
    assert match, "the email has no link to set a password"
    return match.group(0)
