// The live dashboard's page: reads /api/run once, then follows /api/events (server-sent events) and redraws
// what changed. Sections arrive as HTML rendered by the report's own code (escaped on the server); every other
// string is inserted as text. Charts are uPlot (shipped beside this file).
"use strict";

const dashboard = { updates: 0, version: null, data: null, charts: {} };
window.dashboard = dashboard;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// Replace a node's HTML only when it changed, keeping which <details> were open.
function setHTML(node, html) {
  if (node._html === html) return;
  const open = Array.from(node.querySelectorAll("details"), (d) => d.open);
  node.innerHTML = html;
  node.querySelectorAll("details").forEach((d, i) => { if (open[i]) d.open = true; });
  node._html = html;
}

function fmtScore(x) { return x === null || x === undefined ? "–" : x.toFixed(3); }
function fmtCost(x) { return x === null || x === undefined ? "unknown" : (x < 1 ? `$${x.toFixed(4)}` : `$${x.toFixed(2)}`); }

// --------------------------------------------------------------------------------------------- charts

function chartRows(data, key) {
  const rows = [];
  for (const p of data.points) if (p[key] !== null && p.score !== null) rows.push([p[key], null, p.score]);
  let last = null;
  for (const c of data.curve) if (c[key] !== null && c.score !== null) { rows.push([c[key], c.score, null]); last = c.score; }
  const end = key === "calls" ? data.budget.metric_calls : data.budget.cost;
  if (last !== null && end !== null) rows.push([end, last, null]);
  rows.sort((a, b) => a[0] - b[0]);
  return [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])];
}

function scoreRange(data) {
  const ys = data.points.map((p) => p.score).filter((y) => y !== null);
  if (!ys.length || (Math.min(...ys) >= 0 && Math.max(...ys) <= 1)) return [0, 1];
  const lo = Math.min(...ys), hi = Math.max(...ys);
  return lo === hi ? [lo - 1, hi + 1] : [lo, hi];
}

function drawChart(name, box, data, key, xLabel, limit, format) {
  const rows = chartRows(data, key);
  const end = rows[0].length ? rows[0][rows[0].length - 1] : 0;
  const xMax = Math.max(limit || 0, end) || 1;
  let chart = dashboard.charts[name];
  if (chart) {
    chart._xMax = xMax; chart._limit = limit; chart._y = scoreRange(data);
    chart.setData(rows);
    return chart;
  }
  box.textContent = "";
  const blue = "#2f6fdf";
  const opts = {
    title: `best validation score against ${xLabel}`,
    width: Math.max(320, box.clientWidth || 600), height: 280,
    scales: {
      x: { time: false, range: (u) => [0, u._xMax] },
      y: { range: (u) => u._y },
    },
    axes: [{ label: xLabel, values: (u, ticks) => ticks.map(format) }, { label: "validation score" }],
    series: [
      { label: xLabel, value: (u, v) => (v === null || v === undefined ? "–" : format(v)) },
      { label: "best so far", stroke: blue, width: 2.5, spanGaps: true, points: { show: false },
        paths: uPlot.paths.stepped({ align: 1 }) },
      { label: "candidate", stroke: blue, width: 1.5, paths: () => null, points: { show: true, size: 8, fill: "#fff" } },
    ],
    hooks: {
      draw: [(u) => {
        if (!u._limit) return;
        const x = u.valToPos(u._limit, "x", true), ctx = u.ctx;
        ctx.save(); ctx.strokeStyle = "#c33"; ctx.setLineDash([4, 3]); ctx.lineWidth = 1.5;
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.restore();
      }],
    },
  };
  chart = new uPlot(opts, [[], [], []], box);
  chart._xMax = xMax; chart._limit = limit; chart._y = scoreRange(data);
  chart.setData(rows);
  dashboard.charts[name] = chart;
  return chart;
}

function drawCharts(data) {
  drawChart("calls", $("chart-calls"), data, "calls", "metric calls", data.budget.max_metric_calls,
            (v) => String(Math.round(v)));
  const box = $("chart-cost");
  if (data.points.some((p) => p.cost !== null)) {
    drawChart("cost", box, data, "cost", "cost (USD)", data.budget.max_cost, (v) => `$${+v.toPrecision(3)}`);
  } else if (!dashboard.charts.cost) {
    box.textContent = "No cost recorded yet (the LM calls so far had no known price).";
    box.className = "chart-box muted";
  }
}

window.addEventListener("resize", () => {
  for (const [name, chart] of Object.entries(dashboard.charts)) {
    const box = $(`chart-${name}`);
    chart.setSize({ width: Math.max(320, box.clientWidth || 600), height: 280 });
  }
});

// --------------------------------------------------------------------------------------------- sections

function drawBudget(budget) {
  const node = $("budget");
  node.textContent = "";
  if (budget.max_metric_calls) {
    const used = Math.min(1, budget.metric_calls / budget.max_metric_calls);
    node.append(el("div", { class: "budget-line" },
      `metric calls: ${budget.metric_calls.toLocaleString()} of ${budget.max_metric_calls.toLocaleString()} — ` +
      `${budget.metric_calls_left.toLocaleString()} left`));
    const bar = el("div", { class: "bar", role: "progressbar", "aria-label": "metric calls used" }, el("div"));
    bar.firstChild.style.width = `${(100 * used).toFixed(1)}%`;
    node.append(bar);
  }
  if (budget.max_cost !== null) {
    node.append(el("div", { class: "budget-line" },
      `cost: ${fmtCost(budget.cost)} of ${fmtCost(budget.max_cost)} — ${fmtCost(budget.cost_left)} left`));
    const bar = el("div", { class: "bar", role: "progressbar", "aria-label": "cost used" }, el("div"));
    bar.firstChild.style.width = `${(100 * Math.min(1, (budget.cost || 0) / budget.max_cost)).toFixed(1)}%`;
    node.append(bar);
  }
}

function drawInflight(inflight, status) {
  const body = $("inflight-body");
  body.textContent = "";
  if (!inflight.length) {
    body.append(el("p", { class: "muted" }, status === "running" ? "Nothing in flight at the moment." : "None: the run is not going."));
    return;
  }
  const table = el("table", { class: "inflight" },
    el("tr", {}, el("th", { class: "num" }, "proposal"), el("th", {}, "parent"), el("th", {}, "components"),
       el("th", { class: "num" }, "rollouts so far"), el("th", {}, "proposed instructions")));
  for (const f of inflight) {
    const texts = el("td");
    const entries = Object.entries(f.texts || {});
    if (f.error) texts.append(el("span", { class: "muted" }, `reflection failed: ${f.error}`));
    else if (!entries.length) texts.append(el("span", { class: "muted" }, f.seq === 0 ? "validating the seed" : "evaluating / reflecting…"));
    for (const [name, text] of entries) texts.append(el("div", { class: "comp" }, el("span", { class: "name" }, name), el("div", { class: "text" }, text)));
    const parent = f.parent === null || f.parent === undefined ? el("span", {}, "–") : el("a", { href: `#cand-${f.parent}` }, `#${f.parent}`);
    table.append(el("tr", {}, el("td", { class: "num" }, f.seq), el("td", {}, parent),
                    el("td", {}, (f.components || []).join(", ") || "–"), el("td", { class: "num" }, f.rollouts), texts));
  }
  body.append(table);
}

function drawCandidates(candidates) {
  const box = $("candidates-body");
  const nodes = box._nodes || (box._nodes = new Map());
  if (!candidates.length) { setHTML(box, "<p>No candidate yet.</p>"); nodes.clear(); return; }
  if (box._html) { box.textContent = ""; box._html = undefined; }
  candidates.forEach((c, i) => {
    let node = nodes.get(c.idx);
    if (!node) { node = el("div", { class: "cand-slot" }); nodes.set(c.idx, node); }
    setHTML(node, c.html);
    if (box.children[i] !== node) box.insertBefore(node, box.children[i] || null);
  });
}

function update(data) {
  if (data.version === dashboard.version) return;
  dashboard.version = data.version;
  dashboard.data = data;
  dashboard.updates += 1;
  const name = (data.source || "").split(/[\\/]/).filter(Boolean).pop() || "run";
  $("run-name").textContent = name;
  document.title = `GEPA live — ${name}`;
  $("source").textContent = data.source;
  $("updated").textContent = new Date().toLocaleTimeString();
  $("waiting").hidden = data.journal !== false;
  setHTML($("status"), data.html.status);
  drawBudget(data.budget);
  setHTML($("summary-cards"), data.html.summary);
  setHTML($("config"), data.html.config);
  drawCharts(data);
  drawInflight(data.inflight, data.status);
  setHTML($("lineage-body"), data.html.lineage);
  setHTML($("front-body"), data.html.front);
  setHTML($("scores-body"), data.html.scores);
  drawCandidates(data.candidates);
  setHTML($("proposals-body"), data.html.proposals);
}

function connect() {
  const live = $("live");
  const events = new EventSource("/api/events");
  events.addEventListener("run", (e) => update(JSON.parse(e.data)));
  events.onopen = () => { live.textContent = "live"; live.className = "live on"; };
  events.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; };
  dashboard.events = events;
}

fetch("/api/run").then((r) => r.json()).then(update).finally(connect);
