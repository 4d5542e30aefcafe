// letta-switchboard's web page: plain DOM, no framework, no build step.
// The Letta key lives in `apiKey` (and in sessionStorage only if asked): never a cookie or localStorage.
// Everything shown comes from the API and is written with textContent, never as HTML.
"use strict";

const SESSION_KEY = "switchboard.letta_key";
let apiKey = null;
let previewed = null; // the inputs the last successful preview was for
let editing = null; // {kind, schedule, time, previewed}: the schedule the edit form changes
const listed = { "one-time": new Map(), recurring: new Map() }; // id -> schedule, as last shown

const $ = (id) => document.getElementById(id);

class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function describe(data, status) {
  if (data && typeof data.detail === "string") return data.detail;
  if (data && Array.isArray(data.detail)) {
    return data.detail
      .map((item) => `${(item.loc || []).filter((p) => p !== "body" && p !== "query").join(".")}: ${item.msg}`)
      .join("; ");
  }
  return `the server answered ${status}`;
}

async function call(method, path, body, { auth = true } = {}) {
  const headers = { Accept: "application/json" };
  if (auth) headers.Authorization = `Bearer ${apiKey}`;
  const init = { method, headers, credentials: "omit", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiFailure(0, "could not reach the switchboard server");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (!response.ok) throw new ApiFailure(response.status, describe(data, response.status));
  return data;
}

function notice(text) {
  const box = $("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

function local(iso) {
  if (!iso) return "—";
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? iso : when.toLocaleString();
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function button(label, action, id) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.dataset.id = id;
  b.className = "secondary";
  return b;
}

function fill(table, rows, columns, empty) {
  const body = $(table).querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const tr = document.createElement("tr");
    cell(tr, empty, "empty").colSpan = columns;
    body.appendChild(tr);
  }
  return body;
}

function short(text, width = 60) {
  const line = String(text).split(/\s+/).join(" ");
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

async function refresh() {
  const [oneTime, recurring, results] = await Promise.all([
    call("GET", "/schedules/one-time"),
    call("GET", "/schedules/recurring"),
    call("GET", "/results?limit=50"),
  ]);

  listed["one-time"] = new Map(oneTime.map((s) => [s.id, s]));
  listed.recurring = new Map(recurring.map((s) => [s.id, s]));

  const one = fill("one-time-table", oneTime, 7, "nothing scheduled");
  for (const s of oneTime) {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    cell(tr, s.id, "id");
    cell(tr, s.name || "", "name");
    cell(tr, s.agent_id, "id");
    cell(tr, local(s.execute_at));
    cell(tr, s.role);
    cell(tr, short(s.message), "message");
    const actions = cell(tr, "");
    actions.appendChild(button("Edit", "edit-one-time", s.id));
    actions.appendChild(button("Delete", "delete-one-time", s.id));
    one.appendChild(tr);
  }

  const rec = fill("recurring-table", recurring, 8, "nothing recurring");
  for (const s of recurring) {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    cell(tr, s.id, "id");
    cell(tr, s.name || "", "name");
    cell(tr, s.agent_id, "id");
    cell(tr, `${s.cron} (${s.timezone})`);
    cell(tr, local(s.next_run));
    cell(tr, s.status, "status");
    cell(tr, short(s.message), "message");
    const actions = cell(tr, "");
    actions.appendChild(button("Edit", "edit-recurring", s.id));
    actions.appendChild(button("Run now", "run", s.id));
    actions.appendChild(
      s.status === "paused" ? button("Resume", "resume", s.id) : button("Pause", "pause", s.id),
    );
    actions.appendChild(button("Delete", "delete-recurring", s.id));
    rec.appendChild(tr);
  }

  const res = fill("results-table", results, 8, "no deliveries yet");
  for (const r of results) {
    const tr = document.createElement("tr");
    tr.dataset.scheduleId = r.schedule_id;
    cell(tr, r.schedule_id, "id");
    cell(tr, r.name || "", "name");
    cell(tr, r.manual ? `${r.status} (manual run)` : r.status, "status");
    cell(tr, r.run_end || r.run_status || "—", "run-status");
    cell(tr, r.run_id || "—", "id run-id");
    cell(tr, r.agent_id, "id");
    cell(tr, local(r.executed_at));
    cell(tr, r.error || "");
    res.appendChild(tr);
  }
}

async function useKey(key) {
  const status = $("key-status");
  apiKey = key.trim();
  if (!apiKey) {
    status.textContent = "Paste your Letta API key first.";
    status.className = "error";
    return;
  }
  status.textContent = "Checking the key…";
  status.className = "";
  try {
    await refresh();
  } catch (err) {
    apiKey = null;
    $("main").hidden = true;
    status.textContent = err.status === 401 ? "Letta did not accept that key." : err.message;
    status.className = "error";
    return;
  }
  if ($("remember").checked) sessionStorage.setItem(SESSION_KEY, apiKey);
  else sessionStorage.removeItem(SESSION_KEY);
  $("key").value = "";
  status.textContent = "Key accepted.";
  status.className = "ok";
  $("main").hidden = false;
  notice("");
}

function forgetKey() {
  apiKey = null;
  sessionStorage.removeItem(SESSION_KEY);
  $("key").value = "";
  $("main").hidden = true;
  $("key-status").textContent = "Key forgotten.";
  $("key-status").className = "";
}

function currentInputs() {
  return JSON.stringify([$("kind").value, $("when").value.trim(), $("tz").value.trim()]);
}

function invalidatePreview() {
  previewed = null;
  $("save").disabled = true;
}

async function preview() {
  const out = $("preview-out");
  const kind = $("kind").value;
  const when = $("when").value.trim();
  const tz = $("tz").value.trim() || "UTC";
  invalidatePreview();
  out.className = "preview";
  if (!when && kind === "one-time") {
    out.textContent = "Sent as soon as it is saved (no time given).";
    previewed = currentInputs();
    $("save").disabled = false;
    return;
  }
  const params = new URLSearchParams({ tz });
  params.set(kind === "one-time" ? "at" : "every", when);
  try {
    const data = await call("GET", `/explain?${params}`, undefined, { auth: false });
    const lines = [];
    if (data.kind === "one-time") {
      lines.push(`Once, at ${data.execute_at} (UTC) = ${data.local} (${data.timezone}).`);
    } else {
      lines.push(`Recurring: ${data.cron} in ${data.timezone} — ${data.description}.`);
      lines.push(`Next: ${data.next_local.slice(0, 3).join(", ")}`);
    }
    for (const warning of data.warnings || []) lines.push(`Note: ${warning}`);
    out.textContent = lines.join("\n");
    previewed = currentInputs();
    $("save").disabled = false;
  } catch (err) {
    out.textContent = err.message;
    out.className = "preview error";
  }
}

async function save(event) {
  event.preventDefault();
  if (previewed !== currentInputs()) {
    await preview();
    return;
  }
  const kind = $("kind").value;
  const when = $("when").value.trim();
  const body = {
    agent_id: $("agent").value.trim(),
    message: $("message").value,
    role: $("role").value,
    timezone: $("tz").value.trim() || "UTC",
    // Made on this page: delivered telling the agent what time it is (the REST API's default is as sent).
    envelope: true,
  };
  const name = $("name").value.trim();
  if (name) body.name = name;
  if (kind === "one-time") {
    if (when) body.execute_at = when;
  } else {
    body.cron = when;
  }
  try {
    const made = await call("POST", kind === "one-time" ? "/schedules/one-time" : "/schedules/recurring", body);
    $("preview-out").textContent = `Saved ${kind} schedule ${made.id}.`;
    $("message").value = "";
    $("name").value = "";
    invalidatePreview();
    notice("");
    await refresh();
  } catch (err) {
    $("preview-out").textContent = err.message;
    $("preview-out").className = "preview error";
  }
}

function editTime() {
  return JSON.stringify([$("edit-when").value.trim(), $("edit-tz").value.trim() || "UTC"]);
}

function editOut(text, failed) {
  $("edit-out").textContent = text;
  $("edit-out").className = failed ? "preview error" : "preview";
}

function startEdit(kind, schedule) {
  $("edit-what").textContent = `${kind === "one-time" ? "one-time" : "recurring"} schedule ${schedule.id}`;
  $("edit-name").value = schedule.name || "";
  $("edit-message").value = schedule.message;
  $("edit-when").value = kind === "one-time" ? schedule.execute_at : schedule.cron;
  $("edit-tz").value = kind === "one-time" ? "UTC" : schedule.timezone;
  editing = { kind, schedule, time: editTime(), previewed: null };
  editOut("", false);
  $("edit-section").hidden = false;
  $("edit-message").focus();
}

function stopEdit() {
  editing = null;
  $("edit-section").hidden = true;
}

async function previewEdit() {
  if (!editing) return;
  const [when, tz] = JSON.parse(editTime());
  if (!when) {
    editOut(editing.kind === "one-time" ? "Give a time (or keep the one shown)." : "Give a schedule.", true);
    return;
  }
  const params = new URLSearchParams({ tz });
  params.set(editing.kind === "one-time" ? "at" : "every", when);
  try {
    const data = await call("GET", `/explain?${params}`, undefined, { auth: false });
    const lines = [];
    if (data.kind === "one-time") {
      lines.push(`Moves to ${data.execute_at} (UTC) = ${data.local} (${data.timezone}).`);
    } else {
      lines.push(`Becomes ${data.cron} in ${data.timezone} — ${data.description}.`);
      lines.push(`Next: ${data.next_local.slice(0, 3).join(", ")}`);
    }
    for (const warning of data.warnings || []) lines.push(`Note: ${warning}`);
    editOut(lines.join("\n"), false);
    editing.previewed = editTime();
  } catch (err) {
    editOut(err.message, true);
  }
}

async function saveEdit(event) {
  event.preventDefault();
  if (!editing) return;
  const timeChanged = editTime() !== editing.time;
  if (timeChanged && editing.previewed !== editTime()) {
    await previewEdit(); // a new time is seen before it is saved
    return;
  }
  const s = editing.schedule;
  const body = {};
  const name = $("edit-name").value.trim();
  if (name !== (s.name || "")) body.name = name || null;
  if ($("edit-message").value !== s.message) body.message = $("edit-message").value;
  if (timeChanged) {
    const [when, tz] = JSON.parse(editTime());
    body[editing.kind === "one-time" ? "execute_at" : "cron"] = when;
    body.timezone = tz;
  }
  if (!Object.keys(body).length) {
    editOut("Nothing to save: nothing was changed.", false);
    return;
  }
  const path = `/schedules/${editing.kind}/${encodeURIComponent(s.id)}`;
  try {
    const updated = await call("PATCH", path, body);
    startEdit(editing.kind, updated);
    editOut(`Saved: ${editing.kind} schedule ${updated.id} keeps its id and history.`, false);
    notice("");
    await refresh();
  } catch (err) {
    editOut(err.status === 409 ? `${err.message} (try again in a moment)` : err.message, true);
  }
}

async function act(event) {
  const target = event.target.closest("button[data-action]");
  if (!target) return;
  const id = target.dataset.id;
  const routes = {
    "delete-one-time": ["DELETE", `/schedules/one-time/${encodeURIComponent(id)}`],
    "delete-recurring": ["DELETE", `/schedules/recurring/${encodeURIComponent(id)}`],
    pause: ["POST", `/schedules/recurring/${encodeURIComponent(id)}/pause`],
    resume: ["POST", `/schedules/recurring/${encodeURIComponent(id)}/resume`],
    run: ["POST", `/schedules/recurring/${encodeURIComponent(id)}/run`],
  };
  if (target.dataset.action === "edit-one-time" || target.dataset.action === "edit-recurring") {
    const kind = target.dataset.action === "edit-one-time" ? "one-time" : "recurring";
    const schedule = listed[kind].get(id);
    if (schedule) startEdit(kind, schedule);
    return;
  }
  const route = routes[target.dataset.action];
  if (!route) return;
  target.disabled = true;
  try {
    const answer = await call(route[0], route[1]);
    // A manual run answers with its result (status "success", the hosted endpoints' name): say what Letta made of it.
    notice(target.dataset.action === "run" && answer.status !== "success" ? `Run failed: ${answer.error}` : "");
    await refresh();
  } catch (err) {
    notice(err.message);
    target.disabled = false;
  }
}

function start() {
  try {
    $("tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (err) {
    $("tz").value = "UTC";
  }
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useKey($("key").value);
  });
  $("forget-key").addEventListener("click", forgetKey);
  $("preview").addEventListener("click", preview);
  $("create-form").addEventListener("submit", save);
  for (const id of ["kind", "when", "tz"]) $(id).addEventListener("input", invalidatePreview);
  $("kind").addEventListener("change", () => {
    invalidatePreview();
    $("when").placeholder = $("kind").value === "one-time" ? "tomorrow at 9am" : "every weekday at 10am";
  });
  $("edit-form").addEventListener("submit", saveEdit);
  $("edit-preview").addEventListener("click", previewEdit);
  $("edit-cancel").addEventListener("click", stopEdit);
  $("refresh").addEventListener("click", () => refresh().catch((err) => notice(err.message)));
  $("main").addEventListener("click", act);
  const kept = sessionStorage.getItem(SESSION_KEY);
  if (kept) {
    $("remember").checked = true;
    useKey(kept);
  }
}

document.addEventListener("DOMContentLoaded", start);
