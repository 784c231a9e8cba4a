'use strict';
// node-ext/lib/index.d.ts under TypeScript (tsc --strict, from the npm
// registry, pinned in lib/clients.js): the README's usage compiles, and
// misuse is a type error (each @ts-expect-error line must fail to compile).
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { assert, test, run, USDT, DTRACE_PROVIDER } = require('./lib/harness');
const { ensureClients } = require('./lib/clients');

const SAMPLE = `
import { Provider, Probe, MAX_ARGS } from ${JSON.stringify(USDT)};
const app = new Provider('myapp', { storage: 'file' });
const req = app.probe('request__start', 'int64', 'string');
const done = app.probe('request__done', 'uint32', 'json');
app.load();
if (req.enabled) req.fire(1, '/x');
req.fire(2n, '/y');
done.fire(200, { any: ['thing'] });
const p: string | null = app.path;
const probes: Probe[] = app.probes;
const n: number = MAX_ARGS + probes.length;
app.watch((probe: Probe, enabled: boolean) => { void probe.name; void enabled; }).unwatch();
Provider.fromD('provider a { probe b(); };', { provider: 'a', filename: 'a.d' }).load().unload();
Provider.fromDFile('/x.d');
// @ts-expect-error a string where int64 goes
req.fire('1', '/x');
// @ts-expect-error a number where a string goes
req.fire(1, 2);
// @ts-expect-error an argument missing
req.fire(1);
// @ts-expect-error enabled is read-only
req.enabled = true;
// @ts-expect-error no such type
app.probe('bad', 'float');
// @ts-expect-error no such storage
new Provider('x', { storage: 'disk' });
void p; void n;

import * as d from ${JSON.stringify(DTRACE_PROVIDER)};
const dtp = d.createDTraceProvider('nodeapp');
const p1 = dtp.addProbe('log-info', 'int', 'char *');
dtp.enable();
const fired: true | undefined = p1.fire((x: number, s: string) => [x, s], 42, 'forty-two');
dtp.fire('log-info', function (this: d.DTraceProbe) { return [this.noteName]; });
dtp.removeProbe(p1);
dtp.disable();
// @ts-expect-error the extras must match the callback's parameters
p1.fire((x: number) => [x], 'not a number');
void fired;
`;

test('index_d_ts_types_the_api_under_tsc_strict', () => {
  const dir = ensureClients();
  const file = path.join(dir, 'sample.ts');
  fs.writeFileSync(file, SAMPLE);
  const tsc = path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2020', '--module', 'commonjs',
    '--moduleResolution', 'node', file], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stdout + r.stderr);
});

run();
