// MissionControl status page: helpers shared by the flows list and the flow page.
// Every string from the store is data: it reaches the page through textContent
// or setAttribute only, never through innerHTML.
"use strict";

const MC = {};

// Make an element: el("td", {class: "num", title: "x"}, "text", child, ...).
MC.el = function (tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== null && value !== undefined && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

MC.clear = function (node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
};

MC.STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED"];

MC.badge = function (status) {
  const known = MC.STATUSES.includes(status);
  return MC.el("span", {class: "badge status " + (known ? "status-" + status : ""), "data-status": status}, status);
};

MC.pad = (n) => String(n).padStart(2, "0");

// Epoch seconds as local "2026-11-30 09:12:40"; the date is left out when it is `sameDayAs`'s.
MC.formatTime = function (epoch, sameDayAs) {
  if (epoch === null || epoch === undefined) return "";
  const d = new Date(epoch * 1000);
  const day = d.getFullYear() + "-" + MC.pad(d.getMonth() + 1) + "-" + MC.pad(d.getDate());
  const time = MC.pad(d.getHours()) + ":" + MC.pad(d.getMinutes()) + ":" + MC.pad(d.getSeconds());
  if (sameDayAs !== undefined && sameDayAs !== null) {
    const o = new Date(sameDayAs * 1000);
    if (o.toDateString() === d.toDateString()) return time;
  }
  return day + " " + time;
};

// Seconds as "0.42s", "12.3s", "4m12s", "2h05m", "3d04h".
MC.formatDuration = function (seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
  const s = Math.max(0, seconds);
  if (s < 10) return s.toFixed(2) + "s";
  if (s < 60) return s.toFixed(1) + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m" + MC.pad(Math.floor(s % 60)) + "s";
  const h = Math.floor(m / 60);
  if (h < 24) return h + "h" + MC.pad(m % 60) + "m";
  return Math.floor(h / 24) + "d" + MC.pad(h % 24) + "h";
};

MC.ago = function (epoch, now) {
  if (epoch === null || epoch === undefined) return "";
  return MC.formatDuration(Math.max(0, now - epoch)) + " ago";
};

// Fetch JSON; the browser revalidates with the ETag, so an unchanged flow costs little.
MC.getJSON = async function (url) {
  const response = await fetch(url, {cache: "no-cache", headers: {Accept: "application/json"}});
  let body = null;
  try { body = await response.json(); } catch (error) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : response.status + " " + response.statusText;
    throw new Error(message);
  }
  return body;
};

MC.flowApi = (key) => "/api/flows/" + encodeURIComponent(key);
MC.flowPage = (key) => "/flows/" + encodeURIComponent(key);
MC.taskPathUrl = (path) => path.split("/").map(encodeURIComponent).join("/");

// The "live" indicator in the header.
MC.setLive = function (ok, text) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = text;
  live.classList.toggle("stale", !ok);
};
