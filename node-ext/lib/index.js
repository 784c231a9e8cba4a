'use strict';
// usdt - USDT probes for Node.js, over libusdt.
//
//   const { Provider } = require('usdt');
//   const app = new Provider('myapp');
//   const req = app.probe('request__start', 'int64', 'string');
//   app.load();
//   if (req.enabled) req.fire(id, url);      // or just req.fire(id, url)
//
// The enabled check and an untraced fire never leave JavaScript: each Probe
// reads its kernel-managed semaphore through a Uint16Array over the mapped
// probe image (private; repointed at a zero array before unload, so nothing
// ever reads memory that is unmapped after unload's grace period).
//
// The addon is found at: $USDT_NODE_ADDON when set (only there); else the
// first of these that loads: ../build/Release/usdt.node (node-gyp, built on
// this machine by the install script or `npm rebuild usdt`), the package's
// prebuilt ../prebuilds/<platform>-<arch>/usdt.node (see native.js), and
// ../../build/node/usdt.node (the source tree's `make`, BUILD=build).

const path = require('path');
const util = require('util');
const native = require('./native.js');

let addonPath = null; // where the addon was found (the runtime's GC part sits beside it)

function loadAddon() {
  // Set explicitly, it is the only candidate.
  if (process.env.USDT_NODE_ADDON) {
    addonPath = path.resolve(process.env.USDT_NODE_ADDON);
    return require(addonPath);
  }
  const tried = [];
  for (const file of native.candidates()) {
    try {
      const b = require(file);
      addonPath = file;
      return b;
    } catch (err) {
      // A prebuilt for another libc (musl) or an older glibc exists but does
      // not load: the next candidate may, and if none does, every reason is told.
      const absent = err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(file);
      tried.push(`${file}: ${absent ? 'not found' : err.message.split('\n')[0]}`);
    }
  }
  const err = new Error(`usdt: no native addon loads in node ${process.versions.node} on ` +
    `${native.platform()}; tried ${tried.join('; ')}. Build it with \`npm rebuild usdt\` ` +
    '(node-gyp: needs make, a C and C++ compiler and python3; npm_config_nodedir=DIR when it must not ' +
    "download node's headers), or `make node` in libusdt's source tree");
  err.code = 'MODULE_NOT_FOUND';
  throw err;
}

const binding = loadAddon();

// Argument types: the JS name -> usdt.h's enum usdt_type. json is a string
// argument whose value JSON.stringify() makes, only while traced.
const TYPE_CODES = {
  int8: 1, uint8: 2, int16: 3, uint16: 4, int32: 5, uint32: 6, int64: 7, uint64: 8,
  string: 10, json: 10,
};
// C spellings, as a .d file or dtrace's probe signatures write them.
const C_NAMES = {
  int8_t: 'int8', uint8_t: 'uint8', int16_t: 'int16', uint16_t: 'uint16',
  int32_t: 'int32', uint32_t: 'uint32', int64_t: 'int64', uint64_t: 'uint64',
  'char *': 'string', 'const char *': 'string',
};
const CODE_NAMES = [null, 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64',
  'uint64', 'uint64', 'string'];
const STORAGE = { auto: 0, file: 1, memfd: 2 };
const SITE = { default: 0, nop5: 1, nop1: 2 };

const ZERO = new Uint16Array(1);
const kFromD = Symbol('usdt.fromD');
const kToken = Symbol('usdt.probe');
const kInspect = util.inspect.custom;

// A TypeError with a code, as node's own: ERR_INVALID_ARG_TYPE for a value of
// the wrong kind, ERR_INVALID_ARG_VALUE for one of the right kind but wrong.
function argError(code, message) {
  const err = new TypeError(message);
  err.code = code;
  return err;
}

function typeName(t, i) {
  if (typeof t !== 'string') {
    throw argError('ERR_INVALID_ARG_TYPE', `probe argument ${i + 1}: a type must be a string such as 'int64', ` +
      `'string' or 'json', got ${util.inspect(t)}`);
  }
  const name = Object.hasOwn(TYPE_CODES, t) ? t : C_NAMES[t.trim().replace(/\s*\*$/, ' *')];
  if (!name) {
    throw argError('ERR_INVALID_ARG_VALUE', `probe argument ${i + 1}: unknown type ${util.inspect(t)}; use ` +
      Object.keys(TYPE_CODES).join(', '));
  }
  return name;
}

function decodeOptions(options) {
  if (options === undefined || options === null) return [null, 0, 0];
  if (typeof options !== 'object') {
    throw argError('ERR_INVALID_ARG_TYPE', `provider options must be an object, got ${util.inspect(options)}`);
  }
  const { dir = null, storage = 'auto', site = 'default' } = options;
  if (dir !== null && typeof dir !== 'string') {
    throw argError('ERR_INVALID_ARG_TYPE', `options.dir must be a string, got ${util.inspect(dir)}`);
  }
  if (!Object.hasOwn(STORAGE, storage)) {
    throw argError('ERR_INVALID_ARG_VALUE', `options.storage must be 'auto', 'file' or 'memfd', got ${util.inspect(storage)}`);
  }
  if (!Object.hasOwn(SITE, site)) {
    throw argError('ERR_INVALID_ARG_VALUE', `options.site must be 'default', 'nop5' or 'nop1', got ${util.inspect(site)}`);
  }
  return [dir, STORAGE[storage], SITE[site]];
}

// Provider's access to a Probe's private state.
let setSema; // (probe, Uint16Array over its semaphore)
let setNative; // (probe, its native fire function)

class Probe {
  #sema = ZERO;
  #native;
  #json;
  #provider;
  #name;
  #types;

  static {
    setSema = (probe, view) => { probe.#sema = view; };
    setNative = (probe, fn) => { probe.#native = fn; };
  }

  /** @internal Probes come from provider.probe() or a .d provider. */
  constructor(token, provider, name, types) {
    if (token !== kToken) throw argError('ERR_ILLEGAL_CONSTRUCTOR', 'Illegal constructor: use provider.probe(name, ...types)');
    this.#provider = provider;
    this.#name = name;
    this.#types = Object.freeze(types.slice());
    const json = [];
    types.forEach((t, i) => { if (t === 'json') json.push(i); });
    this.#json = json.length ? json : null;
  }

  get name() { return this.#name; }
  get provider() { return this.#provider; }
  get types() { return this.#types; }
  get argc() { return this.#types.length; }

  /** True while a tracer is attached: one typed-array load. */
  get enabled() { return this.#sema[0] !== 0; }

  /**
   * Fire with one value per argument. Returns at once while untraced (the
   * arguments are not even looked at); while traced every value is checked
   * exactly (TypeError / RangeError) and passed to the tracer.
   */
  fire(a, b, c, d, e, f, g, h, i, j, k, l) {
    // Small enough for V8 to inline into the caller: the untraced cost is
    // this load and compare.
    if (this.#sema[0] === 0) return;
    this.#fireTraced(arguments.length, a, b, c, d, e, f, g, h, i, j, k, l);
  }

  #fireTraced(n, ...all) {
    if (n > 12) {
      throw argError('ERR_INVALID_ARG_COUNT', `probe ${this.#name} takes ${this.#types.length} argument` +
        `${this.#types.length === 1 ? '' : 's'}, got ${n}`);
    }
    const args = all.slice(0, n);
    if (this.#json !== null) {
      for (const i of this.#json) {
        if (i >= args.length) continue; // the native call reports the count
        const text = JSON.stringify(args[i]);
        if (text === undefined) {
          throw argError('ERR_INVALID_ARG_VALUE', `probe ${this.#name} argument ${i + 1} (json): ` +
            `${util.inspect(args[i])} has no JSON text`);
        }
        args[i] = text;
      }
    }
    Reflect.apply(this.#native, undefined, args);
  }

  [kInspect](depth, options, inspect) {
    const sig = this.#types.join(', ');
    const head = `Probe ${this.#provider.name}:${this.#name}(${sig})`;
    return `${head} { enabled: ${this.enabled}, loaded: ${this.#provider.loaded} }`;
  }
}
Object.defineProperty(Probe.prototype, Symbol.toStringTag, { value: 'Probe' });

class Provider {
  #probes = [];
  #byName = new Map();
  #watcher = null;

  static {
    binding.setDispatch((provider, index, enabled) => {
      const fn = provider.#watcher;
      const probe = provider.#probes[index];
      if (fn && probe) fn(probe, enabled);
    });
  }

  /**
   * @param {string} name  provider name, [A-Za-z_][A-Za-z0-9_]*, at most 64 bytes
   * @param {{dir?: string, storage?: 'auto'|'file'|'memfd', site?: 'default'|'nop5'|'nop1'}} [options]
   */
  constructor(name, options) {
    if (name === kFromD) {
      const { file, text, filename, provider, opts } = options;
      if (provider !== null && typeof provider !== 'string') {
        throw argError('ERR_INVALID_ARG_TYPE', `options.provider must be a string, got ${util.inspect(provider)}`);
      }
      const o = decodeOptions(opts);
      if (file !== undefined) binding.fromDFile(this, file, null, provider, ...o);
      else binding.fromD(this, text, filename, provider, ...o);
      const n = binding.count(this);
      for (let i = 0; i < n; i++) {
        const [pname, codes] = binding.probeInfo(this, i);
        this.#bind(i, pname, codes.map((c) => CODE_NAMES[c]));
      }
      return;
    }
    if (typeof name !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', `provider name must be a string, got ${util.inspect(name)}`);
    }
    binding.create(this, name, ...decodeOptions(options));
  }

  /**
   * A provider from DTrace provider syntax:
   *   Provider.fromD('provider myapp { probe request__start(int64_t, char *); };')
   * options.provider picks one when the text defines several; options.filename
   * names the text in error messages.
   */
  static fromD(text, options = {}) {
    if (typeof text !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', `the .d text must be a string, got ${util.inspect(text)}`);
    }
    const { provider = null, filename = null, ...opts } = options ?? {};
    if (filename !== null && typeof filename !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', `options.filename must be a string, got ${util.inspect(filename)}`);
    }
    return new this(kFromD, { text, filename, provider, opts });
  }

  /** As fromD(), reading the .d file at file. */
  static fromDFile(file, options = {}) {
    if (typeof file !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', `the .d path must be a string, got ${util.inspect(file)}`);
    }
    const { provider = null, ...opts } = options ?? {};
    return new this(kFromD, { file, provider, opts });
  }

  #bind(index, name, types) {
    const p = new Probe(kToken, this, name, types);
    setNative(p, binding.bindProbe(this, p, index));
    this.#probes.push(p);
    this.#byName.set(name, p);
    return p;
  }

  /**
   * Define a probe (before load()). Types: 'int8' ... 'uint64', 'string',
   * 'json', or C names ('int64_t', 'char *'); also as one array.
   */
  probe(name, ...types) {
    if (types.length === 1 && Array.isArray(types[0])) types = types[0];
    if (typeof name !== 'string') {
      throw argError('ERR_INVALID_ARG_TYPE', `probe name must be a string, got ${util.inspect(name)}`);
    }
    const names = types.map(typeName);
    const index = binding.addProbe(this, name, names.map((t) => TYPE_CODES[t]));
    return this.#bind(index, name, names);
  }

  /** The probe called name, or undefined. */
  getProbe(name) { return this.#byName.get(name); }

  /** The probes in definition order (a copy). */
  get probes() { return this.#probes.slice(); }

  get name() { return binding.state(this)[0]; }
  get loaded() { return binding.state(this)[1]; }
  /** The image's path as tracers name it (file or /proc/PID/fd/N), or null. */
  get path() { return binding.state(this)[2]; }
  /** True if the image is a memfd: tracers then need the pid. */
  get memfd() { return binding.state(this)[3]; }

  /** Map the probes in: tracers see them from now on. Returns this. */
  load() {
    const views = binding.load(this);
    for (let i = 0; i < this.#probes.length; i++) setSema(this.#probes[i], views[i]);
    return this;
  }

  /** Take the probes away from tracers; they read disabled and fire as no-ops. */
  unload() {
    // Before the native unload: no view of the image may outlive it.
    for (const p of this.#probes) setSema(p, ZERO);
    binding.unload(this);
    return this;
  }

  /**
   * Call fn(probe, enabled) on this thread whenever a probe becomes traced
   * or untraced (libusdt polls, about 1-5 ms after a tracer comes or goes).
   * Probes already traced are reported at once. Does not keep the process
   * alive. A second call replaces fn.
   */
  watch(fn) {
    if (typeof fn !== 'function') {
      throw argError('ERR_INVALID_ARG_TYPE', `watch() needs a function, got ${util.inspect(fn)}`);
    }
    this.#watcher = fn;
    binding.watch(this);
    return this;
  }

  unwatch() {
    this.#watcher = null;
    binding.unwatch(this);
    return this;
  }

  [kInspect](depth, options, inspect) {
    const [name, loaded, file] = binding.state(this);
    const o = {
      name, loaded, path: file,
      probes: this.#probes.map((p) => `${p.name}(${p.types.join(', ')})`),
    };
    return `Provider ${inspect(o, { ...options, depth: options.depth === null ? null : 2 })}`;
  }
}
Object.defineProperty(Provider.prototype, Symbol.toStringTag, { value: 'Provider' });

module.exports = {
  Provider,
  Probe,
  MAX_ARGS: binding.MAX_ARGS,
  types: Object.freeze(Object.keys(TYPE_CODES)),
};
// For the benchmarks and the runtime layer: the raw binding.
Object.defineProperty(module.exports, 'binding', { value: binding, enumerable: false });
Object.defineProperty(module.exports, 'addonPath', { value: addonPath, enumerable: false });
