"""Hostile text for every place kb shows what a user wrote (tests/browser/test_hostile_content_browser.py).

Each payload has a number N. Whatever would run if a payload got through calls ``__xss(N)`` (or
``alert(N)``, ``confirm(N)``, ``prompt(N)``), asks for a URL whose path contains ``__xss``, or
carries ``__xss`` in an attribute, so the browser test can tell which one escaped. Template
payloads compute ``7*7191``: the number ``TEMPLATE_PRODUCT`` must never appear in a page.

``SENTINEL`` words (``KBP001``...) stand between payloads in bodies: every one must be visible in
the rendered page, so a payload that swallows what follows it (an unclosed ``<noscript>``, a
comment, a fence) is caught as well.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

MARKER = "__xss"
TEMPLATE_PRODUCT = str(7 * 7191)  # 50337


@dataclass(frozen=True)
class Payload:
    n: int
    kind: str  # html, markdown, url, template, htmx, text
    text: str

    @property
    def sentinel(self) -> str:
        return f"KBP{self.n:03d}"

    @property
    def one_line(self) -> bool:
        return "\n" not in self.text and "\x00" not in self.text and len(self.text) <= 110


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# (kind, text); "#N" becomes the payload's number.
_TEMPLATES: list[tuple[str, str]] = [
    # --- classic HTML/script vectors (raw HTML is off in Markdown; in plain text fields they must stay text)
    ("html", "<script>__xss(#N)</script>"),
    ("html", "<SCRIPT SRC=/__xss/#N.js></SCRIPT>"),
    ("html", "<img src=x onerror=__xss(#N)>"),
    ("html", '<img src="x" onerror="__xss(#N)"/>'),
    ("html", "<IMG SRC=JaVaScRiPt:__xss(#N)>"),
    ("html", "<svg onload=__xss(#N)>"),
    ("html", "<svg><script>__xss(#N)</script></svg>"),
    ("html", "<svg><animate onbegin=__xss(#N) attributeName=x dur=1s>"),
    ('html', '<svg><a xlink:href="javascript:__xss(#N)"><text y="20">svg link</text></a></svg>'),
    ("html", "<body onload=__xss(#N)>"),
    ("html", '<iframe src="javascript:__xss(#N)"></iframe>'),
    ("html", '<iframe srcdoc="<script>parent.__xss(#N)</script>"></iframe>'),
    ("html", '<object data="javascript:__xss(#N)"></object>'),
    ("html", '<embed src="javascript:__xss(#N)">'),
    ("html", '<div style="width:expression(__xss(#N))">styled</div>'),
    ("html", "<style>@import 'javascript:__xss(#N)';</style>"),
    ("html", '<meta http-equiv="refresh" content="0;url=javascript:__xss(#N)">'),
    ("html", '<form action="javascript:__xss(#N)"><button>go</button></form>'),
    ("html", "<form><button formaction=javascript:__xss(#N)>go</button></form>"),
    ("html", '<a href="javascript:__xss(#N)">click me</a>'),
    ("html", "<details open ontoggle=__xss(#N)>"),
    ("html", "<input autofocus onfocus=__xss(#N)>"),
    ("html", "<video><source onerror=__xss(#N)></video>"),
    ("html", '<base href="javascript:__xss(#N)//">'),
    ("html", '<link rel=stylesheet href="javascript:__xss(#N)">'),
    ("html", "<x onclick=__xss(#N)>custom element</x>"),
    ("html", "<scr<script>ipt>__xss(#N)</scr</script>ipt>"),
    ("html", "<img src=1 onerror=alert(#N)>"),
    ("html", "<script>confirm(#N)</script>"),
    ("html", "<script>prompt(#N)</script>"),
    # --- breaking out of the element or attribute the text is placed in
    ("html", '"><img src=x onerror=__xss(#N)>'),
    ("html", "'><svg onload=__xss(#N)>"),
    ("html", '" autofocus onfocus="__xss(#N)" x="'),
    ("html", "' autofocus onfocus='__xss(#N)' x='"),
    ("html", "</textarea><img src=x onerror=__xss(#N)>"),
    ("html", "</title><script>__xss(#N)</script>"),
    ("html", "</script><script>__xss(#N)</script>"),
    ("html", "</option></select></datalist><img src=x onerror=__xss(#N)>"),
    ("html", '<!--<img src="--><img src=x onerror=__xss(#N)//">'),
    # --- mutation XSS (parser differentials between a sanitiser and the browser)
    ("html", '<noscript><p title="</noscript><img src=x onerror=__xss(#N)>">'),
    ("html", "<math><mtext><table><mglyph><style><img src=x onerror=__xss(#N)>"),
    ("html", '<svg></p><style><a id="</style><img src=x onerror=__xss(#N)>">'),
    ("html", "<form><math><mtext></form><form><mglyph><style></math><img src onerror=__xss(#N)>"),
    ("html", '<textarea><p title="</textarea><img src=x onerror=__xss(#N)>">'),
    # --- URLs in Markdown links and images
    ("markdown", "[click me](javascript:__xss(#N))"),
    ("markdown", "[click me](JaVaScRiPt:__xss(#N))"),
    ("markdown", "[click me](&#106;avascript:__xss(#N))"),
    ("markdown", "[click me](&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;__xss(#N))"),
    ("markdown", "[click me](javascript&colon;__xss(#N))"),
    ("markdown", "[click me](jav&#x09;ascript:__xss(#N))"),
    ("markdown", "[click me](java%09script:__xss(#N))"),
    ("markdown", "[click me](<java script:__xss(#N)>)"),
    ("markdown", "[click me](<javascript:__xss(#N)>)"),
    ("markdown", "[click me](\x01javascript:__xss(#N))"),
    ("markdown", "[click me](vbscript:msgbox(#N))"),
    ("markdown", "[click me](data:text/html;base64,#B64)"),
    ("markdown", "[click me](data:text/html,<script>__xss(#N)</script>)"),
    ("markdown", "![image](javascript:__xss(#N))"),
    ("markdown", "![image](data:image/svg+xml;base64,#SVG64)"),
    ("markdown", '![image](x" onerror="__xss(#N))'),
    ("markdown", '[title](https://example.com/ "t\\" onmouseover=\\"__xss(#N)")'),
    ("markdown", "[![nested](javascript:__xss(#N))](javascript:__xss(#N))"),
    ("markdown", "<javascript:__xss(#N)>"),
    ("markdown", "<data:text/html,<script>__xss(#N)</script>>"),
    ("markdown", "[reference #N][ref#N]\n\n[ref#N]: javascript:__xss(#N)"),
    ("markdown", "![reference image][img#N]\n\n[img#N]: <javascript:__xss(#N)> \"t\""),
    ("markdown", "<div>\n<script>__xss(#N)</script>\n</div>"),
    ("markdown", "| cell |\n| --- |\n| <img src=x onerror=__xss(#N)> |"),
    ("markdown", '```" onmouseover="__xss(#N)\ncode\n```'),
    ("markdown", '# heading " onmouseover="__xss(#N)'),
    ("markdown", "- [x] <img src=x onerror=__xss(#N)>"),
    ("markdown", "**<img src=x onerror=__xss(#N)>**"),
    ("markdown", "> <script>__xss(#N)</script>"),
    ("markdown", "`<script>__xss(#N)</script>`"),
    # --- template injection (Jinja2 and friends): must stay literal text
    ("template", "{{7*7191}}"),
    ("template", "{% print 7*7191 %}"),
    ("template", "{{ self.__init__.__globals__ }}{{7*7191}}"),
    ("template", "${7*7191} #{7*7191} <%= 7*7191 %>"),
    # --- htmx attributes: htmx would act on these if they reached the DOM
    ("htmx", '<div hx-get="/__xss/#N" hx-trigger="load">htmx get</div>'),
    ("htmx", '<div hx-on:click="__xss(#N)" hx-on="click: __xss(#N)">htmx on</div>'),
    ("htmx", '<img src=x data-hx-get="/__xss/#N" data-hx-trigger="load">'),
    ("htmx", '<div hx-post="/__xss/#N" hx-trigger="load" hx-target="body" hx-swap="outerHTML">htmx post</div>'),
    ("htmx", '<a hx-boost="true" hx-vals=\'{"x": "__xss(#N)"}\' href="/__xss/#N">boosted</a>'),
    # --- text tricks
    ("text", "\u202egnp.exe \u202d<img src=x onerror=__xss(#N)>"),
    ("text", "[zero width](java\u200bscript:__xss(#N))"),
    ("text", "\uff1cscript\uff1e__xss(#N)\uff1c/script\uff1e"),
    ("text", "<scr\x00ipt>__xss(#N)</scr\x00ipt> [nul](java\x00script:__xss(#N))"),
    ("text", "W" * 3000 + "<img src=x onerror=__xss(#N)>"),
    ("text", "=cmd|' /C calc'!A0 @SUM(1+1) +cmd -cmd"),
    ("text", "\\u003cscript\\u003e__xss(#N)\\u003c/script\\u003e &lt;script&gt;__xss(#N)&lt;/script&gt;"),
]


def _build() -> list[Payload]:
    payloads = []
    for index, (kind, template) in enumerate(_TEMPLATES, start=1):
        text = template.replace("#N", str(index))
        text = text.replace("#B64", _b64(f"<script>parent.__xss({index})</script>"))
        text = text.replace("#SVG64", _b64(f'<svg xmlns="http://www.w3.org/2000/svg" onload="__xss({index})"/>'))
        payloads.append(Payload(index, kind, text))
    return payloads


PAYLOADS: list[Payload] = _build()
BY_NUMBER = {p.n: p for p in PAYLOADS}
# Short single-line payloads: for titles, names, comments, queries and other one-line fields.
ONE_LINE: list[Payload] = [p for p in PAYLOADS if p.one_line]
# What PostgreSQL can store (it refuses NUL in text); the NUL payload goes through the preview.
STORABLE: list[Payload] = [p for p in PAYLOADS if "\x00" not in p.text]


def body_with(payloads: list[Payload]) -> str:
    """A Markdown body: each payload after its sentinel paragraph."""
    return "\n\n".join(f"{p.sentinel}\n\n{p.text}" for p in payloads) + "\n\nKBEND\n"


def line_with(payload: Payload, limit: int = 200) -> str:
    """A one-line field: the sentinel, then the payload (cut to ``limit``)."""
    return f"{payload.sentinel} {payload.text}"[:limit]
