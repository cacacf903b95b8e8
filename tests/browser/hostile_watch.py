"""The detectors of the hostile content suite (test_hostile_content_browser.py).

``Watch`` is one person's Chromium context that ignores the Content-Security-Policy and reports,
for every page it opens or is shown: calls of ``__xss``, dialogs, requests to ``__xss`` paths,
5xx answers, uncaught page errors, a weak or missing CSP, and what ``INSPECT_DOM`` finds in the
DOM (handler and htmx attributes, script-capable URLs and elements, markup in rendered content,
a template that ran), plus the sentinels that should be visible but are not.
"""

from __future__ import annotations

from urllib.parse import urlparse

from tests.browser.conftest import DEFAULT_TIMEOUT_MS
from tests.browser.hostile_payloads import MARKER, TEMPLATE_PRODUCT
from tests.helpers import PASSWORD

# Defined before any page script runs; reports to Python too, so a hit survives a navigation.
INIT_SCRIPT = """
(() => {
  const report = (n) => { (window.__xssHits = window.__xssHits || []).push(String(n));
                          try { window.__xssReport(String(n)); } catch (e) {} };
  Object.defineProperty(window, "__xss", {value: report, writable: false, configurable: false});
})();
"""

# Everything the DOM must not contain. Returns a list of sentences, one per problem found.
INSPECT_DOM = r"""
({marker, product}) => {
  const problems = [];
  const describe = (el) => el.outerHTML.slice(0, 160);
  // The product as a number of its own: a timestamp such as ...T03:18:11.503371 holds its digits.
  const computed = new RegExp("(^|[^0-9])" + product + "([^0-9]|$)");
  const CONTENT = ".prose, #preview, .snippet, .diff-body, .diff";
  // What the Markdown sanitiser may emit, plus what kb's own views add (highlights, diffs).
  const CONTENT_TAGS = new Set(("p h1 h2 h3 h4 h5 h6 a img ul ol li blockquote pre code em strong del s table " +
    "thead tbody tr th td hr br input span div sup sub mark ins").split(" "));
  const URL_ATTRS = new Set(["href", "src", "action", "formaction", "xlink:href", "data", "poster",
    "background", "codebase", "cite", "ping", "srcset", "manifest", "lowsrc", "dynsrc"]);
  // Attributes read as text only (data-confirm: kb.js passes it to confirm() as the question).
  const TEXT_ATTRS = new Set(["title", "alt", "value", "aria-label", "placeholder", "id", "class", "content",
    "data-confirm"]);
  const RASTER = /^data:image\/(png|jpeg|gif|webp);base64,[a-z0-9+\/]*={0,2}$/i;
  for (const el of document.querySelectorAll("*")) {
    const tag = el.localName;
    const inContent = !!el.parentElement && !!el.parentElement.closest(CONTENT);
    if (["iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal", "noscript"].includes(tag)) {
      problems.push(`<${tag}> element: ${describe(el)}`);
    }
    if (tag === "meta" && el.hasAttribute("http-equiv")) problems.push(`meta http-equiv: ${describe(el)}`);
    if (tag === "script") {
      const src = el.getAttribute("src") || "";
      if (!src.startsWith("/static/") || el.textContent.trim()) problems.push(`script not from /static/: ${describe(el)}`);
    }
    if (tag === "link" && !(el.getAttribute("href") || "").startsWith("/static/")) problems.push(`link: ${describe(el)}`);
    if (tag === "style" || (tag === "svg" && inContent) || (tag === "math")) problems.push(`<${tag}>: ${describe(el)}`);
    if (inContent && !CONTENT_TAGS.has(tag)) problems.push(`<${tag}> inside rendered content: ${describe(el)}`);
    if (inContent && tag === "form") problems.push(`form inside content: ${describe(el)}`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value;
      if (name.startsWith("on")) problems.push(`handler attribute ${name}: ${describe(el)}`);
      if (name.startsWith("hx-") || name.startsWith("data-hx-")) {
        if (value.includes(marker) || inContent || name.startsWith("hx-on") || name.startsWith("data-hx-on")) {
          problems.push(`htmx attribute ${name} from content: ${describe(el)}`);
        }
      }
      if (name === "srcdoc") problems.push(`srcdoc attribute: ${describe(el)}`);
      // kb sends no inline styles (its CSP forbids them); Chromium's own text viewer has one.
      if (name === "style" && (inContent || value.includes(marker))) problems.push(`style attribute: ${describe(el)}`);
      if (URL_ATTRS.has(name)) {
        let protocol;
        try { protocol = new URL(value, document.baseURI).protocol; } catch (e) { protocol = "invalid:"; }
        const ok = ["http:", "https:", "mailto:"].includes(protocol) ||
          (protocol === "data:" && tag === "img" && name === "src" && RASTER.test(value));
        if (!ok && protocol !== "invalid:") problems.push(`${protocol} URL in ${name}: ${describe(el)}`);
        if (["src", "data", "srcset", "action", "formaction", "xlink:href"].includes(name) && value.includes(marker)) {
          problems.push(`${name} carries the marker: ${describe(el)}`);
        }
      } else if (!TEXT_ATTRS.has(name) && value.includes(marker)) {
        problems.push(`attribute ${name} carries the marker: ${describe(el)}`);
      }
      if (computed.test(value) && !(tag === "input" && el.name === "csrf_token") && name !== "hx-headers") {
        problems.push(`template product in ${name}: ${describe(el)}`);
      }
    }
  }
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (computed.test(node.data)) problems.push(`template product in text: ${node.data.slice(0, 120)}`);
  }
  if (window.frames.length) problems.push(`${window.frames.length} frame(s) in the page`);
  return {problems, hits: window.__xssHits || [], text: document.documentElement.textContent};
}
"""


POST_FORM = """
({action, fields}) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  const all = {csrf_token: document.querySelector("input[name=csrf_token]").value, ...fields};
  for (const [name, value] of Object.entries(all)) {
    const input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}
"""


class Watch:
    """One signed-in person's browser context, with every detector installed."""

    def __init__(self, browser, base_url: str, problems: list[str]):
        self.base_url = base_url
        self.problems = problems
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
        self.context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        self.context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        self.where = "?"
        self.opening = ""
        self.context.expose_function("__xssReport", lambda n: self.problems.append(f"{self.where}: __xss({n}) ran"))
        self.context.add_init_script(INIT_SCRIPT)
        self.context.on("request", self._on_request)
        self.context.on("response", self._on_response)
        self.page = self.context.new_page()
        self.page.on("dialog", self._on_dialog)
        self.page.on("pageerror", lambda error: self.problems.append(f"{self.where}: page error {error}"))
        self.pages_checked = 0

    def _on_request(self, request):
        path = urlparse(request.url).path
        if request.url == self.opening:  # the page the test opens on purpose
            return
        if MARKER in path or request.url.startswith(("javascript:", "vbscript:")):
            self.problems.append(f"{self.where}: requested {request.url[:160]}")

    def _on_response(self, response):
        if response.status >= 500:  # hostile input is a 4xx at worst, wherever it goes (pages, htmx, fetch)
            self.problems.append(f"{self.where}: {response.request.method} {response.url[:160]} answered "
                                 f"{response.status}")
        if response.request.resource_type != "document" or not response.url.startswith(self.base_url):
            return
        csp = response.headers.get("content-security-policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        scripts = directives.get("script-src", directives.get("default-src", []))
        if scripts not in (["'self'"], ["'none'"]):  # pages: 'self'; files: 'none' (and sandboxed)
            self.problems.append(f"{self.where}: weak or missing CSP on {response.url}: {csp!r}")

    def _on_dialog(self, dialog):
        if dialog.type == "beforeunload":  # the editor asks before leaving unsaved text: not content
            dialog.accept()
            return
        self.problems.append(f"{self.where}: {dialog.type} dialog opened: {dialog.message!r}")
        dialog.dismiss()

    def login(self, user) -> Watch:
        self.where = f"login as {user.email}"
        page = self.page
        page.goto(f"{self.base_url}/login")
        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert "/login" not in page.url, f"{user.email} could not sign in"
        return self

    def see(self, path: str, shown=(), *, status: int | None = None, also: tuple[str, ...] = (),
            some=(), at_least: int = 0) -> str:
        """Open ``path`` and judge the page (see ``judge``)."""
        self.where = path[:120]
        self.opening = f"{self.base_url}{path}"
        response = self.page.goto(self.opening)
        if status is not None:
            assert response is not None and response.status == status, f"{path}: {response and response.status}"
        return self.judge(shown, also=also, some=some, at_least=at_least)

    def post(self, action: str, fields: dict[str, str], shown=()) -> str:
        """Submit a form built in the page (with its CSRF token), as a browser would; judge the answer."""
        self.where = f"POST {action}"
        with self.page.expect_navigation():
            self.page.evaluate(POST_FORM, {"action": action, "fields": fields})
        return self.judge(shown)

    def judge(self, shown=(), *, also: tuple[str, ...] = (), some=(), at_least: int = 0) -> str:
        """Inspect the page as it is now. ``shown``: payloads whose sentinels must all be visible;
        ``some``/``at_least``: of these, at least that many (lists that show a page of them)."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(100)  # htmx "load" triggers and any timers a payload might set
        result = self.page.evaluate(INSPECT_DOM, {"marker": MARKER, "product": TEMPLATE_PRODUCT})
        self.pages_checked += 1
        self.problems.extend(f"{self.where}: {p}" for p in result["problems"])
        self.problems.extend(f"{self.where}: __xss({n}) ran (page hook)" for n in result["hits"])
        text = result["text"]
        missing = [p.sentinel for p in shown if p.sentinel not in text] + [s for s in also if s not in text]
        if missing:
            self.problems.append(f"{self.where}: not shown (or swallowed): {', '.join(missing)}")
        visible = sum(p.sentinel in text for p in some)
        if visible < at_least:
            self.problems.append(f"{self.where}: only {visible} of the hostile items shown, expected {at_least}")
        return text
