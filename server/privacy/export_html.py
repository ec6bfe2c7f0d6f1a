"""A person's export as one readable, self-contained HTML page: every text escaped, no script,
nothing fetched from anywhere (its own Content-Security-Policy says so to the browser that
opens it from disk)."""

from __future__ import annotations

from html import escape
from typing import Any

# The export's parts, in the order and words the page shows them.
SECTIONS: dict[str, tuple[str, str]] = {
    "profile": ("Your account", "Who you are in peerrooms."),
    "messages": ("Your messages", "Everything you wrote, in every room; deleted ones say so."),
    "reactions": ("Your reactions", "The reactions you gave, by message number."),
    "check_ins": ("Your check-ins", "How you said you were at each session."),
    "attendance": ("Your attendance", "When you were in a meeting room."),
    "reports_made": ("Reports you made", "Messages you reported, by message number."),
    "restrictions": ("Mutes and bans", "Times staff muted you or kept you out of a room."),
    "moderation_log": (
        "The moderation record about you",
        "What peerrooms and staff did that concerns you. Staff's own notes are not included.",
    ),
    "alerts": ("Alerts about your messages", "Crisis and report alerts, and what staff did."),
    "notification_settings": (
        "Notification settings",
        "What you chose; nothing here means you kept the defaults.",
    ),
    "followed_rooms": ("Rooms you follow", "Rooms whose new messages are pushed to you."),
    "push_devices": ("Devices that get notifications", ""),
    "calendar_feed": ("Calendar feed", "Whether you have a calendar address, and since when."),
    "sign_ins": ("Your sign-ins", "Each time you signed in, and from what."),
}
STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
  color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td { white-space: pre-wrap; overflow-wrap: anywhere; }
.note { color: #555; } .empty { color: #555; font-style: italic; }
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def render(export: dict[str, Any]) -> str:
    profile = export.get("profile") or {}
    title = f"peerrooms export of {profile.get('display_name', '')}"
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Made {escape(str(export.get("made_at", "")))}. Times are in UTC.'
        " The same data comes as JSON for other programs.</p>",
    ]
    for key, (heading, note) in SECTIONS.items():
        parts.append(section(heading, note, export.get(key)))
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def section(heading: str, note: str, value: Any) -> str:
    intro = f'<p class="note">{escape(note)}</p>' if note else ""
    return f"<section><h2>{escape(heading)}</h2>{intro}{block(value)}</section>"


def block(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return '<p class="empty">Nothing.</p>'
    if isinstance(value, dict):
        return table(list(value), [[value[key] for key in value]], by_rows=False)
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        columns = list(dict.fromkeys(key for item in value for key in item))
        return table(columns, [[item.get(key) for key in columns] for item in value])
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{cell(item)}</li>" for item in value) + "</ul>"
    return f"<p>{cell(value)}</p>"


def table(columns: list[str], rows: list[list[Any]], *, by_rows: bool = True) -> str:
    """Rows under column headings; one record (`by_rows` false) as heading and value pairs."""
    if not by_rows:
        pairs = "".join(
            f'<tr><th scope="row">{label(key)}</th><td>{cell(value)}</td></tr>'
            for key, value in zip(columns, rows[0], strict=True)
        )
        return f"<table>{pairs}</table>"
    head = "".join(f'<th scope="col">{label(key)}</th>' for key in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def label(key: str) -> str:
    return escape(key.replace("_", " ").capitalize())


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{label(key)}: {cell(item)}" for key, item in value.items())
    if isinstance(value, list):
        return "; ".join(cell(item) for item in value)
    return escape(str(value))
