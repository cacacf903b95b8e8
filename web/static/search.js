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
