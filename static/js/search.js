/* The search box's type-ahead: suggestions from /search/suggest/ as an ARIA combobox (arrows to
   move, Enter to follow, Escape to close). Without this script the box is a plain search form. */
(function (d) {
  "use strict";
  var form = d.querySelector("form[data-suggest-url]");
  if (!form || !window.fetch) return;
  var input = form.querySelector("input[name=q]"), list = d.createElement("ul"), active = -1, timer, pending;
  list.id = "site-search-suggestions";
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Suggestions");
  list.hidden = true;
  form.appendChild(list);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");

  function options() { return list.querySelectorAll("[role=option]"); }
  function close() {
    list.hidden = true; active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }
  function highlight(index) {
    var all = options();
    if (!all.length) return;
    active = (index + all.length) % all.length;
    all.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", all[active].id);
  }
  function show(suggestions) {
    list.textContent = "";
    suggestions.forEach(function (s, i) {
      var item = d.createElement("li"), link = d.createElement("a"), kind = d.createElement("span");
      item.id = "site-search-suggestion-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.className = "suggestions__item suggestions__item--" + s.kind;
      link.href = s.url;
      link.tabIndex = -1;
      link.textContent = s.kind === "search" ? "Search for " + s.label : s.label;
      kind.className = "suggestions__kind";
      kind.textContent = { category: "Category", product: "Product", search: "Did you mean" }[s.kind] || "";
      link.appendChild(kind);
      item.appendChild(link);
      list.appendChild(item);
    });
    active = -1;
    list.hidden = !suggestions.length;
    input.setAttribute("aria-expanded", suggestions.length ? "true" : "false");
  }
  function ask() {
    var term = input.value.trim();
    if (pending) pending.abort();
    if (term.length < 2) { close(); return; }
    pending = new AbortController();
    fetch(form.getAttribute("data-suggest-url") + "?q=" + encodeURIComponent(term.slice(0, 200)),
          { signal: pending.signal, headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (body) { if (input.value.trim() === term) show(body.suggestions || []); })
      .catch(function () { /* aborted by the next keystroke, or offline: the form still searches */ });
  }
  input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(ask, 150); });
  input.addEventListener("keydown", function (e) {
    if (list.hidden) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); highlight(active + (e.key === "ArrowDown" ? 1 : -1)); }
    else if (e.key === "Escape") { e.preventDefault(); close(); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); window.location.assign(options()[active].querySelector("a").href); }
  });
  input.addEventListener("blur", function () { setTimeout(close, 150); });
})(document);
