// The flow page: summary, DAG, task tree and task output, updated live.
// Live, it polls /api/flows/{key} (the browser revalidates by ETag) and
// redraws what changed; in a static report (mc report) it draws the data
// embedded in the page once.
"use strict";

(function () {
  const POLL_MS = 2000;
  const POLL_FINISHED_MS = 10000;
  const embedded = document.getElementById("mc-report");
  const report = embedded ? JSON.parse(embedded.textContent) : null;
  const key = report ? report.flow.key : decodeURIComponent(window.location.pathname.replace(/^\/flows\//, ""));
  // skew: the store's clock minus this browser's, so that "running 4m12s" counts from the store's times.
  const state = {version: null, view: null, selected: null, logTimer: null, logs: {}, skew: 0};
  const storeNow = () => Date.now() / 1000 + state.skew;

  // -- summary ---------------------------------------------------------------

  function addMeta(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    list.appendChild(MC.el("dt", {}, name));
    list.appendChild(MC.el("dd", {}, value));
  }

  function renderSummary(view) {
    document.title = (view.label || view.key) + " · MissionControl";
    document.getElementById("crumb-flow").textContent = view.label || view.key;
    const title = MC.clear(document.getElementById("title"));
    title.appendChild(MC.el("span", {id: "flow-label"}, view.label || "flow"));
    title.appendChild(MC.badge(view.status));
    const record = view.record;
    const meta = MC.clear(document.getElementById("meta"));
    addMeta(meta, "key", MC.el("code", {id: "flow-key"}, view.key));
    addMeta(meta, "created", MC.formatTime(record.created_at));
    addMeta(meta, "updated", MC.formatTime(record.updated_at) + " (tick " + record.num_ticks + ")");
    if (record.parent_key) {
      const parent = report ? MC.el("code", {}, record.parent_key)
        : MC.el("a", {href: MC.flowPage(record.parent_key), class: "mono"}, record.parent_key);
      addMeta(meta, "parent", parent);
    }
    if (record.lease_owner && record.lease_expires_at && record.lease_expires_at > view.now) {
      addMeta(meta, "leased to", record.lease_owner + " until " + MC.formatTime(record.lease_expires_at));
    }
    const errors = MC.clear(document.getElementById("flow-errors"));
    if (record.error) errors.appendChild(MC.el("div", {class: "error-box"}, "Marked FAILED by the store or a runner: " + record.error));
    if (view.load_error) errors.appendChild(MC.el("div", {class: "error-box"}, view.load_error));
    if (view.tree && view.tree.cancelled) errors.appendChild(MC.el("div", {class: "error-box"}, "Cancelled: " + view.tree.cancelled));
    for (const error of (view.tree ? view.tree.errors : [])) errors.appendChild(MC.el("div", {class: "error-box"}, error));
  }

  function renderCounts(view) {
    const box = MC.clear(document.getElementById("task-counts"));
    for (const status of MC.STATUSES) {
      const count = view.task_counts[status] || 0;
      if (count) box.appendChild(MC.el("span", {class: "badge status-" + status, "data-count": status}, status + " " + count));
    }
    if (!box.firstChild) box.appendChild(MC.el("span", {class: "empty"}, "No tasks."));
  }

  // -- the DAG -------------------------------------------------------------------

  function renderGraph(view) {
    const box = MC.clear(document.getElementById("graph"));
    const graph = view.graph || {};
    if (!graph.svg) {
      box.appendChild(MC.el("p", {class: "empty"}, graph.error || "No picture."));
      return;
    }
    // The server sanitized the SVG (an allowlist of drawing elements); parsed
    // as XML it runs nothing, and the page's CSP allows no inline script.
    const parsed = new DOMParser().parseFromString(graph.svg, "image/svg+xml");
    const root = parsed.documentElement;
    if (root.nodeName !== "svg" || parsed.getElementsByTagName("parsererror").length) {
      box.appendChild(MC.el("p", {class: "empty"}, "The picture cannot be shown."));
      return;
    }
    box.appendChild(document.importNode(root, true));
    const legend = MC.clear(document.getElementById("legend"));
    for (const status of MC.STATUSES) legend.appendChild(MC.badge(status));
  }

  // -- the task tree -------------------------------------------------------------

  function jobCell(node) {
    const cell = MC.el("td", {class: "job"});
    const line = MC.el("div", {});
    for (const [name, value] of [["executor", node.executor], ["job id", node.job_id], ["job status", node.job_status]]) {
      if (value === null) continue;
      if (line.firstChild) line.appendChild(MC.el("span", {class: "muted"}, " · "));
      line.appendChild(MC.el("span", {class: "muted"}, name + " "));
      line.appendChild(MC.el("span", {class: name.replace(" ", "-")}, value));
    }
    if (line.firstChild) cell.appendChild(line);
    if (node.cached_from) {
      cell.appendChild(MC.el("div", {class: "cached-from"},
        MC.el("span", {class: "muted"}, "cached from "), MC.el("span", {class: "mono"}, node.cached_from)));
    }
    if (node.job_dir) cell.appendChild(MC.el("div", {class: "mono job-dir", title: node.job_dir}, node.job_dir));
    if (node.subflow_key) {
      const kind = node.subflow_stored ? "stored subflow " : "subflow ";
      const link = node.subflow_stored && !report
        ? MC.el("a", {href: MC.flowPage(node.subflow_key), class: "mono"}, node.subflow_key)
        : MC.el("span", {class: "mono"}, node.subflow_key);
      cell.appendChild(MC.el("div", {}, MC.el("span", {class: "muted"}, kind), link));
    }
    return cell;
  }

  function durationText(node, now) {
    if (node.cached_from) return "cached";
    if (node.duration_s !== null) return MC.formatDuration(node.duration_s);
    if (node.status === "RUNNING" && node.started_at !== null) return "running " + MC.formatDuration(now - node.started_at);
    if (node.retry_at !== null) return "retry at " + MC.formatTime(node.retry_at, now);
    return "";
  }

  function renderTasks(view) {
    const body = MC.clear(document.querySelector("#tasks tbody"));
    const now = report ? view.now : storeNow();
    function add(node, depth) {
      const row = MC.el("tr", {"data-path": node.path, "data-status": node.status,
                               class: node.path === state.selected ? "selected" : null});
      const name = MC.el("button", {type: "button", class: "task-name", title: "show the output of " + node.path}, node.key);
      name.addEventListener("click", () => selectTask(node.path));
      const taskCell = MC.el("td", {class: "task"});
      taskCell.style.paddingLeft = (8 + depth * 22) + "px";
      if (depth) taskCell.appendChild(MC.el("span", {class: "indent"}, "└ "));
      taskCell.appendChild(name);
      if (node.kind === "proxied") taskCell.appendChild(MC.el("span", {class: "muted"}, " (proxied)"));
      if (node.label) taskCell.appendChild(MC.el("div", {class: "muted task-label"}, node.label));
      row.appendChild(taskCell);
      row.appendChild(MC.el("td", {class: "status"}, MC.badge(node.status)));
      row.appendChild(MC.el("td", {class: "type mono"}, node.task_type));
      row.appendChild(MC.el("td", {class: "num attempts"}, node.attempts || ""));
      row.appendChild(MC.el("td", {class: "time", title: node.finished_at ? "finished " + MC.formatTime(node.finished_at) : null},
        MC.formatTime(node.started_at, now)));
      row.appendChild(MC.el("td", {class: "time duration", "data-started": node.status === "RUNNING" ? node.started_at : null},
        durationText(node, now)));
      row.appendChild(jobCell(node));
      row.appendChild(MC.el("td", {class: "error"}, node.error || ""));
      body.appendChild(row);
      for (const child of node.children) add(child, depth + 1);
    }
    for (const node of (view.tree ? view.tree.tasks : [])) add(node, 0);
    const others = MC.clear(document.getElementById("subflows"));
    if (view.stored_subflows.length) {
      others.appendChild(MC.el("h2", {}, "Other stored subflows"));
      const list = MC.el("ul", {});
      for (const child of view.stored_subflows) {
        const name = report ? MC.el("code", {}, child.key) : MC.el("a", {href: MC.flowPage(child.key), class: "mono"}, child.key);
        list.appendChild(MC.el("li", {}, name, " ", child.label || "", " ", MC.badge(child.status)));
      }
      others.appendChild(list);
    }
  }

  // The "running 4m12s" cells move on between polls.
  function tickDurations() {
    const now = storeNow();
    for (const cell of document.querySelectorAll("td.duration[data-started]")) {
      cell.textContent = "running " + MC.formatDuration(now - Number(cell.getAttribute("data-started")));
    }
  }

  function findNode(path) {
    const stack = state.view && state.view.tree ? [...state.view.tree.tasks] : [];
    while (stack.length) {
      const node = stack.pop();
      if (node.path === path) return node;
      stack.push(...node.children);
    }
    return null;
  }

  // -- task output -----------------------------------------------------------------

  function logUrl(path, extra) {
    const query = new URLSearchParams(extra || {}).toString();
    return MC.flowApi(key) + "/tasks/" + MC.taskPathUrl(path) + "/log" + (query ? "?" + query : "");
  }

  function selectTask(path) {
    state.selected = path;
    state.logs = {};
    for (const row of document.querySelectorAll("#tasks tbody tr")) {
      row.classList.toggle("selected", row.getAttribute("data-path") === path);
    }
    if (!report) window.history.replaceState(null, "", "#task=" + encodeURIComponent(path));
    document.getElementById("log-task").textContent = path;
    loadLog(true);
    document.getElementById("log-panel").scrollIntoView({behavior: "smooth", block: "nearest"});
  }

  function renderLog(answer) {
    const body = MC.clear(document.getElementById("log-body"));
    body.setAttribute("data-task", answer.task_path);
    if (!answer.sources.length) {
      body.appendChild(MC.el("p", {class: "empty"}, "This task has no output files."));
      return;
    }
    for (const source of answer.sources) {
      let kept = state.logs[source.name];
      if (kept && kept.path !== source.path) {
        // Another file under the same name (a newer submission's scheduler
        // log): the earlier pages were the old file's.
        delete state.logs[source.name];
        kept = undefined;
      }
      const head = MC.el("div", {class: "log-head"}, MC.el("strong", {}, source.label));
      if (source.path && source.exists) head.appendChild(MC.el("span", {class: "mono muted"}, source.path));
      const start = kept ? kept.start : source.start;
      if (source.exists && start > 0) {
        if (report) {
          head.appendChild(MC.el("span", {class: "muted"}, "(the first " + start + " bytes are left out)"));
        } else {
          const earlier = MC.el("button", {type: "button", class: "earlier"}, "Show earlier output");
          earlier.addEventListener("click", () => loadEarlier(source.name));
          head.appendChild(earlier);
        }
      }
      body.appendChild(head);
      if (!source.exists) {
        head.appendChild(MC.el("span", {class: "empty"}, "nothing yet"));
        continue;
      }
      const text = (kept && kept.earlier ? kept.earlier : "") + source.text;
      const pre = MC.el("pre", {class: "log", "data-source": source.name}, text || "");
      if (!text) pre.appendChild(MC.el("span", {class: "muted"}, "(empty)"));
      body.appendChild(pre);
      pre.scrollTop = pre.scrollHeight;
    }
  }

  async function loadLog(first) {
    clearTimeout(state.logTimer);
    const path = state.selected;
    if (path === null) return;
    if (report) {
      const answer = report.logs[path];
      if (answer) renderLog(answer);
      else MC.clear(document.getElementById("log-body")).appendChild(MC.el("p", {class: "empty"}, "No output of this task is in the report."));
      return;
    }
    try {
      const answer = await MC.getJSON(logUrl(path));
      if (path !== state.selected) return;
      state.lastLog = answer;
      renderLog(answer);
    } catch (error) {
      MC.clear(document.getElementById("log-body")).appendChild(MC.el("div", {class: "error-box"}, error.message));
    }
    const node = findNode(path);
    if (node && (node.status === "RUNNING" || node.status === "PENDING")) {
      state.logTimer = setTimeout(() => loadLog(false), POLL_MS);
    }
  }

  async function loadEarlier(name) {
    const answer = state.lastLog;
    const source = answer && answer.sources.find((s) => s.name === name);
    if (!source) return;
    const kept = state.logs[name] || {path: source.path, start: source.start, earlier: ""};
    try {
      const page = await MC.getJSON(logUrl(state.selected, {source: name, end: String(kept.start)}));
      const older = page.sources[0];
      if (older && older.exists && older.path === kept.path) {
        state.logs[name] = {path: kept.path, start: older.start, earlier: older.text + kept.earlier};
      }
      renderLog(answer);
    } catch (error) {
      MC.clear(document.getElementById("log-body")).appendChild(MC.el("div", {class: "error-box"}, error.message));
    }
  }

  // -- updates ---------------------------------------------------------------------

  // A runner saves a running flow on every claim: redraw only the parts that changed.
  const drawn = {graph: null, tasks: null};
  function render(view) {
    state.view = view;
    renderSummary(view);
    renderCounts(view);
    const graph = JSON.stringify(view.graph || null);
    if (graph !== drawn.graph) { renderGraph(view); drawn.graph = graph; }
    const tasks = JSON.stringify([view.tree, view.stored_subflows]);
    if (tasks !== drawn.tasks) { renderTasks(view); drawn.tasks = tasks; }
  }

  let pollTimer = null;
  async function poll() {
    clearTimeout(pollTimer);
    if (document.hidden && state.view) {
      // A tab nobody looks at asks nothing; it catches up when shown again.
      pollTimer = setTimeout(poll, POLL_MS);
      return;
    }
    let finished = false;
    try {
      const view = await MC.getJSON(MC.flowApi(key));
      finished = view.status === "COMPLETED" || view.status === "FAILED";
      if (view.record.version !== state.version) {
        // A changed flow is a fresh answer (not the browser's cached one), so its `now` is current.
        state.skew = view.now - Date.now() / 1000;
        state.version = view.record.version;
        render(view);
        if (state.selected !== null && findNode(state.selected)) loadLog(false);
      }
      MC.setLive(true, (finished ? "finished · " : "live · ") + "updated " + MC.formatTime(Date.now() / 1000, Date.now() / 1000));
    } catch (error) {
      MC.setLive(false, "not updated: " + error.message);
    }
    pollTimer = setTimeout(poll, finished ? POLL_FINISHED_MS : POLL_MS);
  }

  function initialTask() {
    const match = /^#task=(.*)$/.exec(window.location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  if (report) {
    document.getElementById("home").removeAttribute("href");
    document.getElementById("crumb-flows").removeAttribute("href");
    MC.setLive(true, "report of " + MC.formatTime(report.generated_at));
    document.getElementById("footer").textContent =
      "A static report made by mc report on " + MC.formatTime(report.generated_at) + "; it does not update.";
    render(report.flow);
  } else {
    poll().then(() => {
      const task = initialTask();
      if (task !== null && findNode(task)) selectTask(task);
    });
    setInterval(tickDurations, 1000);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  }
})();
