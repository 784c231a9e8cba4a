'use strict';
// The program runtime_test.sh traces: node -r usdt/runtime runtime_prog.js MODE
//   untraced  HTTP requests, allocations and GCs with nobody tracing: prints
//             PASS/FAIL lines for "nothing hooked" as seen from inside
//   http      (a tracer attached by path before start) checks the hooks were
//             in before the first line of the program ran, makes three
//             requests on 127.0.0.1, forces 3 minor and 3 full GCs, prints
//             EXPECT lines with the values the probes must carry, then WAITING,
//             and once the tracer has gone checks every hook is out
//   gcwork    waits to be traced (and SIGUSR2), then allocates for a while and prints the
//             GCs node's perf_hooks saw (kind, duration) as PERF lines
//   gcburst   waits to be traced (and SIGUSR2), forces 40 scavenges while
//             nodestat's breakpoint is in, prints PERFCOUNT
// A line "WAITING" means: done, detach the tracer now.
const dc = require('diagnostics_channel');
const http = require('http');
const net = require('net');
const { PerformanceObserver, performance } = require('perf_hooks');

// Under `node -r` the runtime is in already; untraced, end is node's own.
const originalEnd = net.Socket.prototype.end;
const runtime = require('../../node-ext/lib/runtime.js');
const atStart = runtime.state(); // before anything of ours could yield to the watcher
const mode = process.argv[2];

const channels = ['http.server.request.start', 'http.server.response.finish',
                  'http.client.request.start', 'http.client.response.finish', 'net.server.socket'];

function check(name, ok, why) {
  console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
}

function nothingHooked(s) {
  const bad = [];
  for (const [k, v] of Object.entries(s.installed))
    if (v) bad.push(k);
  if (s.native.gc)
    bad.push('native gc callbacks');
  for (const c of channels)
    if (dc.channel(c).hasSubscribers)
      bad.push(`${c} has subscribers`);
  if (net.Socket.prototype.end.name === 'tracedEnd')
    bad.push('net.Socket.prototype.end wrapped');
  return bad;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end)
      return false;
    await sleep(10);
  }
  return true;
}

function fdOf(s) {
  return s._handle && typeof s._handle.fd === 'number' ? s._handle.fd : -1;
}

/* A request with its own connection (agent false: its own
 * net__server__connection and fds), or on an agent's kept-alive socket (the
 * second request of one finds it connected). Pushes what the probes must say. */
function request(port, method, path, expect, agent = false) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      const s = req.socket;
      expect.push(`CRES 0 ${s.remoteAddress} ${s.remotePort} ${fdOf(s)}`);
      res.resume();
      res.on('end', resolve);
    });
    req.on('socket', (s) => {
      const connected = () => {
        expect.push(`CREQ 0 0 ${s.remoteAddress} ${s.remotePort} ${method} ${path}`);
        expect.push(`CREQFD ${fdOf(s)}`);
      };
      if (s.connecting)
        s.once('connect', connected);
      else
        connected();
    });
    req.on('error', reject);
    req.end(method === 'POST' ? 'body' : undefined);
  });
}

async function httpWork(expect) {
  const server = http.createServer((req, res) => {
    const s = req.socket;
    const id = `${s.remoteAddress} ${s.remotePort}`;
    expect.push(`SREQ 0 0 ${id} ${req.method} ${req.url}`);
    expect.push(`SREQFD ${fdOf(s)}`);
    res.on('finish', () => expect.push(`SRES 0 ${id} ${fdOf(s)}`));
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  server.on('connection', (s) => {
    expect.push(`CONN 0 ${s.remoteAddress} ${s.remotePort} ${fdOf(s)}`);
    // The server ends each connection after its response (the client said
    // Connection: close): node fired net__stream__end there.
    expect.push(`END 0 ${s.remoteAddress} ${s.remotePort} ${fdOf(s)}`);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  await request(port, 'GET', '/first?a=1', expect);
  await request(port, 'POST', '/second/part', expect);
  await request(port, 'DELETE', '/third%C3%BC', expect);
  await new Promise((r) => server.close(r));
  // Keep-alive: two requests on one connection, the second on a socket the
  // agent hands over already connected. This server never ends its sockets.
  const kept = http.createServer((req, res) => {
    const s = req.socket;
    expect.push(`SREQ 0 0 ${s.remoteAddress} ${s.remotePort} ${req.method} ${req.url}`);
    expect.push(`SREQFD ${fdOf(s)}`);
    req.resume();
    req.on('end', () => res.end('kept'));
  });
  kept.on('connection', (s) => expect.push(`CONN 0 ${s.remoteAddress} ${s.remotePort} ${fdOf(s)}`));
  await new Promise((r) => kept.listen(0, '127.0.0.1', r));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await request(kept.address().port, 'GET', '/kept/1', expect, agent);
  await request(kept.address().port, 'PUT', '/kept/2', expect, agent);
  agent.destroy();
  await new Promise((r) => kept.close(r));
}

function allocate(ms) {
  let keep = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (let i = 0; i < 20000; i++)
      keep.push({ i, s: `x${i}` });
    if (keep.length > 300000)
      keep = [];
  }
  return keep.length;
}

function observeGC(list) {
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries())
      list.push({ kind: e.detail.kind, ms: e.duration, start: e.startTime });
  });
  obs.observe({ entryTypes: ['gc'] });
  return obs;
}

async function main() {
  if (mode === 'untraced') {
    check('runtime_enabled_untraced_defines_provider', atStart.enabled && atStart.path,
          `state ${JSON.stringify(atStart)}`);
    const bad0 = nothingHooked(atStart);
    check('runtime_untraced_nothing_hooked_at_start', bad0.length === 0, bad0.join(', '));
    await httpWork([]);
    allocate(300);
    global.gc && global.gc();
    await sleep(100);
    const bad = nothingHooked(runtime.state());
    check('runtime_untraced_nothing_hooked_after_http_and_gc', bad.length === 0, bad.join(', '));
    check('runtime_untraced_socket_end_untouched', net.Socket.prototype.end === originalEnd,
          'net.Socket.prototype.end was replaced');
    // Workers: the provider is the main thread's; requiring it there is a no-op.
    const { Worker } = require('worker_threads');
    const w = new Worker(`
      const rt = require(${JSON.stringify(require.resolve('../../node-ext/lib/runtime.js'))});
      require('worker_threads').parentPort.postMessage({ path: rt.enable(), state: rt.state() });`,
    { eval: true });
    const got = await new Promise((resolve, reject) => w.once('message', resolve).once('error', reject));
    check('runtime_worker_thread_defines_nothing',
          got.path === null && !got.state.enabled && runtime.state().enabled,
          `worker saw ${JSON.stringify(got)}`);
    return;
  }
  if (mode === 'http') {
    const s = atStart.installed;
    check('runtime_attached_before_start_hooks_in_before_first_line',
          s.gc && s.httpServer && s.httpClient && s.netServer && s.netEnd && atStart.native.gc,
          `state at start ${JSON.stringify(atStart)}`);
    const expect = [];
    await httpWork(expect);
    for (let i = 0; i < 3; i++)
      global.gc({ type: 'minor' });
    for (let i = 0; i < 3; i++)
      global.gc();
    for (const l of expect)
      console.log(`EXPECT ${l}`);
    console.log('WAITING');
    const gone = await waitFor(() => nothingHooked(runtime.state()).length === 0, 15000);
    check('runtime_hooks_removed_after_tracer_leaves', gone,
          `still hooked: ${nothingHooked(runtime.state()).join(', ')}`);
    check('runtime_socket_end_restored_after_tracer_leaves', net.Socket.prototype.end === originalEnd,
          'net.Socket.prototype.end still wrapped');
    return;
  }
  if (mode === 'gcwork' || mode === 'gcburst') {
    // bcc's ustat (nodestat) picks processes whose comm is "node"; node 24
    // renames its main thread "MainThread", so none would be found. Setting
    // the title sets comm back (README "Tracer notes").
    if (mode === 'gcburst') process.title = 'node';
    // SIGUSR2: the tracer says it is attached (bcc raises the semaphores
    // before its BPF program is compiled and attached, seconds later here).
    let go = false;
    process.on('SIGUSR2', () => { go = true; });
    console.log('READY');
    const traced = await waitFor(() => go && runtime.state().native.gc, 60000);
    console.log(traced ? 'TRACED' : 'NEVER TRACED');
    const seen = [];
    const obs = observeGC(seen);
    let t0 = 0, t1 = Infinity;
    if (mode === 'gcwork') {
      allocate(1500);
    } else {
      // nodestat attaches for one interval at a time, its semaphore up long
      // before: burst only while its breakpoint is really on gc__start.
      const armed = await waitFor(() => runtime._trapped('gc__start'), 20000);
      t0 = performance.now();
      for (let i = 0; i < 40; i++) // scavenges: fast, the burst fits its interval
        global.gc({ type: 'minor' });
      const after = runtime._trapped('gc__start');
      t1 = performance.now();
      console.log(armed && after ? 'WINDOW ok' : `WINDOW missed (before ${armed}, after ${after})`);
    }
    await sleep(200);
    obs.disconnect();
    if (mode === 'gcwork') {
      for (const e of seen)
        console.log(`PERF ${e.kind} ${(e.ms * 1000).toFixed(1)}`);
    }
    // All GCs from SIGUSR2 on, and those inside the burst's window.
    console.log(`PERFCOUNT ${seen.length} ${seen.filter((e) => e.start >= t0 && e.start <= t1).length}`);
    console.log('WAITING');
    const gone = await waitFor(() => !runtime.state().native.gc, 20000);
    check(`runtime_${mode}_gc_hooks_removed_after_tracer_leaves`, gone, 'GC callbacks still installed');
    return;
  }
  throw new Error(`unknown mode ${mode}`);
}

main().catch((e) => {
  console.log(`FAIL runtime_prog_${mode}: ${e.stack.split('\n').join(' | ')}`);
  process.exitCode = 1;
});
