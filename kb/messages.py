"""Turn pydantic validation errors into sentences a person can act on (pages, API and CLI)."""

from __future__ import annotations

FIELD_LABELS = {"email": "Email", "display_name": "Name", "roles": "Roles", "password": "Password", "name": "Name"}


def _message(error: dict) -> str:
    field = str(error["loc"][-1]) if error.get("loc") else ""
    kind = error.get("type", "")
    if kind == "missing":
        return f"{FIELD_LABELS.get(field, field.replace('_', ' ').capitalize())} is required."
    if field == "email" or (len(error.get("loc", ())) > 1 and error["loc"][-2] == "email"):
        return "Enter a valid email address, like name@example.com."
    if kind == "enum":
        return f"Unknown value {error.get('input')!r}: choose one of {error['ctx']['expected']}."
    if field == "display_name" or (field == "name" and kind == "string_too_short"):
        return "Enter a name."
    if field == "roles" and kind == "too_short":
        return "Give the user at least one role."
    message = error.get("msg", "Invalid value.")
    return message.removeprefix("Value error, ").rstrip(".") + "."


def validation_messages(errors: list[dict]) -> dict[str, str]:
    """Field name -> the first sentence a person should read about it."""
    messages: dict[str, str] = {}
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if len(loc) > 1 and loc[0] in ("body", "query", "path", "form", "header", "cookie"):
            loc = loc[1:]  # FastAPI puts where the value came from first
        key = next((p for p in loc if not p.isdigit()), "form")
        messages.setdefault(key, _message(error))
    return messages
