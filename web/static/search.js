// Keyboard navigation of search results: ArrowDown/ArrowUp move between results, Enter opens,
// "/" jumps back to the search box.
(() => {
  "use strict";
  const box = document.getElementById("q");
  if (!box) return;
  const links = () => [...document.querySelectorAll("#result-list .result a.title")];
  document.addEventListener("keydown", (event) => {
    const items = links();
    const index = items.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && items.length) {
      event.preventDefault();
      items[Math.min(index + 1, items.length - 1)].focus();
    } else if (event.key === "ArrowUp" && index >= 0) {
      event.preventDefault();
      if (index === 0) box.focus(); else items[index - 1].focus();
    } else if (event.key === "/" && document.activeElement !== box) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });
})();

// "Copy answer": put the certified answer on the clipboard as plain text, then record that it was
// used to solve a case (source "search"), once per result shown. The CSRF token travels as htmx
// sends it (the X-CSRF-Token header from the body's hx-headers).
(() => {
  "use strict";
  const csrfToken = () => {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch {
      return "";
    }
  };
  const copy = async (button, say) => {
    const entry = encodeURIComponent(button.dataset.copyAnswer);
    const answer = await fetch(`/entries/${entry}/plain`, { headers: { Accept: "text/plain" } });
    if (!answer.ok || !(answer.headers.get("content-type") || "").startsWith("text/plain")) {
      say("This answer could not be copied; open it and copy it from the page.");
      return;
    }
    try {
      await navigator.clipboard.writeText(await answer.text());
    } catch {
      say("The browser did not allow copying; open the answer and copy it from the page.");
      return;
    }
    if (button.dataset.recorded) {
      say("Copied again");
      return;
    }
    const recorded = await fetch(`/entries/${entry}/reuse`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      body: new URLSearchParams({ source: "search" }),
    });
    if (recorded.ok) {
      button.dataset.recorded = "true";
      say("Copied — recorded as used");
    } else {
      say("Copied, but it could not be recorded as used.");
    }
  };
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-copy-answer]") : null;
    if (!button || button.dataset.busy) return;
    const status = button.parentElement.querySelector(".copy-status");
    const say = (text) => { if (status) status.textContent = text; };
    button.dataset.busy = "true";
    say("");
    copy(button, say)
      .catch(() => say("This answer could not be copied; check your connection and try again."))
      .finally(() => { delete button.dataset.busy; });
  });
})();
