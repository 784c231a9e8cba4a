'use strict';
// node's own `node` provider (usdt/runtime): what it costs while nobody
// traces it, and how fast it reacts when a tracer comes. BENCH lines:
//   node.runtime_idle_ratio_http   an HTTP request loop (keep-alive, 127.0.0.1)
//                                  with the provider enabled but untraced /
//                                  not enabled, in turns in one process; the
//                                  median of the turns' ratios (target <= 1.01)
//   node.runtime_idle_ratio_alloc  the same for an allocation-heavy loop (GCs)
//   node.runtime_idle_ratio        the larger of the two
//   node.runtime_idle_ratio_null_* not enabled against not enabled, measured
//                                  the same way: the floor of what the ratios
//                                  can tell on this machine
//   node.runtime_enable_latency_ms semaphore up (as a tracer would raise it)
//                                  -> GC callbacks installed (median of 15)
// What an idle process pays per second (wakeups, CPU) is bench/idle_bench.sh's
// node.runtime.*, measured against a process without usdt.
// Ratios over 3 processes of 10 turns. Run by bench/node_bench.sh.
const http = require('http');
const { fork } = require('child_process');
const path = require('path');

const runtime = require(path.join(__dirname, '..', 'node-ext', 'lib', 'runtime.js'));

const bench = (name, value, unit) => console.log(`BENCH ${name} ${value} ${unit}`);
// CPU time of the whole process (user + system, every thread, libusdt's
// watcher included), not wall time: on this shared VM a descheduled turn
// would otherwise count as cost.
const cpuNs = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const now = () => Number(process.hrtime.bigint());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function httpLoop(agent, port, n) {
  const t = cpuNs();
  for (let i = 0; i < n; i++) {
    await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: `/item/${i}`, agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      }).on('error', reject);
    });
  }
  return (cpuNs() - t) / n;
}

function allocLoop(n) {
  const t = cpuNs();
  let keep = [];
  for (let i = 0; i < n; i++) {
    keep.push({ i, s: `k${i}`, a: [i, i + 1] });
    if (keep.length > 50000)
      keep = [];
  }
  return (cpuNs() - t) / n;
}

// States of a turn: 0 not enabled, 1 enabled and untraced, 2 not enabled
// again - the null comparison (2 against 0) shows what this VM's noise alone
// makes of two identical states.
async function child() {
  const server = http.createServer((req, res) => res.end('ok'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const best = { http: [Infinity, Infinity, Infinity], alloc: [Infinity, Infinity, Infinity] };
  const pairs = { http: [], alloc: [], httpNull: [], allocNull: [] };
  const orders = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [1, 0, 2], [2, 1, 0]];
  await httpLoop(agent, port, 200); // warm up
  allocLoop(500000);
  for (let turn = 0; turn < 10; turn++) {
    const cur = { http: [], alloc: [] };
    for (const st of orders[turn % orders.length]) {
      if (st === 1)
        runtime.enable();
      else
        runtime.disable();
      // Loading opens the image, and libusdt's watcher takes any open of it
      // for a tracer coming: it polls every 1 ms for 300 ms, then every 5.
      // Measure the steady state a long-running program is in; every state
      // waits as long, so each starts its turn equally cold.
      await sleep(350);
      cur.http[st] = await httpLoop(agent, port, 80);
      // Long enough that each run holds about the same number of scavenges.
      cur.alloc[st] = allocLoop(500000);
      best.http[st] = Math.min(best.http[st], cur.http[st]);
      best.alloc[st] = Math.min(best.alloc[st], cur.alloc[st]);
    }
    // The three of a turn ran within a second or two, in one phase of the VM.
    for (const k of ['http', 'alloc']) {
      pairs[k].push(cur[k][1] / cur[k][0]);
      pairs[`${k}Null`].push(cur[k][2] / cur[k][0]);
    }
  }
  runtime.disable();
  agent.destroy();
  server.close();
  process.send({ pairs, httpUs: best.http[0] / 1000, allocNs: best.alloc[0] });
}

async function latency() {
  runtime.enable();
  const lat = [];
  for (let i = 0; i < 15; i++) {
    const t = now();
    runtime._force('gc__start', 1);
    while (!runtime.state().native.gc)
      await new Promise((r) => setImmediate(r));
    lat.push((now() - t) / 1e6);
    runtime._force('gc__start', -1);
    while (runtime.state().native.gc)
      await new Promise((r) => setImmediate(r));
    await sleep(20);
  }
  runtime.disable();
  lat.sort((a, b) => a - b);
  return lat[Math.floor(lat.length / 2)];
}

const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function main() {
  if (process.argv[2] === 'child')
    return child();
  const runs = [];
  for (let i = 0; i < 3; i++) {
    runs.push(await new Promise((resolve, reject) => {
      const c = fork(__filename, ['child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      c.on('message', resolve);
      c.on('exit', (code) => code && reject(new Error(`bench child exited ${code}`)));
    }));
  }
  // The median of every turn's ratio, over all processes.
  const all = (k) => median(runs.flatMap((r) => r.pairs[k]));
  const h = all('http');
  const a = all('alloc');
  bench('node.runtime_idle_ratio_http', h.toFixed(3), 'ratio');
  bench('node.runtime_idle_ratio_alloc', a.toFixed(3), 'ratio');
  bench('node.runtime_idle_ratio', Math.max(h, a).toFixed(3), 'ratio');
  bench('node.runtime_idle_ratio_null_http', all('httpNull').toFixed(3), 'ratio');
  bench('node.runtime_idle_ratio_null_alloc', all('allocNull').toFixed(3), 'ratio');
  bench('node.http_request_cpu_us', median(runs.map((r) => r.httpUs)).toFixed(1), 'us');
  bench('node.runtime_enable_latency_ms', (await latency()).toFixed(2), 'ms');
}

main().catch((e) => { console.error(e); process.exit(1); });
