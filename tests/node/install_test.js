'use strict';
// The npm packages as users get them: the tarballs `make npm-pack` leaves in
// dist/ ($USDT_NPM_DIST), each installed offline into a fresh npm project in
// a temp dir (never the build tree), with its install script allowed the way
// npm 11 asks (allowScripts in the project's package.json):
//  - without a compiler on PATH: the prebuilt binaries serve, nothing is
//    compiled, an app probe and bunyan's records (through the packed
//    dtrace-provider, by the README's overrides recipe) reach bpftrace, the
//    runtime's GC part is the prebuilt one of this node's major; with the
//    platform's prebuilt gone, `npm rebuild` fails naming both causes;
//  - with --build-from-source: node-gyp builds offline (npm_config_nodedir)
//    and the package loads its own build, GC part included;
//  - scripts denied: require('usdt') still works from the prebuilt.
// tests/node/lines_test.sh runs this file under every other Node line too.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { assert, test, run, need, withBpftrace, ROOT } = require('./lib/harness');
const { VERSIONS } = require('./lib/clients');

const NODEDIR = process.env.USDT_NODEDIR || '/usr';
const DIST = process.env.USDT_NPM_DIST || path.join(ROOT, 'dist');
const VERSION = require(path.join(ROOT, 'node-ext', 'package.json')).version;
const DP_VERSION = require(path.join(ROOT, 'node-ext', 'dtrace-provider', 'package.json')).version;
const USDT_TGZ = path.join(DIST, `usdt-${VERSION}.tgz`);
const DP_TGZ = path.join(DIST, `dtrace-provider-${DP_VERSION}.tgz`);
const ARCH = `${process.platform}-${process.arch}`;
const ABI = process.versions.modules;
const COMPILERS = /^(cc|c\+\+|cpp|gcc|g\+\+|clang|clang\+\+|make|gmake)(-[0-9.]+)?$|^[a-z0-9_]+-linux-gnu-|^clang-/;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'usdt-npm-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function tarballs() {
  need('npm');
  for (const t of [USDT_TGZ, DP_TGZ]) assert.ok(fs.existsSync(t), `${t} missing: run make npm-pack`);
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300000, ...opts });
  if (r.error) throw r.error;
  return r;
}

/* An environment without the harness's USDT_NODE_ADDON (the package must
 * find its own binaries) and without a nodedir unless given. */
function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const k of ['USDT_NODE_ADDON', 'USDT_NODE_GC_ADDON', 'npm_config_nodedir', 'npm_config_build_from_source']) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

/* PATH with everything of /usr/bin and /bin except compilers and make, and
 * this test's node first. */
let noCcPath = null;
function pathWithoutCompiler() {
  if (noCcPath) return noCcPath;
  const bin = path.join(tmp, 'nocc-bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin']) {
    for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
      if (COMPILERS.test(f) || fs.existsSync(path.join(bin, f))) continue;
      fs.symlinkSync(path.join(dir, f), path.join(bin, f));
    }
  }
  noCcPath = bin;
  return bin;
}

/* A fresh npm project; allow: true/false is its allowScripts entry for usdt. */
function project(name, allow, more = {}) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const pkg = { name, version: '1.0.0', private: true, ...more };
  if (allow !== undefined) pkg.allowScripts = { [`file:${USDT_TGZ}`]: allow };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
  return dir;
}

function npmInstall(dir, env, ...extra) {
  const offline = extra[0] === '--prefer-offline' ? [] : ['--offline'];
  const r = sh('npm', ['install', ...offline, '--no-audit', '--no-fund', '--foreground-scripts', ...extra],
    { cwd: dir, env });
  return r;
}

/* Defined dynamic symbols of an ELF file, and its machine. */
function elf(file) {
  const h = sh('readelf', ['-h', file]).stdout;
  const machine = (h.match(/Machine:\s+(.*)/) || [])[1];

  const syms = sh('readelf', ['--dyn-syms', '-W', file]).stdout.split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && /^(GLOBAL|WEAK)$/.test(f[4]) && f[6] !== 'UND')
    .map((f) => f[7]);
  return { machine, syms: [...new Set(syms)].sort() };
}

/* The glibc versions file needs that are newer than 2.34. */
function glibcAbove234(file) {
  return [...new Set(sh('readelf', ['-V', file]).stdout.match(/GLIBC_[0-9.]+/g) || [])]
    .filter((v) => { const [a, b] = v.slice(6).split('.').map(Number); return a > 2 || (a === 2 && b > 34); });
}

let unpacked = null;
function unpack() {
  if (unpacked) return unpacked;
  tarballs();
  unpacked = path.join(tmp, 'unpacked');
  fs.mkdirSync(unpacked);
  const r = sh('tar', ['-xzf', USDT_TGZ, '-C', unpacked]);
  assert.strictEqual(r.status, 0, r.stderr);
  unpacked = path.join(unpacked, 'package');
  return unpacked;
}

/* The ABIs of the Node lines scripts/node-lines pins (their GC parts are prebuilt). */
function lineAbis() {
  const r = sh(path.join(ROOT, 'scripts', 'node-lines'), []);
  assert.strictEqual(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => sh(path.join(l.split(' ')[2], 'bin', 'node'), ['-p', 'process.versions.modules']).stdout.trim());
}

test('npm_pack_tarball_carries_libusdt_node_d_and_prebuilds_and_leaves_the_tree_clean', () => {
  const pkg = unpack();
  // The bundled sources are this tree's (a stale dist/ fails here).
  for (const d of ['include', 'src']) {
    const mine = fs.readdirSync(path.join(ROOT, 'libusdt', d)).sort();
    assert.deepStrictEqual(fs.readdirSync(path.join(pkg, 'libusdt', d)).sort(), mine);
    for (const f of mine) {
      assert.ok(fs.readFileSync(path.join(pkg, 'libusdt', d, f)).equals(fs.readFileSync(path.join(ROOT, 'libusdt', d, f))),
        `libusdt/${d}/${f} differs from the tree's: run make npm-pack`);
    }
  }
  // So are node-ext's own files.
  const own = (rel) => fs.readdirSync(path.join(pkg, rel), { withFileTypes: true }).flatMap((e) =>
    (e.isDirectory() ? own(path.join(rel, e.name)) : [path.join(rel, e.name)]));
  for (const f of own('.').filter((f) => !/^(libusdt|providers|prebuilds)\//.test(f))) {
    assert.ok(fs.readFileSync(path.join(pkg, f)).equals(fs.readFileSync(path.join(ROOT, 'node-ext', f))),
      `${f} differs from node-ext's: run make npm-pack`);
  }
  assert.strictEqual(fs.readFileSync(path.join(pkg, 'providers', 'node.d'), 'utf8'),
    fs.readFileSync(path.join(ROOT, 'providers', 'node.d'), 'utf8'));
  // Every pinned line's GC part, for both architectures (arm64's are proven
  // in arm64 nodes under qemu-aarch64-static by arm64_gc_test.sh).
  const want = ['usdt.node', ...lineAbis().map((a) => `usdt_gc-abi${a}.node`)].sort();
  assert.deepStrictEqual(fs.readdirSync(path.join(pkg, 'prebuilds', 'linux-x64')).sort(), want);
  assert.deepStrictEqual(fs.readdirSync(path.join(pkg, 'prebuilds', 'linux-arm64')).sort(), want);
  // postpack took the copies out of node-ext again.
  for (const d of ['libusdt', 'providers', 'prebuilds']) {
    assert.ok(!fs.existsSync(path.join(ROOT, 'node-ext', d)), `node-ext/${d} left behind by npm pack`);
  }
  const dp = JSON.parse(sh('tar', ['-xzOf', DP_TGZ, 'package/package.json']).stdout);
  assert.deepStrictEqual(dp.dependencies, { usdt: `^${VERSION}` });
  // Packed straight from the tree it would depend on file:.., which no user has.
  const raw = sh('npm', ['pack', '--dry-run', '--offline', path.join(ROOT, 'node-ext', 'dtrace-provider')], { env: cleanEnv() });
  assert.notStrictEqual(raw.status, 0, raw.stdout);
  assert.match(raw.stderr, /dtrace-provider: its usdt dependency is file:\.\., the source tree: pack it with make npm-pack/);
});

test('prebuilt_binaries_are_x64_and_arm64_exporting_only_the_node_api_entry_points', () => {
  const pkg = unpack();
  const entry = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
  const pre = path.join(pkg, 'prebuilds');
  // The README promises glibc 2.34 (Debian 12, Ubuntu 22.04, RHEL 9) is enough.
  for (const d of ['linux-x64', 'linux-arm64']) {
    for (const f of fs.readdirSync(path.join(pre, d))) assert.deepStrictEqual(glibcAbove234(path.join(pre, d, f)), [], `${d}/${f}`);
  }
  for (const f of fs.readdirSync(path.join(pre, 'linux-x64'))) {
    assert.deepStrictEqual(elf(path.join(pre, 'linux-x64', f)), { machine: 'Advanced Micro Devices X86-64', syms: entry }, f);
  }
  // Loaded in arm64 nodes under qemu-aarch64-static by arm64_gc_test.sh.
  for (const f of fs.readdirSync(path.join(pre, 'linux-arm64'))) {
    assert.deepStrictEqual(elf(path.join(pre, 'linux-arm64', f)), { machine: 'AArch64', syms: entry }, f);
  }
});

/* Starts node with script in dir; resolves to the child once it printed a line. */
async function startApp(dir, env, script) {
  const c = spawn(process.execPath, ['-e', script], { cwd: dir, env, stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  const end = Date.now() + 10000;
  while (!out.includes('\n') && Date.now() < end && c.exitCode === null) await new Promise((res) => setTimeout(res, 10));
  assert.ok(out.includes('\n'), `the app printed nothing (exit ${c.exitCode})`);
  c.firstLine = out.split('\n')[0];
  return c;
}

async function stopApp(c) {
  c.stdin.end();
  if (c.exitCode === null) await new Promise((res) => c.on('close', res));
}

/* The runtime provider's GC part as the installed usdt/runtime loads it. */
function gcPartOf(dir, env) {
  const script = `const rt = require('usdt/runtime'); const w = [];
    process.on('warning', (x) => w.push(x.message)); rt._force('gc__start', 1);
    const t = setInterval(() => { if (!rt.state().native.gc) return; clearInterval(t); global.gc();
      rt._force('gc__start', -1); console.log(JSON.stringify([rt.state().native.gcPart, w, rt.state().definition])); }, 5);`;
  const g = sh(process.execPath, ['--expose-gc', '-e', script], { cwd: dir, env, timeout: 60000 });
  assert.ok(g.stdout.trim(), `the installed runtime never installed its GC callbacks: ${g.stderr}`);
  const [part, warnings, definition] = JSON.parse(g.stdout.trim());
  // The provider's definition is the copy packed into the package.
  assert.strictEqual(fs.realpathSync(definition), fs.realpathSync(path.join(dir, 'node_modules', 'usdt', 'providers', 'node.d')));
  return [part, warnings];
}

test('installs_offline_without_a_compiler_from_the_prebuilt_and_both_packages_are_traced', async () => {
  tarballs();
  const env = cleanEnv({ PATH: pathWithoutCompiler() });
  const which = sh('sh', ['-c', 'command -v cc gcc g++ c++ make; true'], { env }).stdout.trim();
  assert.strictEqual(which, '', 'a compiler is still on PATH');
  // bunyan, pinned as clients_test.js has it (from npm's cache once that
  // ran), with the README's overrides recipe putting the packed
  // dtrace-provider under it.
  const dir = project('nocc', true, {
    dependencies: { usdt: `file:${USDT_TGZ}`, bunyan: VERSIONS.bunyan },
    overrides: { 'dtrace-provider': `file:${DP_TGZ}` },
  });
  const r = npmInstall(dir, env, '--prefer-offline');
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  const usdt = path.join(dir, 'node_modules', 'usdt');
  assert.match(r.stdout, new RegExp(`usdt: using the prebuilt binaries for ${ARCH}, node ${process.versions.node} \\(ABI ${ABI}\\)`));
  assert.ok(!fs.existsSync(path.join(usdt, 'build')), 'something was compiled');
  // bunyan's dtrace-provider is the packed one, its usdt the one installed beside it.
  assert.strictEqual(require(path.join(dir, 'node_modules', 'dtrace-provider', 'package.json')).dependencies.usdt, `^${VERSION}`);
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules', 'dtrace-provider', 'node_modules')));
  const prebuilt = fs.realpathSync(path.join(usdt, 'prebuilds', ARCH, 'usdt.node'));
  const tag = `npm${process.pid}`;
  // bunyan fires each record (JSON) on bunyan:log__info through dtrace-provider.
  const c = await startApp(dir, env, `const { Provider } = require('usdt');
    const bunyan = require('bunyan');
    const app = new Provider('${tag}app'); const hit = app.probe('hit', 'int64', 'string'); app.load();
    const log = bunyan.createLogger({ name: '${tag}', streams: [{ level: 'fatal', stream: process.stderr }] });
    console.log(require('usdt').addonPath);
    const t = setInterval(() => { hit.fire(7, 'prebuilt ✓'); log.info({ k: 1 }, 'record ✓'); }, 10);
    process.stdin.on('data', () => {}); process.stdin.on('end', () => clearInterval(t));`);
  try {
    assert.strictEqual(c.firstLine, prebuilt);
    assert.ok(fs.readFileSync(`/proc/${c.pid}/maps`, 'utf8').includes(prebuilt), 'the app mapped the prebuilt');
    await withBpftrace(`usdt:*:${tag}app:hit { printf("T hit %d %s\\n", arg0, str(arg1)); }
      usdt:*:bunyan:log__info { printf("T log %s", str(arg0)); }`, { pid: c.pid, strlen: 200 }, async (bt) => {
      const mine = (l) => l.startsWith('T ');
      await bt.waitLines(1, 20000, (l) => l.startsWith('T hit '));
      const lines = await bt.waitLines(1, 20000, (l) => l.startsWith('T log '));
      const rec = JSON.parse(lines[0].slice('T log '.length));
      assert.deepStrictEqual([rec.name, rec.msg, rec.k, rec.level, rec.pid], [tag, 'record ✓', 1, 30, c.pid]);
      assert.strictEqual(bt.lines.filter(mine).find((l) => l.startsWith('T hit ')), 'T hit 7 prebuilt ✓');
    });
  } finally {
    await stopApp(c);
  }
  // usdt/runtime: providers/node.d from the package, the GC part prebuilt for this major.
  assert.deepStrictEqual(gcPartOf(dir, env), [fs.realpathSync(path.join(usdt, 'prebuilds', ARCH, `usdt_gc-abi${ABI}.node`)), []]);
  // A platform nothing is prebuilt for, and no compiler: the install script
  // fails saying both.
  fs.renameSync(path.join(usdt, 'prebuilds', ARCH), path.join(tmp, 'moved-prebuilds'));
  const rb = sh('npm', ['rebuild', 'usdt', '--offline', '--foreground-scripts'], { cwd: dir, env });
  assert.notStrictEqual(rb.status, 0, rb.stdout + rb.stderr);
  assert.match(rb.stdout + rb.stderr, new RegExp(`usdt: no prebuilt addon for ${ARCH}, node \\S+ \\(ABI ${ABI}\\) loads ` +
    `\\(prebuilds/${ARCH}/usdt.node: not in the package; prebuilt here: linux-arm64\\), and it cannot be built from source: ` +
    'missing make, a C compiler \\(cc\\), a C\\+\\+ compiler \\(g\\+\\+ or c\\+\\+\\)'));
  const req = sh(process.execPath, ['-e', "require('usdt')"], { cwd: dir, env });
  assert.match(req.stderr, new RegExp(`usdt: no native addon loads in node \\S+ on ${ARCH}; tried \\S+/build/Release/usdt.node: not found; ` +
    `\\S+/prebuilds/${ARCH}/usdt.node: not found\\. Build it with \`npm rebuild usdt\``));
});

test('builds_from_source_offline_with_node_gyp_and_loads_its_own_build', async () => {
  tarballs();
  const env = cleanEnv({ npm_config_nodedir: NODEDIR });
  const dir = project('gyp', true);
  const r = npmInstall(dir, env, '--build-from-source', USDT_TGZ);
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  const rel = path.join(dir, 'node_modules', 'usdt', 'build', 'Release');
  const built = fs.realpathSync(path.join(rel, 'usdt.node'));
  assert.deepStrictEqual(elf(built).syms, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  // node-gyp's GC part, for this node, before the prebuilt one.
  assert.deepStrictEqual(gcPartOf(dir, env), [fs.realpathSync(path.join(rel, 'usdt_gc.node')), []]);
  const tag = `gyp${process.pid}`;
  const c = await startApp(dir, env, `const { Provider } = require('usdt');
    const p = new Provider('${tag}'); const hit = p.probe('hit', 'int64', 'string'); p.load();
    console.log(require('usdt').addonPath); const t = setInterval(() => hit.fire(7, 'from node-gyp ✓'), 10);
    process.stdin.on('data', () => {}); process.stdin.on('end', () => clearInterval(t));`);
  try {
    assert.strictEqual(c.firstLine, built);
    await withBpftrace(`usdt:*:${tag}:hit { printf("T %d %s\\n", arg0, str(arg1)); }`, { pid: c.pid }, async (bt) => {
      const lines = await bt.waitLines(1, 20000, (l) => l.startsWith('T '));
      assert.strictEqual(lines[0], 'T 7 from node-gyp ✓');
    });
  } finally {
    await stopApp(c);
  }
});

test('install_scripts_denied_the_prebuilt_still_loads', () => {
  tarballs();
  const env = cleanEnv();
  const dir = project('denied', false);
  const r = npmInstall(dir, env, USDT_TGZ);
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /usdt: /, 'the install script ran');
  const q = sh(process.execPath, ['-e', `const { Provider } = require('usdt'); const p = new Provider('denied${process.pid}');
    p.probe('a', 'int32'); p.load(); console.log(require('usdt').addonPath, p.loaded);`], { cwd: dir, env });
  assert.strictEqual(q.stdout, `${fs.realpathSync(path.join(dir, 'node_modules', 'usdt', 'prebuilds', ARCH, 'usdt.node'))} true\n`, q.stderr);
});

run();
