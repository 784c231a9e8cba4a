'use strict';
// bench/node_bench.js - the usdt addon from JavaScript (run by node_bench.sh).
//
//   node.enabled_ns                     `if (probe.enabled)` as JS writes it, untraced
//   node.enabled_fallback_ns            the same where external buffers are refused (Electron):
//                                       a native reader per read (USDT_NODE_NO_EXTERNAL_BUFFERS=1),
//                                       in a run of its own (USDT_BENCH_FALLBACK=1: only
//                                       the untraced loops, *_fallback_ns, beside the same floors)
//   node.fire_untraced_fallback_ns      probe.fire(i, 'url') untraced, there
//   node.fire_untraced_ns               probe.fire(i, 'url') of an untraced (int64, string) probe
//   node.dtrace_provider_fire_untraced_ns  dtrace-provider's probe.fire(cb, extra), untraced
//   node.call_native_noop_ns            an N-API function that does nothing: the floor of any native call
//   node.call_js_noop_ns                a JS function that does nothing (inlined by V8)
//   node.traced_hit_ns                  probe.fire(i, 'url') with bpftrace attached (count)
//   node.enable_latency_ms              the semaphore rising -> provider.watch() callback on the JS thread
//
// Loops run 8 calls per iteration; figures are ns per call including the loop,
// the minimum over many short turns taken in turns (this VM's speed moves in
// phases of seconds), all in one process.
// USDT_BENCH_NODE_TAG names the figures (node22.enabled_ns, ...) when
// bench/node_lines_bench.sh runs this under each Node line.
const path = require('path');
const { spawn } = require('child_process');
const ROOT = path.resolve(__dirname, '..');
const { Provider, binding } = require(path.join(ROOT, 'node-ext'));
const d = require(path.join(ROOT, 'node-ext', 'dtrace-provider'));

const app = new Provider(`nodebench${process.pid}`);
const req = app.probe('request__start', 'int64', 'string');
// Every probe of a process reads its semaphore the one way or the other:
// mixing both in one process would make V8's reads of either polymorphic.
const FALLBACK = process.env.USDT_BENCH_FALLBACK === '1';
if (FALLBACK) process.env.USDT_NODE_NO_EXTERNAL_BUFFERS = '1';
app.load();
const TAG = process.env.USDT_BENCH_NODE_TAG || 'node';
const FB_NAMES = new Set(['node.enabled_ns', 'node.fire_untraced_ns']);
const named = (k) => (FALLBACK && FB_NAMES.has(k) ? k.replace(/_ns$/, '_fallback_ns') : k)
  .replace(/^node\./, `${TAG}.`);
const dtp = d.createDTraceProvider(`nodebenchdtp${process.pid}`);
const dp = dtp.addProbe('log-info', 'int', 'char *');
dtp.enable();

function now() { return Number(process.hrtime.bigint()); }
const URL = '/hello/world';
let sink = 0;

const loops = {
  'node.enabled_ns': (n) => {
    let c = 0;
    for (let i = 0; i < n; i++) {
      if (req.enabled) c++; if (req.enabled) c++; if (req.enabled) c++; if (req.enabled) c++;
      if (req.enabled) c++; if (req.enabled) c++; if (req.enabled) c++; if (req.enabled) c++;
    }
    sink += c;
  },
  'node.fire_untraced_ns': (n) => {
    for (let i = 0; i < n; i++) {
      req.fire(i, URL); req.fire(i, URL); req.fire(i, URL); req.fire(i, URL);
      req.fire(i, URL); req.fire(i, URL); req.fire(i, URL); req.fire(i, URL);
    }
  },
  'node.dtrace_provider_fire_untraced_ns': (n) => {
    const cb = (x) => [x, URL];
    for (let i = 0; i < n; i++) {
      dp.fire(cb, i); dp.fire(cb, i); dp.fire(cb, i); dp.fire(cb, i);
      dp.fire(cb, i); dp.fire(cb, i); dp.fire(cb, i); dp.fire(cb, i);
    }
  },
  'node.call_native_noop_ns': (n) => {
    const f = binding.noop;
    for (let i = 0; i < n; i++) { f(); f(); f(); f(); f(); f(); f(); f(); }
  },
  'node.call_js_noop_ns': (n) => {
    const f = (x) => x;
    let c = 0;
    for (let i = 0; i < n; i++) { c += f(i); c += f(i); c += f(i); c += f(i); c += f(i); c += f(i); c += f(i); c += f(i); }
    sink += c;
  },
};

function turns(set, iters, rounds) {
  const best = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(set)) {
      const t0 = now();
      fn(iters);
      const per = (now() - t0) / (iters * 8);
      if (!(best[name] <= per)) best[name] = per;
    }
  }
  return best;
}

function bpftrace(prog) {
  const bt = spawn('bpftrace', ['-p', String(process.pid), '-e', `BEGIN { printf("READY\\n"); } ${prog}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  bt.stdout.setEncoding('utf8').on('data', (x) => { out += x; });
  bt.stderr.setEncoding('utf8').on('data', (x) => { out += x; });
  const closed = new Promise((r) => bt.on('close', r));
  return {
    ready: async () => {
      const end = Date.now() + 30000;
      while (!/READY/.test(out)) {
        if (Date.now() > end || bt.exitCode !== null) throw new Error(`bpftrace: ${out}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop: async () => { bt.kill('SIGINT'); await closed; return out; },
  };
}

async function main() {
  // Warm up, so that every loop is optimized before it is timed.
  turns(loops, 20000, 5);
  const best = turns(loops, 250000, 40);
  for (const [k, v] of Object.entries(best)) {
    if (!FALLBACK || FB_NAMES.has(k) || k.startsWith('node.call_')) console.log(`BENCH ${named(k)} ${v.toFixed(3)} ns`);
  }
  if (FALLBACK) {
    app.unload();
    dtp.disable();
    return;
  }

  // Traced: every call traps into the kernel and runs bpftrace's program.
  const bt = bpftrace(`usdt:${app.path}:${app.name}:request__start { @n = count(); }`);
  await bt.ready();
  while (!req.enabled) await new Promise((r) => setTimeout(r, 5));
  const traced = turns({
    'node.traced_hit_ns': loops['node.fire_untraced_ns'],
    floor: loops['node.call_native_noop_ns'],
  }, 2000, 15);
  await bt.stop();
  console.log(`BENCH ${TAG}.traced_hit_ns ${traced['node.traced_hit_ns'].toFixed(1)} ns`);

  // Enable latency: the semaphore rising (seen by polling it from the event
  // loop) to the watch() callback, over a few tracer runs; the median.
  const lat = [];
  for (let run = 0; run < 5; run++) {
    let tSema = 0;
    let tWatch = 0;
    app.watch((probe, enabled) => { if (enabled && !tWatch) tWatch = performance.now(); });
    await new Promise((r) => setTimeout(r, 20));
    const b = bpftrace(`usdt:${app.path}:${app.name}:request__start { @n = count(); }`);
    await new Promise((resolve, reject) => {
      const end = Date.now() + 30000;
      const poll = () => {
        if (!tSema && req.enabled) tSema = performance.now();
        if (tSema && tWatch) return resolve();
        if (Date.now() > end) return reject(new Error('no enable seen'));
        setImmediate(poll);
      };
      poll();
    });
    await b.stop();
    app.unwatch();
    while (req.enabled) await new Promise((r) => setTimeout(r, 5));
    lat.push(Math.max(0, tWatch - tSema));
  }
  lat.sort((a, b) => a - b);
  console.log(`BENCH ${TAG}.enable_latency_ms ${lat[2].toFixed(2)} ms`);
  app.unload();
  dtp.disable();
  if (sink === 0.5) console.log(sink);
}

main().catch((e) => { console.error(e); process.exit(1); });
