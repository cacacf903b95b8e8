// The helpdesk side panel (/panel).
// * postMessage: a helpdesk page at one of the allowed origins (rendered into data-panel-origins)
//   sends {type: "kb:ticket", subject, text, ticket}; the panel then shows the answers for that
//   ticket. Messages from any other origin, or of another shape, are ignored. When it has loaded,
//   the panel tells its parent {type: "kb:ready"} (delivered only to an allowed origin), so the
//   helpdesk knows when to send the ticket.
// * "Used to solve this case": records the answer for the ticket in the case field, through the
//   same route as the entry page's button (one case is one reuse: the server decides).
(() => {
  "use strict";
  const body = document.body;
  let origins = [];
  try {
    origins = JSON.parse(body.dataset.panelOrigins || "[]");
  } catch {
    origins = [];
  }
  const textChars = Number(body.dataset.textChars) || 2000;
  const csrfToken = () => {
    try {
      return JSON.parse(body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch {
      return "";
    }
  };
  const field = (value) => (typeof value === "string" || typeof value === "number" ? String(value) : "");

  window.addEventListener("message", (event) => {
    if (!origins.includes(event.origin)) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.type !== "kb:ticket") return;
    const params = new URLSearchParams({
      subject: field(data.subject).trim(),
      // Only the start of a long text is searched; the rest need not travel.
      text: field(data.text).trim().slice(0, textChars + 1),
      ticket: field(data.ticket).trim(),
    });
    const target = `/panel?${params}`;
    if (target !== location.pathname + location.search) location.replace(target);
  });
  if (window.parent !== window) {
    for (const origin of origins) window.parent.postMessage({ type: "kb:ready" }, origin);
  }

  const record = async (button, say) => {
    const caseField = button.dataset.caseField ? document.getElementById(button.dataset.caseField) : null;
    const caseRef = caseField ? caseField.value.trim() : "";
    const response = await fetch(`/entries/${encodeURIComponent(button.dataset.solvedCase)}/reuse`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" },
      body: new URLSearchParams({ case_ref: caseRef, source: "panel" }),
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch {
      answer = {};
    }
    if (response.ok) {
      say(answer.message || "Recorded.");
    } else {
      say(answer.detail || "This could not be recorded; reload the panel and try again.");
    }
  };
  document.addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button[data-solved-case]") : null;
    if (!button || button.dataset.busy) return;
    const status = button.parentElement.querySelector(".copy-status");
    const say = (text) => { if (status) status.textContent = text; };
    button.dataset.busy = "true";
    say("");
    record(button, say)
      .catch(() => say("This could not be recorded; check your connection and try again."))
      .finally(() => { delete button.dataset.busy; });
  });
})();
