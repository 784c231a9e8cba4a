'use strict';
// A small harness for tests/node/*_test.js: each test prints "PASS name" or
// "FAIL name: why" (tests/run counts them), and Bpftrace runs the real tracer
// against this process or another one.
//
// A test that needs bpftrace and cannot run it SKIPs, and FAILs under CI=true.

const assert = require('assert');
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
if (!process.env.USDT_NODE_ADDON) process.env.USDT_NODE_ADDON = path.join(BUILD, 'node', 'usdt.node');
const USDT = path.join(ROOT, 'node-ext');
const DTRACE_PROVIDER = path.join(ROOT, 'node-ext', 'dtrace-provider');

const tests = [];
function test(name, fn, { timeout = 60000 } = {}) {
  tests.push({ name, fn, timeout });
}

class Skip extends Error {}

function need(tool) {
  const found = spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
  if (!found || process.geteuid() !== 0) {
    throw new Skip(`${tool} unavailable (needs root and ${tool})`);
  }
  if (tool === 'bpftrace' && !fs.existsSync('/sys/kernel/tracing/uprobe_events')) {
    spawnSync('mount', ['-t', 'tracefs', 'tracefs', '/sys/kernel/tracing']);
  }
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * The path to name with -p PID for a file the process maps: /proc/PID/root/PATH.
 * With -p the plain path attaches twice on bpftrace 0.25+ (every event
 * doubled); this form attaches once on 0.17 to 0.27. Paths under /proc (a
 * memfd image's /proc/PID/fd/N) stay as they are.
 */
function pidPath(pid, file) {
  return file.startsWith('/proc/') ? file : `/proc/${pid}/root${file}`;
}

/**
 * bpftrace -e 'BEGIN { printf("READY\n") } PROGRAM' [-p pid]; collects its lines.
 * With a pid, every usdt:/PATH: of PROGRAM is named as pidPath() says.
 * Events are stdout's lines after our READY; stderr is kept apart (this.err):
 * 0.17 prints "Attaching N probes...", 0.27 "Attached N probes" and WARNING
 * lines, none of them events.
 */
class Bpftrace {
  constructor(program, { pid, strlen = 100, env = {} } = {}) {
    const args = [];
    if (pid) {
      args.push('-p', String(pid));
      program = program.replace(/usdt:(\/[^:\s]*):/g, (_, f) => `usdt:${pidPath(pid, f)}:`);
    }
    args.push('-e', 'BEGIN { printf("READY\\n"); } ' + program);
    this.proc = spawn('bpftrace', args, {
      env: { ...process.env, BPFTRACE_STRLEN: String(strlen), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.stdout = '';
    this.err = '';
    this.exited = false;
    this.proc.stdout.setEncoding('utf8').on('data', (d) => { this.stdout += d; });
    this.proc.stderr.setEncoding('utf8').on('data', (d) => { this.err += d; });
    this.done = new Promise((r) => this.proc.on('close', (code) => { this.exited = true; r(code); }));
  }

  /** Everything it printed, for messages. */
  get out() {
    return this.stdout + this.err;
  }

  /** The events so far: stdout's lines after READY. */
  get lines() {
    const m = /^READY\n/m.exec(this.stdout);
    if (!m) return [];
    return this.stdout.slice(m.index + m[0].length).split('\n').filter((l) => l !== '');
  }

  async ready(ms = 30000) {
    const end = Date.now() + ms;
    while (!/^READY$/m.test(this.stdout)) {
      if (this.exited) throw new Error(`bpftrace exited: ${this.out}`);
      if (Date.now() > end) throw new Error(`bpftrace not ready: ${this.out}`);
      await sleep(10);
    }
  }

  async waitLines(n, ms = 20000, pred = () => true) {
    const end = Date.now() + ms;
    while (this.lines.filter(pred).length < n) {
      if (this.exited || Date.now() > end) {
        throw new Error(`wanted ${n} lines, bpftrace said: ${this.out}`);
      }
      await sleep(10);
    }
    return this.lines.filter(pred);
  }

  /** SIGINT, wait; the lines (maps print on exit). */
  async stop() {
    if (!this.exited) this.proc.kill('SIGINT');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    await this.done;
    clearTimeout(t);
    return this.lines;
  }
}

/** Run fn(tracer) with bpftrace attached; always stops it. */
async function withBpftrace(program, opts, fn) {
  need('bpftrace');
  const bt = new Bpftrace(program, opts);
  try {
    await bt.ready();
    return await fn(bt);
  } finally {
    await bt.stop();
  }
}

async function run() {
  const only = process.argv[2];
  let failed = 0;
  for (const t of tests) {
    if (only && !t.name.includes(only)) continue;
    let timer;
    try {
      await Promise.race([
        t.fn(),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`timeout ${t.timeout} ms`)), t.timeout); }),
      ]);
      console.log(`PASS ${t.name}`);
    } catch (err) {
      if (err instanceof Skip) {
        if (process.env.CI === 'true') { console.log(`FAIL ${t.name}: skipped in CI: ${err.message}`); failed++; }
        else console.log(`SKIP ${t.name}: ${err.message}`);
      } else {
        failed++;
        const why = (err && err.stack ? err.stack : String(err)).replace(/\n/g, ' | ');
        console.log(`FAIL ${t.name}: ${why}`);
      }
    } finally {
      clearTimeout(timer);
    }
  }
  process.exitCode = failed ? 1 : 0;
}

module.exports = {
  pidPath,
  assert, test, run, need, sleep, until, Bpftrace, withBpftrace, Skip, ROOT, BUILD, USDT,
  DTRACE_PROVIDER,
};
