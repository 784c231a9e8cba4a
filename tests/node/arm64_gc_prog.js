'use strict';
// The program arm64_gc_test.sh runs in an official arm64 node under
// qemu-aarch64-static, from a project where the packed `usdt` is installed
// (cwd). usdt/runtime is required as a user would (the package's exports);
// the semaphores are moved as a tracer would (runtime._force), since user-mode
// emulation has no uprobes. Prints PASS/FAIL lines named after TAG.
//   own TAG    the GC part of this node's major, the prebuilt one beside the
//              prebuilt usdt.node, loads without a warning; forced, its
//              callbacks go in, and a forced GC runs them: each fires
//              gc__start and gc__done (its fired() counts); unforced, they
//              come out and a GC fires nothing more
//   other TAG  $USDT_NODE_GC_ADDON is the GC part of another major: one
//              warning naming it, no GC callbacks, the http hooks still go in
const assert = require('assert');
const fs = require('fs');
const path = require('path');

const [mode, tag] = process.argv.slice(2);
const arch = `${process.platform}-${process.arch}`;
const abi = process.versions.modules;
const warnings = [];
process.on('warning', (w) => warnings.push(w.message));

const pkg = path.dirname(require.resolve('usdt/package.json', { paths: [process.cwd()] }));
const rt = require(require.resolve('usdt/runtime', { paths: [process.cwd()] }));
const prebuilt = (f) => fs.realpathSync(path.join(pkg, 'prebuilds', arch, f));

// Node under emulation is slow to start its watcher's first scan: be patient.
function until(what, p) {
  return new Promise((res, rej) => {
    const end = Date.now() + 30000;
    const t = setInterval(() => {
      if (p()) {
        clearInterval(t);
        res();
      } else if (Date.now() > end) {
        clearInterval(t);
        rej(new Error(`timed out waiting until ${what}: ${JSON.stringify(rt.state())}`));
      }
    }, 5);
  });
}

function force(names, delta) {
  for (const n of names)
    rt._force(n, delta);
}

async function own() {
  assert.strictEqual(arch, 'linux-arm64');
  // The prebuilt usdt.node serves (nothing else is there to).
  assert.strictEqual(fs.realpathSync(require(require.resolve('usdt', { paths: [process.cwd()] })).addonPath),
    prebuilt('usdt.node'));
  const gcProbes = ['gc__start', 'gc__done'];
  force(gcProbes, 1);
  await until('the GC callbacks are installed', () => rt.state().native.gc);
  let s = rt.state();
  assert.strictEqual(fs.realpathSync(s.native.gcPart), prebuilt(`usdt_gc-abi${abi}.node`));
  assert.deepStrictEqual(s.installed.gc, true);
  const before = s.native.gcFired;
  global.gc();
  const after = rt.state().native.gcFired;
  // One full GC: at least one prologue and one epilogue, each a probe fired.
  assert.ok(after.start > before.start && after.done > before.done,
    `a forced GC fired no probe: before ${JSON.stringify(before)}, after ${JSON.stringify(after)}`);
  force(gcProbes, -1);
  await until('the GC callbacks are removed', () => !rt.state().native.gc && !rt.state().installed.gc);
  global.gc();
  s = rt.state();
  assert.deepStrictEqual(s.native.gcFired, after, 'a GC after the callbacks were removed fired a probe');
  assert.deepStrictEqual(warnings, []);
  return `${path.basename(s.native.gcPart)} fired gc__start ${after.start - before.start}, ` +
    `gc__done ${after.done - before.done} time(s) in one forced GC`;
}

async function other() {
  const file = process.env.USDT_NODE_GC_ADDON;
  assert.ok(file && !file.endsWith(`-abi${abi}.node`), `USDT_NODE_GC_ADDON=${file} is not another major's part`);
  const probes = ['gc__start', 'http__server__request'];
  force(probes, 1);
  // Both families applied (the refused GC part's warning is emitted on
  // the next tick of that apply, which can come after the http hooks').
  await until('the gc and http families are applied', () => rt.state().installed.gc && rt.state().installed.httpServer);
  await new Promise((r) => setImmediate(r));
  global.gc();
  const s = rt.state();
  assert.strictEqual(s.native.gc, false);
  assert.strictEqual(s.native.gcFired, null);
  assert.strictEqual(warnings.length, 1, JSON.stringify(warnings));
  const m = warnings[0].match(/^usdt: node:gc__start and node:gc__done will not fire: (.*): usdt: this GC part was built for node (\d+) \(ABI (\d+)\), this node's ABI is (\d+): rebuild it/);
  assert.ok(m, warnings[0]);
  assert.strictEqual(m[1], path.resolve(file));
  assert.notStrictEqual(m[3], abi);
  assert.strictEqual(m[4], abi);
  force(probes, -1);
  await until('the http hooks are removed', () => !rt.state().installed.httpServer);
  return `refused with one warning: built for node ${m[2]} (ABI ${m[3]})`;
}

const name = { own: 'gc_part_of_its_major_loads_installs_and_fires',
  other: 'gc_part_of_another_major_refused_with_one_warning' }[mode];
if (!name || !tag) {
  console.error('usage: arm64_gc_prog.js own|other TAG');
  process.exit(2);
}
(mode === 'own' ? own : other)().then(
  (what) => console.log(`# ${tag}: ${what}\nPASS ${tag}:${name}`),
  (e) => console.log(`FAIL ${tag}:${name}: ${String(e.message).split('\n').join(' ')}`));
