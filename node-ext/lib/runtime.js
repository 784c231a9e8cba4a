'use strict';
/*
 * usdt/runtime - node's own `node` provider (the probes the DTrace builds of
 * node had until v11), restored on node 20 at no cost while nobody traces it.
 *
 *   node -r usdt/runtime app.js
 *   NODE_OPTIONS="-r usdt/runtime" node app.js
 *   require('usdt/runtime')          // from the program itself
 *
 * Requiring it defines the provider (providers/node.d) and starts watching its
 * semaphores through libusdt; nothing is subscribed, patched or hooked until a
 * tracer attaches. Then the hooks of exactly the traced families go in, on the
 * main thread within milliseconds, and come out when the last tracer leaves:
 *   gc__start, gc__done           V8 GC prologue/epilogue callbacks, in the GC
 *                                 part (usdt_gc-abiN.node, one per Node major,
 *                                 loaded only then; without it one warning)
 *   http__server__request/response  diagnostics_channel http.server.request.start
 *                                 and http.server.response.finish
 *   http__client__request/response  http.client.request.start (fired once the
 *                                 request's socket is connected, so remote, port
 *                                 and fd are real) and http.client.response.finish
 *   net__server__connection       net.server.socket
 *   net__stream__end              net.Socket.prototype.end, wrapped, as node
 *                                 fired it from there
 * The req * and conn * arguments are 0: no C struct stands behind them (node's
 * dtrace scripts read the fields that follow them; correlate by fd).
 * Worker threads: the provider lives on the main thread only; requiring this
 * module in a worker does nothing (workers' GCs and HTTP are not reported).
 * USDT_NODE_D=FILE defines the provider from FILE instead of providers/node.d
 * (it must declare the same probes); a definition that cannot be used is one
 * warning, and the program runs on.
 */
const dc = require('diagnostics_channel');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { isMainThread } = require('worker_threads');

const P = {
  HTTP_SERVER_REQUEST: 0,
  HTTP_SERVER_RESPONSE: 1,
  HTTP_CLIENT_REQUEST: 2,
  HTTP_CLIENT_RESPONSE: 3,
  NET_SERVER_CONNECTION: 4,
  NET_STREAM_END: 5,
  GC_START: 6,
  GC_DONE: 7,
};

let rt = null;        // the addon's _runtime functions
let gcPart;           // the GC part's functions; null: it cannot load (warned once)
let gcFile = null;    // where it was loaded from, or why not
let dPath = null;     // where node.d was read from
let imagePath = null; // set while enabled

function loadNative() {
  if (rt)
    return rt;
  // The same addon lib/index.js loaded (its search: $USDT_NODE_ADDON, ...).
  const { binding } = require('./index.js');
  if (!binding._runtime)
    throw new Error('usdt: this build of the addon has no node runtime (src/runtime.c)');
  rt = binding._runtime;
  return rt;
}

/* Node 24 names its main thread "MainThread" (26: "node-MainThread"), and
 * on Linux the main thread's name is the process's comm, by which tools find
 * node processes: bcc's nodestat (ustat -l node) lists only processes whose
 * comm is "node", as do pgrep node and bpftrace's comm == "node". Those are
 * the tools this provider is for, so while it is enabled the main thread has
 * the name of node's executable again, as before 24.
 * USDT_NODE_KEEP_THREAD_NAME=1 keeps node's own name. */
let nodeThreadName = null; // node's name for the main thread, while we changed it
function restoreComm(on) {
  if (on && nodeThreadName === null && process.env.USDT_NODE_KEEP_THREAD_NAME !== '1') {
    const exe = path.basename(process.execPath).slice(0, 15);
    const now = rt.threadName();
    if (/^(node-)?MainThread$/.test(now) && now !== exe) {
      rt.threadName(exe);
      nodeThreadName = now;
    }
  } else if (!on && nodeThreadName !== null) {
    rt.threadName(nodeThreadName);
    nodeThreadName = null;
  }
}

/* The GC part: V8's C++ API ties it to one Node major, so it is its own
 * addon: usdt_gc-abi<process.versions.modules>.node beside usdt.node (make
 * builds one per line), usdt_gc.node (node-gyp builds it for the node it ran
 * under) or the package's prebuilt one for this major; or $USDT_NODE_GC_ADDON.
 * Loaded when a tracer first wants the gc probes; if it cannot be, the other
 * probes work on and one warning says why these do not fire. */
function loadGc() {
  if (gcPart !== undefined)
    return gcPart;
  const abi = process.versions.modules;
  const native = require('./native.js');
  const dir = path.dirname(require('./index.js').addonPath || '.');
  // Beside the addon first: a node-gyp build's own usdt_gc.node goes with
  // it. That one is for the node it was built under; after a node upgrade it
  // refuses to load and the package's prebuilt part for the new major serves.
  const candidates = process.env.USDT_NODE_GC_ADDON ? [path.resolve(process.env.USDT_NODE_GC_ADDON)]
    : [...new Set([path.join(dir, native.gcName()), path.join(dir, 'usdt_gc.node'),
      path.join(native.prebuildDir(), native.gcName())])];
  const failed = [];
  for (const file of candidates) {
    try {
      gcPart = require(file);
      gcFile = file;
      return gcPart;
    } catch (e) {
      if (e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(file))
        continue;
      failed.push(`${file}: ${e.message}`);
    }
  }
  const why = failed.join('; ');
  gcPart = null;
  gcFile = why || `no GC part for node ${process.versions.node} (ABI ${abi}): ${candidates.join(', ')} ` +
    'not found; build it for this node (make node-gc NODE_INC=<its include/node>, or npm rebuild usdt)';
  process.emitWarning(`usdt: node:gc__start and node:gc__done will not fire: ${gcFile} ` +
    '(the http and net probes work)', 'USDTWarning');
  return null;
}

function setGc(on) {
  if (on) {
    const g = loadGc();
    if (g)
      g.install(rt.gcInterface());
  } else if (gcPart) {
    gcPart.remove();
  }
}

/* providers/node.d: beside the package (a packed copy), else the source tree. */
function readProviderDefinition() {
  const candidates = [
    process.env.USDT_NODE_D,
    path.join(__dirname, '..', 'providers', 'node.d'),
    path.join(__dirname, '..', '..', 'providers', 'node.d'),
  ].filter(Boolean);
  for (const p of candidates) {
    try {
      const text = fs.readFileSync(p, 'utf8');
      dPath = p;
      return text;
    } catch (e) {
      if (e.code !== 'ENOENT')
        throw e;
    }
  }
  throw new Error(`usdt: the node provider's definition (node.d) was not found in ${candidates.join(', ')}`);
}

function fdOf(socket) {
  const h = socket && socket._handle;
  return h && typeof h.fd === 'number' ? h.fd : -1;
}

/* ---- the hook families ------------------------------------------------ */

function onServerRequest({ request, socket }) {
  const s = socket || request.socket;
  rt.fire7(P.HTTP_SERVER_REQUEST, s && s.remoteAddress, s && s.remotePort,
           request.method, request.url, fdOf(s));
}

function onServerResponse({ response, socket }) {
  const s = socket || response.socket;
  rt.fire4(P.HTTP_SERVER_RESPONSE, s && s.remoteAddress, s && s.remotePort, fdOf(s));
}

function onClientRequest({ request }) {
  // Published before the request has a socket: fire when it is connected.
  const fire = guarded((s) => rt.fire7(P.HTTP_CLIENT_REQUEST, s.remoteAddress, s.remotePort,
                                       request.method, request.path, fdOf(s)));
  const withSocket = (s) => {
    if (s.connecting)
      s.once('connect', () => fire(s));
    else
      fire(s);
  };
  if (request.socket)
    withSocket(request.socket);
  else
    request.once('socket', withSocket);
}

function onClientResponse({ request, response }) {
  const s = (request && request.socket) || (response && response.socket);
  rt.fire4(P.HTTP_CLIENT_RESPONSE, s && s.remoteAddress, s && s.remotePort, fdOf(s));
}

function onServerConnection({ socket }) {
  rt.fire4(P.NET_SERVER_CONNECTION, socket.remoteAddress, socket.remotePort, fdOf(socket));
}

const originalEnd = net.Socket.prototype.end;
let endHooked = false;
function tracedEnd(...args) {
  // Read before ending: a socket may be destroyed inside end().
  if (endHooked) {
    try {
      rt.fire4(P.NET_STREAM_END, this.remoteAddress, this.remotePort, fdOf(this));
    } catch (e) { /* never in the way of end() */ }
  }
  return originalEnd.apply(this, args);
}

// A diagnostics_channel subscriber that throws takes the program down:
// tracing must never do that.
function guarded(fn) {
  return function (msg) {
    try {
      fn(msg);
    } catch (e) { /* a message of an unexpected shape: no event */ }
  };
}

function channels(list, on) {
  for (const [name, fn] of list) {
    if (on)
      dc.subscribe(name, fn);
    else
      dc.unsubscribe(name, fn);
  }
}

const serverChannels = [['http.server.request.start', guarded(onServerRequest)],
                        ['http.server.response.finish', guarded(onServerResponse)]];
const clientChannels = [['http.client.request.start', guarded(onClientRequest)],
                        ['http.client.response.finish', guarded(onClientResponse)]];
const netChannels = [['net.server.socket', guarded(onServerConnection)]];

const families = {
  gc: {
    probes: [P.GC_START, P.GC_DONE],
    set: setGc,
  },
  httpServer: {
    probes: [P.HTTP_SERVER_REQUEST, P.HTTP_SERVER_RESPONSE],
    set: (on) => channels(serverChannels, on),
  },
  httpClient: {
    probes: [P.HTTP_CLIENT_REQUEST, P.HTTP_CLIENT_RESPONSE],
    set: (on) => channels(clientChannels, on),
  },
  netServer: {
    probes: [P.NET_SERVER_CONNECTION],
    set: (on) => channels(netChannels, on),
  },
  netEnd: {
    probes: [P.NET_STREAM_END],
    set(on) {
      endHooked = on;
      if (on && net.Socket.prototype.end === originalEnd)
        net.Socket.prototype.end = tracedEnd;
      // Someone wrapped end after us: leave theirs in place, ours passes through.
      else if (!on && net.Socket.prototype.end === tracedEnd)
        net.Socket.prototype.end = originalEnd;
    },
  },
};
const installed = Object.fromEntries(Object.keys(families).map((f) => [f, false]));

/* Make the installed hooks match mask. Runs on the main thread: from
 * enable() at once with the semaphores as they are (a tracer attached by path
 * before the program started; the watcher's first scan reports them too),
 * and with what libusdt's watcher has reported whenever it reports a change:
 * every up it reported is followed by its down, so no hook outlives its
 * tracer, even one that came and went between two of the watcher's scans. */
function apply(mask) {
  for (const [name, fam] of Object.entries(families)) {
    const want = fam.probes.some((i) => mask & (1 << i));
    if (want === installed[name])
      continue;
    fam.set(want);
    installed[name] = want;
  }
}

/* libusdt's watcher saw a semaphore move. An error here would surface as an
 * uncaught exception of the traced program: report it once instead. */
let warned = false;
function onChange() {
  if (!imagePath)
    return;
  try {
    apply(rt.reported());
  } catch (e) {
    if (!warned)
      process.emitWarning(`usdt: the node provider's hooks: ${e.message}`, 'USDTWarning');
    warned = true;
  }
}

/* ---- public ----------------------------------------------------------- */

/** Define and load the `node` provider; returns the image path tracers
 * attach to (bpftrace -e 'usdt:PATH:node:gc__start {...}'), or null in a
 * worker thread, where it does nothing. Calling it again is harmless. */
function enable() {
  if (!isMainThread)
    return null;
  if (imagePath)
    return imagePath;
  loadNative();
  imagePath = rt.enable(readProviderDefinition(), dPath, onChange);
  restoreComm(true);
  // A tracer attached by path before we started already holds semaphores up:
  // install now, before the program's first request or GC, not a poll later.
  apply(rt.traced());
  return imagePath;
}

/** Remove every hook and unload the provider. */
function disable() {
  if (!imagePath)
    return;
  apply(0);
  restoreComm(false);
  rt.disable();
  imagePath = null;
}

/** What is defined and what is hooked right now (for tests and the curious):
 * { enabled, path, definition, traced: [probe names], installed: {gc,
 * httpServer, httpClient, netServer, netEnd}, native: {path, watching, gc,
 * gcPart, gcFired} } - gc: the GC callbacks are installed; gcPart: the GC
 * part's file, or why it could not be loaded (null until first wanted);
 * gcFired: {start, done}, how many times its callbacks fired gc__start and
 * gc__done (null without a GC part). */
function state() {
  const traced = [];
  if (rt && imagePath) {
    const mask = rt.traced();
    rt.probes.forEach((n, i) => { if (mask & (1 << i)) traced.push(n); });
  }
  return {
    enabled: imagePath !== null,
    mainThread: isMainThread,
    path: imagePath,
    definition: dPath,
    traced,
    installed: { ...installed },
    native: { ...(rt ? rt.state() : { path: null, watching: false }),
      gc: gcPart ? gcPart.installed() : false, gcPart: gcFile, gcFired: gcPart ? gcPart.fired() : null },
  };
}

/** The image's path while enabled, else null. */
function runtimePath() {
  return imagePath;
}

module.exports = { enable, disable, state, path: runtimePath };
// For the benchmark: move a probe's semaphore as a tracer would. For tests:
// whether a tracer's breakpoint is on a probe's site now.
Object.defineProperty(module.exports, '_force', {
  value: (name, delta) => loadNative().force(rt.probes.indexOf(name), delta),
});
Object.defineProperty(module.exports, '_trapped', {
  value: (name) => loadNative().trapped(rt.probes.indexOf(name)),
});

if (isMainThread) {
  try {
    enable();
  } catch (e) {
    // Never stop the program from starting (as python -m usdt).
    process.emitWarning(`usdt: the node provider is not enabled: ${e.message}`, 'USDTWarning');
  }
}
