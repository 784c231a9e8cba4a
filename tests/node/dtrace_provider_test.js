'use strict';
// node-ext/dtrace-provider: dtrace-provider's own test cases (test/*.test.js
// upstream, run there under `dtrace -Zqn`), ported to bpftrace with the same
// expected lines; its API and semantics without a tracer; and the probe
// names every tracer accepts ('-' is noted as '__').
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { assert, test, run, need, sleep, until, Bpftrace, DTRACE_PROVIDER } = require('./lib/harness');
const d = require(DTRACE_PROVIDER);

let seq = 0;
const uniq = (base) => `${base}${process.pid}x${seq++}`;

// The image path a definition loads at (same definition, same file), so the
// tracer can attach by path before the provider is enabled.
function pathOf(name, probes) {
  const p = d.createDTraceProvider(name);
  for (const [n, ...types] of probes) p.addProbe(n, ...types);
  p.enable();
  const file = p.path;
  p.disable();
  return file;
}

// Run scenario() under bpftrace attached by path to every image in clauses
// ([path, provider, probe, printf-args]); the lines it printed.
async function traced(clauses, scenario) {
  need('bpftrace');
  const prog = clauses.map(([file, prov, probe, body]) => `usdt:${file}:${prov}:${probe} { ${body} }`).join(' ');
  const bt = new Bpftrace(prog);
  try {
    await bt.ready();
    await scenario(bt);
    await sleep(150); // events print asynchronously
  } finally {
    await bt.stop();
  }
  return bt.lines;
}

test('basic_p1_int_char_fires_42_forty_two', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int', 'char *']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld\\n%s\\n", arg0, str(arg1));']], async () => {
    const dtp = d.createDTraceProvider(name);
    dtp.addProbe('p1', 'int', 'char *');
    dtp.enable();
    assert.strictEqual(dtp.fire('p1', (p) => [42, 'forty-two']), true);
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['42', 'forty-two']);
});

test('args_after_cb_fire_extra_arguments_reach_the_callback', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int', 'char *', 'int']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld %s %ld\\n", arg0, str(arg1), arg2);']], async () => {
    const dtp = d.createDTraceProvider(name);
    const p1 = dtp.addProbe('p1', 'int', 'char *', 'int');
    dtp.enable();
    dtp.fire('p1', (a, b, c) => [a, b, c + 5], 42, 'forty-two', 10);
    p1.fire(function (a, b) { assert.strictEqual(this, p1); return [a, b, 1]; }, 43, 'forty-three');
    // The callback gets exactly the extras given, up to 16.
    const counts = [];
    const count = (...x) => { counts.push(x.length); return null; };
    dtp.fire('p1', count);
    p1.fire(count, 1, 2, 3);
    dtp.fire('p1', count, ...Array(16).fill(0));
    p1.fire(count, ...Array(16).fill(0));
    assert.deepStrictEqual(counts, [0, 3, 16, 16]);
    assert.throws(() => p1.fire(count, ...Array(17).fill(0)), (e) => e instanceof RangeError && /at most 16 extra arguments.*got 17/.test(e.message));
    assert.throws(() => dtp.fire('p1', count, ...Array(17).fill(0)), RangeError);
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['42 forty-two 15', '43 forty-three 1']);
});

test('fewer_args_missing_values_fire_0_and_undefined', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int', 'int', 'char *', 'json']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld %ld %s %s\\n", arg0, arg1, str(arg2), str(arg3));']], async () => {
    const dtp = d.createDTraceProvider(name);
    dtp.addProbe('p1', 'int', 'int', 'char *', 'json');
    dtp.enable();
    dtp.fire('p1', () => [42]);
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['42 0 undefined undefined']);
});

test('more_args_extra_values_are_ignored', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int', 'int']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld %ld\\n", arg0, arg1);']], async () => {
    const dtp = d.createDTraceProvider(name);
    dtp.addProbe('p1', 'int', 'int');
    dtp.enable();
    dtp.fire('p1', () => [42, 43, 44, 45]);
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['42 43']);
});

test('json_args_an_object_arrives_as_its_JSON_text', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'json'], ['p2', 'char *', 'json']]);
  const lines = await traced([[file, name, 'p1', 'printf("%s\\n", str(arg0));'],
    [file, name, 'p2', 'printf("%s %s\\n", str(arg0), str(arg1));']], async () => {
    const dtp = d.createDTraceProvider(name);
    dtp.addProbe('p1', 'json');
    dtp.addProbe('p2', 'char *', 'json');
    dtp.enable();
    dtp.fire('p1', () => [{ foo: 42, bar: 'forty-two' }]);
    dtp.fire('p2', () => ['s', ['a', 1, null, 'é']]);
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['{"foo":42,"bar":"forty-two"}', 's ["a",1,null,"é"]']);
});

test('enabled_disabled_11_enable_fire_disable_cycles_give_11_events_none_while_disabled', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int']]);
  let calls = 0;
  const lines = await traced([[file, name, 'p1', 'printf("%ld\\n", arg0);']], async () => {
    const dtp = d.createDTraceProvider(name);
    dtp.addProbe('p1', 'int');
    for (let i = 0; i < 11; i++) {
      dtp.enable();
      dtp.fire('p1', () => { calls++; return [i]; });
      dtp.disable();
      dtp.fire('p1', () => { calls++; return [100 + i]; });
    }
  });
  assert.deepStrictEqual(lines, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  assert.strictEqual(calls, 11);
});

test('add_probes_probes_added_one_by_one_with_disable_enable_all_keep_firing', async () => {
  const name = uniq('nodeapp');
  const defs = [['p1', 'int'], ['p2', 'int'], ['p3', 'int']];
  const files = defs.map((_, i) => pathOf(name, defs.slice(0, i + 1)));
  const clauses = [];
  files.forEach((f, i) => defs.slice(0, i + 1).forEach(([p]) => clauses.push([f, name, p, `printf("${p} %ld\\n", arg0);`])));
  const lines = await traced(clauses, async () => {
    const dtp = d.createDTraceProvider(name);
    for (let i = 0; i < defs.length; i++) {
      dtp.addProbe(...defs[i]);
      // Added after enable: not there until disable + enable.
      if (i > 0) assert.strictEqual(dtp.fire(defs[i][0], () => assert.fail('not yet enabled')), true);
      dtp.disable();
      dtp.enable();
      for (let j = 0; j <= i; j++) dtp.fire(defs[j][0], () => [i]);
    }
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['p1 0', 'p1 1', 'p2 1', 'p1 2', 'p2 2', 'p3 2']);
});

test('create_destroy_ten_providers_of_one_name_each_fire', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld\\n", arg0);']], async () => {
    const all = [];
    for (let i = 0; i < 10; i++) {
      const dtp = d.createDTraceProvider(name);
      dtp.addProbe('p1', 'int');
      dtp.enable();
      all.push(dtp);
    }
    all.forEach((dtp, i) => dtp.fire('p1', () => [i]));
    all.forEach((dtp) => dtp.disable());
  });
  assert.deepStrictEqual(lines, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
});

test('notenabled_the_callback_never_runs_without_enable', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld\\n", arg0);']], async () => {
    const dtp = d.createDTraceProvider(name);
    const p1 = dtp.addProbe('p1', 'int');
    assert.strictEqual(dtp.fire('p1', () => assert.fail('cb ran')), true);
    assert.strictEqual(p1.fire(() => assert.fail('cb ran')), true);
  });
  assert.deepStrictEqual(lines, []);
});

test('bad_probe_firing_unknown_names_never_aborts_and_returns_undefined', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld\\n", arg0);']], async () => {
    const dtp = d.createDTraceProvider(name);
    dtp.addProbe('p1', 'int');
    dtp.enable();
    assert.strictEqual(dtp.fire('nosuch', () => [1]), undefined);
    assert.strictEqual(dtp.fire('', () => [1]), undefined);
    assert.strictEqual(dtp.fire('p1', () => [7]), true);
    dtp.disable();
  });
  assert.deepStrictEqual(lines, ['7']);
});

test('callback_values_as_dtrace_provider_converts_them_a_non_array_fires_nothing', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int', 'char *', 'integer', 'string', 'char *(utf8)']]);
  const lines = await traced([[file, name, 'p1', 'printf("%ld|%s|%ld|%s|%s\\n", arg0, str(arg1), arg2, str(arg3), str(arg4));']], async () => {
    const dtp = d.createDTraceProvider(name);
    const p1 = dtp.addProbe('p1', 'int', 'char *', 'integer', 'string', 'char *(utf8)');
    dtp.enable();
    p1.fire(() => [-7.9, 12, '42', { a: 1 }, 'é\0cut']);
    p1.fire(() => [2n ** 70n, null, 1e30, Symbol('s'), undefined]);
    p1.fire(() => 'not an array');
    p1.fire(() => ({ 0: 1 }));
    dtp.disable();
  });
  assert.deepStrictEqual(lines, [
    '-7|12|42|[object Object]|é',
    '0|null|9223372036854775807|Symbol(s)|undefined',
  ]);
});

test('api_addProbe_sets_provider_name_removeProbe_enable_twice_types_by_prefix_errors', async () => {
  const name = uniq('nodeapp');
  const dtp = new d.DTraceProvider(name, 'mymodule');
  assert.strictEqual(dtp.module, 'mymodule');
  const p = dtp.addProbe('log-info', 'char *');
  assert.strictEqual(dtp['log-info'], p);
  assert.strictEqual(p.noteName, 'log__info');
  assert.deepStrictEqual(p.types, ['char *']);
  assert.strictEqual(dtp.enable(), undefined);
  const file = dtp.path;
  dtp.enable(); // a no-op
  assert.strictEqual(dtp.path, file);
  assert.ok(fs.readFileSync(file).includes('log__info'), 'noted as log__info');
  assert.strictEqual(dtp.removeProbe(p), p);
  assert.strictEqual(dtp['log-info'], undefined);
  assert.strictEqual(dtp.fire('log-info', () => ['x']), undefined, 'removed: unknown');
  assert.strictEqual(p.fire(() => ['x']), undefined);
  assert.strictEqual(dtp.removeProbe(p), undefined);
  dtp.disable();
  dtp.disable(); // a no-op
  dtp.enable();  // no probes left: nothing to enable
  assert.strictEqual(dtp.path, null);
  assert.throws(() => d.createDTraceProvider(5), /Must give provider name as argument/);
  assert.throws(() => dtp.addProbe(5), /Must give probe name as first argument/);
  assert.throws(() => dtp.fire(5), /Must give probe name as first argument/);
  assert.throws(() => dtp.addProbe('p', ...Array(13).fill('int')),
    (e) => e instanceof RangeError && /13 arguments.*at most 12/.test(e.message));
  assert.strictEqual(dtp.addProbe('p', ...Array(12).fill('int')).types.length, 12);
  assert.throws(() => dtp.addProbe('a b'), (e) => e instanceof TypeError && /'a b' cannot be a USDT name/.test(e.message));
});

test('a_throwing_callback_goes_to_uncaughtException_and_fire_returns', async () => {
  const name = uniq('nodeapp');
  const file = pathOf(name, [['p1', 'int']]);
  const seen = [];
  const handler = (e) => seen.push(e.message);
  process.on('uncaughtException', handler);
  try {
    await traced([[file, name, 'p1', 'printf("%ld\\n", arg0);']], async () => {
      const dtp = d.createDTraceProvider(name);
      const p1 = dtp.addProbe('p1', 'int');
      dtp.enable();
      assert.strictEqual(p1.fire(() => { throw new Error('boom'); }), true);
      await sleep(10);
      dtp.disable();
    });
  } finally {
    process.removeListener('uncaughtException', handler);
  }
  assert.deepStrictEqual(seen, ['boom']);
});

test('NODE_DTRACE_PROVIDER_REQUIRE_hard_throws_without_the_addon_else_a_stub', () => {
  // A copy of the two packages with no addon anywhere near.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dtp-noaddon-'));
  try {
    for (const f of ['lib/index.js', 'lib/native.js', 'dtrace-provider/dtrace-provider.js']) {
      fs.mkdirSync(path.join(dir, 'node-ext', path.dirname(f)), { recursive: true });
      fs.copyFileSync(path.join(DTRACE_PROVIDER, '..', f), path.join(dir, 'node-ext', f));
    }
    const script = `const d = require(${JSON.stringify(path.join(dir, 'node-ext', 'dtrace-provider', 'dtrace-provider.js'))});
      const p = d.createDTraceProvider('x'); const q = p.addProbe('a', 'int'); p.enable();
      let ran = false; q.fire(() => { ran = true; return [1]; }); p.fire('a', () => { ran = true; });
      console.log(p.constructor.name, ran, p.a === q);`;
    const env = { ...process.env };
    delete env.USDT_NODE_ADDON;
    const soft = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    assert.strictEqual(soft.status, 0, soft.stderr);
    assert.strictEqual(soft.stdout, 'DTraceProviderStub false true\n');
    const hard = spawnSync(process.execPath, ['-e', script], { env: { ...env, NODE_DTRACE_PROVIDER_REQUIRE: 'hard' }, encoding: 'utf8' });
    assert.notStrictEqual(hard.status, 0);
    assert.match(hard.stderr, /usdt: no native addon loads in node .*; tried .*usdt\.node: not found/);
    // With the addon: the real provider.
    const real = spawnSync(process.execPath, ['-e', script.replace(path.join(dir, 'node-ext', 'dtrace-provider', 'dtrace-provider.js'), DTRACE_PROVIDER)],
      { env: { ...process.env, NODE_DTRACE_PROVIDER_REQUIRE: 'hard' }, encoding: 'utf8' });
    assert.strictEqual(real.stdout, 'DTraceProvider false true\n', real.stderr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

run();
