//! The other way to draw, kept for the measurement only (ARCHITECTURE.md, "The HTML
//! report"): the same page and the same embedded series, with the panels drawn by uPlot
//! 1.6.32 (vendored from the npm registry, `vendor/uplot/`, MIT) instead of SVG.

use super::Timeline;

const UPLOT_JS: &str = include_str!("vendor/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("vendor/uplot/uPlot.min.css");
const UPLOT_LICENSE: &str = include_str!("vendor/uplot/LICENSE");

const PANELS: &str = r#"<h2>Values done per second, by outcome</h2><div id="u-values"></div>
<h2>Requests per second</h2><div id="u-requests"></div>
<h2>Latency per window (p50, p95, p99)</h2><div id="u-latency"></div>
<h2>Progress</h2><div id="u-progress"></div>
"#;

const INIT: &str = r#"(function () {
  var d = JSON.parse(document.getElementById('blockade-series').textContent);
  var s = d.series, n = s.windows, per = 1000 / s.window_ms;
  if (!n) return;
  var xs = new Array(n);
  for (var i = 0; i < n; i++) xs[i] = (s.start_ms + i * s.window_ms) / 1000;
  var width = Math.min(document.documentElement.clientWidth - 48, 1400);
  var utc = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'); };
  var step = uPlot.paths.stepped({ align: 1 });
  var shade = function (u) {
    var ctx = u.ctx, b = u.bbox, right = b.left + b.width;
    var band = function (from, to, min) {
      var x0 = Math.max(u.valToPos(from / 1000, 'x', true), b.left);
      var x1 = Math.min(u.valToPos(to / 1000, 'x', true), right);
      if (x1 >= x0) ctx.fillRect(x0, b.top, Math.max(x1 - x0, min), b.height);
    };
    ctx.save();
    ctx.fillStyle = 'rgba(240,192,0,0.35)';
    d.episodes.forEach(function (e) { band(e.started_at_ms, e.started_at_ms + e.wait_ms, 1); });
    ctx.fillStyle = 'rgba(213,94,0,0.2)';
    d.stops.forEach(function (st) {
      if (st.reason === 'max_wait') band(st.at_ms, st.until_ms == null ? st.at_ms : st.until_ms, 2);
      else band(st.since_ms == null ? st.at_ms : st.since_ms, st.at_ms, 2);
    });
    ctx.restore();
  };
  function chart(id, yLabel, series, data, extra) {
    var o = {
      width: width, height: 200, tzDate: utc,
      cursor: { sync: { key: 't' } },
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 64 }],
      series: [{ label: 'UTC' }].concat(series),
      hooks: { drawClear: [shade] }
    };
    for (var k in extra) o[k] = extra[k];
    new uPlot(o, [xs].concat(data), document.getElementById(id));
  }
  var colors = { blocked: '#009e73', renewed: '#56b4e9', unblocked: '#0072b2',
    not_blocked: '#999999', refused: '#e69f00', failed: '#d55e00' };
  var present = ['blocked', 'renewed', 'unblocked', 'not_blocked', 'refused', 'failed']
    .filter(function (o) { return s.values[o]; });
  var acc = new Array(n).fill(0), stacked = [];
  present.forEach(function (o) {
    acc = acc.map(function (v, i) { return v + s.values[o][i] * per; });
    stacked.push(acc);
  });
  var vs = [], vd = [];
  for (var j = present.length - 1; j >= 0; j--) {
    vs.push({ label: present[j], stroke: colors[present[j]], fill: colors[present[j]], paths: step });
    vd.push(stacked[j]);
  }
  chart('u-values', 'values/s', vs, vd);
  var ok = s.requests_ok.map(function (v) { return v * per; });
  var all = ok.map(function (v, i) { return v + s.requests_failed[i] * per; });
  chart('u-requests', 'requests/s', [
    { label: 'requests of failed or refused lines', stroke: '#d55e00', fill: '#d55e00', paths: step },
    { label: 'requests of lines that ended well', stroke: '#0072b2', fill: '#0072b2', paths: step }
  ], [all, ok], { height: 140 });
  chart('u-latency', 'ms (log)', [
    { label: 'p50', stroke: '#0072b2', paths: step },
    { label: 'p95', stroke: '#e69f00', paths: step },
    { label: 'p99', stroke: '#d55e00', dash: [5, 3], paths: step }
  ], [s.p50, s.p95, s.p99], { height: 170, scales: { x: { time: true }, y: { distr: 3 } } });
  var ps = [{ label: 'values done', stroke: '#555555', width: 2 },
    { label: 'values succeeded', stroke: '#009e73', width: 2 }];
  var pd = [s.done, s.succeeded];
  if (s.total_values != null) {
    ps.push({ label: 'total', stroke: '#000000', dash: [6, 4] });
    pd.push(new Array(n).fill(s.total_values));
  }
  chart('u-progress', 'values', ps, pd, { height: 150 });
})();
"#;

/// The page with uPlot panels in place of the SVG ones.
pub(super) fn render(timeline: &Timeline) -> String {
    let page = super::render(timeline);
    let start = page.find("<h2>Runs</h2>").unwrap_or(0);
    let end = page
        .find("<h2>Summary</h2>")
        .or_else(|| page.find("<h2>Top errors</h2>"))
        .unwrap_or(page.len());
    let mut out = String::with_capacity(page.len() + UPLOT_JS.len() + 8 * 1024);
    out.push_str(&page[..start]);
    out.push_str(PANELS);
    out.push_str(&page[end..]);
    let head = format!(
        "<style>{UPLOT_CSS}</style><!-- uPlot 1.6.32\n{}\n-->",
        UPLOT_LICENSE.replace("--", "- -")
    );
    let out = out.replacen("</head>", &format!("{head}</head>"), 1);
    out.replacen(
        "</body>",
        &format!("<script>{UPLOT_JS}</script><script>{INIT}</script></body>"),
        1,
    )
}
