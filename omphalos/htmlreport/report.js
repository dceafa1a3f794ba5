/* omphalos report: draws the panels of the data inlined in this page (no network). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var g = data.general;

  function fmtNum(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en"); }
  function fmtBytes(n) {
    if (n === null || n === undefined) { return "–"; }
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + units[i];
  }
  function fmtSecs(s) {
    if (s === null || s === undefined) { return "–"; }
    return s < 1 ? (s * 1000).toFixed(1) + " ms" : s.toFixed(2) + " s";
  }
  function fmtTime(t) { return t ? new Date(t * 1000).toISOString().replace(".000", "") : "–"; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  var cards = [
    ["requests", fmtNum(g.requests)], ["unique visitors", fmtNum(g.unique_visitors)],
    ["bytes", fmtBytes(g.bytes)], ["unparsed lines", fmtNum(g.unparsed)],
    ["first request", fmtTime(g.first_time)], ["last request", fmtTime(g.last_time)],
    ["p95 duration", fmtSecs((g.duration || {}).p95)]
  ];
  var general = document.getElementById("general");
  cards.forEach(function (c) {
    var card = el("div", "card");
    card.appendChild(el("span", "label", c[0]));
    card.appendChild(el("span", "value", c[1]));
    general.appendChild(card);
  });
  document.getElementById("files").textContent = (g.files || []).join(", ");

  function chart(parent, rows) {
    var width = Math.max(260, parent.clientWidth || 600), height = 180;
    var m = { top: 8, right: 8, bottom: 28, left: 48 };
    var svg = d3.select(parent).append("svg").attr("class", "chart")
      .attr("viewBox", "0 0 " + width + " " + height).attr("width", "100%");
    var x = d3.scaleBand().domain(rows.map(function (r) { return r.key; }))
      .range([m.left, width - m.right]).padding(0.15);
    var y = d3.scaleLinear().domain([0, d3.max(rows, function (r) { return r.hits; }) || 1])
      .nice().range([height - m.bottom, m.top]);
    svg.append("g").attr("transform", "translate(0," + (height - m.bottom) + ")")
      .call(d3.axisBottom(x).tickValues(x.domain().filter(function (d, i) {
        return rows.length <= 12 || i % Math.ceil(rows.length / 12) === 0; })));
    svg.append("g").attr("transform", "translate(" + m.left + ",0)").call(d3.axisLeft(y).ticks(4));
    svg.append("g").selectAll("rect").data(rows).enter().append("rect").attr("class", "bar")
      .attr("x", function (r) { return x(r.key); }).attr("width", x.bandwidth())
      .attr("y", function (r) { return y(r.hits); })
      .attr("height", function (r) { return y(0) - y(r.hits); })
      .append("title").text(function (r) { return r.key + ": " + r.hits; });
    if (rows.some(function (r) { return r.visitors !== undefined; })) {
      svg.append("g").selectAll("rect").data(rows).enter().append("rect").attr("class", "bar2")
        .attr("x", function (r) { return x(r.key) + x.bandwidth() / 4; })
        .attr("width", x.bandwidth() / 2)
        .attr("y", function (r) { return y(r.visitors || 0); })
        .attr("height", function (r) { return y(0) - y(r.visitors || 0); });
    }
  }

  function table(parent, rows) {
    var hasDur = rows.some(function (r) { return r.p95 !== null && r.p95 !== undefined; });
    var hasBytes = rows.some(function (r) { return r.bytes !== null && r.bytes !== undefined; });
    var hasVisitors = rows.some(function (r) { return r.visitors !== undefined; });
    var cols = [["key", function (r) { return r.key; }], ["hits", function (r) { return fmtNum(r.hits); }]];
    if (hasVisitors) { cols.push(["visitors", function (r) { return fmtNum(r.visitors); }]); }
    cols.push(["%", function (r) { return g.requests ? (100 * r.hits / g.requests).toFixed(2) : "–"; }]);
    if (hasBytes) { cols.push(["bytes", function (r) { return fmtBytes(r.bytes); }]); }
    cols.push(["4xx", function (r) { return fmtNum((r.status || {})["4xx"]); }]);
    cols.push(["5xx", function (r) { return fmtNum(r.errors); }]);
    if (hasDur) {
      ["min", "avg", "max", "p95"].forEach(function (k) {
        cols.push([k, function (r) { return fmtSecs(r[k]); }]);
      });
    }
    var wrap = el("div", "scroll"), t = el("table"), head = el("tr");
    cols.forEach(function (c) { head.appendChild(el("th", c[0] === "key" ? "" : "num", c[0])); });
    t.appendChild(el("thead")).appendChild(head);
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (r) {
      var tr = el("tr");
      cols.forEach(function (c) { tr.appendChild(el("td", c[0] === "key" ? "key" : "num", c[1](r))); });
      body.appendChild(tr);
    });
    wrap.appendChild(t);
    parent.appendChild(wrap);
  }

  var main = document.getElementById("panels"), nav = document.getElementById("toc");
  data.panels.forEach(function (p) {
    var s = el("section", "panel");
    s.id = "panel-" + p.dimension;
    s.setAttribute("data-dimension", p.dimension);
    s.appendChild(el("h2", "", p.title));
    var link = el("a", "", p.title);
    link.href = "#panel-" + p.dimension;
    nav.appendChild(link);
    main.appendChild(s);
    if (!p.rows.length) { s.appendChild(el("p", "muted note", p.note || "nothing counted")); return; }
    if (p.error_bound) {
      s.appendChild(el("p", "muted note", "counts may be low by at most " + fmtNum(p.error_bound)));
    }
    if (p.chart === "bars") { chart(s, p.rows); }
    table(s, p.rows);
  });
  document.body.setAttribute("data-rendered", String(data.panels.length));
})();
