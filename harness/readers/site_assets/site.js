/* The site's one script: reads window.MASKCOMPAT_SUMMARY (data.js) and draws the matrix, the upgrade lookup,
   the latency charts and the transitions. Plain DOM, no framework, no network: it works from file://. */
(function () {
  "use strict";

  var S = window.MASKCOMPAT_SUMMARY;
  var MARKS = { ok: "ok", fail: "✗", mismatch: "≠", crash: "crash", timeout: "timeout", skip: "skip" };
  var MASKED_LSTM = "latency/lstm:masked:predict_on_batch";
  var BACKENDS = ["tensorflow", "jax", "torch"];

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function option(value, text) { return el("option", { value: value, text: text }); }

  function uniq(items) {
    var seen = {};
    return items.filter(function (x) { if (seen[x]) return false; seen[x] = true; return true; });
  }

  function byOrder(a, b) { return S.cells[a].order - S.cells[b].order; }

  var labelCount = {};

  /* A cell's label, with its family where another family has a cell of the same label (Keras 3.15.1 on jax, torch). */
  function cellName(id) {
    var c = S.cells[id];
    if (!c) return id;
    return labelCount[c.label] > 1 ? c.label + " (" + c.family + ")" : c.label;
  }

  function fullName(id) { var c = S.cells[id]; return c ? c.family + ": " + c.label : id; }

  /* The entry text of a verdict, as report.md writes it: `ok`, `✗ load`, `≠ equivalence`, `skip`, ... */
  function entryText(v) {
    if (["ok", "stale", "not run", "skip"].indexOf(v.outcome) >= 0) return v.outcome;
    var mark = MARKS[v.outcome] || v.outcome;
    return v.failed_stage ? mark + " " + v.failed_stage : mark;
  }

  /* The colour class of an entry text: its mark decides (`✗ ...` is a failure wherever it comes from). */
  function outcomeClass(text) {
    var word = text.split(" ")[0];
    var map = { ok: "ok", "✗": "fail", "≠": "mismatch", crash: "crash", timeout: "timeout", skip: "skip",
      stale: "stale", not: text === "not run" ? "notrun" : "notsaved", file: "notsaved" };
    return "o-" + (map[word] || "none");
  }

  function packagesText(p) {
    return Object.keys(p || {}).sort().map(function (k) { return k + "==" + p[k]; }).join(", ");
  }

  function machineName(id) {
    var m = S.machines.filter(function (x) { return x.id === id; })[0];
    return m && m.description && m.description !== id ? id + " (" + m.description + ")" : id;
  }

  /* ---------------------------------------------------------------- header */

  function header() {
    var g = S.generated;
    var parts = ["Generated " + g.at + " by ", el("code", { text: g.command }),
      " (harness " + g.harness_version + (g.commit ? ", commit " + g.commit.slice(0, 12) : "") + ")"];
    var spans = S.machines.map(function (m) {
      var when = m.measured_from ? ", measured " + m.measured_from.slice(0, 10) +
        (m.measured_to && m.measured_to.slice(0, 10) !== m.measured_from.slice(0, 10) ? " to " + m.measured_to.slice(0, 10) : "") : "";
      return machineName(m.id) + when;
    });
    if (spans.length) parts.push(" from " + spans.join("; "));
    parts.push(". " + Object.keys(S.cells).length + " cells, " + Object.keys(S.cases).length + " cases, " +
      S.verdicts.length + " verdicts.");
    var p = $("generated");
    parts.forEach(function (x) { p.appendChild(typeof x === "string" ? document.createTextNode(x) : x); });
  }

  /* ---------------------------------------------------------------- matrix */

  var verdictIndex = {};  // machine -> scenario -> {cells: {id: {case: verdict}}, cases: [case]}

  function indexVerdicts() {
    S.verdicts.forEach(function (v) {
      var scen = S.cases[v.case].scenario;
      var m = verdictIndex[v.machine] = verdictIndex[v.machine] || {};
      var s = m[scen] = m[scen] || { cells: {}, cases: {} };
      (s.cells[v.cell_id] = s.cells[v.cell_id] || {})[v.case] = v;
      s.cases[v.case] = true;
    });
  }

  function scenariosOf(machine) {
    var present = verdictIndex[machine] || {};
    return uniq(Object.keys(S.cases).map(function (k) { return S.cases[k].scenario; }))
      .filter(function (s) { return present[s]; });
  }

  function fillMatrixFilters() {
    var machines = Object.keys(verdictIndex);
    machines.sort(function (a, b) { return Object.keys(verdictIndex[b]).length - Object.keys(verdictIndex[a]).length || (a < b ? -1 : 1); });
    machines.forEach(function (m) { $("f-machine").appendChild(option(m, machineName(m))); });
    $("f-family").appendChild(option("", "all families"));
    uniq(Object.keys(S.cells).sort(byOrder).map(function (id) { return S.cells[id].family; }))
      .forEach(function (f) { $("f-family").appendChild(option(f, f)); });
    fillScenarios();
  }

  function fillScenarios() {
    var sel = $("f-scenario"), keep = sel.value;
    sel.textContent = "";
    var scens = scenariosOf($("f-machine").value);
    scens.forEach(function (s) {
      var anyCase = Object.keys(S.cases).filter(function (k) { return S.cases[k].scenario === s; })[0];
      sel.appendChild(option(s, s + " — " + S.cases[anyCase].scenario_title));
    });
    if (scens.length > 1) sel.appendChild(option("*", "all scenarios"));
    if (keep && (scens.indexOf(keep) >= 0 || keep === "*")) sel.value = keep;
    else if (scens.indexOf("masking-lstm") >= 0) sel.value = "masking-lstm";
  }

  function matrixView() {
    var machine = $("f-machine").value, scen = $("f-scenario").value;
    var family = $("f-family").value, version = $("f-version").value.trim().toLowerCase();
    var caseText = $("f-case").value.trim().toLowerCase(), failing = $("f-failing").checked;
    var data = verdictIndex[machine] || {};
    var scens = scen === "*" ? Object.keys(data) : [scen];
    var cells = {}, cases = [];
    scens.forEach(function (s) {
      if (!data[s]) return;
      Object.keys(data[s].cells).forEach(function (id) { cells[id] = Object.assign(cells[id] || {}, data[s].cells[id]); });
    });
    Object.keys(S.cases).forEach(function (k) {
      if (scens.indexOf(S.cases[k].scenario) >= 0 && data[S.cases[k].scenario] && data[S.cases[k].scenario].cases[k]) cases.push(k);
    });
    cases = cases.filter(function (k) { return !caseText || k.toLowerCase().indexOf(caseText) >= 0; });
    var rows = Object.keys(cells).sort(byOrder).filter(function (id) {
      var c = S.cells[id];
      if (family && c.family !== family) return false;
      if (version) {
        var hay = [id, c.label, c.family, c.tensorflow, c.keras, c.tf_keras, c.python, c.backend].join(" ").toLowerCase();
        if (version.split(/\s+/).some(function (w) { return hay.indexOf(w) < 0; })) return false;
      }
      return true;
    });
    if (failing) {
      rows = rows.filter(function (id) {
        return cases.some(function (k) { var v = cells[id][k]; return v && v.outcome !== "ok"; });
      });
      cases = cases.filter(function (k) {
        return rows.some(function (id) { var v = cells[id][k]; return v && v.outcome !== "ok"; });
      });
    }
    return { machine: machine, cells: cells, rows: rows, cases: cases };
  }

  function tooltip(v) {
    var lines = [fullName(v.cell_id), v.case, "entry: " + entryText(v)];
    if (v.error_signature) lines.push("error: " + v.error_signature);
    lines.push("measured at: " + (v.measured_at || "unknown") + (v.measured_by ? " by " + v.measured_by : ""));
    lines.push("packages: " + (packagesText(v.packages) || "none recorded"));
    lines.push("reproduce: " + v.reproduce);
    return lines.join("\n");
  }

  function entryCell(v) {
    if (!v) return el("td", { className: "v o-none", text: "—", title: "no verdict for this cell and case" });
    var text = entryText(v);
    var td = el("td", { className: "v " + outcomeClass(text), text: text, title: tooltip(v), tabindex: "0" });
    td.dataset.cell = v.cell_id;
    td.dataset.case = v.case;
    return td;
  }

  function cellHeader(id) {
    var c = S.cells[id];
    return el("th", { scope: "row", title: id + " (Python " + c.python + ", " + c.backend + " backend)", text: c.label });
  }

  function drawMatrix() {
    var view = matrixView(), table = $("matrix-table"), transpose = $("f-transpose").checked;
    table.textContent = "";
    var head = el("tr"), body = el("tbody");
    if (!transpose) {
      head.appendChild(el("th", { text: "family" }));
      head.appendChild(el("th", { text: "cell" }));
      view.cases.forEach(function (k) { head.appendChild(el("th", { className: "col", scope: "col", title: k, text: S.cases[k].case_id })); });
      view.rows.forEach(function (id) {
        var tr = el("tr", { className: "cell-row" });
        tr.dataset.cell = id;
        tr.dataset.family = S.cells[id].family;
        tr.appendChild(el("th", { className: "family", text: S.cells[id].family }));
        tr.appendChild(cellHeader(id));
        view.cases.forEach(function (k) { tr.appendChild(entryCell(view.cells[id][k])); });
        body.appendChild(tr);
      });
    } else {
      head.appendChild(el("th", { text: "case" }));
      view.rows.forEach(function (id) {
        head.appendChild(el("th", { className: "col", scope: "col", title: fullName(id) + " (" + id + ")", text: cellName(id) }));
      });
      view.cases.forEach(function (k) {
        var tr = el("tr", { className: "case-row" });
        tr.dataset.case = k;
        tr.appendChild(el("th", { scope: "row", title: S.cases[k].scenario_title, text: k }));
        view.rows.forEach(function (id) { tr.appendChild(entryCell(view.cells[id][k])); });
        body.appendChild(tr);
      });
    }
    table.appendChild(el("thead", {}, [head]));
    table.appendChild(body);
    var shown = 0, counts = {};
    view.rows.forEach(function (id) {
      view.cases.forEach(function (k) {
        var v = view.cells[id][k];
        if (!v) return;
        shown += 1;
        counts[v.outcome] = (counts[v.outcome] || 0) + 1;
      });
    });
    var tally = Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a]; })
      .map(function (o) { return counts[o] + " " + o; }).join(", ");
    $("matrix-count").textContent = view.rows.length + " cells × " + view.cases.length + " cases on " + view.machine +
      ": " + shown + " entries" + (tally ? " (" + tally + ")" : "") + ".";
    drawTransitions(view);
  }

  function showDetail(td) {
    var v = ((verdictIndex[$("f-machine").value] || {})[S.cases[td.dataset.case].scenario] || { cells: {} })
      .cells[td.dataset.cell][td.dataset.case];
    var old = document.querySelector("td.v.selected");
    if (old) old.classList.remove("selected");
    td.classList.add("selected");
    var box = $("detail"), dl = el("dl");
    function row(k, node) { dl.appendChild(el("dt", { text: k })); dl.appendChild(el("dd", {}, [node])); }
    row("cell", document.createTextNode(fullName(v.cell_id) + " (" + v.cell_id + ")"));
    row("case", document.createTextNode(v.case + " — " + S.cases[v.case].scenario_title));
    row("entry", el("span", { className: "pill " + outcomeClass(entryText(v)), text: entryText(v) }));
    if (v.error_type || v.error_signature) row("error", document.createTextNode((v.error_type || "") + (v.error_signature ? ": " + v.error_signature : "")));
    row("measured at", document.createTextNode((v.measured_at || "unknown") + " on " + v.machine));
    if (v.measured_by) row("measured by", document.createTextNode(v.measured_by + (v.harness_version ? ", harness " + v.harness_version : "") + (v.harness_commit ? " @ " + v.harness_commit.slice(0, 12) : "")));
    row("packages", document.createTextNode(packagesText(v.packages) || "none recorded"));
    row("reproduce", el("code", { text: v.reproduce }));
    box.textContent = "";
    box.appendChild(el("h3", { text: "Entry" }));
    box.appendChild(dl);
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function legend() {
    var items = [["ok", "ok: every stage passed"], ["✗ load", "✗ stage: failed there"],
      ["≠ equivalence", "≠ stage: ran, outputs differ"], ["skip", "skip: does not apply"], ["crash x", "crash"],
      ["timeout x", "timeout"], ["stale", "stale: measured by older code or pins"], ["not run", "not run"]];
    items.forEach(function (it) {
      $("legend").appendChild(el("li", {}, [el("span", { className: "swatch " + outcomeClass(it[0]) }), it[1]]));
    });
  }

  /* ---------------------------------------------------------------- upgrade lookup */

  var pairIndex = {};  // machine -> saved_by -> loaded_by -> entries
  var fixIndex = {};  // machine -> saved_by -> loaded_by -> {source index: route}

  function indexPairs() {
    S.upgrade.pairs.forEach(function (p) {
      var m = pairIndex[p.machine] = pairIndex[p.machine] || {};
      (m[p.saved_by] = m[p.saved_by] || {})[p.loaded_by] = p.entries;
      var f = fixIndex[p.machine] = fixIndex[p.machine] || {};
      (f[p.saved_by] = f[p.saved_by] || {})[p.loaded_by] = p.fix || {};  // failing source -> the route that works
    });
  }

  function fillCells(sel, ids, keep) {
    sel.textContent = "";
    ids.sort(byOrder).forEach(function (id) { sel.appendChild(option(id, fullName(id))); });
    if (keep && ids.indexOf(keep) >= 0) sel.value = keep;
  }

  function fillUpgrade() {
    var machines = Object.keys(pairIndex).sort();
    machines.forEach(function (m) { $("u-machine").appendChild(option(m, machineName(m))); });
    $("u-machine-label").hidden = machines.length < 2;
    fillUpgradeCells(true);
  }

  function fillUpgradeCells(first) {
    var m = pairIndex[$("u-machine").value] || {};
    var savers = Object.keys(m), loaders = uniq([].concat.apply([], savers.map(function (s) { return Object.keys(m[s]); })));
    fillCells($("u-saved"), savers, $("u-saved").value);
    fillCells($("u-loaded"), loaders, $("u-loaded").value);
    if (first && savers.length) {
      // Start from a question people ask: the oldest Keras 3 release's files in the newest one.
      // (loaders of its own family and Python, newest last; the selects hold cells in version order).
      var k3 = savers.filter(function (id) { return S.cells[id].keras_flavor === "keras3"; });
      var saver = (k3.length ? k3 : savers)[0];
      var kin = loaders.filter(function (id) {
        return S.cells[id].family === S.cells[saver].family && S.cells[id].python === S.cells[saver].python;
      });
      $("u-saved").value = saver;
      $("u-loaded").value = (kin.length ? kin : loaders)[(kin.length ? kin : loaders).length - 1];
    }
  }

  var PHRASES = [
    [/^✗ (.+)$/, "fail at $1", "fails at $1"],
    [/^≠ (.+)$/, "load but give different outputs at $1", "loads but gives different outputs at $1"],
    [/^crash (.+)$/, "crash the process at $1", "crashes the process at $1"],
    [/^timeout (.+)$/, "time out at $1", "times out at $1"],
    [/^✗$/, "fail", "fails"], [/^≠$/, "give different outputs", "gives different outputs"],
    [/^skip (.+)$/, "are skipped at $1", "is skipped at $1"], [/^skip$/, "are skipped", "is skipped"], [/^stale$/, "have stale results", "has a stale result"],
    [/^not run$/, "were not run", "was not run"],
  ];

  function phrase(text, n) {
    for (var i = 0; i < PHRASES.length; i++) {
      if (PHRASES[i][0].test(text)) return n + " " + text.replace(PHRASES[i][0], PHRASES[i][n === 1 ? 2 : 1]);
    }
    return n + " " + text;
  }

  var UNSAVED = ["not saved", "file missing"];

  /* The answer for one pair, as numbers and a sentence; the browser test reads both. */
  function upgradeAnswer(machine, saved, loaded) {
    var entries = ((pairIndex[machine] || {})[saved] || {})[loaded];
    var a = cellName(saved), b = cellName(loaded);
    if (!entries) return { sentence: "No file saved by " + a + " was loaded by " + b + " on " + machine + ".", groups: [], files: 0, ok: 0 };
    var groups = Object.keys(entries).map(function (t) { return { text: t, sources: entries[t] }; });
    var files = 0, ok = 0, unsaved = 0;
    groups.forEach(function (g) {
      if (UNSAVED.indexOf(g.text) >= 0) unsaved += g.sources.length;
      else files += g.sources.length;
      if (g.text === "ok") ok = g.sources.length;
    });
    var bad = groups.filter(function (g) { return g.text !== "ok" && UNSAVED.indexOf(g.text) < 0; })
      .sort(function (x, y) { return y.sources.length - x.sources.length || (x.text < y.text ? -1 : 1); });
    var fix = ((fixIndex[machine] || {})[saved] || {})[loaded] || {};
    var fixed = 0;
    bad.forEach(function (g) { g.sources.forEach(function (i) { if (fix[i]) fixed += 1; }); });
    if (files === 0) {
      return { sentence: "None of the " + unsaved + " cases could be saved by " + a + ", so " + b + " has no file of it to load.",
        groups: groups, files: 0, ok: 0, unsaved: unsaved, fixed: 0 };
    }
    var sentence = "Of " + files + " file" + (files === 1 ? "" : "s") + " saved by " + a + ", " + b +
      " loads and predicts the same for " + (ok === files && files > 1 ? "all " : "") + ok;
    if (bad.length) sentence += "; " + bad.map(function (g) { return phrase(g.text, g.sources.length); }).join(", ");
    sentence += ".";
    if (bad.length) sentence += " A measured fix carries " + fixed + " of the " + (files - ok) + " that do not.";
    if (unsaved) sentence += " " + unsaved + " more case" + (unsaved === 1 ? "" : "s") + " could not be saved by " + a + ".";
    var unsavedGroups = groups.filter(function (g) { return UNSAVED.indexOf(g.text) >= 0; });
    var okGroups = groups.filter(function (g) { return g.text === "ok"; });
    return { sentence: sentence, groups: bad.concat(unsavedGroups, okGroups), files: files, ok: ok, unsaved: unsaved,
      fixed: fixed, fix: fix };
  }

  /* What to do for one failing file of a pair: the route that works there by the rows, and its command. */
  function fixText(route, loaded) {
    var how = (S.upgrade.routes || {})[route];
    return how ? "fix: " + route + " — " + how.replace("RELEASE", loaded) : "";
  }

  function causeSentence(text) {
    var id = text.split(" · ")[1];
    var c = id && (S.cause_catalog || {})[id];
    return c ? c.sentence : "";
  }

  function drawUpgrade() {
    var machine = $("u-machine").value, saved = $("u-saved").value, loaded = $("u-loaded").value;
    var box = $("u-answer"), groups = $("u-groups");
    groups.textContent = "";
    if (!saved || !loaded) {
      box.className = "answer none";
      box.textContent = "This summary has no upgrade measurements.";
      return;
    }
    var ans = upgradeAnswer(machine, saved, loaded);
    box.textContent = ans.sentence;
    box.className = "answer" + (ans.files === 0 ? " none" : ans.ok < ans.files ? " bad" : "");
    box.dataset.files = ans.files;
    box.dataset.ok = ans.ok;
    box.dataset.fixed = ans.fixed;
    var query = $("u-filter").value.trim().toLowerCase();  // a layer's or a kind's name: only the files that match
    ans.groups.forEach(function (g) {
      var items = g.sources.map(function (i) {
        return { i: i, kind: (S.upgrade.kinds || [])[i] || S.upgrade.sources[i], source: S.upgrade.sources[i] };
      }).filter(function (it) {
        return !query || (it.kind + " " + it.source).toLowerCase().indexOf(query) >= 0;
      }).sort(function (x, y) { return x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0; });
      if (!items.length) return;
      var why = causeSentence(g.text);
      var div = el("div", { className: "group" }, [
        el("h3", {}, [el("span", { className: "pill " + outcomeClass(g.text), text: g.text }),
          items.length + " file" + (items.length === 1 ? "" : "s")]),
      ].concat(why ? [el("p", { className: "why", text: why })] : []).concat([
        el("ul", {}, items.map(function (it) {
          var route = (ans.fix || {})[it.i];
          var li = el("li", {}, [it.kind.replace(/`/g, ""), " ", el("code", { text: it.source })].concat(
            route ? [el("div", { className: "fix", text: fixText(route, loaded) })] : []));
          li.dataset.source = it.source;
          if (route) li.dataset.fix = route;
          return li;
        })),
      ]));
      div.dataset.entry = g.text;
      groups.appendChild(div);
    });
  }

  /* ---------------------------------------------------------------- latency charts */

  function niceStep(max) {
    var raw = max / 5, pow = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / pow;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
  }

  function tick(v, step) { return step >= 1 ? v.toFixed(0) : v.toFixed(Math.ceil(-Math.log10(step))); }

  function fmt(ms) { return ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toPrecision(2); }

  /* One chart as an SVG string: a row per cell, the figure as a dot and its CI as a line. */
  function chartSvg(recs, title) {
    var labelW = 260, plotW = 460, rowH = 20, top = 8, axisH = 34, width = labelW + plotW + 70;
    var height = top + recs.length * rowH + axisH;
    var max = 0;
    recs.forEach(function (r) {
      if (r.ms != null) max = Math.max(max, r.ms, r.ci_ms ? r.ci_ms[1] : 0);
    });
    max = max || 1;
    var step = niceStep(max), end = Math.ceil(max / step) * step;
    function x(v) { return labelW + (v / end) * plotW; }
    var out = ['<svg viewBox="0 0 ' + width + " " + height + '" width="' + width + '" height="' + height +
      '" role="img" aria-label="' + esc(title) + '"><title>' + esc(title) + "</title>"];
    for (var i = 0; i * step <= end + step / 2; i++) {
      var t = i * step;
      out.push('<line class="grid" x1="' + x(t) + '" x2="' + x(t) + '" y1="' + top + '" y2="' + (height - axisH) + '"/>');
      out.push('<text x="' + x(t) + '" y="' + (height - axisH + 14) + '" text-anchor="middle">' + esc(tick(t, step)) + "</text>");
    }
    out.push('<text x="' + (labelW + plotW / 2) + '" y="' + (height - 4) + '" text-anchor="middle">ms per call (corrected), 95% CI</text>');
    recs.forEach(function (r, i) {
      var y = top + i * rowH + rowH / 2, name = S.cells[r.cell_id].label;  // the chart names the backend
      out.push('<g class="row" data-cell="' + esc(r.cell_id) + '"><title>' + esc(fullName(r.cell_id) + ": " +
        (r.ms == null ? "no figure" : fmt(r.ms) + " ms" + (r.ci_ms ? " [" + fmt(r.ci_ms[0]) + ", " + fmt(r.ci_ms[1]) + "]" : "") +
        (r.masked_over_unmasked != null ? ", masked/unmasked " + r.masked_over_unmasked.toFixed(2) : "") +
        (r.unstable ? " (unstable)" : "")) + (r.measured_at ? "; measured " + r.measured_at : "")) + "</title>");
      out.push('<text x="' + (labelW - 8) + '" y="' + (y + 4) + '" text-anchor="end">' + esc(name) + "</text>");
      if (r.ms == null) {
        out.push('<text class="none" x="' + (labelW + 4) + '" y="' + (y + 4) + '">no figure</text>');
      } else {
        if (r.ci_ms) out.push('<line class="ci" x1="' + x(r.ci_ms[0]) + '" x2="' + x(r.ci_ms[1]) + '" y1="' + y + '" y2="' + y + '"/>');
        out.push('<circle class="dot' + (r.unstable ? " unstable" : "") + '" cx="' + x(r.ms) + '" cy="' + y + '" r="4"/>');
        var right = r.ci_ms ? Math.max(r.ci_ms[1], r.ms) : r.ms;
        out.push('<text x="' + (x(right) + 6) + '" y="' + (y + 4) + '">' + esc(fmt(r.ms) + (r.unstable ? " unstable" : "")) + "</text>");
      }
      out.push("</g>");
    });
    out.push("</svg>");
    return out.join("");
  }

  function fillLatency() {
    var cases = uniq(S.latency.map(function (r) { return r.case; }));
    cases.sort(function (a, b) { return (a === MASKED_LSTM ? -1 : 0) - (b === MASKED_LSTM ? -1 : 0) || (a < b ? -1 : 1); });
    cases.forEach(function (k) { $("l-case").appendChild(option(k, k === MASKED_LSTM ? k + " (masked LSTM)" : k)); });
  }

  function drawLatency() {
    var box = $("latency-charts"), chosen = $("l-case").value;
    box.textContent = "";
    var groups = {};
    S.latency.forEach(function (r) {
      if (r.case !== chosen || !S.cells[r.cell_id]) return;
      var key = r.machine + "\u0000" + r.device + "\u0000" + S.cells[r.cell_id].backend;
      (groups[key] = groups[key] || []).push(r);
    });
    var keys = Object.keys(groups).sort(function (a, b) {
      var pa = a.split("\u0000"), pb = b.split("\u0000");
      return pa[0] < pb[0] ? -1 : pa[0] > pb[0] ? 1 : pa[1] < pb[1] ? -1 : pa[1] > pb[1] ? 1 :
        BACKENDS.indexOf(pa[2]) - BACKENDS.indexOf(pb[2]);
    });
    if (!keys.length) { box.appendChild(el("p", { className: "count", text: "This summary has no latency figures." })); return; }
    keys.forEach(function (key) {
      var p = key.split("\u0000"), recs = groups[key].sort(function (a, b) { return byOrder(a.cell_id, b.cell_id); });
      var title = chosen + ": " + p[2] + " backend, " + p[1] + " on " + p[0];
      var fig = el("figure", { className: "chart" });
      fig.dataset.backend = p[2];
      fig.appendChild(el("h3", { text: p[2] + " backend — " + p[1] + " on " + machineName(p[0]) }));
      var holder = el("div");
      holder.innerHTML = chartSvg(recs, title);  // the HTML parser puts <svg> in the SVG namespace
      fig.appendChild(holder);
      box.appendChild(fig);
    });
  }

  /* ---------------------------------------------------------------- cost curves (the latency sweep) */

  var CURVE_MODELS = ["masked", "unmasked", "real-work"];
  var PAD_POINT = { timesteps: 512, batch: 32, units: 64 };

  function fillCurves() {
    var pts = S.sweep || [];
    $("curves").hidden = !pts.length;
    if (!pts.length) return;
    uniq(pts.map(function (p) { return p.machine + "\u0000" + p.device + "\u0000" + p.cell_id; })).sort().forEach(function (k) {
      var p = k.split("\u0000");
      $("c-where").appendChild(option(k, fullName(p[2]) + " — " + p[1] + " on " + machineName(p[0])));
    });
    uniq(pts.map(function (p) { return p.rnn; })).forEach(function (r) { $("c-rnn").appendChild(option(r, r.toUpperCase())); });
    uniq(pts.filter(function (p) { return p.pad === 0.5; }).map(function (p) { return p.batch + "," + p.units; }))
      .sort(function (a, b) { var x = a.split(",").map(Number), y = b.split(",").map(Number); return x[1] - y[1] || x[0] - y[0]; })
      .forEach(function (k) { var p = k.split(","); $("c-shape").appendChild(option(k, "batch " + p[0] + ", " + p[1] + " units")); });
  }

  /* The series of one chart: per model, [x, ms, low, high] sorted by x. */
  function curveSeries(where, rnn, axis, shape) {
    var w = where.split("\u0000"), bu = shape.split(",").map(Number), out = {};
    (S.sweep || []).forEach(function (p) {
      if (p.machine !== w[0] || p.device !== w[1] || p.cell_id !== w[2] || p.rnn !== rnn || p.ms == null) return;
      var on = axis === "timesteps" ? p.pad === 0.5 && p.batch === bu[0] && p.units === bu[1]
        : p.timesteps === PAD_POINT.timesteps && p.batch === PAD_POINT.batch && p.units === PAD_POINT.units;
      if (!on) return;
      (out[p.model] = out[p.model] || []).push([axis === "timesteps" ? p.timesteps : p.pad, p.ms,
        p.ci_ms ? p.ci_ms[0] : p.ms, p.ci_ms ? p.ci_ms[1] : p.ms]);
    });
    Object.keys(out).forEach(function (m) { out[m].sort(function (a, b) { return a[0] - b[0]; }); });
    return out;
  }

  function curveSvg(series, axis, title) {
    var W = 720, H = 360, L = 64, R = 130, T = 12, B = 40, all = [];
    CURVE_MODELS.forEach(function (m) { (series[m] || []).forEach(function (p) { all.push(p); }); });
    if (!all.length) return '<p class="count">No points for this choice.</p>';
    var logX = axis === "timesteps";
    var xs = all.map(function (p) { return p[0]; }), ys = [];
    all.forEach(function (p) { ys.push(p[2] > 0 ? p[2] : p[1], p[3]); });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.log10(Math.min.apply(null, ys.filter(function (v) { return v > 0; }))), y1 = Math.log10(Math.max.apply(null, ys));
    if (y1 - y0 < 0.3) { y0 -= 0.15; y1 += 0.15; }
    function fx(v) { var a = logX ? Math.log2(v) : v, b = logX ? Math.log2(x0) : x0, c = logX ? Math.log2(x1) : x1; return L + (c > b ? (a - b) / (c - b) : 0.5) * (W - L - R); }
    function fy(v) { return T + (1 - (Math.log10(v) - y0) / (y1 - y0)) * (H - T - B); }
    var out = ['<svg viewBox="0 0 ' + W + " " + H + '" width="' + W + '" height="' + H + '" role="img" aria-label="' + esc(title) + '"><title>' + esc(title) + "</title>"];
    for (var e = Math.floor(y0); e <= Math.ceil(y1); e++) {
      [1, 2, 5].forEach(function (m) {
        var v = m * Math.pow(10, e);
        if (Math.log10(v) < y0 || Math.log10(v) > y1) return;
        out.push('<line class="grid" x1="' + L + '" x2="' + (W - R) + '" y1="' + fy(v) + '" y2="' + fy(v) + '"/>');
        out.push('<text x="' + (L - 6) + '" y="' + (fy(v) + 4) + '" text-anchor="end">' + esc(fmt(v)) + "</text>");
      });
    }
    uniq(xs.map(String)).map(Number).forEach(function (v) {
      out.push('<text x="' + fx(v) + '" y="' + (H - B + 16) + '" text-anchor="middle">' + esc(axis === "pad" ? Math.round(v * 100) + "%" : String(v)) + "</text>");
    });
    out.push('<text x="' + ((L + W - R) / 2) + '" y="' + (H - 6) + '" text-anchor="middle">' + (axis === "pad" ? "padding fraction" : "timesteps (log scale)") + "</text>");
    out.push('<text x="12" y="' + ((T + H - B) / 2) + '" transform="rotate(-90 12 ' + ((T + H - B) / 2) + ')" text-anchor="middle">ms per batch (log scale)</text>');
    CURVE_MODELS.forEach(function (m, k) {
      var pts = series[m] || [];
      if (!pts.length) return;
      var cls = "series s" + k;
      out.push('<g class="' + cls + '" data-model="' + m + '"><polyline fill="none" points="' + pts.map(function (p) { return fx(p[0]) + "," + fy(p[1]); }).join(" ") + '"/>');
      pts.forEach(function (p) {
        out.push('<line class="ci" x1="' + fx(p[0]) + '" x2="' + fx(p[0]) + '" y1="' + fy(p[3]) + '" y2="' + fy(Math.max(p[2], 1e-9)) + '"/>');
        out.push('<circle cx="' + fx(p[0]) + '" cy="' + fy(p[1]) + '" r="3"><title>' + esc(m + ": " + fmt(p[1]) + " ms [" + fmt(p[2]) + ", " + fmt(p[3]) + "]") + "</title></circle>");
      });
      out.push('<text x="' + (W - R + 8) + '" y="' + (T + 14 + 16 * k) + '">' + esc(m) + "</text></g>");
    });
    out.push("</svg>");
    return out.join("");
  }

  function drawCurves() {
    if ($("curves").hidden) return;
    var where = $("c-where").value, rnn = $("c-rnn").value, axis = $("c-axis").value, shape = $("c-shape").value;
    $("c-shape-label").hidden = axis !== "timesteps";
    var series = curveSeries(where, rnn, axis, shape);
    $("c-chart").innerHTML = curveSvg(series, axis, rnn.toUpperCase() + " against " + axis);
    var box = $("c-answer"), m = series.masked || [], r = series["real-work"] || [];
    box.textContent = "";
    var half = function (s) { return s.filter(function (p) { return axis === "pad" ? p[0] === 0.5 : p[0] === PAD_POINT.timesteps; })[0]; };
    var a = half(m), b = half(r);
    if (a && b) {
      var ratio = a[1] / b[1];
      box.textContent = "At " + (axis === "pad" ? "50% padding" : PAD_POINT.timesteps + " steps") + ", masked " + rnn.toUpperCase() +
        " costs " + ratio.toFixed(2) + "× the real work: sorting by length would save " + Math.round((1 - 1 / ratio) * 100) + "%.";
      box.dataset.ratio = ratio;
    }
  }

  /* ---------------------------------------------------------------- transitions and bisects */

  function drawTransitions(view) {
    var table = $("transitions-table"), family = $("f-family").value, caseText = $("f-case").value.trim().toLowerCase();
    var scen = $("f-scenario").value;
    var recs = S.transitions.filter(function (t) {
      return t.machine === view.machine && (!family || t.family === family) &&
        (!caseText || t.case.toLowerCase().indexOf(caseText) >= 0) &&
        (scen === "*" || !S.cases[t.case] || S.cases[t.case].scenario === scen);
    });
    table.textContent = "";
    $("transitions-count").textContent = S.transitions.length ? recs.length + " of " + S.transitions.length + " shown." : "This summary has no transitions.";
    if (!recs.length) return;
    var head = el("tr", {}, ["case", "family", "verdict", "first bad", "first good", "fixed in (bisect)"].map(function (h) { return el("th", { text: h }); }));
    var body = el("tbody");
    recs.forEach(function (t) {
      body.appendChild(el("tr", {}, [el("td", {}, [el("code", { text: t.case })]), el("td", { text: t.family }),
        el("td", { text: t.verdict }), el("td", { text: t.first_bad ? cellName(t.first_bad) : "—" }),
        el("td", { text: t.first_good ? cellName(t.first_good) : "—" }), el("td", { text: t.fixed_in || "—" })]));
    });
    table.appendChild(el("thead", {}, [head]));
    table.appendChild(body);
  }

  function drawBisects() {
    if (!S.bisects.length) return;
    var box = $("bisects");
    box.appendChild(el("h3", { text: "Bisects" }));
    var ul = el("ul");
    S.bisects.forEach(function (b) {
      ul.appendChild(el("li", {}, [el("code", { text: b.case }), " along " + b.axis + " (" + b.kind + "): " + b.summary]));
    });
    box.appendChild(ul);
  }

  /* ---------------------------------------------------------------- kinds of model (the zoo) */

  var ZOO = "zoo/";

  /* The zoo's sources of one format: [source, index] by kind name (`zoo/cnn:.keras` -> kind `cnn`, format `.keras`). */
  function zooSources(fmt) {
    return S.upgrade.sources.map(function (s, i) { return [s, i]; }).filter(function (p) {
      return p[0].indexOf(ZOO) === 0 && p[0].slice(ZOO.length).split(":")[1] === fmt;
    }).sort(function (a, b) { return a[0] < b[0] ? -1 : 1; });
  }

  function zooMachine() {
    var best = null, most = -1;
    Object.keys(pairIndex).forEach(function (m) {
      var n = Object.keys(pairIndex[m]).length;
      if (n > most) { best = m; most = n; }
    });
    return best;
  }

  function fillKinds() {
    var m = pairIndex[zooMachine()] || {};
    var zoo = S.upgrade.sources.some(function (s) { return s.indexOf(ZOO) === 0; });
    $("kinds").hidden = !zoo;
    if (!zoo) return;
    var savers = Object.keys(m);
    fillCells($("k-saved"), savers, null);
    var k2 = savers.filter(function (id) { return S.cells[id].keras_flavor === "keras2"; }).sort(byOrder);
    if (k2.length) $("k-saved").value = k2[k2.length - 1];  // a question people ask: the newest Keras 2's files
    uniq(S.upgrade.sources.filter(function (s) { return s.indexOf(ZOO) === 0; })
      .map(function (s) { return s.slice(ZOO.length).split(":")[1]; }))
      .forEach(function (f) { $("k-format").appendChild(option(f, f)); });
  }

  /* The caniuse table for one saving cell and format: rows (kinds), columns (runs of loaders alike), entry texts. */
  function kindsTable(machine, saved, fmt, query) {
    var byLoader = (pairIndex[machine] || {})[saved] || {};
    var rows = zooSources(fmt).filter(function (p) {
      var name = ((S.upgrade.kinds || [])[p[1]] || "") + " " + p[0];
      return !query || name.toLowerCase().indexOf(query) >= 0;
    });
    var loaders = Object.keys(byLoader).sort(byOrder);
    var text = {};
    loaders.forEach(function (ld) {
      var t = text[ld] = {};
      Object.keys(byLoader[ld]).forEach(function (k) { byLoader[ld][k].forEach(function (i) { t[i] = k; }); });
    });
    var cols = [];
    loaders.forEach(function (ld) {
      var vector = rows.map(function (p) { return text[ld][p[1]] || "—"; });
      var last = cols[cols.length - 1];
      if (last && S.cells[last.ids[0]].family === S.cells[ld].family && last.vector.join("|") === vector.join("|")) last.ids.push(ld);
      else cols.push({ ids: [ld], vector: vector });
    });
    return { rows: rows, cols: cols };
  }

  function drawKinds() {
    if ($("kinds").hidden) return;
    var machine = zooMachine(), saved = $("k-saved").value, fmt = $("k-format").value;
    var query = $("k-filter").value.trim().toLowerCase();
    var t = kindsTable(machine, saved, fmt, query), table = $("k-table");
    table.textContent = "";
    var head = el("tr", {}, [el("th", { scope: "col", text: "kind of model" })]);
    t.cols.forEach(function (c) {
      var first = cellName(c.ids[0]), last = cellName(c.ids[c.ids.length - 1]);
      head.appendChild(el("th", { className: "col", scope: "col", title: c.ids.map(fullName).join("\n"),
        text: c.ids.length > 1 ? first + " … " + last + " (" + c.ids.length + ")" : first }));
    });
    table.appendChild(el("thead", {}, [head]));
    var body = el("tbody");
    var loads = 0;
    t.rows.forEach(function (p, r) {
      var tr = el("tr", {}, [el("th", { scope: "row", title: p[0], text: ((S.upgrade.kinds || [])[p[1]] || p[0]).replace(/`/g, "") })]);
      tr.dataset.source = p[0];
      var all = true;
      t.cols.forEach(function (c) {
        var v = c.vector[r], td = el("td", { className: "v " + outcomeClass(v), text: v.split(" · ")[0],
          title: v + (causeSentence(v) ? "\n" + causeSentence(v) : "") });
        td.dataset.entry = v;
        if (v !== "ok") all = false;
        tr.appendChild(td);
      });
      if (all) loads += 1;
      body.appendChild(tr);
    });
    table.appendChild(body);
    var box = $("k-answer");
    box.dataset.kinds = t.rows.length;
    box.dataset.everywhere = loads;
    box.textContent = t.rows.length ? "Of " + t.rows.length + " kinds saved by " + cellName(saved) + " as " + fmt + ", " +
      loads + " load and predict the same in every tested release; the columns merge releases that treat every kind alike."
      : "No kind of model matches.";
  }

  /* ---------------------------------------------------------------- wiring */

  function start() {
    if (!S) { $("no-data").hidden = false; return; }
    Object.keys(S.cells).forEach(function (id) { labelCount[S.cells[id].label] = (labelCount[S.cells[id].label] || 0) + 1; });
    header();
    legend();
    indexVerdicts();
    fillMatrixFilters();
    ["f-family", "f-scenario", "f-failing", "f-transpose"].forEach(function (id) { $(id).addEventListener("change", drawMatrix); });
    ["f-version", "f-case"].forEach(function (id) { $(id).addEventListener("input", drawMatrix); });
    $("f-machine").addEventListener("change", function () { fillScenarios(); drawMatrix(); });
    $("matrix-filters").addEventListener("submit", function (e) { e.preventDefault(); });
    $("matrix-table").addEventListener("click", function (e) {
      var td = e.target.closest("td.v");
      if (td && td.dataset.case) showDetail(td);
    });
    $("matrix-table").addEventListener("keydown", function (e) {
      var td = e.target.closest("td.v");
      if (td && td.dataset.case && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); showDetail(td); }
    });
    drawMatrix();
    indexPairs();
    fillUpgrade();
    $("u-machine").addEventListener("change", function () { fillUpgradeCells(false); drawUpgrade(); });
    ["u-saved", "u-loaded"].forEach(function (id) { $(id).addEventListener("change", drawUpgrade); });
    $("u-filter").addEventListener("input", drawUpgrade);
    $("u-swap").addEventListener("click", function () {
      var s = $("u-saved").value, l = $("u-loaded").value;
      if ($("u-saved").querySelector('option[value="' + CSS.escape(l) + '"]')) $("u-saved").value = l;
      if ($("u-loaded").querySelector('option[value="' + CSS.escape(s) + '"]')) $("u-loaded").value = s;
      drawUpgrade();
    });
    drawUpgrade();
    fillKinds();
    ["k-saved", "k-format"].forEach(function (id) { $(id).addEventListener("change", drawKinds); });
    $("k-filter").addEventListener("input", drawKinds);
    $("kinds-form").addEventListener("submit", function (e) { e.preventDefault(); });
    drawKinds();
    fillCurves();
    ["c-where", "c-rnn", "c-axis", "c-shape"].forEach(function (id) { $(id).addEventListener("change", drawCurves); });
    $("curves-form").addEventListener("submit", function (e) { e.preventDefault(); });
    drawCurves();
    fillLatency();
    $("l-case").addEventListener("change", drawLatency);
    drawLatency();
    drawBisects();
    document.body.dataset.ready = "1";
  }

  window.maskcompat = { entryText: entryText, upgradeAnswer: upgradeAnswer, kindsTable: kindsTable, zooMachine: zooMachine,
    curveSeries: curveSeries };
  start();
})();
