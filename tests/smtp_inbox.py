"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1) that keeps what arrives."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, LoginPassword, Session

from tests.processes import free_port


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
