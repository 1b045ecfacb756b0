// The browser side of the measurement behind docs/report-html.md: loads each page in a
// fresh tab of a headless Chromium (started with --remote-debugging-port=PORT), waits for
// the load event and two animation frames, and prints Chrome's own metrics as one JSON
// line per page.
//
//   chromium --headless --no-sandbox --disable-gpu --user-data-dir=$(mktemp -d) \
//     --remote-debugging-port=9333 about:blank &
//   node --experimental-websocket docs/report-html-measure.js 9333 file:///tmp/m/1M-1-svg.html ...
const port = process.argv[2];
const urls = process.argv.slice(3);
async function json(path, method = 'GET') {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return r.json();
}
function session(wsUrl) {
  const ws = new WebSocket(wsUrl);
  let id = 0; const pending = new Map(); const waiters = [];
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
    else if (msg.method) { for (const w of waiters.splice(0)) w(msg); }
  };
  const open = new Promise((r) => (ws.onopen = r));
  return {
    open,
    send: (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); }),
    event: (name) => new Promise((r) => { const f = (msg) => { if (msg.method === name) r(msg); else waiters.push(f); }; waiters.push(f); }),
    close: () => ws.close(),
  };
}
(async () => {
  for (const url of urls) {
    const tab = await json('/json/new?about:blank', 'PUT');
    const s = session(tab.webSocketDebuggerUrl);
    await s.open;
    await s.send('Page.enable'); await s.send('Performance.enable');
    await s.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: 1800, deviceScaleFactor: 1, mobile: false });
    const loaded = s.event('Page.loadEventFired');
    const t0 = Date.now();
    await s.send('Page.navigate', { url });
    await loaded;
    const r = await s.send('Runtime.evaluate', { awaitPromise: true, returnByValue: true, expression:
      `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => { const p = {}; performance.getEntriesByType('paint').forEach(e => p[e.name] = e.startTime); r({ now: performance.now(), fcp: p['first-contentful-paint'] || null }); })))` });
    const wall = Date.now() - t0;
    const m = await s.send('Performance.getMetrics');
    const metric = (n) => (m.result.metrics.find((x) => x.name === n) || {}).value;
    const v = r.result.result.value;
    console.log(JSON.stringify({ url: url.split('/').pop(), wall_ms: wall, frames_done_ms: +v.now.toFixed(1), fcp_ms: v.fcp && +v.fcp.toFixed(1),
      task_ms: +(metric('TaskDuration') * 1000).toFixed(1), script_ms: +(metric('ScriptDuration') * 1000).toFixed(1),
      layout_ms: +(metric('LayoutDuration') * 1000).toFixed(1), style_ms: +(metric('RecalcStyleDuration') * 1000).toFixed(1),
      heap_mb: +(metric('JSHeapUsedSize') / 1e6).toFixed(1), nodes: metric('Nodes') }));
    s.close();
    await fetch(`http://127.0.0.1:${port}/json/close/${tab.id}`).then((r) => r.text());
  }
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
