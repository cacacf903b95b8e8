// Small progressive enhancements; every page works without them.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = event.submitter?.dataset.confirm || (form instanceof HTMLFormElement && form.dataset.confirm);
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  const target = event.target;
  if (target instanceof HTMLElement && target.matches("[data-copy]")) {
    const source = document.getElementById(target.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim());
      target.textContent = "Copied";
    }
  }
});
// The Menu button (narrow screens; the CSS shows it only once the header has .js-nav). Without this
// script the menu is a plain visible list.
(() => {
  const header = document.querySelector("header.topbar");
  const toggle = header?.querySelector("button.nav-toggle");
  if (!header || !toggle) return;
  const setOpen = (open) => {
    header.classList.toggle("nav-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.hidden = false;
  header.classList.add("js-nav");
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && header.classList.contains("nav-open")) {
      setOpen(false);
      toggle.focus();
    }
  });
})();

// "/" opens search from every page of a signed-in user: the page's search box when it has one,
// else the search page (its box takes the focus). Never while typing in a field.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  const active = document.activeElement;
  const typing = active instanceof HTMLElement && (active.isContentEditable
    || active.matches("textarea, select, input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit])"));
  if (typing) return;
  const box = document.getElementById("q");
  if (box) {
    event.preventDefault();
    box.focus();
    box.select();
  } else if (document.querySelector("form[action=\"/logout\"]")) {  // signed in
    event.preventDefault();
    window.location.assign("/search");
  }
});
