// Keyboard navigation of search results: ArrowDown/ArrowUp move between results, Enter opens
// ("/" back to the search box is site-wide, in kb.js).
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
    }
  });
})();
