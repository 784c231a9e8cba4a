'use strict';
// A child for tracing_test: defines NAME:tick(int64, string) and
// NAME:twelve(string, 10 x int64, string), prints its image path, fires both
// every 10 ms until stdin closes.
const { Provider } = require(process.argv[2]);
const p = new Provider(process.argv[3]);
const tick = p.probe('tick', 'int64', 'string');
const twelve = p.probe('twelve', 'string', ...Array(10).fill('int64'), 'string');
p.load();
process.stdout.write(p.path + '\n');
const big = 'x'.repeat(20000) + 'END';
let i = 0;
const t = setInterval(() => {
  tick.fire(i++, 'child ✓');
  twelve.fire('first ✓', 1, -2, 3, -4, 5, -6, 7, -8, 9, -(2n ** 63n), big);
}, 10);
process.stdin.on('data', () => {});
process.stdin.on('end', () => { clearInterval(t); p.unload(); });
