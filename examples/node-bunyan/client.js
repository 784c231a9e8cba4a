'use strict';
// Load for the shop: a mix of orders, price lookups and mistakes, one at a
// time, until killed.  node client.js PORT
const http = require('http');
const port = Number(process.argv[2]);
const items = ['tea', 'coffee', 'cake', 'soup', 'pie'];
let n = 0;

function next() {
  n++;
  const item = items[n % items.length];
  const [method, path] = n % 7 === 0 ? ['GET', '/prices']
    : n % 11 === 0 ? ['GET', '/admin']
    : ['POST', `/order/${item}?qty=${1 + (n % 5)}`];
  const req = http.request({ host: '127.0.0.1', port, method, path }, (res) => {
    res.resume();
    res.on('end', () => setTimeout(next, 100));
  });
  req.on('error', () => setTimeout(next, 200));
  req.end();
}
next();
