// "Copy answer" (search results, article pages): put the certified answer (its part for the
// customer, when the article marks one) on the clipboard as plain text, then record that it was
// used to solve a case (source "search", or the button's data-source), once per button shown; the
// server counts a copy and a "Used to solve a case" for the same case once. The CSRF token travels
// as htmx sends it (the X-CSRF-Token header from the body's hx-headers). In the helpdesk side panel
// the button names the field holding the ticket (data-case-field): the copy is recorded for that case.
(() => {
  "use strict";
  const csrfToken = () => {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch {
      return "";
    }
  };
  const caseRef = (button) => {
    const field = button.dataset.caseField ? document.getElementById(button.dataset.caseField) : null;
    return field ? field.value.trim() : "";
  };
  // The entry's rating panel on the same page, if any, shows the new count.
  const showReuseCount = (entryId, count) => {
    const shown = document.querySelector(`#rating-${CSS.escape(entryId)} .reuse-count`);
    if (!shown || typeof count !== "number") return;
    const number = document.createElement("span");
    number.className = "count";
    number.textContent = String(count);
    shown.replaceChildren("Used to solve ", number, count === 1 ? " case" : " cases");
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
      body: new URLSearchParams({ source: button.dataset.source || "search", case_ref: caseRef(button) }),
    });
    if (recorded.ok) {
      button.dataset.recorded = "true";
      showReuseCount(button.dataset.copyAnswer, (await recorded.json()).reuse_count);
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
