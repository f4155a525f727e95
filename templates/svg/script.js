// The flame graph's browser script (profile). Frames are <g> elements under #frames, written
// depth-first with parents first; each holds a <title> "NAME (COUNT UNIT, PCT%…)", a <rect> and a
// <text> label. Names come from the profiled system: they are only ever read and written through
// textContent, never parsed as markup.
"use strict";
(function () {
  var SEARCH_FILL = "rgb(230,0,230)";
  var svg, framesGroup, details, unzoomButton, searchButton, icButton, matchedText;
  var frames = [];
  var xpad, fontSize, fontWidth, nameType, fullWidth;
  var zoomed = null;
  var currentSearch = null;
  var ignoreCase = false;

  function frameName(title) {
    var cut = title.lastIndexOf(" (");
    return cut < 0 ? title : title.slice(0, cut);
  }

  function frameCount(title) {
    var cut = title.lastIndexOf(" (");
    var match = /^ \(([0-9,.]+)/.exec(title.slice(cut));
    return match ? Number(match[1].replace(/,/g, "")) : 0;
  }

  function init() {
    svg = document.documentElement;
    framesGroup = document.getElementById("frames");
    details = document.getElementById("details");
    unzoomButton = document.getElementById("unzoom");
    searchButton = document.getElementById("search");
    icButton = document.getElementById("ignorecase");
    matchedText = document.getElementById("matched");
    xpad = Number(framesGroup.getAttribute("data-xpad"));
    fontSize = Number(framesGroup.getAttribute("data-font-size"));
    fontWidth = Number(framesGroup.getAttribute("data-font-width"));
    nameType = framesGroup.getAttribute("data-name-type") || "";
    var inverted = framesGroup.getAttribute("data-inverted") === "1";
    fullWidth = Number(svg.getAttribute("width")) - 2 * xpad;
    var parents = [];
    var groups = framesGroup.children;
    for (var i = 0; i < groups.length; i++) {
      var g = groups[i];
      var rect = g.querySelector("rect");
      var text = g.querySelector("text");
      var titleText = g.querySelector("title").textContent;
      var y = Number(rect.getAttribute("y"));
      var level = inverted ? y : -y;
      while (parents.length > 0 && parents[parents.length - 1].level >= level) parents.pop();
      var frame = {
        index: i, g: g, rect: rect, text: text, title: titleText,
        name: frameName(titleText), count: frameCount(titleText),
        x: Number(rect.getAttribute("x")), width: Number(rect.getAttribute("width")),
        fill: rect.getAttribute("fill"), level: level,
        parent: parents.length > 0 ? parents[parents.length - 1] : null, end: i + 1,
      };
      for (var p = 0; p < parents.length; p++) parents[p].end = i + 1;
      frames.push(frame);
      parents.push(frame);
      g.setAttribute("data-index", String(i));
    }
    framesGroup.addEventListener("click", function (e) {
      var frame = frameOf(e.target);
      if (frame) zoom(frame, true);
    });
    framesGroup.addEventListener("mouseover", function (e) {
      var frame = frameOf(e.target);
      if (frame) details.textContent = nameType + " " + frame.title;
    });
    framesGroup.addEventListener("mouseout", function () { details.textContent = " "; });
    unzoomButton.addEventListener("click", function () { unzoom(true); });
    searchButton.addEventListener("click", searchPrompt);
    icButton.addEventListener("click", function () {
      ignoreCase = !ignoreCase;
      icButton.classList.toggle("show", ignoreCase);
      if (currentSearch !== null) search(currentSearch);
    });
    window.addEventListener("keydown", function (e) {
      if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) {
        e.preventDefault();
        searchPrompt();
      } else if (e.key === "Escape") {
        resetSearch();
      }
    });
    var params = new URLSearchParams(window.location.search);
    var z = params.get("x");
    if (z !== null && frames[Number(z)]) zoom(frames[Number(z)], false);
    var s = params.get("s");
    if (s) search(s);
  }

  function frameOf(target) {
    var g = target && target.closest ? target.closest("#frames > g") : null;
    return g ? frames[Number(g.getAttribute("data-index"))] : null;
  }

  function updateUrl() {
    try {
      var params = new URLSearchParams(window.location.search);
      if (zoomed && zoomed.index > 0) params.set("x", String(zoomed.index)); else params.delete("x");
      if (currentSearch) params.set("s", currentSearch); else params.delete("s");
      var query = params.toString();
      history.replaceState(null, "", window.location.pathname + (query ? "?" + query : "") + window.location.hash);
    } catch (e) {
      // A sandboxed or file view may refuse to change its URL; the graph works without it.
    }
  }

  function fitLabel(frame, width) {
    var chars = Math.floor(width / (fontSize * fontWidth));
    var label = "";
    if (chars >= 3) label = chars < frame.name.length ? frame.name.slice(0, chars - 2) + ".." : frame.name;
    frame.text.textContent = label;
  }

  function place(frame, x, width) {
    frame.rect.setAttribute("x", String(x));
    frame.rect.setAttribute("width", String(width));
    frame.text.setAttribute("x", String(x + 3));
    fitLabel(frame, width);
  }

  function zoom(target, remember) {
    if (target.index === 0) { unzoom(remember); return; }
    zoomed = target;
    var ratio = fullWidth / target.width;
    var ancestors = {};
    for (var a = target.parent; a; a = a.parent) ancestors[a.index] = true;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      f.g.classList.remove("parent");
      if (i >= target.index && i < target.end) {
        f.g.classList.remove("hide");
        place(f, (f.x - target.x) * ratio + xpad, f.width * ratio);
      } else if (ancestors[i]) {
        f.g.classList.remove("hide");
        f.g.classList.add("parent");
        place(f, xpad, fullWidth);
      } else {
        f.g.classList.add("hide");
      }
    }
    unzoomButton.classList.remove("hide");
    if (currentSearch !== null) search(currentSearch);
    if (remember) updateUrl();
  }

  function unzoom(remember) {
    zoomed = null;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      f.g.classList.remove("parent");
      f.g.classList.remove("hide");
      place(f, f.x, f.width);
    }
    unzoomButton.classList.add("hide");
    if (currentSearch !== null) search(currentSearch);
    if (remember) updateUrl();
  }

  function searchPrompt() {
    if (currentSearch !== null) {
      resetSearch();
      return;
    }
    var term = window.prompt("Enter a search term (regexp allowed, eg: ^ext4_)" + (ignoreCase ? ", ignoring case" : "") + "\nPress Ctrl-i to toggle case sensitivity", "");
    if (term) search(term);
  }

  function resetSearch() {
    currentSearch = null;
    for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute("fill", frames[i].fill);
    searchButton.classList.remove("show");
    searchButton.textContent = "Search";
    matchedText.textContent = " ";
    updateUrl();
  }

  function search(term) {
    var re;
    try {
      re = new RegExp(term, ignoreCase ? "i" : "");
    } catch (e) {
      matchedText.textContent = "Invalid regex";
      return;
    }
    currentSearch = term;
    var total = frames.length > 0 ? frames[0].count : 0;
    var matched = 0;
    var matchedFrames = 0;
    var coveredUntil = -1;
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (i > 0 && re.test(f.name)) {
        f.rect.setAttribute("fill", SEARCH_FILL);
        matchedFrames++;
        // A match inside a matched frame is already counted through its ancestor.
        if (i >= coveredUntil) {
          matched += f.count;
          coveredUntil = f.end;
        }
      } else {
        f.rect.setAttribute("fill", f.fill);
      }
    }
    searchButton.classList.add("show");
    searchButton.textContent = "Reset Search";
    var pct = total > 0 ? (100 * matched) / total : 0;
    matchedText.textContent = "Matched: " + (pct === 100 ? "100" : pct.toFixed(1)) + "%";
    matchedText.setAttribute("data-frames", String(matchedFrames));
    updateUrl();
  }

  window.addEventListener("load", init);
})();
