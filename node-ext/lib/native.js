'use strict';
// Where the native parts of `usdt` can be, shared by index.js (which loads
// the first that works), runtime.js (the GC part) and scripts/install.js
// (which decides whether a compile is needed at all).
//
// The packed package carries prebuilt binaries as npm addons commonly ship
// them, one directory per platform-arch (the layout of prebuildify and
// node-gyp-build, without depending on either):
//   prebuilds/linux-x64/usdt.node              N-API only: every node >= 18
//   prebuilds/linux-x64/usdt_gc-abiN.node      the GC part (V8's C++ API), one
//                                              per NODE_MODULE_VERSION N
//   prebuilds/linux-arm64/usdt.node            the same two kinds, cross-built
//   prebuilds/linux-arm64/usdt_gc-abiN.node
// A node-gyp build (build/Release) comes first: it exists only if this
// machine compiled one, because no prebuilt fitted or the user asked for it.
const fs = require('fs');
const path = require('path');

const PKG = path.join(__dirname, '..');

function platform() {
  return `${process.platform}-${process.arch}`;
}

function prebuildDir() {
  return path.join(PKG, 'prebuilds', platform());
}

function gypDir() {
  return path.join(PKG, 'build', 'Release');
}

function candidates() {
  const c = [path.join(gypDir(), 'usdt.node'), path.join(prebuildDir(), 'usdt.node')];
  // The source tree's `make` build, only where this is node-ext in that tree
  // (an installed package's ../build is some other project's).
  if (fs.existsSync(path.join(PKG, '..', 'libusdt', 'include', 'usdt.h'))) {
    c.push(path.join(PKG, '..', 'build', 'node', 'usdt.node'));
  }
  return c;
}

/* The GC part's file name for this node's major: usdt_gc-abi115.node (20). */
function gcName() {
  return `usdt_gc-abi${process.versions.modules}.node`;
}

module.exports = { platform, prebuildDir, gypDir, candidates, gcName };
