// Parley's admin dashboard: log in, then poll every node's metrics through
// the admin API (GET /api/v1/cluster/stats) and chart the last minutes
// with uPlot; manage users and sessions through the same API. The session
// is an HttpOnly cookie; requests that change something carry its CSRF
// token in X-Parley-CSRF. No framework, no build step.
"use strict";

const POLL_MS = 2000;
const WINDOW_S = 5 * 60; // what the charts show
const CSRF_HEADER = "X-Parley-CSRF";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
};

let csrf = "";
let pollTimer = null;
let currentTab = "live";

// ---- talking to the server ----

class HTTPError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api calls the admin API (or the login endpoints) and returns the JSON
// answer; an error answer throws an HTTPError with the server's message.
async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers[CSRF_HEADER] = csrf;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  let data = null;
  if (resp.status !== 204) {
    try { data = await resp.json(); } catch { data = null; }
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    if (resp.status === 401 && !path.startsWith("/admin/")) showLogin("The session has ended: log in again.");
    throw new HTTPError(resp.status, e.code || "", e.message || `${method} ${path}: HTTP ${resp.status}`);
  }
  return data;
}

function status(msg) { $("#status").textContent = msg || ""; }

// ---- login ----

function showLogin(msg) {
  stopPolling();
  csrf = "";
  $("#login").hidden = false;
  $("#tabs").hidden = true;
  $("#who").hidden = true;
  for (const s of document.querySelectorAll(".tab")) s.hidden = true;
  $("#login-error").textContent = msg || "";
}

function showDashboard(session) {
  csrf = session.csrf;
  $("#login").hidden = true;
  $("#tabs").hidden = false;
  $("#who").hidden = false;
  $("#who-user").textContent = session.user;
  status("");
  showTab(currentTab);
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    const session = await api("POST", "/admin/login", {
      jid: $("#login-jid").value.trim(),
      password: $("#login-password").value,
    });
    $("#login-password").value = "";
    showDashboard(session);
  } catch (e) {
    $("#login-error").textContent = e.message;
  }
});

$("#logout").addEventListener("click", async () => {
  try { await api("POST", "/admin/logout"); } catch { /* the cookie is gone either way */ }
  showLogin("Logged out.");
});

// ---- tabs ----

for (const b of document.querySelectorAll("#tabs button")) {
  b.addEventListener("click", () => showTab(b.dataset.tab));
}

function showTab(tab) {
  currentTab = tab;
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === tab);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== tab;
  status("");
  if (tab === "live") startPolling(); else stopPolling();
  if (tab === "users") loadUsers();
  if (tab === "sessions") loadSessions();
}

// ---- live view: polling ----

// history holds, per node, the snapshots of the last WINDOW_S seconds:
// {t (seconds), fams: Map name -> family}.
const history = new Map();
const columns = new Map(); // node name -> its column's widgets

// pollGen ends a polling loop: each loop goes on only while it is the
// latest one started.
let pollGen = 0;
let polling = false;

function startPolling() {
  if (polling) return;
  polling = true;
  const gen = ++pollGen;
  const tick = async () => {
    await poll();
    if (gen === pollGen) pollTimer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function stopPolling() {
  polling = false;
  pollGen++;
  clearTimeout(pollTimer);
}

async function poll() {
  let stats, nodes;
  try {
    [stats, nodes] = await Promise.all([api("GET", "/api/v1/cluster/stats"), api("GET", "/api/v1/cluster/nodes")]);
  } catch (e) {
    if (e.status !== 401) status("Polling the cluster failed: " + e.message);
    return;
  }
  status("");
  renderNodes(nodes.nodes);
  const live = new Set();
  for (const n of stats.nodes) {
    live.add(n.name);
    if (!history.has(n.name)) history.set(n.name, []);
    const h = history.get(n.name);
    if (!n.error) {
      const t = Date.parse(n.time) / 1000;
      if (!h.length || t > h[h.length - 1].t) {
        h.push({ t, fams: new Map(n.families.map((f) => [f.name, f])) });
      }
      while (h.length && h[0].t < t - WINDOW_S) h.shift();
    }
    renderColumn(n, nodes.nodes.find((x) => x.name === n.name));
  }
  for (const [name, col] of columns) {
    if (!live.has(name)) {
      for (const c of col.charts.values()) c.plot && c.plot.destroy();
      col.root.remove();
      columns.delete(name);
      history.delete(name);
    }
  }
}

function renderNodes(nodes) {
  const body = $("#nodes-table tbody");
  body.replaceChildren(...nodes.map((n) => el("tr", { "data-node": n.name },
    el("td", {}, n.name + (n.self ? " (this node)" : "")),
    el("td", {}, n.version),
    el("td", {}, String(n.sessions)),
    el("td", {}, n.draining ? "draining" : "serving"),
    el("td", {}, new Date(n.started).toLocaleString()),
    el("td", {}, new Date(n.last_seen).toLocaleTimeString()),
  )));
}

// ---- metrics arithmetic ----

const labelsKey = (s, names) => names.map((n) => (s.labels && s.labels[n]) || "").join(",");

// sums a family's values grouped by the labels named (all together when
// none); {} when the family is missing.
function byLabel(fams, name, labels = []) {
  const f = fams.get(name);
  const out = {};
  if (!f) return out;
  for (const s of f.series) {
    if (s.value === undefined) continue;
    const k = labelsKey(s, labels) || "all";
    out[k] = (out[k] || 0) + s.value;
  }
  return out;
}

// per-second rates of a counter family between two snapshots, by label.
function rates(prev, cur, name, labels = []) {
  const a = byLabel(prev.fams, name, labels), b = byLabel(cur.fams, name, labels);
  const dt = cur.t - prev.t, out = {};
  for (const k of Object.keys(b)) {
    // A counter that went down: the node restarted; no rate for this step.
    const d = b[k] - (a[k] || 0);
    out[k] = d >= 0 && dt > 0 ? d / dt : null;
  }
  return out;
}

// a histogram's buckets, count and sum summed by label.
function histograms(fams, name, labels = []) {
  const f = fams.get(name);
  const out = {};
  if (!f) return out;
  for (const s of f.series) {
    if (!s.buckets) continue;
    const k = labelsKey(s, labels) || "all";
    const h = out[k] || (out[k] = { buckets: new Map(), count: 0, sum: 0 });
    for (const b of s.buckets) h.buckets.set(b.le, (h.buckets.get(b.le) || 0) + b.count);
    h.count += s.count || 0;
    h.sum += s.sum || 0;
  }
  return out;
}

// the observations between two snapshots, by label: {buckets: [[le,
// count]...] cumulative, count, sum}.
function histDeltas(prev, cur, name, labels = []) {
  const a = histograms(prev.fams, name, labels), b = histograms(cur.fams, name, labels);
  const out = {};
  for (const [k, h] of Object.entries(b)) {
    const p = a[k] || { buckets: new Map(), count: 0, sum: 0 };
    const count = h.count - p.count;
    if (count < 0) continue; // restarted
    const buckets = [...h.buckets.entries()].sort((x, y) => x[0] - y[0]).map(([le, c]) => [le, c - (p.buckets.get(le) || 0)]);
    out[k] = { buckets, count, sum: h.sum - p.sum };
  }
  return out;
}

// quantile q of the observations, interpolated within the bucket as
// Prometheus's histogram_quantile does; null without observations.
function quantile(q, h) {
  if (!h || h.count <= 0) return null;
  const rank = q * h.count;
  let prevLE = 0, prevCount = 0;
  for (const [le, c] of h.buckets) {
    if (c >= rank) {
      if (c === prevCount) return le;
      return prevLE + (le - prevLE) * (rank - prevCount) / (c - prevCount);
    }
    prevLE = le;
    prevCount = c;
  }
  return prevLE; // beyond the last finite bucket
}

// ---- the charts ----

// Each chart derives, from two consecutive snapshots, values by series
// name; gauge charts use the later snapshot alone.
const ms = (v) => (v === null ? null : v * 1000);
const CHARTS = [
  {
    id: "connections", title: "Connections by transport",
    point: (prev, cur) => {
      const out = byLabel(cur.fams, "parley_c2s_connections", ["transport"]);
      const s = byLabel(cur.fams, "parley_sessions");
      if (s.all !== undefined) out.sessions = s.all;
      return out;
    },
  },
  {
    id: "logins", title: "Logins and auth failures /s",
    point: (prev, cur) => {
      const out = {};
      const l = rates(prev, cur, "parley_c2s_logins_total");
      const f = rates(prev, cur, "parley_c2s_auth_failures_total");
      if ("all" in l) out.logins = l.all;
      if ("all" in f) out["auth failures"] = f.all;
      return out;
    },
  },
  {
    id: "stanzas", title: "Stanzas received /s by kind",
    point: (prev, cur) => rates(prev, cur, "parley_c2s_stanzas_received_total", ["kind"]),
  },
  {
    id: "route", title: "Routing latency (ms)",
    point: (prev, cur) => {
      const h = histDeltas(prev, cur, "parley_route_duration_seconds").all;
      return h ? { p50: ms(quantile(0.5, h)), p99: ms(quantile(0.99, h)) } : {};
    },
  },
  {
    id: "cluster", title: "Cross-node stanzas /s",
    point: (prev, cur) => rates(prev, cur, "parley_cluster_forwarded_total", ["direction"]),
  },
  {
    id: "commit", title: "Storage commit latency (ms)",
    point: (prev, cur) => {
      const out = {};
      for (const [w, h] of Object.entries(histDeltas(prev, cur, "parley_storage_commit_duration_seconds", ["writer"]))) {
        out[w + " p50"] = ms(quantile(0.5, h));
        out[w + " p99"] = ms(quantile(0.99, h));
      }
      return out;
    },
  },
  {
    id: "batch", title: "Storage mean batch size",
    point: (prev, cur) => {
      const out = {};
      for (const [w, h] of Object.entries(histDeltas(prev, cur, "parley_storage_batch_size", ["writer"]))) {
        out[w] = h.count > 0 ? h.sum / h.count : null;
      }
      return out;
    },
  },
  {
    id: "modules", title: "Module calls /s",
    point: (prev, cur) => rates(prev, cur, "parley_module_calls_total", ["module"]),
  },
  {
    id: "modules-p99", title: "Module call duration p99 (ms)",
    point: (prev, cur) => {
      const out = {};
      for (const [m, h] of Object.entries(histDeltas(prev, cur, "parley_module_call_duration_seconds", ["module"]))) {
        out[m] = ms(quantile(0.99, h));
      }
      return out;
    },
  },
];

// series colours, in order.
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];

// at most this many series per chart: the busiest.
const MAX_SERIES = 8;

function chartData(h, spec) {
  const xs = [], rows = [];
  for (let i = 1; i < h.length; i++) {
    xs.push(h[i].t);
    rows.push(spec.point(h[i - 1], h[i]));
  }
  const totals = {};
  for (const r of rows) for (const [k, v] of Object.entries(r)) totals[k] = (totals[k] || 0) + (v || 0);
  let keys = Object.keys(totals).sort();
  if (keys.length > MAX_SERIES) {
    keys = keys.sort((a, b) => totals[b] - totals[a]).slice(0, MAX_SERIES).sort();
  }
  const data = [xs, ...keys.map((k) => rows.map((r) => (r[k] === undefined ? null : r[k])))];
  return { keys, data };
}

function renderColumn(n, node) {
  let col = columns.get(n.name);
  if (!col) {
    const root = el("div", { class: "node-column", "data-node": n.name });
    const title = el("h3", {}, el("span", { class: "node-name" }, n.name));
    if (n.self) title.append(el("span", { class: "tag" }, "this node"));
    const err = el("p", { class: "node-error" });
    const tiles = el("div", { class: "tiles" });
    root.append(title, err, tiles);
    const charts = new Map();
    for (const spec of CHARTS) {
      const box = el("div", { class: "chart", "data-chart": spec.id }, el("h4", {}, spec.title));
      const none = el("p", { class: "none" }, "waiting for data…");
      const target = el("div");
      box.append(none, target);
      root.append(box);
      charts.set(spec.id, { spec, none, target, plot: null, keys: "" });
    }
    $("#node-columns").append(root);
    col = { root, err, tiles, charts };
    columns.set(n.name, col);
    new ResizeObserver(() => {
      for (const c of col.charts.values()) c.plot && c.plot.setSize(size(col.root));
    }).observe(root);
  }
  col.err.textContent = n.error || "";
  const h = history.get(n.name) || [];
  renderTiles(col, h, node);
  for (const c of col.charts.values()) renderChart(col, c, h);
}

function size(root) {
  return { width: Math.max(300, root.clientWidth - 24), height: 150 };
}

function renderChart(col, c, h) {
  const { keys, data } = chartData(h, c.spec);
  if (!keys.length) {
    c.none.textContent = h.length < 2 ? "waiting for data…" : "not reported by this node";
    c.none.hidden = false;
    if (c.plot) { c.plot.destroy(); c.plot = null; c.keys = ""; }
    return;
  }
  c.none.hidden = true;
  const sig = keys.join("|");
  if (c.plot && c.keys === sig) {
    c.plot.setData(data);
    return;
  }
  if (c.plot) c.plot.destroy();
  c.keys = sig;
  c.plot = new uPlot({
    ...size(col.root),
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    series: [{}, ...keys.map((k, i) => ({ label: k, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: false, value: (u, v) => fmt(v) }))],
    axes: [{}, { size: 60, values: (u, vals) => vals.map(fmt) }],
    legend: { live: true },
  }, data, c.target);
}

function fmt(v) {
  if (v === null || v === undefined) return "–";
  const a = Math.abs(v);
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  if (a >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

// The tiles: the latest numbers.
function renderTiles(col, h, node) {
  const last = h[h.length - 1], prev = h[h.length - 2];
  const tiles = [];
  if (node) {
    tiles.push(["sessions", String(node.sessions)], ["version", node.version], ["state", node.draining ? "draining" : "serving"]);
  }
  if (last) {
    const conns = byLabel(last.fams, "parley_c2s_connections");
    if (conns.all !== undefined) tiles.push(["connections", fmt(conns.all)]);
    const logins = byLabel(last.fams, "parley_c2s_logins_total");
    if (logins.all !== undefined) tiles.push(["logins", fmt(logins.all)]);
    const fails = byLabel(last.fams, "parley_c2s_auth_failures_total");
    if (fails.all !== undefined) tiles.push(["auth failures", fmt(fails.all)]);
    if (prev) {
      const r = rates(prev, last, "parley_c2s_stanzas_received_total");
      if (r.all !== undefined) tiles.push(["stanzas/s", fmt(r.all)]);
    }
    const st = byLabel(last.fams, "parley_c2s_stanzas_received_total");
    if (st.all !== undefined) tiles.push(["stanzas", fmt(st.all)]);
  }
  col.tiles.replaceChildren(...tiles.map(([k, v]) => el("div", { class: "tile", "data-tile": k }, el("div", { class: "v" }, v), el("div", { class: "k" }, k))));
}

// ---- users ----

async function loadUsers() {
  let list;
  try {
    list = await api("GET", "/api/v1/users?limit=1000");
  } catch (e) {
    if (e.status !== 401) status("Listing users failed: " + e.message);
    return;
  }
  $("#users-more").hidden = !list.next;
  $("#users-table tbody").replaceChildren(...list.users.map(userRow));
}

function userRow(jid) {
  const pw = el("input", { type: "password", autocomplete: "new-password", "aria-label": "new password for " + jid });
  const del = el("button", { type: "button", class: "delete" }, "Delete");
  del.addEventListener("click", async () => {
    // Two clicks: no browser dialog to dismiss by accident.
    if (del.dataset.armed !== "1") {
      del.dataset.armed = "1";
      del.textContent = "Really delete?";
      setTimeout(() => { del.dataset.armed = ""; del.textContent = "Delete"; }, 4000);
      return;
    }
    try {
      await api("DELETE", "/api/v1/users/" + encodeURIComponent(jid));
      status(`Deleted ${jid}.`);
      loadUsers();
    } catch (e) { status(`Deleting ${jid} failed: ${e.message}`); }
  });
  const set = el("button", { type: "button", class: "set-password" }, "Set password");
  set.addEventListener("click", async () => {
    if (!pw.value) { status("Type the new password first."); return; }
    try {
      await api("PUT", "/api/v1/users/" + encodeURIComponent(jid) + "/password", { password: pw.value });
      pw.value = "";
      status(`Password of ${jid} changed.`);
    } catch (e) { status(`Changing the password of ${jid} failed: ${e.message}`); }
  });
  return el("tr", { "data-jid": jid }, el("td", {}, jid), el("td", {}, pw, " ", set), el("td", {}, del));
}

$("#new-user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const jid = $("#new-user-jid").value.trim();
  try {
    const created = await api("POST", "/api/v1/users", { jid, password: $("#new-user-password").value });
    $("#new-user-jid").value = "";
    $("#new-user-password").value = "";
    status(`Created ${created.jid}.`);
    loadUsers();
  } catch (e) { status(`Creating ${jid} failed: ${e.message}`); }
});

// ---- sessions ----

async function loadSessions() {
  let list;
  try {
    list = await api("GET", "/api/v1/sessions");
  } catch (e) {
    if (e.status !== 401) status("Listing sessions failed: " + e.message);
    return;
  }
  $("#sessions-table tbody").replaceChildren(...list.sessions.map((s) => {
    const kick = el("button", { type: "button", class: "kick" }, "Kick");
    kick.addEventListener("click", async () => {
      try {
        await api("DELETE", "/api/v1/sessions/" + s.jid.split("/").map(encodeURIComponent).join("/"));
        status(`Kicked ${s.jid}.`);
        loadSessions();
      } catch (e) { status(`Kicking ${s.jid} failed: ${e.message}`); }
    });
    const presence = s.available ? (s.show || "available") + (s.status ? ": " + s.status : "") : "unavailable";
    return el("tr", { "data-jid": s.jid },
      el("td", {}, s.jid), el("td", {}, s.node), el("td", {}, presence),
      el("td", {}, s.bound ? new Date(s.bound).toLocaleString() : ""), el("td", {}, kick));
  }));
}

// ---- start ----

(async () => {
  try {
    showDashboard(await api("GET", "/admin/session"));
  } catch {
    showLogin("");
  }
})();
