'use strict';
// Where binding.gyp finds libusdt's sources: a copy packed beside the addon
// (node-ext/libusdt, for a tarball), else the source tree's ../libusdt.
const fs = require('fs');
const path = require('path');

function dir() {
  for (const d of [path.join(__dirname, '..', 'libusdt'), path.join(__dirname, '..', '..', 'libusdt')]) {
    if (fs.existsSync(path.join(d, 'include', 'usdt.h'))) return path.relative(process.cwd(), d) || '.';
  }
  throw new Error('usdt: libusdt sources not found beside node-ext');
}

function sources() {
  const src = path.join(dir(), 'src');
  return fs.readdirSync(src).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(src, f));
}

module.exports = { dir, sources };
