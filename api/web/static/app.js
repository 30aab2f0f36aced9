/* Frontage operator console and merchant page: the little script there is (no framework, no build step).
   Everything works without it (plain forms and links); it adds partial refresh of the queue, keyboard
   shortcuts and the zone editor. Served from /static, so the CSP needs no 'unsafe-inline'. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
  function typing(ev) {
    var t = ev.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }

  /* ----- queue: partial refresh, pager, keyboard ----- */
  function initQueue() {
    var form = $("#queue-filters");
    var target = $("#queue-results");
    if (!form || !target) return;
    var selected = -1;

    function query(extra) {
      var params = new URLSearchParams(new FormData(form));
      Array.from(params.keys()).forEach(function (k) { if (!params.get(k)) params.delete(k); });
      if (extra) Object.keys(extra).forEach(function (k) { params.set(k, extra[k]); });
      return params.toString();
    }
    function load(qs) {
      target.setAttribute("aria-busy", "true");
      return fetch("/queue/rows" + (qs ? "?" + qs : ""), {headers: {"X-Requested-With": "fetch"},
                                                          credentials: "same-origin"})
        .then(function (r) {
          if (r.redirected || r.status === 401 || r.status === 303) { window.location.reload(); return null; }
          return r.text();
        })
        .then(function (html) {
          if (html === null) return;
          target.innerHTML = html;
          target.removeAttribute("aria-busy");
          history.replaceState(null, "", "/queue" + (qs ? "?" + qs : ""));
          select(Math.min(selected, rows().length - 1));
        });
    }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(query()); });
    form.addEventListener("change", function () { load(query()); });
    var refresh = $("#queue-refresh");
    if (refresh) refresh.addEventListener("click", function () { load(window.location.search.slice(1)); });
    target.addEventListener("click", function (ev) {
      var a = ev.target.closest("a[data-partial-link]");
      if (a) { ev.preventDefault(); load(a.getAttribute("href").split("?")[1] || ""); }
    });
    // Keep a quiet eye on new cases: refresh every minute while the tab is visible.
    setInterval(function () {
      if (document.visibilityState === "visible" && !document.activeElement.closest("form")) {
        load(window.location.search.slice(1));
      }
    }, 60000);

    function rows() { return $all("tbody tr[data-case]", target); }
    function select(i) {
      var list = rows();
      list.forEach(function (r) { r.classList.remove("selected"); r.removeAttribute("aria-selected"); });
      if (!list.length || i < 0) { selected = -1; return; }
      selected = Math.max(0, Math.min(i, list.length - 1));
      list[selected].classList.add("selected");
      list[selected].setAttribute("aria-selected", "true");
      list[selected].focus({preventScroll: true});
      list[selected].scrollIntoView({block: "nearest"});
    }
    function act(name) {
      var row = rows()[selected];
      var f = row && $("form[data-action='" + name + "']", row);
      if (f) f.requestSubmit ? f.requestSubmit() : f.submit();
    }
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "j") { select(selected + 1); ev.preventDefault(); }
      else if (ev.key === "k") { select(selected - 1); ev.preventDefault(); }
      else if (ev.key === "n") { select(selected + 1); ev.preventDefault(); }
      else if (ev.key === "Enter" || ev.key === "o") {
        var row = rows()[selected];
        if (row) window.location.href = row.getAttribute("data-href");
      }
      else if (ev.key === "c") act("confirm");
      else if (ev.key === "r") act("reject");
    });
  }

  /* ----- case page keyboard ----- */
  function initCase() {
    var actions = $("#case-actions");
    var next = $("#next-case");
    if (!next) return;
    document.addEventListener("keydown", function (ev) {
      if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var map = {c: "confirm", r: "reject"};
      if (map[ev.key] && actions) {
        var b = $("button[data-action='" + map[ev.key] + "']", actions);
        if (b) { ev.preventDefault(); b.click(); }
      } else if (ev.key === "n" || ev.key === "j") {
        window.location.href = next.getAttribute("href");
      }
    });
  }

  /* ----- zone editor ----- */
  var SVGNS = "http://www.w3.org/2000/svg";
  function initZones() {
    var stage = $("#zone-stage");
    var svg = $("#zone-svg");
    var dataEl = $("#zones-data");
    if (!stage || !svg || !dataEl) return;
    var W = parseFloat(stage.getAttribute("data-width"));
    var H = parseFloat(stage.getAttribute("data-height"));
    var editable = stage.getAttribute("data-editable") === "true";
    var labels = JSON.parse(($("#zones-labels") || {}).textContent || "{}");
    var zones = JSON.parse(dataEl.textContent || "[]");
    var sel = zones.length ? 0 : -1;
    var drag = null;
    var moved = false;

    function el(name, attrs) {
      var e = document.createElementNS(SVGNS, name);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      return e;
    }
    function pointsAttr(poly) { return poly.map(function (p) { return (p[0] * W) + "," + (p[1] * H); }).join(" "); }
    function scale() { var r = svg.getBoundingClientRect(); return r.width ? W / r.width : 1; }

    function render() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      zones.forEach(function (z, i) {
        var g = el("g", {"class": "zone kind-" + z.kind + (i === sel ? " selected" : ""), "data-index": i});
        if (z.polygon.length >= 3) g.appendChild(el("polygon", {points: pointsAttr(z.polygon)}));
        else if (z.polygon.length === 2) g.appendChild(el("polyline", {points: pointsAttr(z.polygon)}));
        if (z.polygon.length) {
          var label = el("text", {x: z.polygon[0][0] * W + 6 * scale(), y: z.polygon[0][1] * H - 6 * scale(),
                                  "font-size": 14 * scale()});
          label.textContent = z.id;
          g.appendChild(label);
        }
        if (i === sel && editable) {
          z.polygon.forEach(function (p, j) {
            g.appendChild(el("circle", {cx: p[0] * W, cy: p[1] * H, r: 7 * scale(), "class": "handle",
                                        "data-point": j}));
          });
        }
        svg.appendChild(g);
      });
      renderList();
      renderFields();
      renderPermits();
      var out = $("#zones-json");
      if (out) out.value = JSON.stringify(zones);
    }
    function renderList() {
      var list = $("#zone-list");
      if (!list) return;
      list.innerHTML = "";
      zones.forEach(function (z, i) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.textContent = z.id + " (" + z.polygon.length + ")";
        b.setAttribute("data-zone", i);
        if (i === sel) b.setAttribute("aria-pressed", "true");
        b.addEventListener("click", function () { sel = i; render(); });
        li.appendChild(b);
        list.appendChild(li);
      });
    }
    function renderFields() {
      var fields = $("#zone-fields");
      if (!fields) return;
      var z = zones[sel];
      fields.disabled = !z;
      if (!z) return;
      $("#zone-id").value = z.id;
      $("#zone-kind").value = z.kind;
      $("#zone-merchant").value = z.merchant || "";
      $("#zone-dwell").value = z.dwell_s == null ? "" : z.dwell_s;
      $("#zone-clear").value = z.clear_s == null ? "" : z.clear_s;
      $all(".zone-forbid").forEach(function (c) { c.checked = z.forbid.indexOf(c.value) >= 0; });
      var pts = $("#zone-points");
      if (pts) pts.textContent = (labels["zones.points"] || "{count}").replace("{count}", z.polygon.length);
    }
    function bindFields() {
      function upd(fn) { return function () { var z = zones[sel]; if (z) { fn(z); render(); } }; }
      $("#zone-id").addEventListener("change", upd(function (z) { z.id = $("#zone-id").value.trim(); }));
      $("#zone-kind").addEventListener("change", upd(function (z) { z.kind = $("#zone-kind").value; }));
      $("#zone-merchant").addEventListener("change", upd(function (z) { z.merchant = $("#zone-merchant").value; }));
      $("#zone-dwell").addEventListener("change", upd(function (z) {
        var v = parseFloat($("#zone-dwell").value); z.dwell_s = isNaN(v) ? null : v; }));
      $("#zone-clear").addEventListener("change", upd(function (z) {
        var v = parseFloat($("#zone-clear").value); z.clear_s = isNaN(v) ? null : v; }));
      $all(".zone-forbid").forEach(function (c) {
        c.addEventListener("change", upd(function (z) {
          z.forbid = $all(".zone-forbid").filter(function (x) { return x.checked; }).map(function (x) { return x.value; });
        }));
      });
    }
    /* Schedules of the selected zone (permits: detector/zones/schedule.py). The form edits one permit's
       categories, first hours window (any further windows from a hand-written file are kept), weekdays and
       dates; the server validates them with the zones file's schema on save. */
    var permitSel = -1, permitOwner = null;
    function label(key) { return labels[key] || key; }
    function asList(v) { return Array.isArray(v) ? v : (v == null ? [] : [v]); }
    function permitSummary(p) {
      if (!p || typeof p !== "object") return String(p);  // a hand-made POST sent back with its error
      var cats = asList(p.categories).map(function (c) { return label("category." + c); }).join(", ");
      var hours = asList(p.hours).length ? asList(p.hours).join(", ") : label("zones.permit_all_day");
      var days = asList(p.days).length ? asList(p.days).map(function (d) { return label("weekday." + d); }).join(" ")
                                     : label("zones.permit_every_day");
      return [cats, hours, days].concat(asList(p.dates).length ? [asList(p.dates).join(", ")] : []).join(" · ");
    }
    function fillPermitForm(p) {
      var window0 = String((p && asList(p.hours)[0]) || "");
      var parts = window0.split("-");
      $("#permit-from").value = window0 ? parts[0] : "";
      $("#permit-to").value = window0 ? parts.slice(1).join("-") : "";
      $all(".permit-category").forEach(function (c) { c.checked = !!p && asList(p.categories).indexOf(c.value) >= 0; });
      $all(".permit-day").forEach(function (c) { c.checked = !!p && asList(p.days).indexOf(c.value) >= 0; });
      $("#permit-dates").value = p ? asList(p.dates).join(", ") : "";
    }
    function permitFromForm(kept) {
      var from = $("#permit-from").value.trim(), to = $("#permit-to").value.trim();
      var p = {categories: $all(".permit-category").filter(function (c) { return c.checked; })
                                                   .map(function (c) { return c.value; })};
      var hours = (from || to ? [from + "-" + to] : []).concat(kept ? asList(kept.hours).slice(1) : []);
      var days = $all(".permit-day").filter(function (c) { return c.checked; }).map(function (c) { return c.value; });
      var dates = $("#permit-dates").value.split(/[\s,]+/).filter(function (d) { return d; });
      if (hours.length) p.hours = hours;
      if (days.length) p.days = days;
      if (dates.length) p.dates = dates;
      return p;
    }
    function renderPermits() {
      var list = $("#permit-list");
      if (!list) return;
      var z = zones[sel];
      $("#permit-fields").disabled = !z;
      if (permitOwner !== z) { permitOwner = z; permitSel = -1; fillPermitForm(null); }
      $("#permit-apply").disabled = permitSel < 0;
      list.innerHTML = "";
      var permits = z && Array.isArray(z.permits) ? z.permits : [];
      if (!permits.length) {
        var none = document.createElement("li");
        none.className = "muted";
        none.textContent = label("zones.permit_none");
        list.appendChild(none);
      }
      permits.forEach(function (p, i) {
        var li = document.createElement("li");
        li.setAttribute("data-permit", i);
        if (i === permitSel) li.setAttribute("aria-current", "true");
        var text = document.createElement("span");
        text.textContent = permitSummary(p);
        li.appendChild(text);
        [["zones.permit_edit", "permit-edit small", function () { permitSel = i; fillPermitForm(p); render(); }],
         ["zones.permit_delete", "permit-delete danger small", function () {
           permits.splice(i, 1); permitSel = -1; fillPermitForm(null); render(); }]].forEach(function (b) {
          var button = document.createElement("button");
          button.type = "button";
          button.className = b[1];
          button.textContent = label(b[0]);
          button.addEventListener("click", b[2]);
          li.appendChild(button);
        });
        list.appendChild(li);
      });
    }
    function bindPermits() {
      if (!$("#permit-list")) return;
      $("#permit-add").addEventListener("click", function () {
        var z = zones[sel];
        if (!z) return;
        z.permits = (z.permits || []).concat([permitFromForm(null)]);
        permitSel = -1;
        fillPermitForm(null);
        render();
      });
      $("#permit-apply").addEventListener("click", function () {
        var z = zones[sel];
        if (!z || permitSel < 0 || !z.permits[permitSel]) return;
        z.permits[permitSel] = permitFromForm(z.permits[permitSel]);
        render();
      });
    }
    function newZone() {
      var n = zones.length + 1;
      var ids = zones.map(function (z) { return z.id; });
      while (ids.indexOf("z-" + n) >= 0) n++;
      zones.push({id: "z-" + n, kind: "storefront", merchant: "", polygon: [],
                  forbid: ["out_of_store_trading", "exposed_garbage"], dwell_s: null, clear_s: null});
      sel = zones.length - 1;
      render();
    }
    function norm(ev) {
      var r = svg.getBoundingClientRect();
      var x = (ev.clientX - r.left) / r.width, y = (ev.clientY - r.top) / r.height;
      return [Math.round(Math.min(1, Math.max(0, x)) * 10000) / 10000,
              Math.round(Math.min(1, Math.max(0, y)) * 10000) / 10000];
    }

    if (editable) {
      bindFields();
      bindPermits();
      $("#zone-new").addEventListener("click", newZone);
      $("#zone-undo").addEventListener("click", function () { var z = zones[sel]; if (z) { z.polygon.pop(); render(); } });
      $("#zone-delete").addEventListener("click", function () {
        if (sel >= 0) { zones.splice(sel, 1); sel = zones.length ? 0 : -1; render(); }
      });
      svg.addEventListener("pointerdown", function (ev) {
        var h = ev.target.closest("circle.handle");
        if (h) {
          drag = parseInt(h.getAttribute("data-point"), 10);
          moved = false;
          svg.setPointerCapture(ev.pointerId);
          ev.preventDefault();
        }
      });
      svg.addEventListener("pointermove", function (ev) {
        if (drag === null || !zones[sel]) return;
        zones[sel].polygon[drag] = norm(ev);
        moved = true;
        render();
      });
      svg.addEventListener("pointerup", function (ev) {
        if (drag !== null) { drag = null; ev.preventDefault(); return; }
      });
      svg.addEventListener("click", function (ev) {
        if (moved) { moved = false; return; }
        if (ev.target.closest("circle.handle")) return;
        if (sel < 0) newZone();
        zones[sel].polygon.push(norm(ev));
        render();
      });
      $("#zone-form").addEventListener("submit", function () { $("#zones-json").value = JSON.stringify(zones); });
    }
    render();
  }

  /* ----- merchant page: show the chosen photo before sending it ----- */
  function initPhotoPreview() {
    $all("input[type=file][data-preview]").forEach(function (input) {
      input.addEventListener("change", function () {
        var img = $(input.getAttribute("data-preview"));
        if (!img) return;
        if (input.files && input.files[0]) {
          img.src = URL.createObjectURL(input.files[0]);
          img.hidden = false;
        } else {
          img.hidden = true;
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initPhotoPreview();
    initQueue();
    initCase();
    initZones();
  });
})();
