'use strict';
// The usdt package under a real tracer (bpftrace): every type's values by pid
// and by path, extremes through BigInt, non-ASCII strings, json; exact value
// checks while traced; enabled and watch() following a tracer; worker threads;
// the garbage collector unloading a provider; a child process.
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { Worker } = require('worker_threads');
const { assert, test, run, need, sleep, until, Bpftrace, withBpftrace, USDT } = require('./lib/harness');
const { Provider } = require(USDT);

let seq = 0;
const uniq = (base) => `${base}_${process.pid}_${seq++}`;

// Fire until the tracer has printed n lines (it may attach a moment after READY).
async function fireUntil(bt, n, fire, ms = 20000) {
  const end = Date.now() + ms;
  while (bt.lines.length < n) {
    if (bt.exited || Date.now() > end) throw new Error(`bpftrace said: ${bt.out}`);
    fire();
    await sleep(20);
  }
  return bt.lines;
}

// bpftrace 0.17 reads arg0..arg5 of a USDT probe: the types go in two probes.
function intsProvider(name) {
  const p = new Provider(name);
  const small = p.probe('small', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32');
  const wide = p.probe('wide', 'int64', 'uint64', 'int64', 'uint64');
  const strs = p.probe('strs', 'string', 'json', 'int64');
  p.load();
  const ints = { fire: (...v) => { small.fire(...v.slice(0, 6)); wide.fire(...v.slice(6)); } };
  return { p, small, wide, ints, strs };
}

const INT_PROGRAM = (target, prov) =>
  `usdt:${target}:${prov}:small { printf("S %d %u %d %u %d %u\\n", arg0, arg1, arg2, arg3, arg4, arg5); } ` +
  `usdt:${target}:${prov}:wide { printf("W %ld %lu %ld %lu\\n", arg0, arg1, arg2, arg3); }`;
const STR_PROGRAM = (target, prov) =>
  `usdt:${target}:${prov}:strs { printf("[%s] [%s] %ld\\n", str(arg0), str(arg1), arg2); exit(); }`;

const MIN = [-128, 0, -32768, 0, -2147483648, 0, -(2n ** 63n), 0n, -(2 ** 53 - 1), 2 ** 53 - 1];
const MAX = [127, 255, 32767, 65535, 2147483647, 4294967295, 2n ** 63n - 1n, 2n ** 64n - 1n, -1n, 1n];
const MIN_TEXT = ['S -128 0 -32768 0 -2147483648 0', 'W -9223372036854775808 0 -9007199254740991 9007199254740991'];
const MAX_TEXT = ['S 127 255 32767 65535 2147483647 4294967295', 'W 9223372036854775807 18446744073709551615 -1 1'];
const TEXT = 'héllo wörld ✓ 日本語 🚀';
const JSON_VALUE = { id: 42, name: 'forty-two', tags: ['é', '✓'], nested: { ok: true } };

for (const mode of ['pid', 'path']) {
  test(`every_integer_type_extremes_arrive_by_${mode}`, async () => {
    const { p, ints } = intsProvider(uniq('ints'));
    try {
      const opts = mode === 'pid' ? { pid: process.pid } : {};
      await withBpftrace(INT_PROGRAM(p.path, p.name), opts, async (bt) => {
        await fireUntil(bt, 2, () => ints.fire(...MIN));
        const n = bt.lines.length;
        await fireUntil(bt, n + 2, () => ints.fire(...MAX));
        const lines = await bt.stop();
        assert.deepStrictEqual(new Set(lines), new Set([...MIN_TEXT, ...MAX_TEXT]));
      });
    } finally {
      p.unload();
    }
  });

  test(`strings_utf8_and_json_arrive_by_${mode}`, async () => {
    const { p, strs } = intsProvider(uniq('strs'));
    try {
      await withBpftrace(STR_PROGRAM(p.path, p.name), mode === 'pid' ? { pid: process.pid } : {}, async (bt) => {
        const lines = await fireUntil(bt, 1, () => strs.fire(TEXT, JSON_VALUE, 7));
        assert.deepStrictEqual(lines, [`[${TEXT}] [${JSON.stringify(JSON_VALUE)}] 7`]);
      });
    } finally {
      p.unload();
    }
  });
}

function throwsLike(fn, cls, re) {
  assert.throws(fn, (err) => err instanceof cls && re.test(err.message) ? true : assert.fail(`${err && err.name}: ${err && err.message}`));
}

test('traced_fire_checks_every_value_exactly_and_fires_nothing_on_error', async () => {
  const { p, ints, small, wide, strs } = intsProvider(uniq('exact'));
  const checks = () => {
    const S = (i, v) => { const a = [0, 0, 0, 0, 0, 0]; a[i] = v; return a; };
    const W = (i, v) => { const a = [0, 0, 0, 0]; a[i] = v; return a; };
    throwsLike(() => small.fire(...S(0, 1.5)), RangeError, /probe small argument 1 \(int8\): 1.5 is not an integer/);
    throwsLike(() => small.fire(...S(0, 128)), RangeError, /argument 1 \(int8\): 128 is out of range/);
    throwsLike(() => small.fire(...S(0, -129n)), RangeError, /argument 1 \(int8\): -129n is out of range/);
    throwsLike(() => small.fire(...S(1, -1)), RangeError, /argument 2 \(uint8\): -1 is out of range/);
    throwsLike(() => small.fire(...S(3, 65536n)), RangeError, /argument 4 \(uint16\): 65536n is out of range/);
    throwsLike(() => small.fire(...S(4, 2 ** 31)), RangeError, /argument 5 \(int32\): 2147483648 is out of range/);
    throwsLike(() => small.fire(...S(5, NaN)), RangeError, /argument 6 \(uint32\): nan is not an integer/i);
    throwsLike(() => small.fire(...S(5, Infinity)), RangeError, /argument 6 \(uint32\): inf is not an integer/i);
    throwsLike(() => small.fire(...S(2, '3')), TypeError, /argument 3 \(int16\) must be a Number or a BigInt/);
    throwsLike(() => small.fire(...S(2, true)), TypeError, /argument 3 \(int16\) must be a Number or a BigInt/);
    throwsLike(() => wide.fire(...W(0, 2 ** 53)), RangeError, /probe wide argument 1 \(int64\): 9007199254740992 is beyond Number.MAX_SAFE_INTEGER.*BigInt/);
    throwsLike(() => wide.fire(...W(1, -(2 ** 60))), RangeError, /argument 2 \(uint64\): -1152921504606846976 is beyond Number.MAX_SAFE_INTEGER/);
    throwsLike(() => wide.fire(...W(0, 2n ** 63n)), RangeError, /argument 1 \(int64\): 9223372036854775808n is out of range/);
    throwsLike(() => wide.fire(...W(0, -(2n ** 63n) - 1n)), RangeError, /argument 1 \(int64\): -9223372036854775809n is out of range/);
    throwsLike(() => wide.fire(...W(1, 2n ** 64n)), RangeError, /argument 2 \(uint64\): 18446744073709551616n is out of range/);
    throwsLike(() => wide.fire(...W(1, -1n)), RangeError, /argument 2 \(uint64\): -1n is out of range/);
    throwsLike(() => wide.fire(...W(1, -1)), RangeError, /argument 2 \(uint64\): -1 is out of range/);
    throwsLike(() => small.fire(1, 2), TypeError, /probe small takes 6 arguments, got 2/);
    throwsLike(() => small.fire(...Array(13).fill(0)), TypeError, /probe small takes 6 arguments, got 13/);
    throwsLike(() => strs.fire(5, {}, 0), TypeError, /argument 1 \(string\) must be a string/);
    throwsLike(() => strs.fire('a\0b', {}, 0), TypeError, /argument 1 \(string\) contains a NUL/);
    throwsLike(() => strs.fire('a', undefined, 0), TypeError, /argument 2 \(json\): undefined has no JSON text/);
    throwsLike(() => strs.fire('a', () => 1, 0), TypeError, /argument 2 \(json\): \[Function.*has no JSON text/);
    throwsLike(() => strs.fire('a', 1n, 0), TypeError, /BigInt/);
  };
  try {
    await withBpftrace(`usdt:${p.path}:${p.name}:* { @[probe] = count(); }`, { pid: process.pid }, async (bt) => {
      await until(() => small.enabled && wide.enabled && strs.enabled, 10000, 'the probes enabled');
      checks();
      ints.fire(...MAX);
      strs.fire('ok', null, 1);
      await sleep(100);
      const lines = await bt.stop();
      // bpftrace -p names the probe by /proc/PID/root/<path>.
      const got = lines.filter((l) => l.startsWith('@')).map((l) => l.replace(/^@\[usdt:.*:(\w+)\]/, '$1')).sort();
      assert.deepStrictEqual(got, ['small: 1', 'strs: 1', 'wide: 1'], 'only the good fires arrived');
    });
  } finally {
    p.unload();
  }
});

test('no_event_reaches_the_tracer_from_a_failed_fire', async () => {
  const { p, wide } = intsProvider(uniq('noevt'));
  try {
    const bt = new Bpftrace(`usdt:${p.path}:${p.name}:wide { @n = count(); }`, { pid: process.pid });
    need('bpftrace');
    try {
      await bt.ready();
      await until(() => wide.enabled, 10000, 'wide enabled');
      for (let i = 0; i < 100; i++) assert.throws(() => wide.fire(0, 0, 0, 0.5));
      for (let i = 0; i < 7; i++) wide.fire(0, 0, 0, i);
      await sleep(100);
    } finally {
      const lines = await bt.stop();
      assert.deepStrictEqual(lines.filter((l) => l.startsWith('@n')), ['@n: 7']);
    }
  } finally {
    p.unload();
  }
});

test('enabled_and_watch_follow_a_tracer_coming_and_going', async () => {
  need('bpftrace');
  const { p, wide, strs } = intsProvider(uniq('watch'));
  const events = [];
  p.watch((probe, enabled) => events.push(`${probe.name}:${enabled}`));
  try {
    assert.strictEqual(wide.enabled, false);
    const bt = new Bpftrace(`usdt:${p.path}:${p.name}:wide { @n = count(); }`, { pid: process.pid });
    try {
      await bt.ready();
      await until(() => wide.enabled, 10000, 'enabled rising');
      await until(() => events.length >= 1, 5000, 'watch: enabled');
      assert.deepStrictEqual(events, ['wide:true']);
      assert.strictEqual(strs.enabled, false, 'only the traced probe');
    } finally {
      await bt.stop();
    }
    await until(() => !wide.enabled, 10000, 'enabled falling');
    await until(() => events.length >= 2, 5000, 'watch: disabled');
    assert.deepStrictEqual(events, ['wide:true', 'wide:false']);
    // unwatch: no more events.
    p.unwatch();
    const bt2 = new Bpftrace(`usdt:${p.path}:${p.name}:wide { @n = count(); }`, { pid: process.pid });
    try {
      await bt2.ready();
      await until(() => wide.enabled, 10000, 'enabled rising again');
      await sleep(100);
    } finally {
      await bt2.stop();
    }
    assert.deepStrictEqual(events, ['wide:true', 'wide:false']);
  } finally {
    p.unwatch();
    p.unload();
  }
});

test('watch_reports_probes_already_traced_and_unload_as_disabled', async () => {
  const { p, wide } = intsProvider(uniq('wpre'));
  try {
    await withBpftrace(`usdt:${p.path}:${p.name}:wide { @n = count(); }`, { pid: process.pid }, async () => {
      await until(() => wide.enabled, 10000, 'enabled');
      const events = [];
      p.watch((probe, enabled) => events.push(`${probe.name}:${enabled}`));
      await until(() => events.length >= 1, 5000, 'watch: already enabled');
      p.unload();
      assert.strictEqual(wide.enabled, false, 'unloaded reads disabled at once');
      await until(() => events.length >= 2, 5000, 'watch: unload');
      assert.deepStrictEqual(events, ['wide:true', 'wide:false']);
      p.unwatch();
    });
  } finally {
    if (p.loaded) p.unload();
  }
});

const CHILD = path.join(__dirname, 'lib', 'child.js');

test('watch_never_keeps_the_process_alive', async () => {
  const t0 = Date.now();
  const code = await new Promise((resolve) => {
    const c = spawn(process.execPath, ['-e', `
      const { Provider } = require(${JSON.stringify(USDT)});
      const p = new Provider('keepalive_${process.pid}');
      p.probe('x'); p.load(); p.watch(() => {});
      setTimeout(() => console.log('done'), 50);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    c.on('close', resolve);
  });
  assert.strictEqual(code, 0);
  assert.ok(Date.now() - t0 < 5000, 'exited by itself');
});

test('worker_threads_fire_at_once_and_every_event_arrives', async () => {
  const name = uniq('workers');
  const N = 4;
  const EACH = 2000;
  // One definition: every worker's provider maps the same image file.
  const probe = new Provider(name);
  probe.probe('hit', 'int32', 'int32');
  probe.load();
  const file = probe.path;
  try {
    await withBpftrace(`usdt:${file}:${name}:hit { @n[arg0] = count(); @s = sum(arg1); }`, { pid: process.pid }, async (bt) => {
      const workers = [];
      for (let w = 0; w < N; w++) {
        workers.push(new Promise((resolve, reject) => {
          const worker = new Worker(`
            const { workerData, parentPort } = require('worker_threads');
            const { Provider } = require(workerData.usdt);
            const p = new Provider(workerData.name);
            const hit = p.probe('hit', 'int32', 'int32');
            p.load();
            if (p.path !== workerData.file) throw new Error('another image: ' + p.path);
            const start = Date.now();
            while (!hit.enabled) { if (Date.now() - start > 10000) throw new Error('never enabled'); }
            for (let i = 0; i < workerData.each; i++) hit.fire(workerData.w, i);
            p.unload();
            parentPort.postMessage('done');`, { eval: true, workerData: { usdt: USDT, name, file, w, each: EACH } });
          worker.on('message', () => {});
          worker.on('error', reject);
          worker.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`worker exit ${c}`))));
        }));
      }
      await Promise.all(workers);
      await sleep(200);
      const lines = await bt.stop();
      const sum = (EACH * (EACH - 1) / 2) * N;
      for (let w = 0; w < N; w++) assert.ok(lines.includes(`@n[${w}]: ${EACH}`), `worker ${w}: ${lines.join('|')}`);
      assert.ok(lines.includes(`@s: ${sum}`), lines.join('|'));
    });
  } finally {
    probe.unload();
  }
});

test('a_worker_exit_unloads_its_providers', async () => {
  const name = uniq('wexit');
  const file = await new Promise((resolve, reject) => {
    const worker = new Worker(`
      const { workerData, parentPort } = require('worker_threads');
      const { Provider } = require(workerData.usdt);
      const p = new Provider(workerData.name);
      p.probe('x', 'int64'); p.load(); p.watch(() => {});
      parentPort.postMessage(p.path);`, { eval: true, workerData: { usdt: USDT, name } });
    let f;
    worker.on('message', (m) => { f = m; });
    worker.on('error', reject);
    worker.on('exit', () => resolve(f));
  });
  assert.ok(file);
  // The grace period of an unload is 100 ms; a freed provider unmaps at once.
  await until(() => !fs.readFileSync('/proc/self/maps', 'utf8').includes(file), 3000, 'image unmapped after the worker exit');
});

test('the_garbage_collector_unloads_a_provider', async () => {
  assert.ok(typeof global.gc === 'function', 'run with --expose-gc');
  let file;
  (() => {
    const p = new Provider(uniq('gc'));
    p.probe('x', 'int64');
    p.load();
    file = p.path;
  })();
  assert.ok(fs.readFileSync('/proc/self/maps', 'utf8').includes(file));
  for (let i = 0; i < 50 && fs.readFileSync('/proc/self/maps', 'utf8').includes(file); i++) {
    global.gc();
    await sleep(20);
  }
  assert.ok(!fs.readFileSync('/proc/self/maps', 'utf8').includes(file), 'image unmapped after GC');
});

async function withChild(name, fn) {
  const c = spawn(process.execPath, [CHILD, USDT, name], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  const closed = new Promise((r) => c.on('close', r));
  try {
    await until(() => out.includes('\n'), 10000, 'child ready');
    return await fn(c, out.split('\n')[0]);
  } finally {
    c.stdin.end();
    await closed;
  }
}

test('a_child_process_is_traced_by_pid', async () => {
  need('bpftrace');
  const name = uniq('child');
  await withChild(name, async (c, file) => {
    await withBpftrace(`usdt:${file}:${name}:tick { printf("%d %s\\n", pid, str(arg1)); exit(); }`, { pid: c.pid }, async (bt) => {
      const lines = await bt.waitLines(1, 20000);
      assert.deepStrictEqual(lines, [`${c.pid} child ✓`]);
    });
  });
});

// bpftrace 0.17 reads up to arg5 and bcc 0.26's trace misreads late stack
// arguments; gdb reads all twelve from the note.
test('twelve_arguments_and_a_large_string_via_gdb', async () => {
  need('gdb');
  const name = uniq('gdb');
  await withChild(name, async (c) => {
    const args = ['-q', '-nx', '-batch', '-p', String(c.pid), '-ex', `break -probe-stap ${name}:twelve`, '-ex', 'continue',
      '-ex', 'printf "V %s|%d %d %d %d %d %d %d %d %d %ld|%s\\n", $_probe_arg0, $_probe_arg1, $_probe_arg2, $_probe_arg3, ' +
        '$_probe_arg4, $_probe_arg5, $_probe_arg6, $_probe_arg7, $_probe_arg8, $_probe_arg9, $_probe_arg10, $_probe_arg11 + 20000'];
    const g = spawn('gdb', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    g.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    g.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
    const code = await new Promise((r) => g.on('close', r));
    assert.strictEqual(code, 0, out);
    assert.match(out, /^V first ✓\|1 -2 3 -4 5 -6 7 -8 9 -9223372036854775808\|END$/m);
  });
}, { timeout: 90000 });

run();
