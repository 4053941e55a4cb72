// A little script over pages that work without it: live progress over Server-Sent Events, the
// schedule preview while typing, and confirmations. No inline script anywhere (the CSP forbids it).
"use strict";

function statusTexts(el) {
  const map = {};
  (el.dataset.statusText || "").split("|").forEach((pair) => {
    const [k, v] = pair.split("=");
    if (k) map[k] = v;
  });
  return map;
}

// A duration as the server writes it: "45s", "3m 05s", "2h 04m".
function elapsed(secs) {
  const pad = (n) => String(n).padStart(2, "0");
  if (secs < 60) return secs + "s";
  if (secs < 3600) return Math.floor(secs / 60) + "m " + pad(secs % 60) + "s";
  return Math.floor(secs / 3600) + "h " + pad(Math.floor((secs % 3600) / 60)) + "m";
}

function followProgress(el) {
  const url = el.dataset.events;
  if (!url || !window.EventSource) return;
  const texts = statusTexts(el);
  const set = (id, text) => {
    const node = document.getElementById(id);
    if (node && text !== undefined && text !== null) node.textContent = text;
  };
  const prefix = el.id; // "run" or "restore"
  const apply = (data) => {
    const status = document.getElementById(prefix + "-status");
    // A run that starts or stops waiting for Drive's budget is explained differently: re-render.
    if (status && status.dataset.status !== data.status && [status.dataset.status, data.status].includes("waiting")) {
      window.location.reload();
      return;
    }
    if (status) {
      status.textContent = texts[data.status] || data.status;
      status.dataset.status = data.status;
      status.className = "status status-" + data.status;
    }
    set(prefix + "-phase", data.phase);
    set(prefix + "-bytes", data.size);
    set(prefix + "-rate", data.rate);
    const bar = document.getElementById(prefix + "-bar");
    if (bar) bar.classList.toggle("moving", !data.done);
    const error = document.getElementById(prefix + "-error");
    if (error) {
      if (data.error_html) {
        // Escaped by the server; other systems' words come marked as not in the page's language.
        error.innerHTML = data.error_html;
      } else {
        error.textContent = data.error || "";
      }
      error.hidden = !data.error;
      // Between attempts the last failure is not the end: shown as a notice, not an alarm.
      if (error.classList.contains("error") || error.classList.contains("notice")) {
        error.className = data.retry_in_secs === null || data.retry_in_secs === undefined ? "error" : "notice";
      }
    }
    const retry = document.getElementById(prefix + "-retry");
    if (retry) {
      const waits = data.retry_in_secs !== null && data.retry_in_secs !== undefined;
      retry.hidden = !waits;
      if (waits) {
        retry.textContent = (el.dataset.retryText || "")
          .replace("{secs}", String(data.retry_in_secs))
          .replace("{next}", String((data.attempts || 0) + 1))
          .replace("{max}", el.dataset.maxAttempts || "?");
      }
    }
    set(prefix + "-attempts", data.attempts ? String(data.attempts) : undefined);
    if (!data.done && data.elapsed_secs) set(prefix + "-duration", elapsed(data.elapsed_secs));
  };
  const addLines = (lines) => {
    const list = document.getElementById(prefix + "-log-lines");
    if (!list) return;
    lines.forEach((line) => {
      const li = document.createElement("li");
      li.className = "log-" + line.level;
      const time = document.createElement("time");
      time.dateTime = line.at;
      time.textContent = line.at_text || line.at;
      const level = document.createElement("span");
      level.className = "level";
      level.textContent = line.level_text || line.level;
      const text = document.createElement("span");
      if (line.html) {
        // Escaped by the server; English it does not translate comes marked as such.
        text.innerHTML = line.html;
      } else {
        text.lang = "en";
        text.textContent = line.text || line.message;
      }
      li.append(time, " ", level, " ", text);
      list.appendChild(li);
    });
    list.hidden = false;
    const none = document.getElementById(prefix + "-no-log");
    if (none) none.hidden = true;
  };
  const source = new EventSource(url);
  source.addEventListener("progress", (e) => apply(JSON.parse(e.data)));
  source.addEventListener("log", (e) => addLines(JSON.parse(e.data)));
  source.addEventListener("end", (e) => {
    source.close();
    apply(JSON.parse(e.data));
    // Reload once for the final facts (file, sha256, duration) rendered by the server.
    window.setTimeout(() => window.location.reload(), 300);
  });
  source.addEventListener("gone", () => source.close());
}

function cronPreview(form) {
  const preset = form.querySelector("#schedule_preset");
  const custom = form.querySelector("#schedule");
  const zone = form.querySelector("#time_zone");
  const box = form.querySelector("#cron-preview");
  if (!preset || !custom || !zone || !box) return;
  let timer = null;
  const refresh = () => {
    const schedule = preset.value === "custom" ? custom.value : preset.value;
    const query = new URLSearchParams({ schedule, time_zone: zone.value });
    fetch("/cron/preview?" + query.toString(), { credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => {
        box.replaceChildren();
        if (data.ok) {
          const words = document.createElement("p");
          const strong = document.createElement("strong");
          strong.id = "cron-words";
          strong.textContent = data.words;
          words.appendChild(strong);
          const list = document.createElement("ol");
          list.id = "cron-next";
          data.next.forEach((t) => {
            const li = document.createElement("li");
            li.textContent = t;
            list.appendChild(li);
          });
          box.append(words, list);
        } else {
          const err = document.createElement("p");
          err.className = "field-error";
          err.id = "cron-error";
          err.textContent = data.error;
          box.appendChild(err);
        }
      })
      .catch(() => {});
  };
  const later = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  };
  preset.addEventListener("change", () => {
    if (preset.value !== "custom") custom.value = preset.value;
    refresh();
  });
  custom.addEventListener("input", () => {
    preset.value = "custom";
    later();
  });
  zone.addEventListener("input", later);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".live[data-events]").forEach(followProgress);
  document.querySelectorAll("form.app-form").forEach(cronPreview);
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  });
});
