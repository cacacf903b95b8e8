"""The file format of ``kb import`` and ``kb export``: Markdown with YAML front matter.

The body is taken verbatim after the closing delimiter (python-frontmatter would strip it), so
leading blank lines, trailing newlines and ``---`` lines inside the body survive a round trip.
Windows line endings (CRLF) become LF, as they do when text is saved from the editor or the API.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import yaml

from kb.markdown import MAX_BODY_CHARS

# A question file carries its answers' bodies in its front matter: room for the question and a
# long thread of long answers, and no more (a file is read whole before it is checked).
MAX_ANSWERS = 100
MAX_FILE_BYTES = 16 * 1024 * 1024

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*(?:\n|\Z)", re.DOTALL)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Multi-line text (answers' bodies) as ``|`` blocks, which read like the Markdown they are.
    The emitter falls back to a quoted string whenever a block could not keep the text exactly."""


def _text(dumper, value: str):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


class FormatError(ValueError):
    """The file is not Markdown with front matter; the message says how to fix it."""


def parse_document(text: str) -> tuple[dict, str]:
    """(front matter, body) of a Markdown file; the body is everything after the closing ``---``."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    match = _FRONT_MATTER.match(text)
    if match is None:
        raise FormatError("It has no front matter: start the file with a line `---`, then `title: ...`, then `---`.")
    try:
        meta = yaml.load(match.group(1) or "", Loader=_Loader)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 2}" if where is not None else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise FormatError(f"The front matter is not valid YAML ({problem}{line}).") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise FormatError("The front matter must be `key: value` lines (title, tags, kind, author).")
    return meta, text[match.end():]


def format_document(meta: dict, body: str) -> str:
    """The text of a file: front matter in the order given, then the body exactly as stored."""
    front = yaml.dump(meta, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=None,
                      width=1_000_000)
    return f"---\n{front}---\n{body}"


def read_document(path: Path) -> tuple[dict, str]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FormatError(f"It is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; a body may have at most "
                              f"{MAX_BODY_CHARS:,} characters and a question at most {MAX_ANSWERS} answers.")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("It is not UTF-8 text; save it as UTF-8 and import it again.") from None
    except OSError as exc:
        raise FormatError(f"It cannot be read ({exc.strerror}).") from None
    return parse_document(text)


def file_name(title: str, entry_id: int) -> str:
    """``<slug-of-title>-<id>.md``: readable, unique, safe on every file system."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    return f"{slug or 'entry'}-{entry_id}.md"
