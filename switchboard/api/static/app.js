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
  unreadable += Number(response.headers.get("X-Switchboard-Unreadable") || 0);
  return data;
}

function notice(text) {
  const box = $("notice");
  box.textContent = text || "";
  box.hidden = !text;
}

// -- times for people: always in a named zone, with its label ("tomorrow 09:00 CET, in 17 h") --------------

function pageZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch (err) {
    return "UTC";
  }
}

function zoneOr(tz) {
  try {
    Intl.DateTimeFormat("en-GB", { timeZone: tz });
    return tz;
  } catch (err) {
    return "UTC";
  }
}

function parts(when, tz) {
  const out = {};
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone: zoneOr(tz), year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "short", weekday: "short",
  });
  for (const part of format.formatToParts(when)) out[part.type] = part.value;
  return out;
}

// The zone's short name: "CET", "EST", "UTC"; en-GB knows Europe's, en-US America's; else "GMT+9".
function zoneLabel(at, tz) {
  let fallback = null;
  for (const locale of ["en-GB", "en-US"]) {
    const name = new Intl.DateTimeFormat(locale, { timeZone: zoneOr(tz), timeZoneName: "short" })
      .formatToParts(at)
      .find((part) => part.type === "timeZoneName").value;
    if (!/^GMT[+-]/.test(name)) return name;
    fallback = fallback || name;
  }
  return fallback;
}

function dayNumber(p) {
  return Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day)) / 86400000;
}

function relative(ms) {
  const ahead = ms >= 0;
  const minutes = Math.round(Math.abs(ms) / 60000);
  let span;
  if (minutes < 1) return ahead ? "in under a minute" : "just now";
  if (minutes < 90) span = `${minutes} min`;
  else if (minutes < 48 * 60) span = `${Math.round(minutes / 60)} h`;
  else span = `${Math.round(minutes / 1440)} days`;
  return ahead ? `in ${span}` : `${span} ago`;
}

// "tomorrow 09:00 CET", "Mon 7 Dec 09:00 CET", "2027-01-04 09:00 CET"
function when(iso, tz) {
  if (!iso) return "—";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const p = parts(at, tz);
  const today = parts(new Date(), tz);
  const days = dayNumber(p) - dayNumber(today);
  const clock = `${p.hour}:${p.minute} ${zoneLabel(at, tz)}`;
  const names = { "-1": "yesterday", 0: "today", 1: "tomorrow" };
  if (names[days] !== undefined) return `${names[days]} ${clock}`;
  if (Math.abs(days) < 7) return `${p.weekday} ${Number(p.day)} ${monthName(at, tz)} ${clock}`;
  return `${p.year}-${p.month}-${p.day} ${clock}`;
}

function monthName(at, tz) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: zoneOr(tz), month: "short" }).format(at);
}

// "tomorrow 09:00 CET, in 17 h"
function human(iso, tz) {
  if (!iso) return "—";
  return `${when(iso, tz)}, ${relative(new Date(iso).getTime() - Date.now())}`;
}

function utcShort(iso) {
  const p = parts(new Date(iso), "UTC");
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} UTC`;
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

// -- the tables: filter and pages --------------------------------------------------------------------------

const PAGE_SIZE = 20;
const pages = { "one-time-table": 0, "recurring-table": 0, "results-table": 0 };
let shown = { "one-time": [], recurring: [], results: [] }; // as last fetched
let unreadable = 0; // files of yours the last refresh left out as they do not open (a header counts them)

function matches(item) {
  const wanted = $("filter").value.trim().toLowerCase();
  if (!wanted) return true;
  return [item.id, item.schedule_id, item.name, item.agent_id, item.message, item.status, item.run_id]
    .some((value) => value && String(value).toLowerCase().includes(wanted));
}

function page(table, items) {
  const count = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  pages[table] = Math.min(Math.max(0, pages[table]), count - 1);
  const pager = $(`${table}-pager`);
  pager.querySelector(".page-label").textContent =
    items.length > PAGE_SIZE ? `page ${pages[table] + 1} of ${count} (${items.length})` : `${items.length} shown`;
  pager.querySelector("[data-page=prev]").disabled = pages[table] === 0;
  pager.querySelector("[data-page=next]").disabled = pages[table] >= count - 1;
  return items.slice(pages[table] * PAGE_SIZE, (pages[table] + 1) * PAGE_SIZE);
}

function resultZone(r) {
  const schedule = listed.recurring.get(r.schedule_id) || listed["one-time"].get(r.schedule_id);
  return schedule ? schedule.timezone || "UTC" : pageZone();
}

function render() {
  const oneTime = shown["one-time"].filter(matches);
  const one = fill("one-time-table", oneTime, 7, shown["one-time"].length ? "nothing matches" : "nothing scheduled");
  for (const s of page("one-time-table", oneTime)) {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    cell(tr, s.id, "id");
    cell(tr, s.name || "", "name");
    cell(tr, s.agent_id, "id");
    cell(tr, human(s.execute_at, s.timezone || "UTC"), "when").title = `${utcShort(s.execute_at)} (${s.timezone || "UTC"})`;
    cell(tr, s.role);
    cell(tr, short(s.message), "message");
    const actions = cell(tr, "");
    actions.appendChild(button("Edit", "edit-one-time", s.id));
    actions.appendChild(button("Delete", "delete-one-time", s.id));
    one.appendChild(tr);
  }

  const recurring = shown.recurring.filter(matches);
  const rec = fill("recurring-table", recurring, 8, shown.recurring.length ? "nothing matches" : "nothing recurring");
  for (const s of page("recurring-table", recurring)) {
    const tr = document.createElement("tr");
    tr.dataset.id = s.id;
    cell(tr, s.id, "id");
    cell(tr, s.name || "", "name");
    cell(tr, s.agent_id, "id");
    cell(tr, `${s.cron} (${s.timezone})`, "cron");
    cell(tr, s.next_run ? human(s.next_run, s.timezone) : "—", "next");
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

  const results = shown.results.filter(matches);
  const res = fill("results-table", results, 9, shown.results.length ? "nothing matches" : "no deliveries yet");
  for (const r of page("results-table", results)) {
    const tr = document.createElement("tr");
    tr.dataset.scheduleId = r.schedule_id;
    cell(tr, r.schedule_id, "id");
    cell(tr, r.name || "", "name");
    cell(tr, r.message === null || r.message === undefined ? "" : short(r.message), "message");
    cell(tr, r.manual ? `${r.status} (manual run)` : r.status, "status");
    cell(tr, r.run_end || r.run_status || "—", "run-status");
    cell(tr, r.run_id || "—", "id run-id");
    cell(tr, r.agent_id, "id");
    cell(tr, when(r.executed_at, resultZone(r)), "executed");
    cell(tr, r.error || "");
    res.appendChild(tr);
  }
}

function showUnreadable(count) {
  const box = $("unreadable");
  box.textContent = count
    ? `${count === 1 ? "One file" : `${count} files`} of yours could not be read and ${count === 1 ? "is" : "are"} ` +
      "left out of these lists. `switchboard doctor` names each and says why."
    : "";
  box.hidden = !count;
}

async function refresh() {
  unreadable = 0;
  const [oneTime, recurring, results] = await Promise.all([
    call("GET", "/schedules/one-time"),
    call("GET", "/schedules/recurring"),
    call("GET", "/results?limit=500"),
  ]);
  listed["one-time"] = new Map(oneTime.map((s) => [s.id, s]));
  listed.recurring = new Map(recurring.map((s) => [s.id, s]));
  shown = { "one-time": oneTime, recurring, results };
  showUnreadable(unreadable);
  render();
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
  // What was said about the old input no longer holds.
  $("preview-out").textContent = "";
  $("preview-out").className = "preview";
}

// The lines a preview shows: the instant or the next fires in the zone they were read in, with UTC beside.
// A past one-time instant ends with `refusal` instead of explain's notes (those are worded for the CLI).
function previewLines(data, verb, refusal) {
  const lines = [];
  if (data.kind === "one-time") {
    // In UTC itself the zone and the UTC time beside it would only say the same thing twice.
    const beside = data.timezone === "UTC" ? "" : ` (${data.timezone}) — ${utcShort(data.execute_at)}`;
    lines.push(`${verb.once}, at ${human(data.execute_at, data.timezone)}${beside}.`);
    if (data.past) return [...lines, refusal];
  } else {
    lines.push(`${verb.every}: ${data.cron} in ${data.timezone} — ${data.description}.`);
    lines.push(`Next: ${data.next.slice(0, 3).map((iso) => when(iso, data.timezone)).join("; ")}`);
  }
  for (const warning of data.warnings || []) lines.push(`Note: ${warning}`);
  return lines;
}

const PAST_REFUSAL = "That time has already passed — give a time still to come, or leave it empty to send now.";

async function preview() {
  const out = $("preview-out");
  const kind = $("kind").value;
  const phrase = $("when").value.trim();
  const tz = $("tz").value.trim() || "UTC";
  invalidatePreview();
  if (!phrase && kind === "one-time") {
    out.textContent = "Sent as soon as it is saved (no time given).";
    previewed = currentInputs();
    $("save").disabled = false;
    return;
  }
  const params = new URLSearchParams({ tz });
  params.set(kind === "one-time" ? "at" : "every", phrase);
  try {
    const data = await call("GET", `/explain?${params}`, undefined, { auth: false });
    const lines = previewLines(data, { once: "Once", every: "Recurring" }, PAST_REFUSAL);
    out.textContent = lines.join("\n");
    if (data.past) {
      // A time already past is refused here: the API would deliver it at once, which is rarely what was meant.
      out.className = "preview error";
      return;
    }
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
  const phrase = $("when").value.trim();
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
  const conversation = $("conversation").value.trim();
  if (conversation) body.conversation = conversation;
  if (kind === "one-time") {
    if (phrase) body.execute_at = phrase;
  } else {
    body.cron = phrase;
  }
  try {
    const made = await call("POST", kind === "one-time" ? "/schedules/one-time" : "/schedules/recurring", body);
    $("message").value = "";
    $("name").value = "";
    invalidatePreview(); // the next message is previewed afresh; it clears the box, so "Saved" comes after
    $("preview-out").textContent = `Saved ${kind} schedule ${made.id}.`;
    notice("");
    await refresh();
  } catch (err) {
    $("preview-out").textContent = err.message;
    $("preview-out").className = "preview error";
  }
}

// An error from Save (a bad agent id, say) is about the fields as they were: it goes when any of them changes.
// A preview's error stays until the time, zone or kind changes (invalidatePreview), as it is about those.
function clearSaveError() {
  const out = $("preview-out");
  if (out.classList.contains("error") && previewed !== null) {
    out.textContent = "";
    out.className = "preview";
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
  $("edit-tz").value = schedule.timezone || "UTC";
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
  const [phrase, tz] = JSON.parse(editTime());
  if (!phrase) {
    editOut(editing.kind === "one-time" ? "Give a time (or keep the one shown)." : "Give a schedule.", true);
    return;
  }
  const params = new URLSearchParams({ tz });
  params.set(editing.kind === "one-time" ? "at" : "every", phrase);
  try {
    const data = await call("GET", `/explain?${params}`, undefined, { auth: false });
    const refusal = "That time has already passed — give a time still to come.";
    const lines = previewLines(data, { once: "Moves", every: "Becomes" }, refusal);
    editOut(lines.join("\n"), Boolean(data.past));
    if (data.past) return;
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
    const [phrase, tz] = JSON.parse(editTime());
    body[editing.kind === "one-time" ? "execute_at" : "cron"] = phrase;
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
    editOut(err.message, true); // a 409 says itself that nothing changed and to try again
  }
}

// Deleting and sending cannot be undone: both are asked first.
function confirmation(action, id) {
  const kind = action === "delete-one-time" ? "one-time" : "recurring";
  const schedule = listed[kind].get(id);
  const label = schedule && schedule.name ? `"${schedule.name}"` : id;
  if (action === "delete-one-time") return `Delete the one-time message ${label}? It will not be sent.`;
  if (action === "delete-recurring") return `Delete the recurring schedule ${label}? It will not fire again.`;
  if (action === "run") return `Send ${label} to its agent now, once, besides its schedule?`;
  return null;
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
  const question = confirmation(target.dataset.action, id);
  if (question && !window.confirm(question)) return;
  target.disabled = true;
  try {
    const answer = await call(route[0], route[1]);
    // A manual run answers with its result (status "success", the hosted endpoints' name): say what Letta made of it.
    notice(target.dataset.action === "run" && answer.status !== "success" ? `Run failed: ${answer.error}` : "");
    await refresh();
  } catch (err) {
    // A 409 (a tick is delivering that schedule right now) says itself that nothing was done and when to retry.
    notice(err.message);
    target.disabled = false;
  }
}

function start() {
  $("tz").value = pageZone();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useKey($("key").value);
  });
  $("forget-key").addEventListener("click", forgetKey);
  $("preview").addEventListener("click", preview);
  $("create-form").addEventListener("submit", save);
  for (const id of ["when", "tz"]) $(id).addEventListener("input", invalidatePreview);
  for (const id of ["agent", "name", "role", "message", "conversation"]) {
    $(id).addEventListener("input", clearSaveError);
  }
  // A select fires "input" and then "change": one handler is enough.
  $("kind").addEventListener("change", () => {
    invalidatePreview();
    $("when").placeholder = $("kind").value === "one-time" ? "tomorrow at 9am" : "every weekday at 10am";
  });
  $("edit-form").addEventListener("submit", saveEdit);
  $("edit-preview").addEventListener("click", previewEdit);
  $("edit-cancel").addEventListener("click", stopEdit);
  for (const id of ["edit-when", "edit-tz", "edit-message", "edit-name"]) {
    $(id).addEventListener("input", () => {
      if ($("edit-out").classList.contains("error")) editOut("", false);
    });
  }
  $("filter").addEventListener("input", () => {
    for (const table of Object.keys(pages)) pages[table] = 0;
    render();
  });
  for (const table of Object.keys(pages)) {
    $(`${table}-pager`).addEventListener("click", (event) => {
      const step = event.target.closest("button[data-page]");
      if (!step) return;
      pages[table] += step.dataset.page === "next" ? 1 : -1;
      render();
    });
  }
  $("refresh").addEventListener("click", () => refresh().catch((err) => notice(err.message)));
  $("main").addEventListener("click", act);
  const kept = sessionStorage.getItem(SESSION_KEY);
  if (kept) {
    $("remember").checked = true;
    useKey(kept);
  }
}

document.addEventListener("DOMContentLoaded", start);
