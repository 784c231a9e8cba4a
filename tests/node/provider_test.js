'use strict';
// The usdt package's API without a tracer: every call, its return values and
// its errors (class, code, a message naming what was wrong).
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const { assert, test, run, USDT } = require('./lib/harness');
const usdt = require(USDT);
const { Provider, Probe } = usdt;

let seq = 0;
const uniq = (base) => `${base}_${process.pid}_${seq++}`;

function throwsLike(fn, cls, code, re) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof cls, `wanted ${cls.name}, got ${err && err.name}: ${err && err.message}`);
    if (code) assert.strictEqual(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return true;
  });
}

test('define_load_path_unload_reload_keeps_the_path', () => {
  const app = new Provider(uniq('api'));
  const req = app.probe('request__start', 'int64', 'string');
  assert.ok(req instanceof Probe);
  assert.strictEqual(req.name, 'request__start');
  assert.deepStrictEqual(req.types, ['int64', 'string']);
  assert.strictEqual(req.argc, 2);
  assert.strictEqual(req.provider, app);
  assert.strictEqual(app.getProbe('request__start'), req);
  assert.strictEqual(app.getProbe('nope'), undefined);
  assert.deepStrictEqual(app.probes, [req]);
  assert.strictEqual(app.loaded, false);
  assert.strictEqual(app.path, null);
  assert.strictEqual(req.enabled, false);
  assert.strictEqual(app.load(), app);
  assert.strictEqual(app.loaded, true);
  const p = app.path;
  assert.ok(p.startsWith(process.env.USDT_DIR || '/'), p);
  assert.ok(fs.existsSync(p), p);
  assert.ok(fs.readFileSync('/proc/self/maps', 'utf8').includes(p), 'image mapped');
  assert.strictEqual(req.enabled, false);
  assert.strictEqual(req.fire(1, 'x'), undefined);
  assert.strictEqual(app.unload(), app);
  assert.strictEqual(app.loaded, false);
  assert.strictEqual(app.path, null);
  assert.strictEqual(req.enabled, false);
  app.load();
  assert.strictEqual(app.path, p, 'an unchanged definition reloads at the same path');
  app.unload();
});

test('untraced_fire_returns_without_looking_at_arguments', () => {
  const app = new Provider(uniq('untraced'));
  const p = app.probe('p', 'int8', 'string');
  assert.strictEqual(p.fire(), undefined);          // before load
  app.load();
  assert.strictEqual(p.fire(1.5, 7, 'extra'), undefined); // wrong everything, not traced
  app.unload();
  assert.strictEqual(p.fire('x'), undefined);       // after unload
});

test('types_by_js_name_c_name_and_array', () => {
  const app = new Provider(uniq('types'));
  const all = app.probe('all', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'json');
  assert.deepStrictEqual(all.types, ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'json']);
  const c = app.probe('c', ['int64_t', 'char *', 'const char*', 'uint16_t']);
  assert.deepStrictEqual(c.types, ['int64', 'string', 'string', 'uint16']);
  assert.strictEqual(app.probe('none').argc, 0);
  assert.deepStrictEqual(usdt.types, ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'json']);
  assert.strictEqual(usdt.MAX_ARGS, 12);
  app.load();
  assert.match(usdt.binding.probeState(all)[1], /^-1@\S+ 1@\S+ -2@\S+ 2@\S+ -4@\S+ 4@\S+ -8@\S+ 8@\S+ 8@\S+ 8@\S+$/);
  app.unload();
});

test('bad_names_throw_TypeError_naming_the_name', () => {
  throwsLike(() => new Provider('a b'), TypeError, 'EINVAL', /provider name "a b": invalid character ' '/);
  throwsLike(() => new Provider('9x'), TypeError, 'EINVAL', /9x/);
  throwsLike(() => new Provider('x'.repeat(65)), TypeError, 'EINVAL', /x{65}|64/);
  throwsLike(() => new Provider(''), TypeError, 'EINVAL');
  throwsLike(() => new Provider(42), TypeError, 'ERR_INVALID_ARG_TYPE', /provider name must be a string, got 42/);
  throwsLike(() => new Provider('a\0b'), TypeError, 'ERR_INVALID_ARG_VALUE', /NUL/);
  const app = new Provider(uniq('names'));
  throwsLike(() => app.probe('log-info'), TypeError, 'EINVAL', /log-info.*invalid character '-'/);
  throwsLike(() => app.probe(7), TypeError, undefined, /probe name must be a string/);
  app.probe('dup');
  throwsLike(() => app.probe('dup'), Error, 'EEXIST', /dup/);
});

test('bad_types_and_too_many_arguments', () => {
  const app = new Provider(uniq('badtypes'));
  throwsLike(() => app.probe('p', 'int'), TypeError, 'ERR_INVALID_ARG_VALUE', /probe argument 1: unknown type 'int'; use int8/);
  throwsLike(() => app.probe('p', 'int64', 5), TypeError, 'ERR_INVALID_ARG_TYPE', /probe argument 2: a type must be a string/);
  throwsLike(() => app.probe('p', ...Array(13).fill('int64')), RangeError, 'E2BIG', /13 arguments.*at most 12/);
  assert.strictEqual(app.probe('p', ...Array(12).fill('uint64')).argc, 12);
});

test('load_twice_probe_after_load_unload_twice', () => {
  const app = new Provider(uniq('life'));
  throwsLike(() => app.load(), Error, 'ENOENT', /load/); // no probes
  app.probe('p');
  app.load();
  throwsLike(() => app.load(), Error, 'EALREADY', /load/);
  throwsLike(() => app.probe('q'), Error, 'EBUSY', /q/);
  app.unload();
  throwsLike(() => app.unload(), Error, 'EALREADY', /unload/);
  const e = (() => { try { app.unload(); } catch (err) { return err; } })();
  assert.strictEqual(e.errno, -114);
});

test('options_dir_storage_site', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usdt-node-'));
  try {
    const a = new Provider(uniq('opt'), { dir, storage: 'file', site: 'nop1' });
    a.probe('p', 'int32');
    a.load();
    assert.strictEqual(path.dirname(a.path), dir);
    assert.strictEqual(a.memfd, false);
    a.unload();
    const m = new Provider(uniq('mfd'), { storage: 'memfd' });
    m.probe('p');
    m.load();
    assert.match(m.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.strictEqual(m.memfd, true);
    m.unload();
    throwsLike(() => new Provider('o', { storage: 'disk' }), TypeError, 'ERR_INVALID_ARG_VALUE', /options.storage must be 'auto', 'file' or 'memfd', got 'disk'/);
    throwsLike(() => new Provider('o', { site: 9 }), TypeError, undefined, /options.site/);
    throwsLike(() => new Provider('o', { dir: 5 }), TypeError, undefined, /options.dir must be a string/);
    throwsLike(() => new Provider('o', 'x'), TypeError, undefined, /options must be an object/);
    const bad = new Provider(uniq('baddir'), { dir: '/nonexistent/usdt', storage: 'file' });
    bad.probe('p');
    assert.throws(() => bad.load(), (err) => err instanceof Error && /load/.test(err.message) && typeof err.code === 'string');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fromD_text_file_selection_and_syntax_errors', () => {
  const name = uniq('dprov');
  const text = `provider ${name} { probe request__start(int64_t, char *); probe done(uint8_t); };\n` +
    `provider ${name}_b { probe x(); };`;
  const p = Provider.fromD(text, { provider: name });
  assert.strictEqual(p.name, name);
  assert.deepStrictEqual(p.probes.map((q) => [q.name, q.types]), [['request__start', ['int64', 'string']], ['done', ['uint8']]]);
  p.load();
  assert.ok(fs.existsSync(p.path));
  p.unload();
  throwsLike(() => Provider.fromD(text), Error, undefined, /Provider.fromD/);
  throwsLike(() => Provider.fromD(text, { provider: 'nosuch' }), Error, 'ENOENT', /nosuch/);
  throwsLike(() => Provider.fromD('provider a { probe b(int) }', { filename: 'app.d' }), TypeError, 'EINVAL', /^Provider.fromD: app.d:1:\d+: expected ';'/);
  throwsLike(() => Provider.fromD(5), TypeError, undefined, /the .d text must be a string/);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usdt-d-'));
  try {
    const f = path.join(dir, 'app.d');
    fs.writeFileSync(f, `provider ${name}_f { probe hit(int32_t, char *); };\n`);
    const q = Provider.fromDFile(f);
    assert.deepStrictEqual(q.probes[0].types, ['int32', 'string']);
    q.load();
    q.unload();
    throwsLike(() => Provider.fromDFile(path.join(dir, 'missing.d')), Error, 'ENOENT', /missing\.d/);
    throwsLike(() => Provider.fromDFile(dir), Error, 'EISDIR', /Provider.fromDFile/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('probes_come_only_from_providers_and_native_calls_check_this', () => {
  throwsLike(() => new Probe(), TypeError, 'ERR_ILLEGAL_CONSTRUCTOR', /Illegal constructor/);
  throwsLike(() => usdt.binding.load({}), TypeError, 'ERR_INVALID_THIS', /expected a usdt Provider/);
  throwsLike(() => usdt.binding.probeState({}), TypeError, 'ERR_INVALID_ARG_TYPE', /expected a usdt Probe/);
  const app = new Provider(uniq('tag'));
  throwsLike(() => usdt.binding.probeState(app), TypeError, undefined, /expected a usdt Probe/);
  throwsLike(() => app.watch(5), TypeError, undefined, /watch\(\) needs a function, got 5/);
});

test('inspect_shows_state', () => {
  const app = new Provider(uniq('insp'));
  const p = app.probe('hit', 'int64', 'json');
  assert.match(util.inspect(app), /^Provider \{\s+name: 'insp_\d+_\d+',\s+loaded: false,\s+path: null,\s+probes: \[ 'hit\(int64, json\)' \]\s+\}$/);
  assert.strictEqual(util.inspect(p), `Probe ${app.name}:hit(int64, json) { enabled: false, loaded: false }`);
  app.load();
  assert.match(util.inspect(app), /loaded: true,\s+path: '\//);
  assert.strictEqual(Object.prototype.toString.call(p), '[object Probe]');
  app.unload();
});

test('package_metadata_exports_and_types_file', () => {
  const pkg = require(path.join(USDT, 'package.json'));
  assert.strictEqual(pkg.name, 'usdt');
  assert.strictEqual(pkg.exports['.'].default, './lib/index.js');
  assert.strictEqual(pkg.exports['./runtime'], './lib/runtime.js');
  const dts = fs.readFileSync(path.join(USDT, pkg.types), 'utf8');
  for (const word of ['class Provider', 'class Probe', 'fromD', 'fromDFile', 'watch', 'unwatch', 'readonly enabled', 'readonly path']) {
    assert.ok(dts.includes(word), `index.d.ts declares ${word}`);
  }
});

run();
