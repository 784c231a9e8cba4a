'use strict';
// npm's prepack/postpack of `usdt`: `node scripts/pack.js bundle|clean`.
//
// In git the addon's C sources lean on the tree around node-ext: libusdt's
// include/ and src/ (gyp/libusdt.js) and providers/node.d (lib/runtime.js).
// A tarball has no such tree, so `npm pack` copies them into the package
// (libusdt/, providers/; gitignored, never committed twice) and postpack
// removes them again, so that a source-tree build never picks up a stale copy.
// USDT_PREBUILDS=DIR (set by `make npm-pack`, scripts/npm-pack) adds DIR's
// <platform>-<arch>/*.node as prebuilds/.
const fs = require('fs');
const path = require('path');

const PKG = path.join(__dirname, '..');
const TREE = path.join(PKG, '..');
const COPIES = ['libusdt', 'providers', 'prebuilds'];

function clean() {
  for (const d of COPIES) fs.rmSync(path.join(PKG, d), { recursive: true, force: true });
}

function bundle() {
  const lib = path.join(TREE, 'libusdt');
  const nodeD = path.join(TREE, 'providers', 'node.d');
  for (const need of [path.join(lib, 'include', 'usdt.h'), path.join(lib, 'src'), nodeD]) {
    if (!fs.existsSync(need)) {
      throw new Error(`usdt prepack: ${need} is missing: pack node-ext from inside libusdt's source tree`);
    }
  }
  clean();
  for (const d of ['include', 'src']) {
    fs.cpSync(path.join(lib, d), path.join(PKG, 'libusdt', d), { recursive: true });
  }
  fs.mkdirSync(path.join(PKG, 'providers'));
  fs.copyFileSync(nodeD, path.join(PKG, 'providers', 'node.d'));
  const pre = process.env.USDT_PREBUILDS;
  if (pre) {
    const dirs = fs.readdirSync(pre).filter((d) => /^[a-z0-9]+-[a-z0-9]+$/.test(d));
    if (!dirs.length) throw new Error(`usdt prepack: USDT_PREBUILDS=${pre} has no <platform>-<arch> directory`);
    for (const d of dirs) {
      const files = fs.readdirSync(path.join(pre, d)).filter((f) => f.endsWith('.node'));
      if (!files.includes('usdt.node')) throw new Error(`usdt prepack: ${path.join(pre, d)} has no usdt.node`);
      fs.mkdirSync(path.join(PKG, 'prebuilds', d), { recursive: true });
      for (const f of files) fs.copyFileSync(path.join(pre, d, f), path.join(PKG, 'prebuilds', d, f));
    }
  }
}

const cmd = process.argv[2];
if (cmd === 'bundle') {
  try {
    bundle();
  } catch (err) {
    // npm runs no postpack after a failed prepack: take half a bundle out here.
    clean();
    console.error(err.code ? `usdt prepack: ${err.message}` : err.message);
    process.exit(1);
  }
} else if (cmd === 'clean') {
  clean();
} else {
  console.error('usage: node scripts/pack.js bundle|clean');
  process.exit(2);
}
