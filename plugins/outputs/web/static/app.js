/* Omphalos live dashboard.
 *
 * The page fetches a snapshot (/api/v1/snapshot?window=W) every update interval: the
 * answers of the overview, series, top, hosts, alerts and summary queries, and the files
 * the monitors cannot read. No request stays open between two fetches, so a headless
 * browser with a virtual time budget settles. Parts a pipeline cannot answer are missing
 * (their reason is under snapshot.errors); the page falls back to what the running summary
 * gives (rates from successive totals). The last bucket of a series is still filling: it
 * is left out, so a steady rate does not seem to drop at the right edge.
 * Data from logs is attacker-controlled: it only ever goes into textContent, never HTML.
 */
(function () {
  "use strict";

  var meta = function (name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.getAttribute("content") || "" : "";
  };
  var fragment = new URLSearchParams(window.location.hash.slice(1));
  var token = meta("omphalos-token") || fragment.get("token") || "";
  var WINDOWS = ["1m", "5m", "1h", "all"];
  var params = new URLSearchParams(window.location.search);
  var current = params.get("window") || meta("omphalos-window") || "5m";
  if (WINDOWS.indexOf(current) < 0) { current = "5m"; }

  var COLORS = {
    requests: "#4aa3ff", "1xx": "#8a96a3", "2xx": "#3fb950", "3xx": "#a371f7",
    "4xx": "#d29922", "5xx": "#f85149", p50: "#4aa3ff", p95: "#d29922", p99: "#f85149"
  };
  var CLASSES = ["2xx", "3xx", "4xx", "5xx"];
  var HISTORY_POINTS = 120;

  var fmtCount = d3.format(",");
  var fmtShort = d3.format(".3~s");
  var fmtRate = function (v) { return v == null ? "–" : (v >= 100 ? d3.format(",.0f")(v) : d3.format(",.2~f")(v)); };
  var fmtTime = d3.timeFormat("%H:%M:%S");
  var fmtTick = function (v) { return Math.abs(v) >= 1000 ? fmtShort(v) : d3.format(".3~r")(v); };
  function fmtBytes(v) {
    if (v == null) { return "–"; }
    var units = ["B", "KB", "MB", "GB", "TB", "PB"];
    var i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return (i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)) + " " + units[i];
  }
  function fmtSecs(v) {
    if (v == null || isNaN(v)) { return "–"; }
    return v < 1 ? d3.format(".3~r")(v * 1000) + " ms" : d3.format(".3~r")(v) + " s";
  }

  // -- charts --------------------------------------------------------------------------------
  function makeChart(container, opts) {
    var root = d3.select(container);
    var height = 200;
    var margin = { top: 10, right: 28, bottom: 24, left: 52 };
    var svg = root.append("svg").attr("class", "chart").attr("role", "img")
      .attr("aria-label", opts.title);
    var g = svg.append("g").attr("transform", "translate(" + margin.left + "," + margin.top + ")");
    var xAxisG = g.append("g").attr("class", "axis x");
    var yAxisG = g.append("g").attr("class", "axis y");
    var yTitle = g.append("text").attr("class", "axis-title").attr("transform", "rotate(-90)")
      .attr("text-anchor", "middle").text(opts.yLabel);
    var layer = g.append("g");
    var focus = g.append("line").attr("class", "focus").attr("visibility", "hidden");
    var overlay = g.append("rect").attr("class", "overlay");
    var legend = root.append("div").attr("class", "legend");
    var tip = root.append("div").attr("class", "tooltip").attr("hidden", true);
    var state = { rows: [], keys: [], x: null, width: 0 };

    legend.selectAll("span.item").data(opts.keys).join("span").attr("class", "item")
      .each(function (k) {
        var item = d3.select(this);
        item.append("span").attr("class", "swatch").style("background", COLORS[k]);
        item.append("span").text(k);
      });

    function showTip(event) {
      if (!state.rows.length || !state.x) { return; }
      var pos = d3.pointer(event, g.node());
      var t = state.x.invert(pos[0]);
      var i = d3.bisector(function (d) { return d.t; }).center(state.rows, t);
      var row = state.rows[i];
      if (!row) { return; }
      var px = state.x(row.t);
      focus.attr("x1", px).attr("x2", px).attr("y1", 0).attr("y2", state.innerH)
        .attr("visibility", "visible");
      tip.attr("hidden", null).selectAll("div").data([fmtTime(row.t)].concat(opts.keys.map(function (k) {
        return k + ": " + opts.format(row[k]);
      }))).join("div").text(function (d) { return d; });
      var box = container.getBoundingClientRect();
      var left = margin.left + px + 12;
      var tipW = tip.node().offsetWidth;
      if (left + tipW > box.width) { left = margin.left + px - tipW - 12; }
      tip.style("left", Math.max(0, left) + "px").style("top", margin.top + 4 + "px");
    }
    function hideTip() { tip.attr("hidden", true); focus.attr("visibility", "hidden"); }
    overlay.on("pointermove", showTip).on("pointerdown", showTip).on("pointerleave", hideTip);

    // Short spans get whole-second ticks, so no label repeats.
    function timeTicks(ext, innerW) {
      var count = Math.max(2, Math.floor(innerW / 90));
      var secs = (ext[1] - ext[0]) / 1000;
      return secs < 120 ? d3.timeSecond.every(Math.max(1, Math.ceil(secs / count))) : count;
    }

    function update(rows) {
      var width = Math.max(280, container.clientWidth || 600);
      var innerW = width - margin.left - margin.right;
      var innerH = height - margin.top - margin.bottom;
      state.rows = rows; state.innerH = innerH;
      svg.attr("viewBox", "0 0 " + width + " " + height);
      var x = d3.scaleTime().range([0, innerW]);
      var ext = d3.extent(rows, function (d) { return d.t; });
      if (!rows.length) { var now = new Date(); ext = [new Date(now - 60000), now]; }
      if (+ext[0] === +ext[1]) { ext = [new Date(+ext[0] - 1000), ext[1]]; }
      x.domain(ext);
      state.x = x;
      var series;
      var ymax;
      if (opts.stacked) {
        series = d3.stack().keys(opts.keys).value(function (d, k) { return d[k] || 0; })(rows);
        ymax = d3.max(series, function (s) { return d3.max(s, function (d) { return d[1]; }); });
      } else {
        ymax = d3.max(rows, function (d) {
          return d3.max(opts.keys, function (k) { return d[k] == null ? 0 : d[k]; });
        });
      }
      var y = d3.scaleLinear().domain([0, ymax > 0 ? ymax * 1.1 : 1]).nice().range([innerH, 0]);
      xAxisG.attr("transform", "translate(0," + innerH + ")")
        .call(d3.axisBottom(x).ticks(timeTicks(ext, innerW)).tickSizeOuter(0)
        .tickFormat(d3.timeFormat(+ext[1] - ext[0] > 2 * 86400000 ? "%b %d" : "%H:%M:%S")));
      yAxisG.call(d3.axisLeft(y).ticks(5).tickFormat(opts.tick || fmtTick));
      yTitle.attr("x", -innerH / 2).attr("y", -margin.left + 12);
      overlay.attr("width", innerW).attr("height", innerH);
      if (opts.stacked) {
        var area = d3.area().x(function (d) { return x(d.data.t); })
          .y0(function (d) { return y(d[0]); }).y1(function (d) { return y(d[1]); });
        layer.selectAll("path").data(series, function (s) { return s.key; }).join("path")
          .attr("fill", function (s) { return COLORS[s.key]; }).attr("fill-opacity", 0.75)
          .attr("stroke", "none").attr("d", area);
      } else {
        var lines = opts.keys.map(function (k) {
          return { key: k, values: rows.filter(function (d) { return d[k] != null; }) };
        });
        layer.selectAll("path").data(lines, function (s) { return s.key; }).join("path")
          .attr("fill", "none").attr("stroke-width", 2)
          .attr("stroke", function (s) { return COLORS[s.key]; })
          .attr("d", function (s) {
            return d3.line().x(function (d) { return x(d.t); })
              .y(function (d) { return y(d[s.key]); })(s.values);
          });
      }
    }
    update([]);
    return { update: update };
  }

  var charts = {
    rate: makeChart(document.getElementById("chart-rate"), {
      title: "requests per second", yLabel: "req/s", keys: ["requests"], format: fmtRate
    }),
    status: makeChart(document.getElementById("chart-status"), {
      title: "status mix per second", yLabel: "req/s", keys: CLASSES, stacked: true,
      format: fmtRate
    }),
    latency: makeChart(document.getElementById("chart-latency"), {
      title: "latency percentiles", yLabel: "seconds", keys: ["p50", "p95", "p99"],
      format: fmtSecs, tick: d3.format(".2~s")
    }),
    drill: makeChart(document.getElementById("chart-drill"), {
      title: "requests per second of the path", yLabel: "req/s", keys: ["requests"],
      format: fmtRate
    })
  };
  var lastHead = null;

  // -- the series: from the collectors, or from successive summaries ----------------------------
  var local = { rows: [], last: null };

  function resetLocal() { local = { rows: [], last: null }; }

  // Points whose bucket ends after ``head`` (less the few seconds lines take to arrive) are
  // still filling: drawn as complete they would show a false drop at the right edge, so
  // they are left out.
  var ARRIVAL_SECS = 2;
  function fromSeries(series, head) {
    var step = series.step || 1;
    return (series.points || []).filter(function (p) {
      return head == null || p.t + step <= head - ARRIVAL_SECS;
    }).map(function (p) {
      var row = { t: new Date(p.t * 1000), requests: (p.requests || 0) / step,
                  p50: p.p50, p95: p.p95, p99: p.p99 };
      CLASSES.forEach(function (c) { row[c] = (p[c] || 0) / step; });
      return row;
    });
  }

  function fromSummaries(summary, now) {
    var cls = summary.status_class || {};
    var cur = { t: now, requests: summary.requests || 0 };
    CLASSES.forEach(function (c) { cur[c] = cls[c] || 0; });
    var last = local.last;
    local.last = cur;
    if (last && now > last.t && cur.requests >= last.requests) {
      var dt = (now - last.t) / 1000;
      var row = { t: now, requests: (cur.requests - last.requests) / dt };
      CLASSES.forEach(function (c) { row[c] = Math.max(0, cur[c] - last[c]) / dt; });
      local.rows.push(row);
      if (local.rows.length > HISTORY_POINTS) { local.rows.shift(); }
    }
    return local.rows;
  }

  // -- rendering --------------------------------------------------------------------------------
  function setText(id, text) { document.getElementById(id).textContent = text; }

  function renderCards(snap, rows) {
    var o = snap.overview;
    var s = snap.summary || {};
    var classes = (o && o.status_class) || s.status_class || {};
    var requests = o ? o.requests : s.requests;
    var rate = o ? o.rate : (rows.length ? rows[rows.length - 1].requests : null);
    var dur = o || s.duration || {};
    setText("stat-rate", fmtRate(rate));
    setText("stat-requests", requests == null ? "–" : fmtCount(requests));
    setText("stat-bytes", fmtBytes(o ? o.bytes : s.bytes));
    var errors = classes["5xx"] || 0;
    setText("stat-errors", requests ? fmtCount(errors) + " (" + d3.format(".2~%")(errors / requests) + ")" : "0");
    var hosts = o ? o.hosts : (s.hosts ? Object.keys(s.hosts).length : null);
    setText("stat-hosts", hosts == null ? "–" : fmtCount(hosts));
    setText("stat-latency", [dur.p50, dur.p95, dur.p99].map(fmtSecs).join(" / "));
  }

  function renderTable(id, rows, cells, rowClass) {
    d3.select("#" + id + " tbody").selectAll("tr").data(rows).join("tr")
      .attr("class", rowClass || null)
      .selectAll("td").data(function (r) { return cells(r); }).join("td")
      .attr("class", function (c) { return c.cls || null; })
      .attr("title", function (c) { return c.title || null; })
      .text(function (c) { return c.text; });
  }

  // -- the top table: a dimension, a filter, a drill into a path -------------------------------
  var DIM_TITLES = { path: "paths", client: "clients", status: "status codes",
                     agent: "user agents", referer: "referrers" };
  // the other dimensions are named by the "more" menu's options
  Array.prototype.forEach.call(document.querySelectorAll("#more-dims option"), function (o) {
    if (o.value) { DIM_TITLES[o.value] = o.textContent; }
  });
  var topView = { dim: "path", filter: "", host: "", rows: null, note: "" };
  var drillPath = null;

  function apiGet(kind, q) {
    var headers = {};
    if (token) { headers.Authorization = "Bearer " + token; }
    return fetch("/api/v1/query/" + kind + "?" + new URLSearchParams(q).toString(),
                 { headers: headers, cache: "no-store" })
      .then(function (resp) {
        return resp.json().then(function (data) {
          if (!resp.ok) { throw new Error(data.error || ("HTTP " + resp.status)); }
          return data;
        });
      });
  }

  // The snapshot has the unfiltered top paths; another dimension or a filter is asked for.
  function fetchTop() {
    if (topView.dim === "path" && !topView.filter && !topView.host) {
      topView.rows = null; return Promise.resolve();
    }
    var q = { dimension: topView.dim, window: current, limit: "10" };
    if (topView.filter) { q.filter = topView.filter; }
    if (topView.host) { q.host = topView.host; }
    var asked = [topView.dim, topView.filter, topView.host, current].join("\u0000");
    return apiGet("top", q).then(function (data) {
      if (asked !== [topView.dim, topView.filter, topView.host, current].join("\u0000")) { return; }
      topView.rows = data.rows || [];
      topView.note = "";
    }).catch(function (err) { topView.rows = []; topView.note = "not answered: " + err.message; });
  }

  function renderPaths(snap) {
    var rows;
    if (topView.rows) {
      rows = topView.rows;
    } else if (snap.paths && snap.paths.rows) {
      rows = snap.paths.rows;
    } else {
      rows = ((snap.summary || {}).top_paths || []).map(function (p) {
        return { key: p.path, hits: p.hits, rate: null, bytes: p.bytes, errors: null, p95: null };
      });
    }
    setText("top-note", topView.note || (topView.dim === "path" ? "click a path for its details" : ""));
    renderTable("top-paths", rows, function (r) {
      return [{ text: r.key, cls: "path", title: r.key },
              { text: fmtCount(r.hits) + (r.visitors != null ? " (" + fmtCount(r.visitors) + " visitors)" : ""),
                cls: "num" },
              { text: fmtRate(r.rate), cls: "num opt" },
              { text: fmtBytes(r.bytes), cls: "num" },
              { text: r.errors == null ? "–" : fmtCount(r.errors), cls: "num opt" },
              { text: fmtSecs(r.p95), cls: "num" }];
    }, function () { return topView.dim === "path" ? "drillable" : null; });
  }

  function selectDim(dim) {
    topView.dim = dim;
    topView.rows = null;
    d3.selectAll("#dimensions button").attr("aria-pressed", function () {
      return String(this.getAttribute("data-dim") === dim);
    });
    var more = document.getElementById("more-dims");
    more.value = more.querySelector('option[value="' + dim + '"]') ? dim : "";
    setText("top-title", DIM_TITLES[dim]);
    setText("top-key", dim === "referer" ? "referrer" : dim);
    refreshNow();
  }

  function fetchDrill() {
    if (drillPath == null) { return Promise.resolve(); }
    var path = drillPath;
    var q = { path: path, window: current === "all" ? "1h" : current, limit: "10" };
    return apiGet("drill", q).then(function (d) {
      if (path !== drillPath) { return; }
      var codes = Object.keys(d.status || {}).map(function (c) { return c + ": " + fmtCount(d.status[c]); });
      setText("drill-summary", fmtCount(d.requests) + " requests over " + d.window +
              (codes.length ? "; status " + codes.join(", ") : ""));
      var step = 1;
      var points = d.series || [];
      if (points.length > 1) { step = points[1].t - points[0].t; }
      charts.drill.update(fromSeries({ step: step, points: points }, lastHead));
      renderTable("drill-clients", d.clients || [], function (r) {
        return [{ text: r.key, cls: "path", title: r.key }, { text: fmtCount(r.hits), cls: "num" },
                { text: fmtRate(r.rate), cls: "num" }];
      });
    }).catch(function (err) { setText("drill-summary", "not answered: " + err.message); });
  }

  function openDrill(path) {
    drillPath = path;
    document.getElementById("drill").hidden = false;
    setText("drill-path", path);
    setText("drill-summary", "asking…");
    fetchDrill();
  }

  function renderHosts(snap) {
    var rows;
    if (snap.hosts && snap.hosts.rows) {
      rows = snap.hosts.rows;
    } else {
      var h = (snap.summary || {}).hosts || {};
      rows = Object.keys(h).map(function (k) { return { host: k, requests: h[k], rate: null, last_seen: null }; });
    }
    var pick = document.getElementById("host-filter");
    rows.forEach(function (r) {
      if (r.host && !pick.querySelector('option[value="' + CSS.escape(r.host) + '"]')) {
        var o = document.createElement("option");
        o.value = r.host;
        o.textContent = r.host;
        pick.appendChild(o);
      }
    });
    renderTable("hosts", rows, function (r) {
      return [{ text: r.host + (r.silent ? " (silent)" : "") }, { text: fmtCount(r.requests), cls: "num" },
              { text: fmtRate(r.rate), cls: "num" },
              { text: r.last_seen ? fmtTime(new Date(r.last_seen * 1000)) : "–" }];
    }, function (r) { return r.silent ? "silent" : null; });
  }

  // alert id (or "*" for all) -> number of updates until which it stays hidden: an update
  // already on its way when the clear was made may still list it.
  var cleared = {};
  var updates = 0;
  var lastNotice = { text: "", until: 0 };  // the outcome of the last clear, for a few updates

  function notice(text) {
    lastNotice = { text: text, until: updates + 10 };
    setText("alerts-note", text);
  }

  function clearAlerts(body, id) {
    var headers = { "Content-Type": "application/json" };
    if (token) { headers.Authorization = "Bearer " + token; }
    return fetch("/api/v1/alerts/clear", { method: "POST", headers: headers, body: JSON.stringify(body) })
      .then(function (resp) {
        return resp.json().then(function (data) {
          if (!resp.ok) { throw new Error(data.error || resp.statusText); }
          cleared[id || "*"] = updates + 2;
          d3.selectAll("#alerts li").filter(function (a) { return !id || a.id === id; }).remove();
          notice("cleared " + data.cleared);
        });
      })
      .catch(function (err) { notice("could not clear: " + err.message); });
  }

  function renderAlerts(snap) {
    var note = document.getElementById("alerts-note");
    var clearAll = document.getElementById("clear-all");
    if (!snap.alerts) {
      note.textContent = snap.errors && snap.errors.alerts ? "alerts unavailable: " + snap.errors.alerts : "";
      clearAll.hidden = true;
      return;
    }
    var firing = (snap.alerts.firing || []).filter(function (a) {
      return updates > Math.max(cleared[a.id] || 0, cleared["*"] || 0);
    });
    clearAll.hidden = firing.length === 0;
    note.textContent = updates <= lastNotice.until ? lastNotice.text
      : (firing.length ? "" : "no alert firing");
    d3.select("#alerts").selectAll("li").data(firing, function (a) { return a.id; }).join(function (enter) {
      var li = enter.append("li");
      li.append("span").attr("class", "msg");
      li.append("button").attr("type", "button").attr("class", "clear")
        .on("click", function (event, a) {
          clearAlerts(a.scope === "path" && a.path ? { path: a.path } : { all: true },
                      a.scope === "path" && a.path ? a.id : null);
        });
      return li;
    }).attr("data-id", function (a) { return a.id; })
      .each(function (a) {
        var li = d3.select(this);
        li.select(".msg").text(a.message + " (since " + fmtTime(new Date(a.since * 1000)) + ")");
        li.select("button").text(a.scope === "path" && a.path ? "clear path" : "clear all")
          .attr("aria-label", "clear " + a.id);
      });
    d3.select("#alert-history").selectAll("li").data((snap.alerts.history || []).slice(-10).reverse())
      .join("li").text(function (e) {
        return fmtTime(new Date(e.time * 1000)) + " " + e.event + " " + (e.message || e.id);
      });
  }

  function renderLatency(rows) {
    var has = rows.some(function (r) { return r.p50 != null || r.p95 != null || r.p99 != null; });
    charts.latency.update(has ? rows : []);
    document.getElementById("chart-latency").hidden = !has;
    setText("latency-note", has ? "" : "no durations over this window (the log format may not record them)");
  }

  function renderFiles(snap) {
    var files = snap.files || [];
    document.getElementById("files").hidden = files.length === 0;
    d3.select("#files-list").selectAll("li").data(files).join("li").text(function (f) {
      return f.state === "missing" ? f.path + ": " + (f.error || "no such file") + " (waiting for it)"
        : "cannot read " + f.path + ": " + (f.error || "error");
    });
  }

  // In the ``all`` window totals are since start; the charts and hosts show the longest
  // sliding window (snapshot.series_window), and the panel titles say which.
  function renderSpans(snap) {
    var span = snap.series_window ? "(last " + snap.series_window + ")" : "";
    d3.selectAll(".span").text(span);
  }

  function render(snap) {
    updates += 1;
    var now = new Date(snap.time * 1000);
    var head = snap.overview && snap.overview.head != null ? snap.overview.head : snap.time;
    lastHead = head;
    var rows = snap.series ? fromSeries(snap.series, head) : fromSummaries(snap.summary || {}, now);
    charts.rate.update(rows);
    document.getElementById("chart-rate").setAttribute(
      "data-last", rows.length ? String(rows[rows.length - 1].requests) : "");
    charts.status.update(rows);
    renderLatency(snap.series ? rows : []);
    renderSpans(snap);
    renderFiles(snap);
    renderCards(snap, rows);
    renderPaths(snap);
    renderHosts(snap);
    renderAlerts(snap);
    document.getElementById("degraded").hidden = !snap.degraded;
    var missing = Object.keys(snap.errors || {});
    var updated = document.getElementById("updated");
    updated.textContent = "updated " + fmtTime(now);
    updated.title = missing.length ? "not answered: " + missing.map(function (k) { return k + ": " + snap.errors[k]; }).join("; ") : "";
  }

  // -- live updates: one snapshot per interval -------------------------------------------------
  var updateMs = Math.max(100, 1000 * (parseFloat(meta("omphalos-update-secs")) || 1));
  var generation = 0;  // a window change starts a new generation; older answers are dropped
  var timer = null;

  function setLive(on) {
    var el = document.getElementById("live");
    el.className = "live " + (on ? "on" : "off");
    el.textContent = on ? "live" : "reconnecting";
  }

  function fetchSnapshot(gen) {
    var q = new URLSearchParams({ window: current });
    var headers = {};
    if (token) { headers.Authorization = "Bearer " + token; }
    return fetch("/api/v1/snapshot?" + q.toString(), { headers: headers, cache: "no-store" })
      .then(function (resp) {
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      })
      .then(function (snap) {
        if (gen !== generation) { return; }
        return Promise.all([fetchTop(), fetchDrill()]).then(function () {
          if (gen !== generation) { return; }
          setLive(true);
          render(snap);
        });
      })
      .catch(function () { if (gen === generation) { setLive(false); } })
      .then(function () {
        if (gen === generation) { timer = setTimeout(function () { fetchSnapshot(gen); }, updateMs); }
      });
  }

  function connect() {
    generation += 1;
    if (timer) { clearTimeout(timer); timer = null; }
    fetchSnapshot(generation);
  }

  // A change of dimension or filter: ask again now rather than at the next tick.
  function refreshNow() { connect(); }

  function selectWindow(name) {
    current = name;
    d3.selectAll("#windows button").attr("aria-pressed", function () {
      return String(this.getAttribute("data-window") === name);
    });
    var url = new URL(window.location.href);
    url.searchParams.set("window", name);
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
    resetLocal();
    connect();
  }

  d3.selectAll("#windows button").on("click", function () {
    selectWindow(this.getAttribute("data-window"));
  });
  d3.selectAll("#dimensions button").on("click", function () {
    selectDim(this.getAttribute("data-dim"));
  });
  document.getElementById("more-dims").addEventListener("change", function (ev) {
    if (ev.target.value) { selectDim(ev.target.value); }
  });
  document.getElementById("host-filter").addEventListener("change", function (ev) {
    topView.host = ev.target.value;
    topView.rows = null;
    refreshNow();
  });
  var filterTimer = null;
  document.getElementById("filter").addEventListener("input", function (ev) {
    var text = ev.target.value;
    if (filterTimer) { clearTimeout(filterTimer); }
    filterTimer = setTimeout(function () { topView.filter = text; topView.rows = null; refreshNow(); }, 300);
  });
  d3.select("#top-paths tbody").on("click", function (event) {
    if (topView.dim !== "path") { return; }
    var tr = event.target.closest("tr");
    var row = tr ? d3.select(tr).datum() : null;
    if (row && row.key != null) { openDrill(String(row.key)); }
  });
  document.getElementById("drill-close").addEventListener("click", function () {
    drillPath = null;
    document.getElementById("drill").hidden = true;
  });
  document.getElementById("clear-all").addEventListener("click", function () {
    clearAlerts({ all: true }, null);
  });
  selectWindow(current);
})();
