'use strict';
// A small HTTP service (a price list and orders) logging with bunyan. Run
// with node's own probes on:
//
//   node -r usdt/runtime server.js [port]      (scripts/demo-node does this)
//
// bunyan, finding dtrace-provider (node-ext/dtrace-provider, over usdt),
// creates provider `bunyan` with probes log-trace ... log-fatal (noted as
// log__trace ... log__fatal), each fired with the JSON record, even for
// levels the logger drops (trace, debug here), and built only while traced.
// usdt/runtime adds node's provider: http__server__request/response, gc__start/
// gc__done and the rest. Nothing of either costs anything until traced.
const http = require('http');
const bunyan = require('bunyan');

const log = bunyan.createLogger({ name: 'shop', level: 'info', stream: process.stdout });
const prices = { tea: 350, coffee: 420, cake: 575, soup: 690 };
let orders = 0;

function order(item, qty) {
  // Builds some garbage on purpose: a receipt with lines, as JSON.
  const lines = Array.from({ length: 200 * qty }, (_, i) => ({ i, item, cents: prices[item] }));
  return { id: ++orders, item, qty, total: prices[item] * qty, lines: lines.length,
           receipt: JSON.stringify(lines).length };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://shop');
  log.debug({ method: req.method, path: url.pathname }, 'request');
  if (url.pathname === '/prices') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(prices));
    return;
  }
  const m = url.pathname.match(/^\/order\/([a-z]+)$/);
  if (m && req.method === 'POST') {
    const item = m[1];
    const qty = Number(url.searchParams.get('qty') || 1);
    if (!(item in prices) || !(qty >= 1 && qty <= 20)) {
      log.warn({ item, qty }, 'bad order');
      res.statusCode = 400;
      res.end('no such item or quantity\n');
      return;
    }
    const o = order(item, qty);
    log.info({ order: o.id, item, qty, total: o.total }, 'order placed');
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(o));
    return;
  }
  log.error({ method: req.method, url: req.url }, 'not found');
  res.statusCode = 404;
  res.end('not found\n');
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  log.info({ port: server.address().port, pid: process.pid }, 'shop listening');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
