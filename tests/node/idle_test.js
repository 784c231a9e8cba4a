'use strict';
// Untraced means asleep, for node: an idle process with node's runtime
// provider (node -r usdt/runtime), one with a watched Provider
// (provider.watch) and one with a dtrace-provider provider wakes at most a
// few times a second (context switches of all threads from /proc, measured
// beside a node without usdt, all at once); and bpftrace attached by path
// right after the silence gets each one's first marked event, which only
// the watcher's report (runtime, watch) or the semaphore (dtrace-provider)
// lets the program fire. tests/node/lib/idle_child.js is the process. About
// 10 s.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { assert, test, run, need, sleep, until, Bpftrace, ROOT, USDT } = require('./lib/harness');

const MAX_WAKEUPS_PER_S = 3; // libusdt's fallback poll is 1 a second
const CHILD = path.join(__dirname, 'lib', 'idle_child.js');
const IDLE_COST = path.join(ROOT, 'tests', 'tools', 'idle_cost.py');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usdt-node-idle.'));
fs.chmodSync(dir, 0o700);
const children = {};

function start(mode) {
  const pre = mode === 'runtime' ? ['-r', path.join(USDT, 'lib', 'runtime.js')] : [];
  const proc = spawn('node', ['--expose-gc', ...pre, CHILD, mode, USDT], {
    env: { ...process.env, USDT_DIR: dir }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const c = { proc, out: '' };
  proc.stdout.setEncoding('utf8').on('data', (d) => { c.out += d; });
  children[mode] = c;
  return c;
}

function idleCost(pid, seconds) {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [IDLE_COST, String(pid), String(seconds)]);
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    p.on('close', (code) => {
      const m = /wakeups_per_s=([\d.]+) cpu_ms_per_s=([\d.]+) threads=(\d+)/.exec(out);
      if (code !== 0 || !m) reject(new Error(`idle_cost.py ${pid}: exit ${code}: ${out}`));
      else resolve({ wakeups: +m[1], cpuMs: +m[2], threads: +m[3] });
    });
  });
}

// All four go idle together and are measured over the same 4 s.
let measured = null;
function measureAll() {
  if (!measured) {
    measured = (async () => {
      const modes = ['plain', 'runtime', 'watch', 'dtp'];
      for (const m of modes) start(m);
      await until(() => modes.every((m) => /^READY /m.test(children[m].out)), 20000, 'READY from every child');
      for (const m of modes) children[m].path = /^READY (\S+)/m.exec(children[m].out)[1];
      await sleep(500); // past the load's kicks
      const costs = await Promise.all(modes.map((m) => idleCost(children[m].proc.pid, 4)));
      modes.forEach((m, i) => { children[m].cost = costs[i]; });
    })();
  }
  return measured;
}

const PROBES = {
  runtime: (img) => `usdt:${img}:node:gc__start /arg1 == 4/`, // forced: our global.gc()
  watch: (img) => `usdt:${img}:idlew:hit /arg0 == 4242/`,
  dtp: (img) => `usdt:${img}:idledtp:hit /arg0 == 4242/`,
};

for (const mode of ['runtime', 'watch', 'dtp']) {
  test(`${mode}_process_sleeps_while_untraced`, async () => {
    await measureAll();
    const { cost } = children[mode];
    const floor = children.plain.cost;
    assert(cost.wakeups <= MAX_WAKEUPS_PER_S,
      `${mode}: ${cost.wakeups} wakeups/s idle (at most ${MAX_WAKEUPS_PER_S}; node without usdt: ${floor.wakeups})`);
    // At most one thread more than node's own: libusdt's watcher.
    assert(cost.threads <= floor.threads + 1, `${mode}: ${cost.threads} threads, node alone ${floor.threads}`);
  });

  test(`${mode}_bpftrace_by_path_right_after_the_silence_gets_the_first_event`, async () => {
    need('bpftrace');
    await measureAll();
    const c = children[mode];
    c.proc.stdin.write('go\n');
    const bt = new Bpftrace(`${PROBES[mode](c.path)} { printf("HIT\\n"); exit(); }`);
    try {
      await bt.ready();
      await bt.waitLines(1, 10000, (l) => l === 'HIT');
    } finally {
      await bt.stop();
      c.proc.kill();
    }
  });
}

run().finally(() => {
  for (const c of Object.values(children)) c.proc.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});
