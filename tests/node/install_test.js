'use strict';
// `npm install ./node-ext` as the README gives it: node-gyp builds the addon
// offline against the installed node's headers (npm_config_nodedir=/usr),
// from a copy of node-ext and libusdt (so the tree stays clean), and the
// installed package loads its own build and fires to bpftrace; its runtime
// provider loads the GC part node-gyp built beside it.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { assert, test, run, withBpftrace, ROOT, BUILD } = require('./lib/harness');

const NODEDIR = process.env.USDT_NODEDIR || '/usr';

test('npm_install_builds_with_node_gyp_offline_and_the_package_works', async () => {
  const base = path.join(BUILD, 'node-install');
  fs.rmSync(base, { recursive: true, force: true });
  const src = path.join(base, 'src');
  fs.cpSync(path.join(ROOT, 'node-ext'), path.join(src, 'node-ext'), {
    recursive: true, filter: (f) => !/[/\\](build|node_modules)$/.test(f),
  });
  fs.cpSync(path.join(ROOT, 'libusdt'), path.join(src, 'libusdt'), { recursive: true });
  // usdt/runtime reads the node provider's definition from the tree's providers/.
  fs.cpSync(path.join(ROOT, 'providers'), path.join(src, 'providers'), { recursive: true });
  const app = path.join(base, 'app');
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const env = { ...process.env, npm_config_nodedir: NODEDIR };
  delete env.USDT_NODE_ADDON;
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '../src/node-ext'], { cwd: app, env, encoding: 'utf8', timeout: 300000 });
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  const built = path.join(src, 'node-ext', 'build', 'Release', 'usdt.node');
  assert.ok(fs.existsSync(built), `node-gyp built ${built}: ${r.stdout}${r.stderr}`);
  // Only the addon's entry points are exported; libusdt stays inside.
  const nm = spawnSync('nm', ['-D', '--defined-only', built], { encoding: 'utf8' }).stdout;
  assert.match(nm, /napi_register_module_v1/);
  // node-gyp builds the runtime provider's GC part for this node too, and the
  // installed usdt/runtime loads it (no warning) once gc__start is traced.
  const gcBuilt = path.join(src, 'node-ext', 'build', 'Release', 'usdt_gc.node');
  assert.ok(fs.existsSync(gcBuilt), `node-gyp built ${gcBuilt}`);
  const gcScript = `const rt = require('usdt/runtime'); const w = [];
    process.on('warning', (x) => w.push(x.message)); rt._force('gc__start', 1);
    const t = setInterval(() => { if (!rt.state().native.gc) return; clearInterval(t); global.gc();
      rt._force('gc__start', -1); console.log(JSON.stringify([rt.state().native.gcPart, w])); }, 5);`;
  const g = spawnSync(process.execPath, ['--expose-gc', '-e', gcScript], { cwd: app, env, encoding: 'utf8', timeout: 60000 });
  assert.ok(g.stdout.trim(), `the installed runtime never installed its GC callbacks: ${g.stderr}`);
  assert.deepStrictEqual(JSON.parse(g.stdout.trim()), [fs.realpathSync(gcBuilt), []]);
  const script = `const { Provider } = require('usdt');
    const p = new Provider('installed${process.pid}'); const hit = p.probe('hit', 'int64', 'string'); p.load();
    console.log(p.path); const t = setInterval(() => hit.fire(7, 'from node-gyp ✓'), 10);
    process.stdin.on('data', () => {}); process.stdin.on('end', () => clearInterval(t));`;
  const { spawn } = require('child_process');
  const c = spawn(process.execPath, ['-e', script], { cwd: app, env, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  try {
    const end = Date.now() + 10000;
    while (!out.includes('\n') && Date.now() < end) await new Promise((res) => setTimeout(res, 10));
    const file = out.split('\n')[0];
    assert.ok(fs.readFileSync(`/proc/${c.pid}/maps`, 'utf8').includes(built), 'the child loaded the node-gyp build');
    await withBpftrace(`usdt:${file}:installed${process.pid}:hit { printf("%d %s\\n", arg0, str(arg1)); exit(); }`, { pid: c.pid }, async (bt) => {
      assert.deepStrictEqual(await bt.waitLines(1), ['7 from node-gyp ✓']);
    });
  } finally {
    c.stdin.end();
    await new Promise((res) => c.on('close', res));
    fs.rmSync(base, { recursive: true, force: true });
  }
}, { timeout: 300000 });

run();
