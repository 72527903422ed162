// tokengate dashboard. No framework, no network beyond this server. Every string from
// the pool is written with textContent, never parsed as HTML; the CSP forbids inline script.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const $ = (id) => document.getElementById(id);
  const points = []; // chart samples, oldest first
  const MAX_POINTS = 300;
  let sortKey = "name", sortDir = 1;
  let lastOps = [], lastPaused = [];
  const opRows = new Map(); // op name -> <tr>, reused so controls stay clickable

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function fmtUs(us) {
    if (us >= 1e6) return (us / 1e6).toFixed(2) + " s";
    if (us >= 1e3) return (us / 1e3).toFixed(1) + " ms";
    return us + " µs";
  }
  function say(text) { $("message").textContent = text; }

  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new Error((data && data.error) || ("HTTP " + res.status));
    return data;
  }
  function control(url, body, done) {
    post(url, body).then((d) => say(done(d))).catch((e) => say("error: " + e.message));
  }

  // ---- charts: a small line chart on <canvas> ----
  function drawChart(id, values, fmt) {
    const c = $(id), g = c.getContext("2d");
    const w = c.width, h = c.height, pad = 4, top = 14;
    g.clearRect(0, 0, w, h);
    g.strokeStyle = "#eee"; g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) { const y = top + (h - top - pad) * i / 4; g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke(); }
    if (values.length === 0) return;
    const max = Math.max(1e-9, ...values);
    g.strokeStyle = "#3567d6"; g.lineWidth = 1.5; g.beginPath();
    values.forEach((v, i) => {
      // The x axis spans at least a minute of samples; the newest point is at the right.
      const span = Math.max(values.length, 60) - 1;
      const x = (w - 1) * (span - (values.length - 1 - i)) / span;
      const y = h - pad - (h - top - pad) * v / max;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
    g.fillStyle = "#555"; g.font = "11px sans-serif";
    g.fillText("max " + fmt(max) + "   now " + fmt(values[values.length - 1]), 4, 11);
  }
  function drawCharts() {
    drawChart("chart-throughput", points.map((p) => p.throughput), (v) => v.toFixed(0));
    drawChart("chart-queued", points.map((p) => p.queued), (v) => v.toFixed(0));
    drawChart("chart-wait", points.map((p) => p.p99_wait_us / 1000), (v) => v.toFixed(2));
  }

  // ---- panels ----
  function fillBody(table, rows) {
    const tb = $(table).tBodies[0];
    tb.replaceChildren(...rows);
  }
  function renderWorkers(ws) {
    fillBody("workers", ws.map((w) => {
      const tr = el("tr");
      tr.append(el("td", w.index), el("td", w.core === null ? "-" : w.core), el("td", w.pinned ? "yes" : "no"),
        el("td", w.executed), el("td", w.stolen));
      const td = el("td");
      if (w.busy_share === null) { td.textContent = "-"; } else {
        const bar = el("span", null, "busy"), fill = el("div");
        fill.style.width = Math.round(w.busy_share * 100) + "%";
        bar.append(fill); td.append(bar, el("span", " " + Math.round(w.busy_share * 100) + "%"));
      }
      tr.append(td);
      return tr;
    }));
  }
  function renderStorage(ts) {
    fillBody("storage", ts.map((t) => {
      const tr = el("tr");
      tr.dataset.tier = t.tier;
      tr.append(el("td", t.tier), el("td", t.active), el("td", t.queued), el("td", t.limit, "limit"), el("td", t.completed), el("td", t.peak_active));
      return tr;
    }));
  }
  function renderRecent(rs) {
    fillBody("recent", rs.slice(0, 30).map((r) => {
      const tr = el("tr");
      tr.append(el("td", r.id), el("td", r.op, "name"), el("td", r.worker === null ? "-" : r.worker), el("td", r.outcome),
        el("td", fmtUs(r.queued_for_us)), el("td", fmtUs(r.ran_for_us)));
      return tr;
    }));
  }
  const OP_COLS = ["name", "weight", "submitted", "completed", "panicked", "cancelled", "expired", "shutdown",
    "wait_p50_us", "wait_p99_us", "run_p50_us", "run_p99_us", "health"];
  function opRow(name) {
    let tr = opRows.get(name);
    if (tr) return tr;
    tr = el("tr");
    tr.dataset.op = name; // a DOM property, not markup: safe for any string
    OP_COLS.forEach((k) => tr.append(el("td", "", k === "name" ? "name" : null)));
    const td = el("td");
    const mk = (label, cls, url, done) => {
      const b = el("button", label, cls); b.type = "button";
      b.addEventListener("click", () => control(url, { op: name }, done));
      td.append(b);
    };
    mk("pause", "op-pause", "/api/op/pause", () => "paused " + name);
    mk("resume", "op-resume", "/api/op/resume", () => "resumed " + name);
    mk("drain", "op-drain", "/api/op/drain", (d) => "drained " + d.drained + " queued task(s) of " + name);
    tr.append(td);
    opRows.set(name, tr);
    return tr;
  }
  function renderOps(ops, pausedOps) {
    lastOps = ops; lastPaused = pausedOps;
    const sorted = ops.slice().sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
    });
    const tb = $("ops").tBodies[0];
    const live = new Set();
    sorted.forEach((o) => {
      const tr = opRow(o.name);
      live.add(o.name);
      OP_COLS.forEach((k, i) => {
        const v = o[k];
        const text = k.endsWith("_us") ? fmtUs(v) : String(v);
        if (tr.cells[i].textContent !== text) tr.cells[i].textContent = text;
      });
      tr.cells[OP_COLS.length - 1].className = "h-" + o.health;
      tr.classList.toggle("paused", pausedOps.includes(o.name));
      tb.append(tr); // moves it into sorted order
    });
    for (const [name, tr] of opRows) if (!live.has(name)) { tr.remove(); opRows.delete(name); }
  }
  function render(s) {
    const executed = s.workers.reduce((a, w) => a + w.executed, 0);
    const q = s.queued;
    $("executed-total").textContent = executed;
    $("queued-total").textContent = q.injector + q.local + q.pinned + q.storage + q.held;
    ["injector", "local", "pinned", "storage", "held"].forEach((k) => { $("q-" + k).textContent = q[k]; });
    $("heavy").textContent = s.heavy.in_use + " / " + s.heavy.limit;
    $("heavy-bar").style.width = (s.heavy.limit ? Math.round(100 * s.heavy.in_use / s.heavy.limit) : 0) + "%";
    const ps = $("paused-state");
    ps.textContent = s.paused ? "paused" : "running";
    ps.className = "badge " + (s.paused ? "warn" : "ok");
    $("paused-ops").textContent = s.paused_ops.length ? s.paused_ops.join(", ") : "none";
    const missing = $("missing");
    if (s.missing && s.missing.length) { missing.hidden = false; missing.textContent = "Not measured by this pool: " + s.missing.join(", "); }
    else missing.hidden = true;
    renderWorkers(s.workers);
    renderStorage(s.storage);
    renderOps(s.ops, s.paused_ops);
    renderRecent(s.recent);
  }

  // ---- sorting ----
  document.querySelectorAll("#ops th[data-key]").forEach((th) => {
    th.addEventListener("click", () => {
      const k = th.dataset.key;
      if (sortKey === k) sortDir = -sortDir; else { sortKey = k; sortDir = k === "name" || k === "weight" || k === "health" ? 1 : -1; }
      document.querySelectorAll("#ops th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(sortDir === 1 ? "sorted-asc" : "sorted-desc");
      renderOps(lastOps, lastPaused);
    });
  });

  // ---- controls ----
  $("btn-pause").addEventListener("click", () => control("/api/pause", {}, () => "paused all"));
  $("btn-resume").addEventListener("click", () => control("/api/resume", {}, () => "resumed all"));
  function taskId() {
    const v = $("task-id").value.trim();
    if (!/^\d+$/.test(v)) { $("task-result").textContent = "enter a task id (a number)"; return null; }
    return Number(v);
  }
  $("btn-status").addEventListener("click", async () => {
    const id = taskId(); if (id === null) return;
    const res = await fetch("/api/status/" + id, { credentials: "same-origin" });
    const d = await res.json().catch(() => ({}));
    $("task-result").textContent = res.ok ? JSON.stringify(d, null, 1) : ("task " + id + ": " + (d.error || res.status));
  });
  $("btn-cancel").addEventListener("click", () => {
    const id = taskId(); if (id === null) return;
    post("/api/cancel", { id: id })
      .then((d) => { $("task-result").textContent = d.cancelled ? ("task " + id + " cancelled") : ("task " + id + " not cancelled (unknown, running or finished)"); })
      .catch((e) => { $("task-result").textContent = "error: " + e.message; });
  });
  $("limit-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tier = $("limit-tier").value, limit = Number($("limit-value").value);
    control("/api/storage-limit", { tier: tier, limit: limit }, () => "limit of " + tier + " set to " + limit);
  });

  // ---- live stream ----
  fetch("/api/series", { credentials: "same-origin" }).then((r) => r.json()).then((ps) => {
    points.splice(0, 0, ...ps.slice(-MAX_POINTS));
    drawCharts();
  }).catch(() => {});
  function connect() {
    const es = new EventSource("/api/events");
    es.addEventListener("update", (ev) => {
      const u = JSON.parse(ev.data);
      if (!u.snapshot) return;
      $("conn").textContent = "live"; $("conn").className = "badge ok";
      render(u.snapshot);
      if (u.point) { points.push(u.point); while (points.length > MAX_POINTS) points.shift(); drawCharts(); }
    });
    es.onerror = () => { $("conn").textContent = "disconnected"; $("conn").className = "badge bad"; };
  }
  connect();
})();
