// The flows list: newest first, filtered by status and label, refreshed every few seconds.
"use strict";

(function () {
  const REFRESH_MS = 3000;
  const PAGE = 50;
  const params = new URLSearchParams(window.location.search);
  const state = {
    status: params.get("status") || "",
    label: params.get("label") || "",
    offset: Math.max(0, parseInt(params.get("offset") || "0", 10) || 0),
  };
  const statusSelect = document.getElementById("filter-status");
  const labelInput = document.getElementById("filter-label");
  statusSelect.value = state.status;
  labelInput.value = state.label;

  function syncUrl() {
    const query = new URLSearchParams();
    if (state.status) query.set("status", state.status);
    if (state.label) query.set("label", state.label);
    if (state.offset) query.set("offset", String(state.offset));
    const text = query.toString();
    window.history.replaceState(null, "", text ? "?" + text : window.location.pathname);
  }

  function apiUrl() {
    const query = new URLSearchParams({limit: String(PAGE)});
    if (state.status) query.set("status", state.status);
    if (state.label) query.set("label", state.label);
    if (state.offset) query.set("offset", String(state.offset));
    return "/api/flows?" + query.toString();
  }

  function renderCounts(counts) {
    const box = MC.clear(document.getElementById("counts"));
    let total = 0;
    for (const status of Object.keys(counts)) total += counts[status];
    const all = MC.el("a", {href: "#", class: "badge" + (state.status ? "" : " selected"), "data-count": "ALL"},
      "All " + total);
    all.addEventListener("click", (event) => { event.preventDefault(); setStatus(""); });
    box.appendChild(all);
    for (const status of Object.keys(counts)) {
      const link = MC.el("a", {
        href: "#", class: "badge status-" + status + (state.status === status ? " selected" : ""),
        "data-count": status,
      }, status + " " + counts[status]);
      link.addEventListener("click", (event) => { event.preventDefault(); setStatus(status); });
      box.appendChild(link);
    }
  }

  function renderFlows(data) {
    const body = MC.clear(document.querySelector("#flows tbody"));
    for (const flow of data.flows) {
      const row = MC.el("tr", {"data-key": flow.key});
      row.appendChild(MC.el("td", {class: "mono"}, MC.el("a", {href: MC.flowPage(flow.key)}, flow.key)));
      row.appendChild(MC.el("td", {class: "label"}, flow.label === null ? MC.el("span", {class: "muted"}, "–") : flow.label));
      const status = MC.el("td", {}, MC.badge(flow.status));
      if (flow.error) status.appendChild(MC.el("span", {class: "muted", title: flow.error}, " (!)"));
      row.appendChild(status);
      row.appendChild(MC.el("td", {class: "num"}, flow.num_tasks));
      row.appendChild(MC.el("td", {class: "num"}, flow.num_ticks));
      row.appendChild(MC.el("td", {class: "time"}, MC.formatTime(flow.created_at)));
      row.appendChild(MC.el("td", {class: "time", title: MC.formatTime(flow.updated_at)}, MC.ago(flow.updated_at, data.now)));
      body.appendChild(row);
    }
    if (!data.flows.length) {
      body.appendChild(MC.el("tr", {}, MC.el("td", {colspan: 7, class: "empty"}, "No flows match.")));
    }
    const first = data.flows.length ? data.offset + 1 : 0;
    document.getElementById("shown").textContent =
      "showing " + first + "–" + (data.offset + data.flows.length) + (data.more ? " (more below)" : "");
    document.getElementById("newer").disabled = data.offset === 0;
    document.getElementById("older").disabled = !data.more;
  }

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    if (document.hidden && document.querySelector("#flows tbody tr")) {
      timer = setTimeout(refresh, REFRESH_MS);  // a hidden tab asks nothing
      return;
    }
    try {
      const data = await MC.getJSON(apiUrl());
      MC.clear(document.getElementById("list-error"));
      renderCounts(data.counts);
      renderFlows(data);
      MC.setLive(true, "live · updated " + MC.formatTime(Date.now() / 1000, Date.now() / 1000));
    } catch (error) {
      const box = MC.clear(document.getElementById("list-error"));
      box.appendChild(MC.el("div", {class: "error-box"}, error.message));
      MC.setLive(false, "not updated: " + error.message);
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  function setStatus(status) {
    state.status = status;
    statusSelect.value = status;
    state.offset = 0;
    syncUrl();
    refresh();
  }

  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.status = statusSelect.value;
    state.label = labelInput.value.trim();
    state.offset = 0;
    syncUrl();
    refresh();
  });
  statusSelect.addEventListener("change", () => setStatus(statusSelect.value));
  document.getElementById("filter-clear").addEventListener("click", () => {
    labelInput.value = "";
    state.label = "";
    setStatus("");
  });
  document.getElementById("newer").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE); syncUrl(); refresh();
  });
  document.getElementById("older").addEventListener("click", () => {
    state.offset += PAGE; syncUrl(); refresh();
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  refresh();
})();
