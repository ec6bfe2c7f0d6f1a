"""Email for notifications: session reminders, the digest of what someone missed, meeting
changes, and crisis alerts to the on-call list, sent over SMTP with aiosmtplib.

The people who get most of these mails are in treatment, and email is not a safe channel for
what they say in their rooms: a mailbox is shared, forwarded, read on a lock screen, kept by
a provider. So no composer here takes message text, and the crisis mail does not name the
person either: it says where to look, and the console shows the rest after sign-in.

Nothing here logs. A failed send raises one `MailError`, whose text names the server's answer
and, for a refused recipient, the address, never the message: the caller logs it and tries
again later.
"""

from __future__ import annotations

import html
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal
from urllib.parse import urlsplit

import aiosmtplib

Security = Literal["none", "starttls", "tls"]

# Headers `build_message` sets itself: a caller's extra header may not replace one, so a
# composer cannot, by mistake, send a mail to someone else or drop the unsubscribe link.
_RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "sender",
        "subject",
        "date",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "auto-submitted",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)


class MailError(Exception):
    """A mail was not sent. `permanent` is set when the server gave a 5xx answer (a refused
    recipient, rejected credentials): the same mail would fail the same way until something
    changes, so a retry loop can stop for it."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class MailConfig:
    """Where and how to send. `security`: "tls" connects with TLS from the start (port 465),
    "starttls" upgrades a plain connection and fails if the server cannot (never falls back
    to plain text), "none" sends in the clear (a relay on the same host). `tls_context`
    replaces the system's trust store, e.g. for a relay with a private CA."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)  # kept out of a config printed into a log
    security: Security
    sender: str
    timeout_s: float = 10
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked at once, since a wrong setting would otherwise surface only as the first
        # reminder that fails to go out.
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {self.security!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password are given together or not at all")
        sender_domain(self.sender)


def sender_domain(sender: str) -> str:
    """The domain of a From address ("peerrooms <no-reply@clinic.example>" ->
    "clinic.example"), which Message-IDs are made on."""
    _, address = parseaddr(sender)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        raise ValueError(f"sender {sender!r} has no address with a domain")
    return domain


@dataclass(frozen=True)
class Mail:
    """One mail to one person, not yet addressed from anyone: the Mailer's config adds the
    sender. `headers` are extra ones (name, value), such as an importance mark."""

    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str | None
    headers: tuple[tuple[str, str], ...] = ()


def build_message(mail: Mail, sender: str) -> EmailMessage:
    """The MIME message for `mail` from `sender`: multipart/alternative with the plain text
    first and the HTML last (clients show the last part they can render), the one-click
    unsubscribe headers of RFC 8058 when the mail has an unsubscribe URL, and Auto-Submitted
    so that auto-responders do not answer it (RFC 3834). Raises ValueError for a header
    value with a line break in it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender_domain(sender))
    message["Auto-Submitted"] = "auto-generated"
    if mail.unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in mail.headers:
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by build_message")
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class Mailer:
    """Sends mails through one SMTP server, a connection per mail: notifications come a few
    at a time, and a connection kept open would meet the server's idle timeout between them."""

    def __init__(self, config: MailConfig) -> None:
        self.config = config

    async def send(self, mail: Mail) -> None:
        """Hands `mail` to the server; returns once the server has accepted it. Raises
        MailError with the reason otherwise."""
        config = self.config
        try:
            message = build_message(mail, config.sender)
        except ValueError as error:
            raise MailError(f"the mail cannot be built: {error}", permanent=True) from error
        where = f"{config.host}:{config.port}"
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.security == "tls",
                # False, not aiosmtplib's default None: None upgrades only when the server
                # offers it, and "none" should mean the same thing against every server.
                start_tls=config.security == "starttls",
                tls_context=config.tls_context,
                timeout=config.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            raise MailError(
                "the server refused the recipient: " + _refusals(error.recipients),
                permanent=all(refused.code >= 500 for refused in error.recipients),
            ) from error
        except aiosmtplib.SMTPRecipientRefused as error:
            raise MailError(
                "the server refused the recipient: " + _refusals([error]),
                permanent=error.code >= 500,
            ) from error
        except aiosmtplib.SMTPSenderRefused as error:
            raise MailError(
                f"the server refused the sender {error.sender}: {error.code} {error.message}",
                permanent=error.code >= 500,
            ) from error
        except aiosmtplib.SMTPAuthenticationError as error:
            raise MailError(
                f"authentication as {config.username!r} failed at {where}: "
                f"{error.code} {error.message}",
                permanent=error.code >= 500,
            ) from error
        except aiosmtplib.SMTPDataError as error:
            raise MailError(
                f"the server refused the message: {error.code} {error.message}",
                permanent=error.code >= 500,
            ) from error
        except aiosmtplib.SMTPConnectTimeoutError as error:
            raise MailError(
                f"connecting to {where} timed out after {config.timeout_s:g} s"
            ) from error
        except aiosmtplib.SMTPConnectError as error:
            raise MailError(f"could not connect to {where}: {error}") from error
        except aiosmtplib.SMTPTimeoutError as error:
            raise MailError(
                f"{where} did not answer within {config.timeout_s:g} s: {error}"
            ) from error
        except aiosmtplib.SMTPServerDisconnected as error:
            raise MailError(f"{where} closed the connection: {error}") from error
        except aiosmtplib.SMTPResponseException as error:
            raise MailError(
                f"{where} answered {error.code} {error.message}", permanent=error.code >= 500
            ) from error
        except aiosmtplib.SMTPException as error:
            # Such as STARTTLS or AUTH asked for and not offered by the server.
            raise MailError(f"SMTP with {where} failed: {error}") from error
        except ssl.SSLError as error:
            raise MailError(f"TLS with {where} failed: {error}") from error
        except OSError as error:
            raise MailError(f"the connection to {where} failed: {error}") from error


def _refusals(refused: Sequence[aiosmtplib.SMTPRecipientRefused]) -> str:
    return "; ".join(f"{r.recipient} ({r.code} {r.message})" for r in refused)


_REMINDERS_WHY = "You get this email because session reminders are on."
_DIGEST_WHY = "You get this summary because email digests are on."
_CHANGES_WHY = "You get this email because email about your sessions is on."

# The composers. Every value they put into HTML goes through html.escape: titles, room names
# and display names are written by people, and a mail client renders what it is given.


def reminder_mail(
    to: str,
    *,
    title: str,
    starts_local: str,
    minutes_before: int,
    meeting_url: str,
    unsubscribe_url: str,
) -> Mail:
    """A session is about to start. `starts_local` is the start in the person's own time,
    already formatted ("6:00 PM")."""
    _check_url(meeting_url)
    _check_url(unsubscribe_url)
    when = f"starts at {starts_local} ({_in_minutes(minutes_before)})"
    text = _text(
        [
            "Hi,",
            f"Your session {title} {when}.",
            f"You can join from the meeting page:\n{meeting_url}",
            "See you soon.",
        ],
        _text_footer(_REMINDERS_WHY, unsubscribe_url, "Turn off reminders"),
    )
    body = _html(
        [
            "<p>Hi,</p>",
            f"<p>Your session <strong>{_e(title)}</strong> {_e(when)}.</p>",
            f"<p>{_button(meeting_url, 'Open the meeting page')}</p>",
            "<p>See you soon.</p>",
        ],
        _html_footer(
            _REMINDERS_WHY,
            unsubscribe_url,
            "Turn off reminders",
        ),
    )
    return Mail(
        to=to,
        subject=f"Your session {_one_line(title)} {_one_line(when)}",
        text=text,
        html=body,
        unsubscribe_url=unsubscribe_url,
    )


def confirm_address_mail(to: str, *, confirm_url: str) -> Mail:
    """Someone gave this address for their notifications: nothing else is sent to it until
    its owner follows the link, so nobody can have mail sent to another person's address.
    It is for session reminders and the daily summary (which each person turns on or off)."""
    _check_url(confirm_url)
    why = "You get this because this address was given for notifications from peerrooms."
    ignore = "If that was not you, ignore this mail: nothing more will be sent."
    ask = (
        "Please confirm that you want mail from peerrooms at this address: session reminders "
        "and, if you turn it on, a daily summary of what you missed (how many new messages "
        "in each room, and your coming sessions; never what anyone wrote)."
    )
    text = f"Hi,\n\n{ask}\n\n{confirm_url}\n\n-- \n{why} {ignore}\n"
    body = _html(
        [
            "<p>Hi,</p>",
            f"<p>{_e(ask)}</p>",
            f"<p>{_button(confirm_url, 'Confirm this address')}</p>",
        ],
        f'<p style="color:#7b8794;font-size:13px">{_e(why)} {_e(ignore)}</p>',
    )
    return Mail(
        to=to, subject="Confirm your address for peerrooms", text=text, html=body,
        unsubscribe_url=None,
    )  # fmt: skip


def digest_mail(
    to: str,
    *,
    display_name: str,
    rooms: list[tuple[str, int]],
    app_url: str,
    unsubscribe_url: str,
    sessions: Sequence[tuple[str, str]] = (),
) -> Mail:
    """What someone missed: each room with unread messages and how many. Counts only, never
    the messages, and no room name in the subject, which lock screens and notification
    previews show to whoever is nearby. `sessions`: the person's sessions of the coming day,
    (title, start in their own time, already formatted)."""
    _check_url(app_url)
    _check_url(unsubscribe_url)
    unread = [(name, count) for name, count in rooms if count > 0]
    total = sum(count for _, count in unread)
    if unread:
        subject = f"What you missed: {_count(total, 'new message')}"
        lines = "\n".join(f"- {name}: {_count(count, 'new message')}" for name, count in unread)
        text_summary = f"Here is what happened in your rooms while you were away:\n\n{lines}"
        items = "".join(
            f"<li><strong>{_e(name)}</strong>: {_e(_count(count, 'new message'))}</li>"
            for name, count in unread
        )
        html_summary = (
            "<p>Here is what happened in your rooms while you were away:</p>"
            f'<ul style="padding-left:20px">{items}</ul>'
        )
    else:
        subject = "You're all caught up"
        text_summary = "There is nothing new in your rooms since you were last there."
        html_summary = f"<p>{_e(text_summary)}</p>"
    link_label = "Read them in the app" if unread else "Open the app"
    privacy = (
        "Messages stay in the app and are never sent by email, so that what people share "
        "stays private."
    )
    coming_text, coming_html = _coming_sessions(sessions)
    text = _text(
        [
            f"Hi {display_name},",
            text_summary,
            *coming_text,
            f"{link_label}:\n{app_url}",
            privacy,
        ],
        _text_footer(_DIGEST_WHY, unsubscribe_url, "Turn off digests"),
    )
    body = _html(
        [
            f"<p>Hi {_e(display_name)},</p>",
            html_summary,
            *coming_html,
            f"<p>{_button(app_url, link_label)}</p>",
            f'<p style="color:#52606d">{_e(privacy)}</p>',
        ],
        _html_footer(
            _DIGEST_WHY,
            unsubscribe_url,
            "Turn off digests",
        ),
    )
    return Mail(to=to, subject=subject, text=text, html=body, unsubscribe_url=unsubscribe_url)


def _coming_sessions(sessions: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """The digest's paragraph of sessions coming up, as text and as HTML; none: nothing."""
    if not sessions:
        return [], []
    intro = "Your sessions in the coming day:"
    lines = "\n".join(f"- {title}: {when}" for title, when in sessions)
    items = "".join(
        f"<li><strong>{_e(title)}</strong>: {_e(when)}</li>" for title, when in sessions
    )
    return [f"{intro}\n\n{lines}"], [
        f'<p>{_e(intro)}</p><ul style="padding-left:20px">{items}</ul>'
    ]


def crisis_mail(
    to: str,
    *,
    severity: str,
    category: str,
    room_name: str,
    console_url: str,
    raised_at_local: str,
    raise_count: int = 1,
) -> Mail:
    """A crisis alert for the on-call list: that one needs attention now, where, and the way
    to the console. Neither the message nor who wrote it: staff see those after signing in,
    where access is checked and audited. No unsubscribe link: being on call is a duty set in
    the console, not a mail preference. `raise_count` above 1: nobody has acknowledged it,
    and this is its Nth raise."""
    _check_url(console_url)
    headline, subject, times = _crisis_headline(room_name, raise_count)
    facts = [
        ("Room", room_name),
        ("Severity", severity),
        ("Category", category),
        ("Raised at", raised_at_local),
        *times,
    ]
    fact_lines = "\n".join(f"{label}: {value}" for label, value in facts)
    not_here = (
        "The message and who wrote it are shown only in the console after you sign in; "
        "they are left out of this email on purpose."
    )
    danger = "If someone may be in immediate danger, follow your program's emergency procedure."
    text = _text(
        [
            headline,
            fact_lines,
            f"Open the console to see it and respond:\n{console_url}",
            not_here,
            danger,
        ],
        "You get this email because you are on the on-call list for crisis alerts.",
    )
    rows = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;color:#52606d">{_e(label)}</td>'
        f"<td><strong>{_e(value)}</strong></td></tr>"
        for label, value in facts
    )
    body = _html(
        [
            f'<p style="font-size:18px"><strong>{_e(headline)}</strong></p>',
            f"<table>{rows}</table>",
            f"<p>{_button(console_url, 'Open the console')}</p>",
            f"<p>{_e(not_here)}</p>",
            f"<p>{_e(danger)}</p>",
        ],
        '<p style="color:#7b8794;font-size:13px">You get this email because you are on the '
        "on-call list for crisis alerts.</p>",
    )
    return Mail(
        to=to,
        subject=subject,
        text=text,
        html=body,
        unsubscribe_url=None,
        # Mail clients sort and flag by these; an alert should not wait under newsletters.
        headers=(("Importance", "high"), ("X-Priority", "1")),
    )


def _crisis_headline(room_name: str, raise_count: int) -> tuple[str, str, list[tuple[str, str]]]:
    """The crisis mail's headline, subject, and a fact that counts the raises: a mail about
    an alert raised again must not read like the first, or it is taken for a duplicate."""
    if raise_count <= 1:
        return (
            "A crisis alert needs attention now.",
            f"Crisis alert needs attention now: {_one_line(room_name)}",
            [],
        )
    raised = f"{_ordinal(raise_count)} time"
    return (
        f"A crisis alert is still not acknowledged: raised for the {raised}.",
        f"Still not acknowledged ({raised}): crisis alert in {_one_line(room_name)}",
        [("Raised", raised)],
    )


def change_mail(
    to: str,
    *,
    title: str,
    what: Literal["cancelled", "moved"],
    when_local: str,
    reason: str,
    meeting_url: str,
    unsubscribe_url: str,
) -> Mail:
    """A session was cancelled or moved. `when_local`: for "cancelled", the time of the
    session that will not happen; for "moved", its new time. `reason` may be empty."""
    _check_url(meeting_url)
    _check_url(unsubscribe_url)
    if what == "cancelled":
        subject = f"Cancelled: {_one_line(title)} on {_one_line(when_local)}"
        news_text = f"Your session {title} on {when_local} is cancelled."
        news_html = f"Your session <strong>{_e(title)}</strong> on {_e(when_local)} is cancelled."
        sorry = "We're sorry for the change. The meeting page shows what's coming up next."
    elif what == "moved":
        subject = f"Moved: {_one_line(title)} is now on {_one_line(when_local)}"
        news_text = f"Your session {title} has moved to {when_local}."
        news_html = (
            f"Your session <strong>{_e(title)}</strong> has moved to "
            f"<strong>{_e(when_local)}</strong>."
        )
        sorry = "We're sorry for the change. We hope the new time works for you."
    else:
        raise ValueError(f"what must be cancelled or moved, not {what!r}")
    reason = reason.strip()
    text_parts = [news_text]
    html_parts = [f"<p>{news_html}</p>"]
    if reason:
        text_parts.append(f"Reason: {reason}")
        # Line breaks the writer typed are kept; the text itself is escaped first.
        reason_html = _e(reason).replace("\n", "<br>")
        html_parts.append(f"<p>Reason: {reason_html}</p>")
    text_parts += [sorry, f"Meeting page:\n{meeting_url}"]
    html_parts += [f"<p>{_e(sorry)}</p>", f"<p>{_button(meeting_url, 'Open the meeting page')}</p>"]
    text = _text(
        ["Hi,", *text_parts], _text_footer(_CHANGES_WHY, unsubscribe_url, "Turn off session emails")
    )
    body = _html(
        ["<p>Hi,</p>", *html_parts],
        _html_footer(
            _CHANGES_WHY,
            unsubscribe_url,
            "Turn off session emails",
        ),
    )
    return Mail(to=to, subject=subject, text=text, html=body, unsubscribe_url=unsubscribe_url)


def _e(value: str) -> str:
    return html.escape(value, quote=True)


def _one_line(value: str) -> str:
    # A header value cannot hold a line break (it would start a header of its own), and a
    # title pasted with one should still make a subject rather than fail the mail.
    return " ".join(value.split())


def _check_url(url: str) -> None:
    # A link in a mail is opened outside the app: a relative one ("/meetings/3") leads
    # nowhere, and any scheme but http(s) has no business in these mails.
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")


def _in_minutes(minutes: int) -> str:
    if minutes <= 0:
        return "now"
    if minutes % 60 == 0:
        return f"in {_count(minutes // 60, 'hour')}"
    return f"in {_count(minutes, 'minute')}"


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ... 11th, 12th, 13th, ... 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _text_footer(why: str, unsubscribe_url: str, label: str) -> str:
    return f"{why} {label}:\n{unsubscribe_url}"


def _text(paragraphs: list[str], footer: str) -> str:
    return "\n\n".join(paragraphs) + "\n\n-- \n" + footer + "\n"


def _button(url: str, label: str) -> str:
    return (
        f'<a href="{_e(url)}" style="display:inline-block;padding:10px 18px;'
        'background:#2f6f5e;color:#ffffff;border-radius:6px;text-decoration:none">'
        f"{_e(label)}</a>"
    )


def _html_footer(why: str, unsubscribe_url: str, label: str) -> str:
    return (
        f'<p style="color:#7b8794;font-size:13px">{_e(why)} '
        f'<a href="{_e(unsubscribe_url)}" style="color:#7b8794">{_e(label)}</a></p>'
    )


def _html(blocks: list[str], footer: str) -> str:
    # Inline styles only: many mail clients drop <style> blocks.
    content = "\n".join(blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width"></head>\n'
        '<body style="margin:0;padding:24px;font-family:Helvetica,Arial,sans-serif;'
        'font-size:16px;line-height:1.5;color:#1f2933">\n'
        f'<div style="max-width:560px">\n{content}\n'
        '<hr style="border:none;border-top:1px solid #e4e7eb;margin:24px 0">\n'
        f"{footer}\n</div>\n</body>\n</html>\n"
    )
