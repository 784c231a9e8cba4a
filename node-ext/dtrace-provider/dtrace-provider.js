'use strict';
// dtrace-provider (0.8.x API) on Linux, as a thin layer over the `usdt`
// package: bunyan, restify and other users get USDT probes that bpftrace,
// bcc, perf and gdb attach to, with no change to their code.
//
//   const d = require('dtrace-provider');
//   const dtp = d.createDTraceProvider('nodeapp');
//   const p1 = dtp.addProbe('probe1', 'int', 'char *');
//   dtp.enable();
//   p1.fire(function (x) { return [x, 'forty-two']; }, 42);
//
// Semantics kept from dtrace-provider: types matched by prefix ('json',
// 'char *', 'int'; anything else is a string); the callback runs only while
// the probe is traced, gets fire's extra arguments and returns the values;
// missing values fire 0 / "undefined", extra ones are ignored, a non-array
// fires nothing; fire returns true when the probe exists and never throws for
// unknown names; enable() twice is a no-op; probes added after enable() appear
// after disable() + enable(); several providers may share a name.
//
// What Linux adds: a probe name DTrace writes with '-' (log-info) is noted as
// '__' (log__info), DTrace's own spelling of '-' in .d files, because perf
// refuses '-' in any probe name of an object (and then adds none of its
// probes); bpftrace, bcc and gdb take '__' as well. A probe takes at most 12
// arguments (bpftrace's and libbpf's limit; DTrace allowed 32): more is an
// error at addProbe, never a truncation.
//
// NODE_DTRACE_PROVIDER_REQUIRE=hard: if the usdt addon cannot be loaded,
// require() throws that error (default: a stub whose probes never fire, as
// dtrace-provider on a platform without DTrace).

const path = require('path');
const util = require('util');

// `usdt` as a dependency, else from the source tree this file sits in
// (node-ext/dtrace-provider/ beside node-ext/lib/), which is also where a
// symlinked `file:` install resolves from.
let usdt = null;
let loadError = null;
for (const id of ['usdt', path.join(__dirname, '..', 'lib', 'index.js')]) {
  try {
    usdt = require(id);
    break;
  } catch (err) {
    // Report why a candidate that exists failed (the addon not built, say)
    // over a candidate that is simply absent.
    const absent = err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${id}'`);
    if (loadError === null || !absent) loadError = err;
  }
}
if (!usdt && process.env.NODE_DTRACE_PROVIDER_REQUIRE === 'hard') throw loadError;

const MAX_ARGS = 12;
const MAX_EXTRA = 16; // fire(cb, ...extra)
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The note name of a DTrace probe or provider name: '-' becomes '__'. */
function noteName(name) {
  return name.replace(/-/g, '__');
}

function kindOf(type) {
  const t = String(type);
  if (t.startsWith('json')) return 'json';
  if (t.startsWith('char *')) return 'string';
  if (t.startsWith('int')) return 'int';
  return 'string';
}

// Values as dtrace-provider converts them: never throws.
function toInt(v) {
  if (typeof v === 'bigint') return BigInt.asIntN(64, v);
  let n;
  try {
    n = Math.trunc(Number(v));
  } catch {
    return 0; // a Symbol
  }
  if (Number.isNaN(n)) return 0;
  if (n >= -MAX_SAFE && n <= MAX_SAFE) return n;
  if (n === Infinity) return INT64_MAX;
  if (n === -Infinity) return INT64_MIN;
  const b = BigInt(n);
  return b > INT64_MAX ? INT64_MAX : b < INT64_MIN ? INT64_MIN : b;
}

function toStr(v) {
  let s;
  try {
    s = String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  const nul = s.indexOf('\0');
  return nul < 0 ? s : s.slice(0, nul); // C strings end at the first NUL
}

function toJson(v) {
  let s;
  try {
    s = JSON.stringify(v);
  } catch {
    s = undefined; // cyclic, BigInt: nothing JSON can say
  }
  return s === undefined ? 'undefined' : toStr(s);
}

// The callback threw: dtrace-provider hands that to node's fatal-exception
// path ('uncaughtException'), and fire itself returns.
function reportCallbackError(err) {
  process.nextTick(() => { throw err; });
}

let bindLive; // (DTraceProbe, usdt.Probe|null): the provider's access
let fireCounted; // (DTraceProbe, count of extras, cb, ...extras)

class DTraceProbe {
  #live = null; // the usdt Probe while the provider is enabled with this probe
  #kinds;
  #attached = true;

  static {
    bindLive = (probe, live) => { probe.#live = live; };
  }

  constructor(provider, name, types) {
    this.provider = provider;
    this.name = name;
    this.types = types;
    this.#kinds = types.map(kindOf);
    Object.defineProperty(this, 'provider', { enumerable: false });
  }

  /** The name tracers use: '-' written as '__'. */
  get noteName() { return noteName(this.name); }

  /** @internal */
  get kinds() { return this.#kinds; }

  /** @internal */
  detach() { this.#attached = false; this.#live = null; }

  /**
   * Call cb(...extra) only while traced; fire the values of the array it
   * returns. Returns true (the probe exists), undefined once removed.
   */
  // Extra arguments are named, not gathered with ...rest or `arguments`
  // (either makes V8 allocate on every call, traced or not).
  fire(cb, a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, r) {
    // Small enough for V8 to inline: untraced, two loads and a compare.
    const live = this.#live;
    if (live === null || !live.enabled) return this.#attached ? true : undefined;
    return this.#fireTraced(live, arguments.length - 1, cb, a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, r);
  }

  // provider.fire(name, cb, ...extra): as fire, with the count of extras.
  static {
    fireCounted = (probe, n, cb, a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, r) => {
      const live = probe.#live;
      if (live === null || !live.enabled) return probe.#attached ? true : undefined;
      return probe.#fireTraced(live, n, cb, a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, r);
    };
  }

  #fireTraced(live, n, cb, ...extra) {
    if (typeof cb !== 'function') throw new Error('Must give probe value callback as argument');
    if (n > MAX_EXTRA) {
      throw new RangeError(`dtrace-provider: fire passes at most ${MAX_EXTRA} extra arguments ` +
        `to the callback on Linux, got ${n}`);
    }
    let values;
    try {
      values = Reflect.apply(cb, this, extra.slice(0, Math.max(0, n)));
    } catch (err) {
      reportCallbackError(err);
      return true;
    }
    if (!Array.isArray(values)) return true;
    const kinds = this.#kinds;
    const out = new Array(kinds.length);
    for (let i = 0; i < kinds.length; i++) {
      const v = values[i];
      const k = kinds[i];
      if (k === 'int') out[i] = v === undefined ? 0 : toInt(v);
      else if (k === 'json') out[i] = v === undefined ? 'undefined' : toJson(v);
      else out[i] = toStr(v);
    }
    live.fire(...out);
    return true;
  }

  [util.inspect.custom]() {
    return `DTraceProbe ${this.provider.name}:${this.name}(${this.types.join(', ')})`;
  }
}

class DTraceProvider {
  #probes = new Map(); // name -> DTraceProbe, in the order added
  #usdt = null;        // the loaded usdt Provider while enabled

  constructor(name, module) {
    if (typeof name !== 'string') throw new Error('Must give provider name as argument');
    if (module !== undefined && typeof module !== 'string') {
      throw new Error('Must give module name as a string');
    }
    this.name = name;
    // DTrace's module field; USDT has none (tracers name the image's path).
    this.module = module ?? name;
    checkName('provider', name);
  }

  addProbe(name, ...types) {
    if (typeof name !== 'string') throw new Error('Must give probe name as first argument');
    checkName('probe', name);
    types = types.filter((t) => typeof t === 'string');
    if (types.length > MAX_ARGS) {
      throw new RangeError(`dtrace-provider: probe ${name} has ${types.length} arguments; ` +
        `USDT probes on Linux take at most ${MAX_ARGS} (bpftrace's and libbpf's limit)`);
    }
    const probe = new DTraceProbe(this, name, types);
    const old = this.#probes.get(name);
    if (old) old.detach();
    this.#probes.set(name, probe);
    this[name] = probe;
    return probe;
  }

  removeProbe(probe) {
    const name = probe && probe.name;
    if (this.#probes.get(name) !== probe) return undefined;
    this.#probes.delete(name);
    probe.detach();
    if (this[name] === probe) delete this[name];
    return probe;
  }

  enable() {
    if (this.#usdt !== null || this.#probes.size === 0 || !usdt) return;
    const prov = new usdt.Provider(noteName(this.name));
    const pairs = [];
    for (const p of this.#probes.values()) {
      pairs.push([p, prov.probe(noteName(p.name), p.kinds.map((k) => (k === 'int' ? 'int64' : 'string')))]);
    }
    prov.load();
    this.#usdt = prov;
    for (const [p, live] of pairs) bindLive(p, live);
  }

  disable() {
    const prov = this.#usdt;
    if (prov === null) return;
    this.#usdt = null;
    for (const p of this.#probes.values()) bindLive(p, null);
    prov.unload();
  }

  /** provider.fire(name, cb, ...extra): as probe.fire; undefined for unknown names. */
  fire(name, cb, a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, r) {
    if (typeof name !== 'string') throw new Error('Must give probe name as first argument');
    const probe = this.#probes.get(name);
    if (probe === undefined) return undefined;
    if (arguments.length <= 2) return probe.fire(cb);
    return fireCounted(probe, arguments.length - 2, cb, a, b, c, d, e, f, g, h, i, j, k, l, m, o, q, r);
  }

  /** The image tracers attach to by path while enabled, else null. */
  get path() { return this.#usdt === null ? null : this.#usdt.path; }

  [util.inspect.custom]() {
    const probes = [...this.#probes.values()].map((p) => `${p.name}(${p.types.join(', ')})`);
    return `DTraceProvider ${util.inspect({ name: this.name, enabled: this.#usdt !== null,
      path: this.path, probes })}`;
  }
}

function checkName(kind, name) {
  const n = noteName(name);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) || Buffer.byteLength(n) > 64) {
    throw new TypeError(`dtrace-provider: ${kind} name ${util.inspect(name)} cannot be a USDT ` +
      "name: use letters, digits, '_' and '-' (written '__'), at most 64 bytes, not starting with a digit");
  }
}

// Without the addon: dtrace-provider's stub, whose probes never fire.
class DTraceProviderStub {
  constructor(name) { this.name = name; }
  addProbe(name) { const p = { fire() {} }; this[name] = p; return p; }
  removeProbe() {}
  enable() {}
  disable() {}
  fire() {}
}

const Provider = usdt ? DTraceProvider : DTraceProviderStub;

exports.DTraceProvider = Provider;
exports.createDTraceProvider = function createDTraceProvider(name, module) {
  return arguments.length >= 2 ? new Provider(name, module) : new Provider(name);
};
exports.noteName = noteName;
exports.MAX_ARGS = MAX_ARGS;
