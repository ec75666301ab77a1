// anvil-httpd's web view: the sessions anvild knows, refreshed every two
// seconds, with kicks, bans and the audit trail. It uses the same JSON API
// and the same credentials as any other client: a key given in the page's
// address (#key=...) or typed in, or the browser's Basic login.
"use strict";

const REFRESH_MS = 2000;
const state = {
  key: sessionStorage.getItem("anvil-key") || "",
  role: null,
  filter: "",
  selected: new Set(),
  known: new Set(),  // session ids shown before, to mark new ones
  rows: new Map(),   // id -> session
  timer: null,
};

const $ = (selector) => document.querySelector(selector);

function takeKeyFromAddress() {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!match) return;
  state.key = decodeURIComponent(match[1]);
  sessionStorage.setItem("anvil-key", state.key);
  // The key leaves the address bar and the history.
  history.replaceState(null, "", location.pathname + location.search);
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const headers = {};
  if (state.key) headers.Authorization = "Bearer " + state.key;
  // Asks for a 401 without a Basic challenge: the page has its own key
  // field, and a browser's login box would hide it.
  headers["X-Anvil-Web"] = "1";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "same-origin",
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || response.statusText || "error");
  }
  return data;
}

function setStatus(text, live) {
  const status = $("#status");
  status.textContent = text;
  status.className = live ? "live" : "down";
}

// What the last action did; it stays until the next one.
function notice(text, failed) {
  const element = $("#notice");
  element.textContent = text;
  element.className = failed ? "failed" : "";
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function address(ip, port) {
  if (!ip) return "";
  const host = ip.includes(":") ? "[" + ip + "]" : ip;
  return port ? host + ":" + port : host;
}

function age(seconds) {
  if (seconds < 0) seconds = 0;
  const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24,
        m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}

function updateSelection() {
  for (const id of [...state.selected]) if (!state.rows.has(id)) state.selected.delete(id);
  $("#selected-count").textContent = state.selected.size;
  $("#kick-selected").disabled = state.selected.size === 0;
  for (const row of document.querySelectorAll("#sessions tbody tr[data-id]")) {
    const on = state.selected.has(row.dataset.id);
    row.classList.toggle("selected", on);
    row.querySelector("input").checked = on;
  }
}

// One row per session, kept across refreshes: a row that stays is updated
// in place, so its checkbox, focus and any click in progress survive.
function sessionRow(id, s) {
  const tr = document.createElement("tr");
  tr.dataset.id = id;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.session = id;
  box.disabled = !s.id;
  box.setAttribute("aria-label", "select " + (s.user || "(not logged in)") + " " + s.service + " " +
                   address(s.ip, s.port));
  box.addEventListener("change", () => {
    if (box.checked) state.selected.add(id); else state.selected.delete(id);
    updateSelection();
  });
  const first = document.createElement("td");
  first.appendChild(box);
  tr.appendChild(first);
  cell(tr, s.user || "(not logged in)", s.user ? "user" : "user muted");
  cell(tr, s.service);
  cell(tr, s.pid, "num");
  cell(tr, address(s.ip, s.port));
  cell(tr, address(s.dest_ip, s.dest_port));
  cell(tr, s.start_time ? s.start_time.replace("T", " ").replace("Z", "") : "");
  cell(tr, "", "num");
  return tr;
}

function renderSessions(data) {
  const tbody = $("#sessions tbody");
  const old = new Map();
  for (const tr of tbody.querySelectorAll("tr[data-id]")) old.set(tr.dataset.id, tr);
  const rows = [];
  state.rows = new Map();
  for (const s of data.sessions) {
    const id = s.id || (s.pid + "/" + s.user + "/" + s.ip + "/" + s.port);
    state.rows.set(id, s);
    let tr = old.get(id);
    if (!tr) {
      tr = sessionRow(id, s);
      if (state.known.size && !state.known.has(id)) tr.classList.add("new");
    }
    // The user and the destination may change (a login, a proxy's choice).
    tr.children[1].textContent = s.user || "(not logged in)";
    tr.children[5].textContent = address(s.dest_ip, s.dest_port);
    tr.children[7].textContent = s.start ? age(data.now - s.start) : "";
    rows.push(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell(tr, state.filter ? "no session matches the filter" : "no sessions", "empty");
    td.colSpan = 8;
    rows.push(tr);
  }
  // Only what changed is moved: rows that stay in place are not touched.
  const current = [...tbody.children];
  if (current.length !== rows.length || current.some((tr, i) => tr !== rows[i])) {
    tbody.replaceChildren(...rows);
  }
  state.known = new Set(state.rows.keys());
  $("#count").textContent = "(" + data.total + ")";
  $("#more").textContent = data.total > data.sessions.length
      ? "showing the first " + data.sessions.length + " of " + data.total + "; narrow the filter to see the rest" : "";
  updateSelection();
}

function renderBans(data) {
  const rows = data.bans.map((b) => {
    const tr = document.createElement("tr");
    tr.dataset.ban = b.id;
    cell(tr, b.id, "num");
    cell(tr, b.user === null ? "" : b.user + (b.alt_field ? " (" + b.alt_field + ")" : ""));
    cell(tr, b.net);
    cell(tr, b.expires === null ? "never" : b.expires_time.replace("T", " ").replace("Z", "") +
         " (in " + age(b.expires - data.now) + ")");
    cell(tr, b.reason);
    cell(tr, b.by);
    const td = document.createElement("td");
    if (state.role === "kick") {
      const lift = document.createElement("button");
      lift.type = "button";
      lift.textContent = "Lift";
      lift.setAttribute("aria-label", "lift ban " + b.id);
      lift.addEventListener("click", () => liftBan(b.id));
      td.appendChild(lift);
    }
    tr.appendChild(td);
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    cell(tr, "no bans", "empty").colSpan = 7;
    rows.push(tr);
  }
  $("#bans tbody").replaceChildren(...rows);
}

function describeFilter(filter) {
  if (!filter) return "";
  return Object.entries(filter).map(([k, v]) => k + "=" + [].concat(v).join(",")).join(" ");
}

function renderAudit(data) {
  const rows = data.records.slice().reverse().map((r) => {
    const tr = document.createElement("tr");
    cell(tr, (r.time || "").replace("T", " ").replace("Z", ""));
    cell(tr, r.action);
    const peer = r.peer || {};
    cell(tr, r.on_behalf || ((peer.user || "uid " + peer.uid) + (peer.program ? " (" + peer.program + ")" : "")));
    cell(tr, describeFilter(r.filter));
    cell(tr, r.matched, "num");
    cell(tr, r.kicked, "num");
    cell(tr, r.reason);
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    cell(tr, "no kicks recorded", "empty").colSpan = 7;
    rows.push(tr);
  }
  $("#audit tbody").replaceChildren(...rows);
}

async function refresh() {
  clearTimeout(state.timer);
  try {
    const query = state.filter ? "?q=" + encodeURIComponent(state.filter) : "";
    renderSessions(await api("GET", "/api/v1/sessions" + query));
    $("#filter-error").textContent = "";
    setStatus("live", true);
    const [bans, audit] = await Promise.allSettled([api("GET", "/api/v1/bans"),
                                                    api("GET", "/api/v1/audit?count=20")]);
    if (bans.status === "fulfilled") renderBans(bans.value);
    if (audit.status === "fulfilled") renderAudit(audit.value);
  } catch (error) {
    if (error.status === 400) {
      $("#filter-error").textContent = error.message;
      setStatus("live", true);
    } else if (error.status === 401) {
      setStatus("not signed in: give an API key", false);
      $("#key-form").hidden = false;
      return;  // no polling without credentials
    } else {
      setStatus(error.status === 503 ? "anvild is not answering; retrying" : "error: " + error.message, false);
    }
  }
  state.timer = setTimeout(refresh, REFRESH_MS);
}

function confirmKick(preview, users) {
  const dialog = $("#confirm");
  const n = preview.matched;
  $("#confirm-text").textContent = n === 0
      ? "No connection matches any more: nothing would drop."
      : n + (n === 1 ? " connection" : " connections") + " will drop" +
        (users.ban ? ", and " + users.ban + " will be banned" : "") + ":";
  const list = $("#confirm-users");
  const counts = new Map();
  for (const r of preview.results) {
    const name = (r.session.user || "(not logged in)") + " " + r.session.service;
    counts.set(name, (counts.get(name) || 0) + 1);
  }
  list.replaceChildren(...[...counts].map(([name, count]) => {
    const li = document.createElement("li");
    li.textContent = name + (count > 1 ? " ×" + count : "");
    return li;
  }));
  $("#confirm-ok").disabled = n === 0;
  dialog.returnValue = "";
  dialog.showModal();
  $("#confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

async function kick(filter, q) {
  const reason = $("#reason").value.trim();
  const banValue = $("#ban").value;
  const ban = banValue === "" ? null : Number(banValue);
  const request = { reason: reason || undefined };
  if (filter) request.filter = filter;
  if (q !== undefined) request.q = q;
  try {
    const preview = await api("POST", "/api/v1/kick", { ...request, dry_run: true });
    const bannedUsers = filter ? [...new Set(preview.results.map((r) => r.session.user).filter(Boolean))] : [];
    const banText = ban === null ? "" : filter ? bannedUsers.join(", ") : "what the filter names";
    if (!await confirmKick(preview, { ban: banText })) {
      notice("kick cancelled");
      return;
    }
    if (ban !== null && q !== undefined) request.ban = ban;
    const done = await api("POST", "/api/v1/kick", request);
    if (ban !== null && filter && bannedUsers.length) {
      await api("POST", "/api/v1/bans", { user: bannedUsers, duration: ban, reason: reason || undefined });
    }
    const missed = done.results.filter((r) => r.status !== "kicked");
    notice("kicked " + done.kicked + " of " + done.matched +
              (missed.length ? "; " + missed.map((r) => r.session.user + ": " + r.status).join(", ") : ""));
    state.selected.clear();
  } catch (error) {
    notice("kick failed: " + error.message, true);
    if (error.status === 400) $("#filter-error").textContent = error.message;
  }
  refresh();
}

async function liftBan(id) {
  try {
    await api("DELETE", "/api/v1/bans/" + id);
    notice("ban " + id + " lifted");
  } catch (error) {
    notice("could not lift ban " + id + ": " + error.message, true);
  }
  refresh();
}

async function start() {
  takeKeyFromAddress();
  try {
    const me = await api("GET", "/api/v1/whoami");
    state.role = me.role;
    $("#identity").textContent = "key " + me.name + " (" + me.role + ")";
    $("#key-form").hidden = true;
    $("#kick-form").hidden = me.role !== "kick";
  } catch (error) {
    if (error.status === 401) {
      setStatus("not signed in: give an API key", false);
      $("#key-form").hidden = false;
      $("#key").focus();
      return;
    }
    setStatus("error: " + error.message, false);
  }
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("#filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filter = $("#filter").value.trim();
    state.known = new Set();
    refresh();
  });
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("#key").value.trim();
    sessionStorage.setItem("anvil-key", state.key);
    $("#key").value = "";
    start();
  });
  $("#select-all").addEventListener("change", (event) => {
    for (const [id, s] of state.rows) {
      if (!s.id) continue;
      if (event.target.checked) state.selected.add(id); else state.selected.delete(id);
    }
    updateSelection();
  });
  $("#kick-selected").addEventListener("click", () => {
    const ids = [...state.selected].filter((id) => state.rows.has(id));
    if (ids.length) kick({ id: ids });
  });
  $("#kick-matching").addEventListener("click", () => {
    if (!state.filter) {
      $("#filter-error").textContent = "give a filter first: kicking everyone takes anvilctl";
      $("#filter").focus();
      return;
    }
    kick(undefined, state.filter);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "/" && document.activeElement.tagName !== "INPUT" && !$("#confirm").open) {
      event.preventDefault();
      $("#filter").focus();
    }
  });
  start();
});
