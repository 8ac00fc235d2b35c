// The usage page's charts, each drawn from a table that stays on the page (the accessible view).
// A chart box names its table (data-table); the table's header cells with data-series are the
// series, its row headers with data-day the days, its cells' data-value the numbers ("" = unknown).
// uPlot (static/vendor/uplot) draws them; no request leaves the server. CSP: our own files only.
(function () {
  "use strict";
  if (typeof uPlot === "undefined") return; // the tables are the page: without the library, nothing is lost

  var COLORS = ["#1f5fa8", "#c0392b", "#1e8449", "#8e44ad", "#b9770e", "#117a8b", "#5d6d7e", "#a93226"];

  function dayToSeconds(iso) {
    var parts = iso.split("-");
    return Date.UTC(+parts[0], +parts[1] - 1, +parts[2]) / 1000;
  }

  function read(table) {
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var columns = [];
    heads.forEach(function (cell, index) {
      if (cell.hasAttribute("data-series")) columns.push({ index: index, label: cell.getAttribute("data-series") });
    });
    var xs = [];
    var ys = columns.map(function () { return []; });
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var head = row.querySelector("th[data-day]");
      if (!head) return;
      xs.push(dayToSeconds(head.getAttribute("data-day")));
      columns.forEach(function (column, n) {
        var raw = row.cells[column.index] ? row.cells[column.index].getAttribute("data-value") : "";
        ys[n].push(raw === null || raw === "" ? null : Number(raw));
      });
    });
    return { labels: columns.map(function (c) { return c.label; }), data: [xs].concat(ys) };
  }

  function legend(box, labels) {
    var list = document.createElement("ul");
    list.className = "chart-legend";
    labels.forEach(function (label, n) {
      var item = document.createElement("li");
      var swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.backgroundColor = COLORS[n % COLORS.length]; // CSSOM, allowed by the CSP
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(label));
      list.appendChild(item);
    });
    box.parentNode.appendChild(list);
  }

  // the axis' days in the page's language ("28 nov."), the days being UTC midnights (see dayToSeconds)
  var dayFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    day: "numeric",
    month: "short",
    timeZone: "UTC",
  });

  function dayLabels(u, splits) {
    return splits.map(function (ts) { return dayFormat.format(new Date(ts * 1000)); });
  }

  function options(kind, labels, width) {
    // counts ("points": posts, calls, hours) are dots joined by a line; levels ("lines") a plain line
    var series = [{}];
    labels.forEach(function (label, n) {
      var color = COLORS[n % COLORS.length];
      series.push({ label: label, stroke: color, width: 2, spanGaps: false, points: { show: kind === "points", size: 6 } });
    });
    return {
      width: width,
      height: Math.max(180, Math.min(280, Math.round(width * 0.5))),
      series: series,
      legend: { show: false },
      cursor: { show: true, points: { show: false } },
      // days are the persona's local days already: show them as they are, not in the browser's zone
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      // counts start at zero; levels (followers, delays) use the room they need, so that a curve moves
      scales: kind === "points"
        ? { x: { time: true }, y: { range: function (u, min, max) { return [Math.min(0, min || 0), (max || 1) * 1.1]; } } }
        : { x: { time: true } },
      axes: [{ space: 56, incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400], values: dayLabels }, { size: 72 }],
    };
  }

  function draw(box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    if (!table || !table.tHead || !table.tBodies.length) return;
    var found = read(table);
    if (!found.labels.length || found.data[0].length === 0) return;
    var width = Math.max(200, box.clientWidth);
    var plot = new uPlot(options(box.getAttribute("data-kind"), found.labels, width), found.data, box);
    legend(box, found.labels);
    // charts follow their box (a phone turned, a window resized): never wider than the page
    if (typeof ResizeObserver !== "undefined") {
      var last = width;
      new ResizeObserver(function () {
        var now = Math.max(200, box.clientWidth);
        if (Math.abs(now - last) < 4) return;
        last = now;
        plot.setSize({ width: now, height: options("", found.labels, now).height });
      }).observe(box);
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".usage-chart .chart[data-table]"), draw);
})();
