'use strict';
// dtrace-provider's users, unmodified from the npm registry, traced with
// bpftrace through node-ext/dtrace-provider: bunyan's log records and
// restify's request probes.
const fs = require('fs');
const http = require('http');
const path = require('path');
const { assert, test, run, need, sleep, until, withBpftrace } = require('./lib/harness');
const { ensureClients, VERSIONS } = require('./lib/clients');

function imageOf(provider) {
  const re = new RegExp(`(/\\S+/${provider}-[0-9a-f]+\\.so)$`, 'm');
  const m = fs.readFileSync('/proc/self/maps', 'utf8').match(re);
  if (!m) throw new Error(`no ${provider} image mapped`);
  return m[1];
}

let clients;
function client(name) {
  if (!clients) clients = ensureClients();
  return require(path.join(clients, 'node_modules', name));
}

test('installed_clients_use_this_dtrace_provider', () => {
  clients = ensureClients();
  for (const [name, version] of Object.entries(VERSIONS)) {
    assert.strictEqual(require(path.join(clients, 'node_modules', name, 'package.json')).version, version);
  }
  const real = fs.realpathSync(path.join(clients, 'node_modules', 'dtrace-provider'));
  assert.strictEqual(real, fs.realpathSync(path.join(__dirname, '..', '..', 'node-ext', 'dtrace-provider')));
});

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

test('bunyan_records_arrive_as_their_json_one_probe_per_level', async () => {
  need('bpftrace');
  const bunyan = client('bunyan');
  const log = bunyan.createLogger({ name: 'b', level: 'info', streams: [{ level: 'fatal', stream: process.stderr }] });
  const file = imageOf('bunyan');
  await withBpftrace(`usdt:${file}:bunyan:log__* { printf("%s %s", probe, str(arg0)); }`, { pid: process.pid, strlen: 200 }, async (bt) => {
    await sleep(100);
    // Fired for every level, even below the logger's; built only while traced.
    for (const level of Object.keys(LEVELS)) if (level !== 'fatal') log[level]({ k: level }, `m-${level} ✓`);
    const lines = await bt.waitLines(5, 10000);
    assert.strictEqual(lines.length, 5, lines.join('\n'));
    for (const [i, level] of Object.keys(LEVELS).slice(0, 5).entries()) {
      const [probe, json] = [lines[i].slice(0, lines[i].indexOf(' ')), lines[i].slice(lines[i].indexOf(' ') + 1)];
      assert.ok(probe.endsWith(`:bunyan:log__${level}`), probe);
      const rec = JSON.parse(json);
      assert.strictEqual(rec.level, LEVELS[level]);
      assert.strictEqual(rec.msg, `m-${level} ✓`);
      assert.strictEqual(rec.k, level);
      assert.strictEqual(rec.pid, process.pid);
      assert.strictEqual(rec.name, 'b');
    }
  });
});

test('bunyan_untraced_builds_no_record', () => {
  const bunyan = client('bunyan');
  const log = bunyan.createLogger({ name: 'c', level: 'fatal', streams: [{ level: 'fatal', stream: process.stderr }] });
  let built = 0;
  const probe = { toJSON() { built++; return 'x'; } };
  log.info({ probe }, 'not traced');
  assert.strictEqual(built, 0, 'no record serialized while untraced');
});

test('restify_dtrace_true_request_probes_carry_method_url_route_status', async () => {
  need('bpftrace');
  const restify = client('restify');
  const server = restify.createServer({ name: 'srv', dtrace: true, handleUncaughtExceptions: false });
  server.get('/hello/:name', function hello(req, res, next) { res.send(201, { hi: req.params.name }); next(); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const file = imageOf('restify');
  const prog = [
    `usdt:${file}:restify:route__start { printf("route-start %s %s %d %s %s\\n", str(arg0), str(arg1), arg2, str(arg3), str(arg4)); }`,
    `usdt:${file}:restify:handler__start { printf("handler-start %s %s %s %d\\n", str(arg0), str(arg1), str(arg2), arg3); }`,
    `usdt:${file}:restify:handler__done { printf("handler-done %s %s %s %d\\n", str(arg0), str(arg1), str(arg2), arg3); }`,
    `usdt:${file}:restify:route__done { printf("route-done %s %s %d %d %s\\n", str(arg0), str(arg1), arg2, arg3, str(arg4)); }`,
  ].join(' ');
  try {
    // Three strings per event: 64 bytes each fits BPF's 512-byte stack.
    await withBpftrace(prog, { pid: process.pid, strlen: 64 }, async (bt) => {
      await sleep(100);
      const body = await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/hello/w%C3%B6rld' }, (res) => {
          let b = '';
          res.setEncoding('utf8').on('data', (d) => { b += d; }).on('end', () => resolve([res.statusCode, b]));
        }).on('error', reject);
      });
      assert.deepStrictEqual(body, [201, JSON.stringify({ hi: 'wörld' })]);
      const lines = await bt.waitLines(4, 10000);
      const [start, hstart, hdone, done] = lines;
      const m = new RegExp(`^route-start srv gethelloname (\\d+) GET http://127.0.0.1:${port}/hello/w%C3%B6rld$`).exec(start);
      assert.ok(m, start);
      const id = m[1];
      // restify 12 passes req._currentRoute, which it no longer sets, as the
      // handler probes' route: dtrace-provider fires it as "undefined".
      assert.strictEqual(hstart, `handler-start srv undefined hello ${id}`);
      assert.strictEqual(hdone, `handler-done srv undefined hello ${id}`);
      // restify passes res.headers, which node's ServerResponse does not have
      // (getHeaders() is): JSON.stringify gives nothing, fired as "undefined".
      assert.strictEqual(done, `route-done srv gethelloname ${id} 201 undefined`);
      assert.strictEqual(lines.length, 4, lines.join('\n'));
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

run();
