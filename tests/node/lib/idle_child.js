'use strict';
// A child for idle_test and bench/idle_bench.sh: an idle node process that
// prints "READY <image path>", sleeps until a line comes on stdin, then every
// millisecond does what makes a marked event once traced, until killed:
//   plain    no usdt at all (the floor); fires nothing
//   runtime  (under node -r usdt/runtime) global.gc(): gc__start with flags 4
//            (forced) once the watcher has put the GC hooks in
//   watch    Provider idlew, hit(4242, n) fired once watch() said enabled
//   dtp      dtrace-provider idledtp, hit(4242, n) through fire()'s callback,
//            which runs only while the probe is traced
const mode = process.argv[2];
const USDT = process.argv[3];
let path = '-';
let tick = () => {};
if (mode === 'runtime') {
  path = require(`${USDT}/lib/runtime.js`).path();
  tick = () => global.gc();
} else if (mode === 'watch') {
  const { Provider } = require(USDT);
  const p = new Provider('idlew');
  const hit = p.probe('hit', 'int64', 'int64');
  p.load();
  let on = false;
  p.watch((probe, enabled) => { on = enabled; });
  let n = 0;
  tick = () => { n++; if (on) hit.fire(4242, n); };
  path = p.path;
} else if (mode === 'dtp') {
  const d = require(`${USDT}/dtrace-provider`);
  const dtp = d.createDTraceProvider('idledtp');
  dtp.addProbe('hit', 'int', 'int');
  dtp.enable();
  let n = 0;
  tick = () => { n++; dtp.fire('hit', () => [4242, n]); };
  path = dtp.path;
} else if (mode !== 'plain') {
  throw new Error(`idle_child: unknown mode ${mode}`);
}
process.stdout.write(`READY ${path}\n`);
process.stdin.once('data', () => setInterval(tick, 1));
