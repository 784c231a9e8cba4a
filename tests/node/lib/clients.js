'use strict';
// The real users of dtrace-provider, installed unmodified from the npm
// registry (pinned) into $BUILD/node-clients, with npm `overrides` putting
// node-ext/dtrace-provider in place of dtrace-provider for every package:
// the recipe the README gives. Reinstalled only when this definition changes.
//
// --ignore-scripts: the only install script among these packages was
// dtrace-provider's own (replaced here); the usdt addon is the tree's build.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { BUILD, DTRACE_PROVIDER } = require('./harness');

// typescript: to type-check code written against node-ext/lib/index.d.ts.
const VERSIONS = { bunyan: '2.0.5', restify: '12.0.0', typescript: '5.9.3' };

function ensureClients() {
  const dir = path.join(BUILD, 'node-clients');
  const pkg = JSON.stringify({
    private: true,
    dependencies: VERSIONS,
    overrides: { 'dtrace-provider': `file:${DTRACE_PROVIDER}` },
  }, null, 2) + '\n';
  const stamp = path.join(dir, 'node_modules', '.usdt-stamp');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === pkg) return dir;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), pkg);
  const r = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
    { cwd: dir, encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`npm install in ${dir} failed: ${r.stderr || r.stdout || r.error}`);
  fs.writeFileSync(stamp, pkg);
  return dir;
}

module.exports = { ensureClients, VERSIONS };
