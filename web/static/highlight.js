// Opening a search result (…?q=words) marks the query's words in the page's content, so the agent
// sees at once where the answer is. Words match at their start ("refund" marks "refunds"). The
// server gives the words (data-words: search.analysis.highlight_words), stop words left out, so
// "can" does not mark "Cancelling" and "for" does not mark every sentence.
(() => {
  "use strict";
  const script = document.currentScript;
  if (!new URLSearchParams(window.location.search).get("q") || !script) return;
  const words = (script.dataset.words || "").split(" ").filter((w) => w.length >= 3);
  if (words.length === 0) return;
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join("|")})[\\p{L}\\p{N}]*`, "giu");
  for (const root of document.querySelectorAll(".prose")) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    for (const node of nodes) {
      if (node.parentElement.closest("pre, code, mark")) continue;
      const text = node.nodeValue;
      pattern.lastIndex = 0;
      if (!pattern.test(text)) continue;
      pattern.lastIndex = 0;
      const fragment = document.createDocumentFragment();
      let last = 0;
      for (const match of text.matchAll(pattern)) {
        fragment.append(text.slice(last, match.index));
        const mark = document.createElement("mark");
        mark.textContent = match[0];
        fragment.append(mark);
        last = match.index + match[0].length;
      }
      fragment.append(text.slice(last));
      node.replaceWith(fragment);
    }
  }
  const first = document.querySelector(".prose mark");
  if (first) first.scrollIntoView({ block: "center" });
})();
