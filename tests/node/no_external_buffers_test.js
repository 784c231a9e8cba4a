'use strict';
// Where external ArrayBuffers are refused (Electron's V8 sandbox:
// napi_no_external_buffers_allowed) no Probe can view its semaphore: load()
// hands back native getters instead, and enabled, fire and unload behave as
// with the views. Official node builds allow external buffers, so the
// test-only switch USDT_NODE_NO_EXTERNAL_BUFFERS=1 forces that path; the
// views load() returns show which path was taken.
const { assert, test, run, sleep, until, withBpftrace, USDT } = require('./lib/harness');
const { Provider, binding } = require(USDT);

const load = binding.load;
let views = null;
binding.load = (p) => (views = load(p));

let seq = 0;
function provider(fallback) {
  if (fallback) process.env.USDT_NODE_NO_EXTERNAL_BUFFERS = '1';
  else delete process.env.USDT_NODE_NO_EXTERNAL_BUFFERS;
  const p = new Provider(`nxb_${process.pid}_${seq++}`);
  const hit = p.probe('hit', 'int64', 'string');
  const other = p.probe('other', 'int64');
  p.load();
  return { p, hit, other };
}

test('the_switch_takes_the_fallback_and_only_then', () => {
  const a = provider(false);
  assert.deepStrictEqual(views.map((v) => v instanceof Uint16Array), [true, true]);
  const b = provider(true);
  assert.deepStrictEqual(views.map((v) => v instanceof Uint16Array), [false, false]);
  assert.strictEqual(views[0][0], 0, 'the native getter reads the untraced semaphore');
  a.p.unload(); b.p.unload();
});

test('fallback_enabled_follows_bpftrace_and_values_arrive_exactly', async () => {
  const { p, hit, other } = provider(true);
  try {
    assert.strictEqual(hit.enabled, false);
    await withBpftrace(`usdt:${p.path}:${p.name}:hit { printf("FB %d %s\\n", arg0, str(arg1)); }`,
      {}, async (bt) => { // by path: bpftrace 0.25+ attaches twice with -p and a path
        await until(() => hit.enabled, 10000, 'hit enabled through the native getter');
        assert.strictEqual(other.enabled, false, 'only the traced probe');
        for (let i = 0; i < 3; i++) hit.fire(i, `fallback ✓ ${i}`);
        const got = await bt.waitLines(3, 20000, (l) => l.startsWith('FB '));
        assert.deepStrictEqual(got, ['FB 0 fallback ✓ 0', 'FB 1 fallback ✓ 1', 'FB 2 fallback ✓ 2']);
      });
    await until(() => !hit.enabled, 10000, 'hit disabled after the tracer left');
  } finally {
    p.unload();
  }
  assert.strictEqual(hit.enabled, false, 'unloaded reads disabled');
  hit.fire(1, 'after unload'); // a no-op, never a read of the unmapped image
  p.load();
  assert.strictEqual(hit.enabled, false, 'loaded again, untraced');
  p.unload();
  delete process.env.USDT_NODE_NO_EXTERNAL_BUFFERS;
  await sleep(0);
});

run();
