// One-time form tokens (kb.content.submissions) must survive Back. The browser restores what a form
// held when its page is shown again, even when it fetches the page anew (Cache-Control: no-store),
// but only fields whose value differs from the page's own; a fresh page carries a fresh token. So the
// token is marked "~" once shown: Back and Post again then sends the first token back, and kb shows
// what the first post created instead of posting twice.
for (const field of document.querySelectorAll("input[name=form_token]")) {
  if (field.value === field.defaultValue && !field.value.startsWith("~")) {
    field.value = "~" + field.defaultValue;
  }
}
