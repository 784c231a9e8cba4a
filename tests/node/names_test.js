'use strict';
// The names a user types for dtrace-provider's DTrace-style probes: a probe
// DTrace calls log-info is noted as log__info, and every tracer attaches to
// it: bpftrace (by path, by pid, wildcard), bcc's tplist and trace, gdb,
// perf. And the evidence for '__': perf refuses a '-' in any probe name of an
// object and then adds none of its probes, while the others take '-'.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { assert, test, run, need, sleep, until, withBpftrace, DTRACE_PROVIDER } = require('./lib/harness');

const CHILD = path.join(__dirname, 'lib', 'dtp_child.js');
const NAME = `names${process.pid}`;

let child;
let file;
async function start() {
  if (child) return;
  child = spawn(process.execPath, [CHILD, DTRACE_PROVIDER, NAME], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  await until(() => out.includes('\n'), 10000, 'child ready');
  file = out.split('\n')[0];
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120000, ...opts });
  return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

async function spawnUntil(cmd, args, re, ms = 60000) {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  p.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
  const closed = new Promise((r) => p.on('close', r));
  try {
    const end = Date.now() + ms;
    while (!re.test(out) && Date.now() < end && p.exitCode === null) await sleep(50);
    return out;
  } finally {
    p.kill('SIGINT');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await closed;
    clearTimeout(t);
  }
}

test('the_note_says_log__info', async () => {
  await start();
  const r = sh('readelf', ['-n', file]);
  assert.match(r.out, /Provider: names\d+\s+Name: log__info/);
  assert.doesNotMatch(r.out, /log-info/);
});

test('bpftrace_by_path_and_by_pid_with_a_wildcard', async () => {
  await start();
  await withBpftrace(`usdt:${file}:${NAME}:log__info { printf("%s %d\\n", str(arg0), arg1); exit(); }`, {}, async (bt) => {
    assert.deepStrictEqual(await bt.waitLines(1), ['info ✓ 4242']);
  });
  await withBpftrace(`usdt:${file}:${NAME}:log__* { @[probe] = count(); if (@c++ > 20) { exit(); } }`, { pid: child.pid }, async (bt) => {
    await until(() => bt.exited, 20000, 'bpftrace done');
    const names = bt.lines.filter((l) => l.startsWith('@[')).map((l) => l.replace(/^@\[usdt:.*:(\w+)\].*$/, '$1')).sort();
    assert.deepStrictEqual(names, ['log__info', 'log__warn']);
  });
});

test('bcc_tplist_and_trace', async () => {
  need('tplist-bpfcc');
  await start();
  const l = sh('tplist-bpfcc', ['-p', String(child.pid)]);
  assert.match(l.out, new RegExp(`${NAME}:log__info`));
  assert.match(l.out, new RegExp(`${NAME}:log__warn`));
  const out = await spawnUntil('trace-bpfcc', ['-p', String(child.pid), `u::${NAME}:log__info "V %d", arg2`], / V 4242/);
  assert.match(out, new RegExp(`${NAME}:log__info\\s+V 4242`));
});

test('gdb_info_probes_and_break', async () => {
  need('gdb');
  await start();
  const r = sh('gdb', ['-q', '-nx', '-batch', '-p', String(child.pid), '-ex', `info probes stap ${NAME}`,
    '-ex', `break -probe-stap ${NAME}:log__info`, '-ex', 'continue', '-ex', 'printf "V %s %d\\n", $_probe_arg0, $_probe_arg1']);
  assert.strictEqual(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`stap\\s+${NAME}\\s+log__info`));
  assert.match(r.out, /^V info ✓ 4242$/m);
});

test('perf_probe_and_record', async () => {
  need('perf');
  await start();
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'usdt-perf-'));
  try {
    // The event is named as perf probe says: newer perf (sid's) turns the
    // note's log__info into sdt_NAME:log_info, 6.1 keeps log__info.
    let r = sh('sh', ['-c', `perf buildid-cache --add ${file} && perf probe -x ${file} -a sdt_${NAME}:log__info`]);
    const ev = (/^\s+(sdt_\S+:log_+info)\s/m.exec(r.out) || [])[1];
    assert.ok(ev, r.out);
    r = sh('sh', ['-c', `timeout 20 perf record -q -e ${ev} -p ${child.pid} -o ${data}/perf.data -- sleep 1; ` +
      `perf script -i ${data}/perf.data 2>/dev/null | head -3`]);
    assert.match(r.out, new RegExp(`${ev}:`), r.out);
  } finally {
    sh('sh', ['-c', `perf probe -q -d 'sdt_${NAME}:*'; perf buildid-cache --remove ${file}`]);
    fs.rmSync(data, { recursive: true, force: true });
  }
});

// Why '__': a sys/sdt.h object whose notes say log-info, log__warn, log_error.
test('evidence_perf_refuses_dash_others_accept_it', async () => {
  need('perf');
  need('bpftrace');
  need('cc');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'usdt-dash-'));
  const bin = path.join(dir, 'dash');
  try {
    fs.writeFileSync(`${bin}.c`, '#include <sys/sdt.h>\n#include <unistd.h>\nint main(void) { for (int i = 0;; i++) { ' +
      'STAP_PROBE1(dash, log-info, i); STAP_PROBE1(dash, log__warn, i); usleep(10000); } }\n');
    let r = sh('cc', ['-O1', '-o', bin, `${bin}.c`]);
    assert.strictEqual(r.code, 0, r.out);
    // bpftrace and gdb take '-' ...
    assert.match(sh('bpftrace', ['-l', `usdt:${bin}:*`]).out, /dash:log-info/);
    assert.match(sh('gdb', ['-q', '-nx', '-batch', '-ex', 'info probes stap dash', bin]).out, /dash\s+log-info/);
    // ... perf does not, and then takes none of the object's probes.
    r = sh('sh', ['-c', `perf buildid-cache --add ${bin}; perf probe -x ${bin} -a sdt_dash:log__warn`]);
    assert.match(r.out, /log-info is bad for event name/);
    assert.notStrictEqual(r.code, 0);
  } finally {
    sh('sh', ['-c', `perf probe -q -d 'sdt_dash:*'; perf buildid-cache --remove ${bin}`]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('stop_the_child', async () => {
  if (!child) return;
  child.stdin.end();
  const code = await new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.on('close', r)));
  assert.strictEqual(code, 0);
});

run();
