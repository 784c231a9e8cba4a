'use strict';
// npm's install script of `usdt`: compile only when the package's prebuilt
// binaries do not serve this machine.
//
//  - npm_config_build_from_source=true (npm install --build-from-source) or
//    USDT_BUILD_FROM_SOURCE=1: node-gyp rebuild, whatever is prebuilt.
//  - the prebuilt usdt.node for this platform-arch loads, and so does the
//    GC part for this node's major: nothing to do (no compiler needed).
//  - usdt.node loads but no GC part fits this node (a major newer than the
//    pinned lines the package was built for): node-gyp rebuild if the tools are
//    there; if not, or if it fails, the install still succeeds, since only
//    usdt/runtime's gc__start/gc__done depend on it (it warns once when traced).
//  - no prebuilt loads: node-gyp rebuild, and a failure fails the install
//    with both reasons.
// lib/index.js loads whatever this leaves, so when npm skips install scripts
// (npm 11's allowScripts policy, --ignore-scripts) the prebuilt still works.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const native = require('../lib/native.js');

const PKG = path.join(__dirname, '..');

function say(msg) {
  console.log(`usdt: ${msg}`);
}

function onPath(name) {
  if (name.includes('/')) return fs.existsSync(name);
  return (process.env.PATH || '').split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d || '.', name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/* What node-gyp's make build needs and this PATH lacks (the first word of
 * $CC/$CXX when set, as make would run them). */
function missingTools() {
  const first = (v) => v && v.trim().split(/\s+/)[0];
  const wanted = [
    ['make', ['make']],
    ['a C compiler', [first(process.env.CC) || 'cc']],
    ['a C++ compiler', process.env.CXX ? [first(process.env.CXX)] : ['g++', 'c++']],
    ['python3 (gyp)', [process.env.npm_config_python || process.env.PYTHON || 'python3']],
  ];
  return wanted.filter(([, names]) => !names.some(onPath)).map(([what, names]) => (names[0] === what ? what : `${what} (${names.join(' or ')})`));
}

function nodeGyp() {
  // npm points npm_config_node_gyp at the node-gyp it bundles; without npm
  // (node scripts/install.js by hand) the one on PATH.
  const gyp = process.env.npm_config_node_gyp;
  const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
  say(`building from source: ${gyp ? 'node-gyp' : cmd} rebuild`);
  const r = spawnSync(cmd, args, { cwd: PKG, stdio: 'inherit' });
  if (r.error) return `${cmd}: ${r.error.message}`;
  return r.status === 0 ? null : `node-gyp rebuild exited ${r.status ?? r.signal}`;
}

/* null if file loads in this node, else why not. */
function loadError(file) {
  if (!fs.existsSync(file)) return `${path.relative(PKG, file)}: not in the package`;
  try {
    require(file);
    return null;
  } catch (err) {
    return `${path.relative(PKG, file)}: ${String(err.message).split('\n')[0]}`;
  }
}

function main() {
  const where = `${native.platform()}, node ${process.versions.node} (ABI ${process.versions.modules})`;
  const fromSource = process.env.npm_config_build_from_source === 'true' || process.env.USDT_BUILD_FROM_SOURCE === '1';
  if (fromSource) {
    const why = nodeGyp();
    if (why) throw new Error(`usdt: building from source was asked for and failed: ${why}` +
      (missingTools().length ? `; missing: ${missingTools().join(', ')}` : ''));
    return;
  }
  const addon = path.join(native.prebuildDir(), 'usdt.node');
  const gc = path.join(native.prebuildDir(), native.gcName());
  const addonWhy = loadError(addon);
  const gcWhy = addonWhy ? null : loadError(gc);
  if (!addonWhy && !gcWhy) {
    say(`using the prebuilt binaries for ${where}: ${path.relative(PKG, addon)}, ${path.relative(PKG, gc)}`);
    return;
  }
  const missing = missingTools();
  if (!addonWhy) {
    const lost = 'usdt/runtime\'s node:gc__start and gc__done will not fire; everything else works';
    if (missing.length) {
      say(`no prebuilt GC part for ${where} (${gcWhy}), and no compiler to build one: ` +
        `missing ${missing.join(', ')}. Using the prebuilt usdt.node; ${lost}. ` +
        'Install those and run `npm rebuild usdt` to get it.');
      return;
    }
    const why = nodeGyp();
    if (why) say(`no prebuilt GC part for ${where} (${gcWhy}) and ${why}; using the prebuilt usdt.node; ${lost}`);
    return;
  }
  const have = fs.existsSync(path.join(PKG, 'prebuilds'))
    ? fs.readdirSync(path.join(PKG, 'prebuilds')).join(', ') || 'none' : 'none';
  const none = `no prebuilt addon for ${where} loads (${addonWhy}; prebuilt here: ${have})`;
  if (missing.length) {
    throw new Error(`usdt: ${none}, and it cannot be built from source: missing ${missing.join(', ')}. ` +
      'Install them (Debian/Ubuntu: apt-get install build-essential python3) and run `npm rebuild usdt`.');
  }
  const why = nodeGyp();
  if (why) throw new Error(`usdt: ${none}, and building from source failed: ${why} (node-gyp's output is above)`);
}

try {
  main();
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
