"""Notification email (server/notify/email.py) sent to a real SMTP server on loopback
(aiosmtpd): what each composer's mail carries and what it must never carry (message text, in
the crisis mail the person's alias), the one-click unsubscribe headers, HTML escaping of
what people wrote, STARTTLS and implicit TLS with a certificate made here, AUTH, and the one
error the caller sees for a refused recipient, rejected credentials or a dead server."""

from __future__ import annotations

import inspect
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.notify.email import (
    Mail,
    MailConfig,
    Mailer,
    MailError,
    build_message,
    change_mail,
    crisis_mail,
    digest_mail,
    reminder_mail,
)
from tests.processes import free_port
from tests.smtp_inbox import Inbox, Received, smtp_server

SENDER = "peerrooms <no-reply@clinic.example>"
ANA = "ana@patients.example"
UNSUBSCRIBE = "https://care.clinic.example/unsubscribe?u=7&t=abc123"
MEETING = "https://care.clinic.example/meetings/7"
USER = "relay-user"
PASSWORD = "correct horse battery staple"


def config(port: int, **changes: Any) -> MailConfig:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "username": None,
        "password": None,
        "security": "none",
        "sender": SENDER,
        "timeout_s": 5,
    }
    options.update(changes)
    return MailConfig(**options)


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path
    pem: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.pem)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made for this module's tests."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peerrooms test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("smtp-tls")
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (folder / "cert.pem").write_bytes(pem)
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(folder / "cert.pem", folder / "key.pem", pem.decode())


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and the HTML of a multipart/alternative mail, checking their order."""
    assert message.get_content_type() == "multipart/alternative"
    alternatives = list(message.iter_parts())
    assert [part.get_content_type() for part in alternatives] == ["text/plain", "text/html"]
    text, html = (part.get_content() for part in alternatives)
    assert isinstance(text, str) and isinstance(html, str)
    # The wire's CRLF line ends are kept by the parser.
    return text.replace("\r\n", "\n"), html.replace("\r\n", "\n")


def assert_envelope(received: Received, subject: str) -> None:
    message = received.message
    assert received.mail_from == "no-reply@clinic.example"
    assert received.rcpt_tos == [ANA]
    assert message["To"] == ANA
    assert message["From"] == SENDER
    assert message["Subject"] == subject
    assert message["Auto-Submitted"] == "auto-generated"
    assert str(message["Message-ID"]).endswith("@clinic.example>")
    sent_at = message["Date"].datetime
    assert abs(sent_at - datetime.now(UTC)) < timedelta(minutes=1)


def assert_one_click_unsubscribe(message: EmailMessage) -> None:
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_a_reminder_arrives_with_both_parts_a_link_and_one_click_unsubscribe() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        mail = reminder_mail(
            ANA,
            title="Evening group",
            starts_local="6:00 PM",
            minutes_before=15,
            meeting_url=MEETING,
            unsubscribe_url=UNSUBSCRIBE,
        )
        await Mailer(config(port)).send(mail)

    received = inbox.only()
    assert_envelope(received, "Your session Evening group starts at 6:00 PM (in 15 minutes)")
    assert_one_click_unsubscribe(received.message)
    text, html = parts(received.message)
    assert "Your session Evening group starts at 6:00 PM (in 15 minutes)." in text
    assert MEETING in text and UNSUBSCRIBE in text
    assert f'href="{MEETING}"' in html
    assert "<strong>Evening group</strong> starts at 6:00 PM (in 15 minutes)" in html
    assert 'href="https://care.clinic.example/unsubscribe?u=7&amp;t=abc123"' in html


async def test_the_digest_counts_unread_messages_by_room_and_escapes_the_alias() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        mail = digest_mail(
            ANA,
            display_name="<b>Ana</b>",
            rooms=[("Evening group", 3), ("Family & friends", 1), ("Quiet room", 0)],
            app_url="https://care.clinic.example/",
            unsubscribe_url=UNSUBSCRIBE,
        )
        await Mailer(config(port)).send(mail)

    received = inbox.only()
    # No room name in the subject: lock screens show it.
    assert_envelope(received, "What you missed: 4 new messages")
    assert_one_click_unsubscribe(received.message)
    text, html = parts(received.message)
    assert "Hi <b>Ana</b>," in text  # plain text is shown as it is
    assert "<b>Ana</b>" not in html
    assert "Hi &lt;b&gt;Ana&lt;/b&gt;," in html
    assert "- Evening group: 3 new messages" in text
    assert "- Family & friends: 1 new message" in text
    assert "Family &amp; friends" in html and "Family & friends" not in html
    assert "Quiet room" not in text and "Quiet room" not in html


def test_no_composer_can_be_given_message_text() -> None:
    """The privacy rule lives in the signatures: the digest takes counts, the crisis mail
    takes where and how bad, and neither takes a message or, for the crisis mail, who wrote
    it. A parameter added for a preview or an alias fails here, where it gets discussed."""
    assert set(inspect.signature(digest_mail).parameters) == {
        "to",
        "display_name",
        "rooms",
        "app_url",
        "unsubscribe_url",
        # (series title, start): what staff scheduled, not what anyone wrote.
        "sessions",
    }
    assert set(inspect.signature(crisis_mail).parameters) == {
        "to",
        "severity",
        "category",
        "room_name",
        "console_url",
        "raised_at_local",
        "raise_count",
    }


async def test_a_crisis_mail_says_where_and_links_the_console_without_unsubscribe() -> None:
    inbox = Inbox()
    console = "https://care.clinic.example/console/alerts/42"
    with smtp_server(inbox) as port:
        mail = crisis_mail(
            ANA,
            severity="high",
            category="self-harm",
            room_name="Evening <group>",
            console_url=console,
            raised_at_local="6:02 PM",
        )
        await Mailer(config(port)).send(mail)

    received = inbox.only()
    assert_envelope(received, "Crisis alert needs attention now: Evening <group>")
    assert received.message["List-Unsubscribe"] is None
    assert received.message["List-Unsubscribe-Post"] is None
    assert received.message["Importance"] == "high"
    text, html = parts(received.message)
    for fact in ("Room: Evening <group>", "Severity: high", "Category: self-harm", "6:02 PM"):
        assert fact in text
    assert "Evening &lt;group&gt;" in html and "Evening <group>" not in html
    assert console in text and f'href="{console}"' in html
    assert "left out of this email on purpose" in text
    assert "unsubscribe" not in (text + html).lower()


@pytest.mark.parametrize(
    ("what", "subject", "news"),
    [
        (
            "cancelled",
            "Cancelled: Evening group on Tue 14 May, 6:00 PM",
            "Your session Evening group on Tue 14 May, 6:00 PM is cancelled.",
        ),
        (
            "moved",
            "Moved: Evening group is now on Tue 14 May, 6:00 PM",
            "Your session Evening group has moved to Tue 14 May, 6:00 PM.",
        ),
    ],
)
async def test_a_cancelled_or_moved_session_is_told_with_the_reason(
    what: str, subject: str, news: str
) -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        mail = change_mail(
            ANA,
            title="Evening group",
            what="cancelled" if what == "cancelled" else "moved",
            when_local="Tue 14 May, 6:00 PM",
            reason="The clinic is closed <for training>.\nSee you Thursday.",
            meeting_url=MEETING,
            unsubscribe_url=UNSUBSCRIBE,
        )
        await Mailer(config(port)).send(mail)

    received = inbox.only()
    assert_envelope(received, subject)
    assert_one_click_unsubscribe(received.message)
    text, html = parts(received.message)
    assert news in text
    assert "Reason: The clinic is closed <for training>.\nSee you Thursday." in text
    assert "Reason: The clinic is closed &lt;for training&gt;.<br>See you Thursday." in html
    assert f'href="{MEETING}"' in html


def test_a_title_with_a_line_break_still_makes_a_one_line_subject() -> None:
    mail = reminder_mail(
        ANA,
        title="Evening\r\nBcc: someone@else.example",
        starts_local="6:00 PM",
        minutes_before=60,
        meeting_url=MEETING,
        unsubscribe_url=UNSUBSCRIBE,
    )
    message = build_message(mail, SENDER)
    assert message["Subject"] == (
        "Your session Evening Bcc: someone@else.example starts at 6:00 PM (in 1 hour)"
    )
    assert message["Bcc"] is None


def test_composers_refuse_a_link_that_would_not_work_in_a_mail() -> None:
    with pytest.raises(ValueError, match="absolute"):
        reminder_mail(
            ANA,
            title="Evening group",
            starts_local="6:00 PM",
            minutes_before=15,
            meeting_url="/meetings/7",
            unsubscribe_url=UNSUBSCRIBE,
        )


async def test_starttls_with_a_custom_trust_delivers_encrypted(certificate: Certificate) -> None:
    inbox = Inbox()
    with smtp_server(
        inbox, tls_context=certificate.server_context(), require_starttls=True
    ) as port:
        trusted = config(port, security="starttls", tls_context=certificate.client_context())
        await Mailer(trusted).send(sample_mail())
        # The system's trust store does not know this certificate: no mail, and no quiet
        # fallback to plain text either.
        with pytest.raises(MailError, match="certificate"):
            await Mailer(config(port, security="starttls")).send(sample_mail())
    assert inbox.only().over_tls


async def test_implicit_tls_delivers_encrypted(certificate: Certificate) -> None:
    inbox = Inbox()
    with smtp_server(inbox, ssl_context=certificate.server_context()) as port:
        tls = config(port, security="tls", tls_context=certificate.client_context())
        await Mailer(tls).send(sample_mail())
    assert inbox.only().rcpt_tos == [ANA]


async def test_starttls_asked_of_a_server_without_it_fails_rather_than_sending_plain() -> None:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        with pytest.raises(MailError, match="STARTTLS"):
            await Mailer(config(port, security="starttls")).send(sample_mail())
    assert inbox.received == []


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False: aiosmtpd then answers 535 itself.
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


async def test_auth_with_the_right_password_delivers_and_a_wrong_one_raises() -> None:
    inbox = Inbox()
    with smtp_server(inbox, authenticator=authenticator, auth_require_tls=False) as port:
        await Mailer(config(port, username=USER, password=PASSWORD)).send(sample_mail())
        with pytest.raises(MailError, match="authentication as 'relay-user' failed") as failed:
            await Mailer(config(port, username=USER, password="wrong")).send(sample_mail())
    assert inbox.only().login == USER.encode()
    assert failed.value.permanent
    assert "wrong" not in str(failed.value)


async def test_a_refused_recipient_raises_naming_the_address() -> None:
    inbox = Inbox(refuse=frozenset({ANA}))
    with smtp_server(inbox) as port:
        with pytest.raises(MailError, match="refused the recipient") as refused:
            await Mailer(config(port)).send(sample_mail())
    assert ANA in str(refused.value)
    assert "550" in str(refused.value)
    assert refused.value.permanent
    assert inbox.received == []


async def test_nothing_listening_raises_at_once() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(MailError, match="could not connect to 127.0.0.1") as failed:
        await Mailer(config(port, timeout_s=5)).send(sample_mail())
    assert time.monotonic() - started < 2
    assert not failed.value.permanent


async def test_a_server_that_never_greets_times_out() -> None:
    # A listening socket nobody accepts on: the kernel completes the handshake, and no
    # greeting ever comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(MailError, match="timed out after 0.3 s"):
            await Mailer(config(port, timeout_s=0.3)).send(sample_mail())
        assert time.monotonic() - started < 2


def test_the_password_stays_out_of_the_config_repr() -> None:
    printed = repr(config(25, username=USER, password=PASSWORD))
    assert USER in printed
    assert PASSWORD not in printed


def test_a_config_is_checked_when_made() -> None:
    with pytest.raises(ValueError, match="domain"):
        config(25, sender="peerrooms")
    with pytest.raises(ValueError, match="security"):
        config(25, security="ssl")
    with pytest.raises(ValueError, match="together"):
        config(25, username=USER)


def sample_mail() -> Mail:
    return reminder_mail(
        ANA,
        title="Evening group",
        starts_local="6:00 PM",
        minutes_before=15,
        meeting_url=MEETING,
        unsubscribe_url=UNSUBSCRIBE,
    )
