// The article/answer editor: toolbar, autosave, image paste/drop upload, unsaved-changes warning.
// Two places for messages: the autosave line beside the toolbar (how saving goes, replaced as it
// goes) and the error box above the form (stays until dismissed or fixed).
// The live preview is plain htmx (hx-post="/preview" on the textarea).
(() => {
  "use strict";
  const form = document.getElementById("editor-form");
  if (!form) return;
  const body = document.getElementById("body");
  const status = document.getElementById("autosave-status");
  const fileInput = document.getElementById("file-input");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const AUTOSAVE_MS = 1500;
  let changedSinceAutosave = false;
  let unsaved = false;
  let submitting = false;
  let inFlight = null;

  const errorBox = document.getElementById("editor-error");
  const errorText = document.getElementById("editor-error-text");
  const compareButton = document.getElementById("editor-compare");
  // The problems shown, by what they are about ("upload", "autosave", "other-tab"): each stays until
  // dismissed or fixed (a later success of the same kind), and one never hides another (a failing
  // autosave every 1.5 s must not take an upload refusal away before it was read).
  const errors = new Map();
  let otherTab = false;  // another tab of this person changed the draft: autosave waits for the merge

  const field = (name) => form.querySelector(`[name="${name}"]`);
  const say = (text) => { if (status) status.textContent = text; };
  function showErrors() {
    errorText.replaceChildren(...[...errors.values()].map(({ text }) => {
      const line = document.createElement("span");
      line.className = "editor-error-line";
      line.textContent = text;
      return line;
    }));
    if (compareButton) compareButton.hidden = ![...errors.values()].some((e) => e.compare);
    errorBox.hidden = errors.size === 0;
  }
  function showError(kind, text, { compare = false } = {}) {
    errors.set(kind, { text, compare });
    showErrors();
  }
  function clearError(kind) {  // fixed: a later success of the same kind takes its error away
    if (errors.delete(kind)) showErrors();
  }
  document.getElementById("editor-error-dismiss").addEventListener("click", () => {
    errors.clear();
    showErrors();
    body.focus();
  });

  // --- toolbar -------------------------------------------------------------------------------
  const SNIPPETS = {
    bold: { before: "**", after: "**", placeholder: "bold text" },
    italic: { before: "_", after: "_", placeholder: "italic text" },
    heading: { line: "## ", placeholder: "Heading" },
    list: { line: "- ", placeholder: "item" },
    numbered: { line: "1. ", placeholder: "item" },
    code: { before: "\n```\n", after: "\n```\n", placeholder: "code" },
    table: { block: "\n| Column | Column |\n| --- | --- |\n| Cell | Cell |\n" },
  };

  function insert(text, selectFrom, selectTo) {
    body.focus();
    const start = body.selectionStart;
    body.setRangeText(text, start, body.selectionEnd, "end");
    if (selectFrom !== undefined) body.setSelectionRange(start + selectFrom, start + selectTo);
    body.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function insertLink() {
    const selected = body.value.slice(body.selectionStart, body.selectionEnd);
    const start = body.selectionStart, end = body.selectionEnd;
    const url = window.prompt(selected ? `Link “${selected}” to which address?` : "Link to which address?", "https://");
    body.focus();
    body.setSelectionRange(start, end);
    if (url === null || url.trim() === "" || url.trim() === "https://") return;
    const text = selected || url.trim();
    insert(`[${text}](${url.trim()})`, 1, 1 + text.length);
  }

  function applySnippet(name) {
    if (name === "link") return insertLink();
    const s = SNIPPETS[name];
    const selected = body.value.slice(body.selectionStart, body.selectionEnd);
    if (s.block) return insert(s.block);
    if (s.line) {
      const lines = (selected || s.placeholder).split("\n").map((l) => s.line + l).join("\n");
      const atLineStart = body.selectionStart === 0 || body.value[body.selectionStart - 1] === "\n";
      return insert((atLineStart ? "" : "\n") + lines);
    }
    const inner = selected || s.placeholder;
    insert(s.before + inner + s.after, s.before.length, s.before.length + inner.length);
  }

  form.querySelectorAll("[data-md]").forEach((button) =>
    button.addEventListener("click", () => applySnippet(button.dataset.md)));
  body.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey)) return;
    if (event.key === "b") { event.preventDefault(); applySnippet("bold"); }
    if (event.key === "i") { event.preventDefault(); applySnippet("italic"); }
  });

  // --- autosave ------------------------------------------------------------------------------
  function draftData() {
    const data = new FormData();
    data.set("kind", form.dataset.kind);
    if (form.dataset.entryId) data.set("entry_id", form.dataset.entryId);
    for (const name of ["draft_id", "draft_seen", "base_revision_id", "title", "tags", "body"]) {
      // An entry has one draft per user, found by its entry_id. A draft_id from the page can be
      // stale: saving in another tab discards that draft, and sending it would then fail (404).
      if (name === "draft_id" && form.dataset.entryId) continue;
      const input = field(name);
      if (input && input.value !== "") data.set(name, input.value);
    }
    if (!data.has("body")) data.set("body", "");
    return data;
  }

  async function autosave({ keepalive = false } = {}) {
    if (!changedSinceAutosave || inFlight || submitting || otherTab) return;
    changedSinceAutosave = false;
    say("Saving draft…");
    inFlight = fetch("/drafts/autosave", {
      method: "POST", body: draftData(), keepalive, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
    }).then(async (response) => {
      const reply = await response.json().catch(() => ({}));
      // A new article's draft was discarded meanwhile (saved in another tab): start a new one.
      if (response.status === 404 && !form.dataset.entryId) field("draft_id").value = "";
      if (response.status === 409 && reply.other_tab) {
        otherTab = true;
        changedSinceAutosave = true;
        say("Draft not autosaved: changed in another tab.");
        showError("other-tab", reply.detail, { compare: true });
        return;
      }
      if (!response.ok) throw new Error(reply.detail || `HTTP ${response.status}`);
      field("draft_id").value = reply.draft_id;
      if (reply.draft_seen) field("draft_seen").value = reply.draft_seen;
      say(`Draft autosaved at ${new Date().toLocaleTimeString()}`);
      clearError("autosave");
    }).catch((error) => {
      changedSinceAutosave = true;
      say("Draft not autosaved.");
      showError("autosave", `Your draft could not be autosaved: ${error.message} It will be tried again.`);
    }).finally(() => { inFlight = null; });
    return inFlight;
  }

  form.addEventListener("input", () => { changedSinceAutosave = true; unsaved = true; });
  setInterval(autosave, AUTOSAVE_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") autosave({ keepalive: true });
  });

  // --- leaving with unsaved changes ----------------------------------------------------------
  let submitQueued = false;
  form.addEventListener("submit", (event) => {
    submitting = true;  // no autosave from now on: the save would discard its draft, or race it
    if (!inFlight) return;
    // An autosave still running may be creating the draft this save must discard (its draft_id
    // arrives with the reply): let it finish, then submit (once, however often Save is clicked).
    event.preventDefault();
    if (submitQueued) return;
    submitQueued = true;
    inFlight.finally(() => form.submit());
  });
  // Back to this page from the browser's cache, after saving: editing (and autosave) resumes.
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) { submitting = false; submitQueued = false; }
  });
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved || submitting) return;
    autosave({ keepalive: true });
    event.preventDefault();
    event.returnValue = "";
  });

  // --- images and files: paste, drop, or choose ----------------------------------------------
  async function upload(file) {
    const data = new FormData();
    data.set("file", file, file.name || "pasted-image.png");
    if (form.dataset.entryId) data.set("entry_id", form.dataset.entryId);
    say(`Uploading ${file.name || "image"}…`);
    try {
      const response = await fetch("/attachments", {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      });
      const reply = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(reply.detail || `upload failed (HTTP ${response.status})`);
      insert(`\n${reply.markdown}\n`);
      say(`Uploaded ${reply.filename}`);
      clearError("upload");
    } catch (error) {
      say("");
      showError("upload", `Upload refused: ${error.message}`);
    }
  }

  body.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (files.length === 0) return;
    event.preventDefault();
    files.forEach(upload);
  });
  body.addEventListener("dragover", (event) => event.preventDefault());
  body.addEventListener("drop", (event) => {
    const files = [...(event.dataTransfer?.files || [])];
    if (files.length === 0) return;
    event.preventDefault();
    files.forEach(upload);
  });
  if (fileInput) fileInput.addEventListener("change", () => {
    [...fileInput.files].forEach(upload);
    fileInput.value = "";
  });

})();
