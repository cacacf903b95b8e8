"""Turn pydantic validation errors into sentences a person can act on (pages, API and CLI)."""

from __future__ import annotations

FIELD_LABELS = {"email": "Email", "display_name": "Name", "roles": "Roles", "password": "Password", "name": "Name",
                "q": "The search text", "page": "The page number", "limit": "The number of results",
                "offset": "The number of results to skip", "case_ref": "The case reference"}
# Pydantic's wording ("Input should be less than or equal to 500") read as a person's sentence.
_KIND_SENTENCES = {
    "int_parsing": "{label} must be a whole number, like 2.",
    "int_type": "{label} must be a whole number, like 2.",
    "int_from_float": "{label} must be a whole number, like 2.",
    "float_parsing": "{label} must be a number, like 2.5.",
    "float_type": "{label} must be a number, like 2.5.",
    "bool_parsing": "{label} must be yes or no (true or false).",
    "bool_type": "{label} must be yes or no (true or false).",
    "less_than_equal": "{label} can be at most {le}.",
    "less_than": "{label} must be less than {lt}.",
    "greater_than_equal": "{label} must be at least {ge}.",
    "greater_than": "{label} must be more than {gt}.",
    "string_too_long": "{label} is too long: at most {max_length} characters.",
    "string_too_short": "{label} is too short: at least {min_length} characters.",
    "too_long": "{label} has too many values: at most {max_length}.",
    "too_short": "{label} needs at least {min_length} values.",
    "literal_error": "{label} cannot be {input!r}: choose {expected}.",
    "date_parsing": "{label} must be a date like 2026-12-31.",
    "date_from_datetime_parsing": "{label} must be a date like 2026-12-31.",
    "datetime_parsing": "{label} must be a date and time like 2026-12-31T09:00.",
    "datetime_from_date_parsing": "{label} must be a date and time like 2026-12-31T09:00.",
    "string_type": "{label} must be text.",
}
# Where there is a better next step than the bare limit.
_FIELD_SENTENCES = {
    ("page", "less_than_equal"): "Pages go up to {le}. To reach what lies further down, narrow the search "
                                 "(another word, a topic) or the list.",
    ("page", "greater_than_equal"): "Pages are numbered from {ge}.",
}


def _label(field: str) -> str:
    return FIELD_LABELS.get(field, field.replace("_", " ").capitalize() or "A value")


def _sentence(field: str, kind: str, error: dict) -> str | None:
    template = _FIELD_SENTENCES.get((field, kind)) or _KIND_SENTENCES.get(kind)
    if template is None:
        return None
    try:
        value = error.get("input")
        if isinstance(value, str) and len(value) > 40:
            value = value[:40] + "…"
        return template.format(label=_label(field), input=value, **(error.get("ctx") or {}))
    except (KeyError, IndexError, ValueError):  # a context this wording does not expect
        return None


def _message(error: dict) -> str:
    field = str(error["loc"][-1]) if error.get("loc") else ""
    if field.isdigit() and len(error.get("loc", ())) > 1:  # an item of a list: name the list
        field = str(error["loc"][-2])
    kind = error.get("type", "")
    if kind == "missing":
        return f"{_label(field)} is required."
    if field == "email" or (len(error.get("loc", ())) > 1 and error["loc"][-2] == "email"):
        return "Enter a valid email address, like name@example.com."
    if kind == "enum":
        return f"Unknown value {error.get('input')!r}: choose one of {error['ctx']['expected']}."
    if field == "display_name" or (field == "name" and kind == "string_too_short"):
        return "Enter a name."
    if field == "roles" and kind == "too_short":
        return "Give the user at least one role."
    sentence = _sentence(field, kind, error)
    if sentence is not None:
        return sentence
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
