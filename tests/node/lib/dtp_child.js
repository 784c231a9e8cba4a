'use strict';
// A child for names_test: a dtrace-provider provider NAME with DTrace-style
// probes log-info(char *, int) and log-warn(int); prints its image path and
// fires both every 10 ms until stdin closes.
const d = require(process.argv[2]);
const dtp = d.createDTraceProvider(process.argv[3]);
dtp.addProbe('log-info', 'char *', 'int');
dtp.addProbe('log-warn', 'int');
dtp.enable();
process.stdout.write(dtp.path + '\n');
let i = 0;
const t = setInterval(() => {
  i++;
  dtp.fire('log-info', (n) => ['info ✓', n], 4242);
  dtp.fire('log-warn', () => [i]);
}, 10);
process.stdin.on('data', () => {});
process.stdin.on('end', () => { clearInterval(t); dtp.disable(); });
