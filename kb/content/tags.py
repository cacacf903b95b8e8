"""Tag normalisation: "Account Access" and "account-access" are one topic."""

from __future__ import annotations

import re

from kb.errors import ValidationFailed

MAX_TAGS = 10
MAX_TAG_LENGTH = 40
_SEPARATORS = re.compile(r"[\s_/]+")
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]")


def normalise_tag(raw: str) -> str:
    tag = _SEPARATORS.sub("-", raw.strip().lower())
    tag = _NOT_ALLOWED.sub("", tag)
    return re.sub(r"-{2,}", "-", tag).strip("-")


def normalise_tags(raw: list[str] | str) -> list[str]:
    """Unique normalised tags, in the order given; accepts a list or a comma-separated string."""
    items = raw.split(",") if isinstance(raw, str) else raw
    tags: list[str] = []
    for item in items:
        tag = normalise_tag(item)
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationFailed(f"The tag “{tag[:20]}…” is too long; keep tags under {MAX_TAG_LENGTH} characters.", field="tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationFailed(f"Use at most {MAX_TAGS} tags.", field="tags")
    return tags
