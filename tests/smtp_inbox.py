"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that keeps what arrives, and the
fixtures and settings of a test server that mails through it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, LoginPassword, Session

from tests.processes import free_port

# The address the server's mails link to.
PUBLIC_URL = "https://peerrooms.clinic.example"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    login: bytes | None
    over_tls: bool


class Inbox:
    """An aiosmtpd handler that keeps what arrives, and refuses the addresses in `refuse`.
    It runs on the controller's thread; a send has returned only after handle_DATA did."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.refuse = refuse
        self.received: list[Received] = []

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        auth = session.auth_data if session.authenticated else None
        self.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,
                login=auth.login if isinstance(auth, LoginPassword) else None,
                over_tls=session.ssl is not None,
            )
        )
        return "250 Message accepted"

    def only(self) -> Received:
        assert len(self.received) == 1, self.received
        return self.received[0]


@contextmanager
def smtp_server(inbox: Inbox, **smtp_options: Any) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 for the test; its port."""
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, server_hostname="localhost", **smtp_options
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def mail_settings(smtp_port: int) -> dict[str, Any]:
    """A server's settings that send its mail through the SMTP server on `smtp_port`, with
    links to PUBLIC_URL."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_security": "none",
        "mail_from": "peerrooms <no-reply@clinic.example>",
        "public_url": PUBLIC_URL,
    }


# Named apart from their functions, so a test module can import them (`from tests.smtp_inbox
# import inbox_fixture, smtp_port_fixture`) and still take `inbox` and `smtp_port` arguments.
@pytest.fixture(name="inbox")
def inbox_fixture() -> Inbox:
    """What arrives at the test's SMTP server."""
    return Inbox()


@pytest.fixture(name="smtp_port")
def smtp_port_fixture(inbox: Inbox) -> Iterator[int]:
    """The port of an SMTP server on 127.0.0.1 that delivers to `inbox`, for the test."""
    with smtp_server(inbox) as port:
        yield port
