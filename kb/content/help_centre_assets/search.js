/* Search of the static help centre: the index is window.KB_HELP_INDEX (search-index.js); no server.
   Every word typed must start a word of the article (title, topics or text); title matches rank first.
   Results are built with textContent only: nothing from the index is ever parsed as HTML. */
(function () {
  "use strict";
  var index = window.KB_HELP_INDEX || [];
  var input = document.getElementById("q");
  var results = document.getElementById("results");
  var topics = document.getElementById("topics");
  if (!input || !results) { return; }

  function fold(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  function words(text) { return fold(text).split(/[^a-z0-9]+/).filter(Boolean); }

  var docs = index.map(function (item) {
    return { item: item, title: words(item.t), all: words(item.t + " " + item.g.join(" ") + " " + item.x) };
  });

  function startsSome(list, word) {
    for (var i = 0; i < list.length; i++) { if (list[i].lastIndexOf(word, 0) === 0) { return true; } }
    return false;
  }

  function snippet(text, word) {
    var at = fold(text).indexOf(word);
    var start = Math.max(0, at - 60);
    return (start > 0 ? "… " : "") + text.slice(start, start + 200) + (text.length > start + 200 ? " …" : "");
  }

  function show(query) {
    var wanted = words(query);
    results.textContent = "";
    if (!wanted.length) { results.hidden = true; if (topics) { topics.hidden = false; } return; }
    var found = [];
    docs.forEach(function (doc) {
      if (!wanted.every(function (w) { return startsSome(doc.all, w); })) { return; }
      var score = wanted.filter(function (w) { return startsSome(doc.title, w); }).length;
      found.push({ doc: doc, score: score });
    });
    found.sort(function (a, b) { return b.score - a.score || a.doc.item.t.localeCompare(b.doc.item.t); });
    var heading = document.createElement("h2");
    heading.textContent = found.length ? found.length + (found.length === 1 ? " article" : " articles") + " found"
                                       : "No article matches “" + query + "”. Try fewer or other words.";
    results.appendChild(heading);
    var list = document.createElement("ol");
    found.slice(0, 50).forEach(function (hit) {
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.href = hit.doc.item.u;
      link.textContent = hit.doc.item.t;
      var text = document.createElement("p");
      text.textContent = snippet(hit.doc.item.x, wanted[0]);
      li.appendChild(link);
      li.appendChild(text);
      list.appendChild(li);
    });
    results.appendChild(list);
    results.hidden = false;
    if (topics) { topics.hidden = true; }
  }

  input.addEventListener("input", function () { show(input.value); });
  var form = input.form;
  if (form) { form.addEventListener("submit", function (event) { event.preventDefault(); show(input.value); }); }
  var initial = new URLSearchParams(window.location.search).get("q");
  if (initial) { input.value = initial; show(initial); }
})();
