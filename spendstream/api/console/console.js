// spendstream console: GraphQL over fetch, alerts over a graphql-transport-ws WebSocket. No build step.
// The token stays in this tab (sessionStorage, or the URL fragment, which is never sent to a server).
"use strict";
const $ = (id) => document.getElementById(id);
const state = { token: "", account: "", socket: null, cursor: null, timer: null };

function money(usd) {
  return "$" + Number(usd).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

async function gql(query, variables) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + state.token },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || body.errors) {
    throw new Error(response.status === 401 ? "token refused: sign in again" : (body.errors || [{}])[0].message || response.status);
  }
  return body.data;
}

function say(text) { $("status").textContent = text; }

async function signIn(token, account) {
  state.token = token;
  sessionStorage.setItem("spendstream-token", token);
  try {
    const { accounts } = await gql("{ accounts }");
    $("account").replaceChildren(...accounts.map((a) => new Option(a, a)));
    if (!accounts.length) return say("this token may read no account");
    $("account").value = accounts.includes(account) ? account : accounts[0];
    await choose($("account").value);
  } catch (error) { say(error.message); }
}

async function choose(account) {
  state.account = account;
  clearInterval(state.timer);
  $("alerts").replaceChildren();
  await refresh();
  await loadAlerts();
  state.timer = setInterval(refresh, 5000);
}

async function refresh() {
  const account = state.account;
  try {
    const data = await gql(`query($a: String!) {
      getCurrentCosts(accountId: $a) { asOf totalUsd byService { key usd } monthToDateUsd monthEndProjectionUsd }
      getCostPredictions(accountId: $a, timeframe: 30) { days { day predictedUsd lowerUsd upperUsd } }
      anomalies(accountId: $a, first: 50) { at service severity status actualUsd expectedUsd episodeId }
    }`, { a: account });
    if (account !== state.account) return;
    renderCosts(data.getCurrentCosts);
    renderForecast(data.getCostPredictions.days);
    $("anomalies").replaceChildren(...openEpisodes(data.anomalies).map((a) => item(
      `${a.at.slice(0, 16).replace("T", " ")} ${a.service}: ${money(a.actualUsd)} vs ${money(a.expectedUsd)} expected`, a.severity)));
    if (!$("anomalies").children.length) $("anomalies").replaceChildren(item("none open"));
    say(`signed in · ${account}`);
  } catch (error) { say(error.message); }
}

// The newest message of each episode still open: an episode ends with a "close" message (which the
// sink stores at the episode's first hour, so it is not the newest by time).
function openEpisodes(messages) {
  const closed = new Set(messages.filter((m) => m.status === "close").map((m) => m.episodeId));
  const newest = new Map();
  for (const m of messages) if (!closed.has(m.episodeId) && !newest.has(m.episodeId)) newest.set(m.episodeId, m);
  return [...newest.values()];
}

function renderCosts(current) {
  if (!current) { $("today-total").textContent = "no cost yet"; return; }
  $("today-total").textContent = money(current.totalUsd);
  $("as-of").textContent = "as of " + current.asOf.slice(0, 16).replace("T", " ") + " UTC";
  $("services").tBodies[0].replaceChildren(...current.byService.map((s) => {
    const row = document.createElement("tr");
    row.innerHTML = "<td></td><td></td>";
    row.cells[0].textContent = s.key;
    row.cells[1].textContent = money(s.usd);
    return row;
  }));
  $("month-end").textContent = money(current.monthEndProjectionUsd);
  $("month-to-date").textContent = money(current.monthToDateUsd) + " so far this month";
}

function renderForecast(days) {
  const svg = $("chart");
  if (!days.length) { svg.innerHTML = '<text x="10" y="100">no forecast yet</text>'; return; }
  const top = Math.max(...days.map((d) => d.upperUsd)) * 1.1 || 1;
  const x = (i) => (i / Math.max(1, days.length - 1)) * 620 + 10;
  const y = (v) => 190 - (v / top) * 180;
  const upper = days.map((d, i) => `${x(i)},${y(d.upperUsd)}`);
  const lower = days.map((d, i) => `${x(i)},${y(d.lowerUsd)}`).reverse();
  const line = days.map((d, i) => `${x(i)},${y(d.predictedUsd)}`);
  svg.innerHTML = `<polygon class="band" points="${upper.concat(lower).join(" ")}"></polygon>` +
    `<polyline class="line" points="${line.join(" ")}"></polyline>`;
}

function item(text, severity, fresh) {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = (severity || "") + (fresh ? " new" : "");
  return li;
}

function showAlert(alert, fresh) {
  const li = item(`${alert.windowEnd.slice(0, 16).replace("T", " ")} ${alert.kind}: ${alert.title}`, alert.severity, fresh);
  li.dataset.alertId = alert.alertId;
  $("alerts").prepend(li);
  state.cursor = alert.cursor;
}

async function loadAlerts() {
  const fields = "alertId cursor kind severity title windowEnd";
  const { alerts } = await gql(`query($a: String!) { alerts(accountId: $a, first: 20) { ${fields} } }`, { a: state.account });
  state.cursor = null;
  alerts.reverse().forEach((a) => showAlert(a, false));
  subscribe(fields);
}

function subscribe(fields) {
  if (state.socket) state.socket.close();
  const account = state.account;
  const socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: "Bearer " + state.token } }));
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      const query = `subscription($a: String, $after: String) { alerts(accountId: $a, after: $after) { ${fields} } }`;
      socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables: { a: account, after: state.cursor } } }));
    } else if (message.type === "next" && message.payload.data) {
      showAlert(message.payload.data.alerts, true);
    } else if (message.type === "next" || message.type === "error") {
      say("alerts: " + JSON.stringify(message.payload.errors || message.payload));
    }
  };
  socket.onclose = () => { if (state.socket === socket) setTimeout(() => subscribe(fields), 1000); };  // resumes after the cursor
}

$("signin").addEventListener("submit", (event) => { event.preventDefault(); signIn($("token").value.trim(), ""); });
$("account").addEventListener("change", (event) => choose(event.target.value));
const fragment = new URLSearchParams(location.hash.slice(1));
const saved = fragment.get("token") || sessionStorage.getItem("spendstream-token");
if (fragment.get("token")) history.replaceState(null, "", location.pathname);  // the token leaves the address bar
if (saved) signIn(saved, fragment.get("account") || "");
