/* Draws every figure.chart[data-chart] with Apache ECharts from the JSON the server put beside it.
   The server's SVG stays in the page until ECharts has drawn, so a failed script still leaves a chart. */
(function () {
  "use strict";
  if (!window.echarts) return;

  function tooltip(extra) {
    // richText draws the tooltip inside the chart: no HTML strings, so nothing for the CSP to refuse.
    return Object.assign({ renderMode: "richText", confine: true }, extra);
  }

  function barOption(spec) {
    return {
      aria: { enabled: true, label: { description: spec.description } },
      grid: { left: 8, right: 64, top: 8, bottom: 8, containLabel: true },
      tooltip: tooltip({
        trigger: "axis",
        axisPointer: { type: "shadow" },
        formatter: function (items) {
          var i = items[0].dataIndex;
          return spec.labels[i] + ": " + spec.texts[i];
        }
      }),
      xAxis: { type: "value", max: spec.max || null, splitLine: { lineStyle: { color: "#dddddd" } } },
      yAxis: {
        type: "category",
        inverse: true,
        data: spec.labels,
        axisLabel: { width: 240, overflow: "truncate" },
        axisTick: { show: false }
      },
      series: [{
        type: "bar",
        data: spec.values,
        itemStyle: { color: spec.palette.bar },
        barMaxWidth: 22,
        label: {
          show: true,
          position: "right",
          formatter: function (p) { return spec.texts[p.dataIndex]; }
        }
      }]
    };
  }

  function seriesOption(spec) {
    var series = [{
      name: "Observed",
      type: "line",
      data: spec.values,
      showSymbol: false,
      lineStyle: { color: spec.palette.line, width: 2 },
      itemStyle: { color: spec.palette.line },
      areaStyle: { color: spec.palette.area, opacity: 0.35 }
    }];
    if (spec.expected) {
      series.push({
        name: "Expected",
        type: "line",
        data: spec.expected,
        showSymbol: false,
        connectNulls: false,
        lineStyle: { color: spec.palette.expected, type: "dashed", width: 1.5 },
        itemStyle: { color: spec.palette.expected }
      });
    }
    var flagged = spec.flags.map(function (note, i) { return note ? spec.values[i] : null; });
    if (flagged.some(function (value) { return value !== null; })) {
      series.push({
        name: "Flagged",
        type: "scatter",
        data: flagged,
        symbolSize: 10,
        itemStyle: { color: spec.palette.flag }
      });
    }
    return {
      aria: { enabled: true, label: { description: spec.description } },
      grid: { left: 8, right: 16, top: series.length > 1 ? 32 : 12, bottom: 56, containLabel: true },
      legend: { show: series.length > 1, top: 0 },
      tooltip: tooltip({
        trigger: "axis",
        formatter: function (items) {
          var i = items[0].dataIndex;
          var lines = [spec.times[i], "Observed: " + spec.texts[i]];
          if (spec.expectedTexts) lines.push("Expected: " + spec.expectedTexts[i]);
          if (spec.flags[i]) lines.push(spec.flags[i]);
          return lines.join("\n");
        }
      }),
      xAxis: { type: "category", data: spec.times, boundaryGap: false },
      yAxis: { type: "value", splitLine: { lineStyle: { color: "#dddddd" } } },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      series: series
    };
  }

  function intervalOption(spec) {
    // The band is two stacked lines: the low edge (drawn invisibly) and the width above it.
    var widths = spec.highs.map(function (high, i) { return high - spec.lows[i]; });
    function percent(value) { return Math.round(value * 1000) / 10 + "%"; }
    return {
      aria: { enabled: true, label: { description: spec.description } },
      grid: { left: 8, right: 16, top: 32, bottom: 56, containLabel: true },
      legend: { top: 0, data: ["Estimate", "Interval"] },
      tooltip: tooltip({
        trigger: "axis",
        formatter: function (items) {
          var i = items[0].dataIndex;
          return [spec.times[i], "Estimate: " + spec.texts[i][0], "Interval: " + spec.texts[i][1] + " to " + spec.texts[i][2]].join("\n");
        }
      }),
      xAxis: { type: "category", data: spec.times, boundaryGap: false },
      yAxis: { type: "value", axisLabel: spec.percent ? { formatter: percent } : {}, splitLine: { lineStyle: { color: "#dddddd" } } },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      series: [
        { name: "Low", type: "line", data: spec.lows, stack: "band", stackStrategy: "all", symbol: "none",
          lineStyle: { opacity: 0 }, tooltip: { show: false } },
        { name: "Interval", type: "line", data: widths, stack: "band", stackStrategy: "all", symbol: "none",
          lineStyle: { opacity: 0 }, itemStyle: { color: spec.palette.area },
          areaStyle: { color: spec.palette.area, opacity: 0.35 } },
        { name: "Estimate", type: "line", data: spec.values, showSymbol: false,
          lineStyle: { color: spec.palette.line, width: 2 }, itemStyle: { color: spec.palette.line },
          markLine: { silent: true, symbol: "none", data: [{ yAxis: 0 }],
                      lineStyle: { color: "#333333", type: "solid", width: 1 }, label: { show: false } } }
      ]
    };
  }

  function heatmapOption(spec) {
    // A scatter of square symbols on two category axes, coloured by the server: the vendored
    // common build of ECharts has no heatmap series.
    var columns = spec.columns.length;
    // Each cell fills its column's band: the plot is the canvas less the row labels (160) and margins.
    var side = Math.max(6, Math.floor((spec.width - 184) / Math.max(columns, 1)));
    return {
      aria: { enabled: true, label: { description: spec.description } },
      grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
      tooltip: tooltip({
        formatter: function (p) {
          var cell = p.data.value;
          return spec.rows[cell[1]] + ", " + spec.columnHeader + " " + spec.columns[cell[0]] + ": " + cell[3];
        }
      }),
      xAxis: { type: "category", data: spec.columns, position: "top", name: spec.columnHeader,
               splitLine: { show: false }, axisTick: { show: false } },
      yAxis: { type: "category", data: spec.rows, inverse: true, name: spec.rowHeader,
               axisLabel: { width: 160, overflow: "truncate" }, axisTick: { show: false } },
      series: [{
        type: "scatter",
        symbol: "rect",
        symbolSize: [side - 1, 21],
        data: spec.cells.map(function (cell) {
          return { value: cell, itemStyle: { color: cell[4] }, label: { color: cell[5] } };
        }),
        label: {
          show: side >= 30,
          formatter: function (p) { return p.data.value[3]; }
        }
      }]
    };
  }

  var BUILDERS = { bar: barOption, series: seriesOption, interval: intervalOption, heatmap: heatmapOption };

  function draw(figure) {
    var source = document.getElementById(figure.dataset.chart);
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    var build = BUILDERS[spec.kind];
    if (!build) return;
    var canvas = document.createElement("div");
    canvas.className = "chart-canvas";
    // As wide as the server drew it, narrower on a small screen, like the SVG it replaces.
    canvas.style.width = spec.width + "px";
    canvas.style.maxWidth = "100%";
    var fixed = spec.kind === "bar" || spec.kind === "heatmap";
    canvas.style.height = Math.max(fixed ? spec.height + 16 : 280, 80) + "px";
    var fallback = figure.querySelector("svg");
    figure.insertBefore(canvas, fallback);
    var chart = window.echarts.init(canvas, null, { renderer: "svg" });
    chart.setOption(build(spec));
    if (fallback) fallback.style.display = "none";
    figure.classList.add("chart-drawn");
    window.addEventListener("resize", function () { chart.resize(); });
  }

  function drawAll() {
    document.querySelectorAll("figure.chart[data-chart]").forEach(function (figure) {
      try {
        draw(figure);
      } catch (error) {
        // The server's SVG is still there; say why the interactive chart is missing.
        if (window.console) console.error("chart not drawn", figure.id, error);
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
