/**
 * record-labs.ts - run each bundled lab script (fixtures/labs/*.sh) with the real bash, ip, iptables (the
 * iptables-nft 1.8.9 of the machine), ping, nc (netcat-openbsd), curl, tcpdump and conntrack, and store what it
 * printed into fixtures/labs/recorded/<name>.json, masked with src/lab/mask.ts. `tsiptables lab` is tested against
 * these records.
 *
 * Usage, as root:
 *
 *   npm run record:labs                     # every fixtures/labs/*.sh into fixtures/labs/recorded/
 *   npx tsx scripts/record-labs.ts [--out DIR] [--runs N] [--print | --raw] [--quiet] [LAB.sh...]
 *
 *   --runs N   run each lab N times and check the masked transcripts are the same (nothing written otherwise)
 *   --print    also print each masked transcript; --raw prints it unmasked (to see what the mask hides)
 *
 * How a lab is run:
 *  - The namespaces the script creates (`ip netns add NAME`) get the repository's `tsi-` prefix: a copy of the
 *    script with each such NAME rewritten as a whole word to tsi-NAME runs (as `bash <name>.sh`, from a temporary
 *    directory), and tsi-NAME is mapped back to NAME in its output. Whatever the script leaves behind (processes in
 *    those namespaces, the namespaces themselves) is removed afterwards, also when it fails, times out or the
 *    recorder is interrupted; namespaces left by an earlier crashed run are removed before.
 *  - stdout and stderr of the script share one pipe, as a user sees them in order (each program buffers its own
 *    output as it does on a pipe: tcpdump and conntrack print their lines when they exit).
 *  - `dmesg` is a shim first on PATH: it prints, in dmesg's format, only the netfilter LOG lines of the lab (a LOG
 *    prefix of the script, IN=/OUT= one of its devices) written to /dev/kmsg after the lab started. For namespaced
 *    LOG rules to reach the kernel log at all, /proc/sys/net/netfilter/nf_log_all_netns is 1 during the run (and
 *    put back as it was).
 *  - The environment is fixed: PATH (shim first), LC_ALL=C, HOME a temporary directory.
 *
 * One recorder at a time (a lock in /run/lock): the labs share namespace names and the kernel log.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { pidLock } from './lib/pid-lock';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { maskTranscript } from '../src/lab/mask';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LABS = path.join(ROOT, 'fixtures/labs');
const DEFAULT_OUT = path.join(LABS, 'recorded');
const LOCK = '/run/lock/tsi-record-labs.lock';
const NF_LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const TOOLS = ['bash', 'ip', 'iptables', 'iptables-save', 'iptables-restore', 'nft', 'ping', 'nc', 'curl', 'tcpdump', 'conntrack', 'sysctl'];
const APT = 'iptables nftables iproute2 iputils-ping netcat-openbsd curl tcpdump conntrack procps';
/** A lab that runs longer than this is killed (and recorded as it stands, with the recorder's note). */
const LAB_TIMEOUT_MS = 120_000;

/** What a recorded lab file holds. */
export interface LabRecord {
  recordedWith: {
    kernel: string;
    iptables: string;
    date: string;
    command: string;
    tools: Record<string, string>;
    /** The host's settings a new namespace inherits (IPv4 devconf, TCP buffers): they shape the run. */
    hostSysctls: Record<string, string>;
  };
  /** The lab's file name (fixtures/labs/<script>). */
  script: string;
  /** stdout and stderr as they interleaved, namespaces mapped back, masked with maskTranscript. */
  transcript: string;
  exitStatus: number;
}

class UsageError extends Error {}

function sh(argv: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { PATH: SYSTEM_PATH, LC_ALL: 'C' }, timeout: 30_000 });
  return { status: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

// ---------------------------------------------------------------------------------------------------------------
// reading a lab script

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** NAME as a whole word: not inside a longer name (letters, digits, `_`, `-`, `.`). */
const wordRe = (name: string): RegExp => new RegExp(`(?<![\\w.-])${escapeRe(name)}(?![\\w-]|\\.\\w)`, 'g');

/** The lines of a script without comments (a `#` that starts a word) and blank lines. */
function codeLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
}

/** The namespaces `ip netns add NAME` creates, in order. */
export function labNamespaces(text: string): string[] {
  const names: string[] = [];
  for (const l of codeLines(text)) {
    const m = /^ip\s+netns\s+add\s+(\S+)$/.exec(l);
    if (m && !names.includes(m[1]!)) names.push(m[1]!);
  }
  return names;
}

/** The script with every namespace name rewritten to tsi-NAME (as whole words). */
export function prefixNamespaces(text: string, names: string[]): string {
  return names.reduce((t, n) => t.replace(wordRe(n), `tsi-${n}`), text);
}

/** Output of the prefixed script with tsi-NAME mapped back to NAME. */
export function unprefixNamespaces(text: string, names: string[]): string {
  return names.reduce((t, n) => t.replace(wordRe(`tsi-${n}`), n), text);
}

/** The LOG prefixes of the script's rules ('' for a LOG rule without --log-prefix), nft `log prefix` too. */
export function logPrefixes(text: string): string[] {
  const out = new Set<string>();
  for (const l of codeLines(text)) {
    // nft's log statement (in a here-document of `nft -f -`) writes through the same kernel logger.
    const nft = /(?:^|\s)log\s+prefix\s+"([^"]*)"/.exec(l);
    if (nft) out.add(nft[1]!);
    if (!/(^|\s)-j\s+LOG(\s|$)/.test(l)) continue;
    const m = /--log-prefix(?:=|\s+)("([^"]*)"|'([^']*)'|(\S+))/.exec(l);
    out.add(m ? (m[2] ?? m[3] ?? m[4] ?? '') : '');
  }
  return [...out];
}

/** The devices the script creates (`ip link add NAME ... peer name PEER`), and lo. */
export function labDevices(text: string): string[] {
  const out = new Set<string>(['lo']);
  for (const l of codeLines(text)) {
    if (!/^ip\s.*\blink\s+add\s/.test(l)) continue;
    const m = /\blink\s+add\s+(?:name\s+)?(\S+)/.exec(l);
    if (m) out.add(m[1]!);
    const p = /\bpeer\s+(?:name\s+)?(\S+)/.exec(l);
    if (p) out.add(p[1]!);
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------------------------
// the kernel log

/** The sequence number of the newest /dev/kmsg record (-1 when the buffer is empty). */
function kmsgLastSeq(): number {
  const fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(16 * 1024);
  let last = -1;
  try {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // overwritten before it was read
        throw e;
      }
      const seq = Number(buf.subarray(0, n).toString('latin1').split(',')[1]);
      if (Number.isFinite(seq)) last = seq;
    }
  } finally {
    fs.closeSync(fd);
  }
  return last;
}

/**
 * The dmesg shim (plain ESM JavaScript run by this node): reads /dev/kmsg and prints the lab's LOG records newer
 * than `afterSeq` as util-linux dmesg prints a record: `[%5lu.%06lu] TEXT` (non-printable bytes as \xNN).
 */
const DMESG_SHIM = `import * as fs from 'node:fs';
const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (process.argv.length > 3) {
  process.stderr.write('dmesg (record-labs shim): options are not supported\\n');
  process.exit(1);
}
const fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
const buf = Buffer.alloc(16 * 1024);
const devs = new Set(cfg.devices);
const out = [];
for (;;) {
  let n;
  try {
    n = fs.readSync(fd, buf, 0, buf.length, null);
  } catch (e) {
    if (e.code === 'EAGAIN') break;
    if (e.code === 'EPIPE') continue;
    throw e;
  }
  const rec = buf.subarray(0, n).toString('latin1');
  const semi = rec.indexOf(';');
  const head = rec.slice(0, semi).split(',');
  if (Number(head[1]) <= cfg.afterSeq) continue;
  const text = rec.slice(semi + 1).split('\\n')[0].replace(/\\\\x([0-9a-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  const prefix = cfg.prefixes.find((p) => {
    const m = /^IN=(\\S*) OUT=(\\S*) /.exec(text.slice(p.length));
    return text.startsWith(p) && m !== null && devs.has(m[1] || 'lo') && devs.has(m[2] || 'lo');
  });
  if (prefix === undefined) continue;
  const us = BigInt(head[2]);
  const shown = text.replace(/[\\x00-\\x08\\x0b-\\x1f\\x7f]/g, (c) => '\\\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  out.push('[' + String(us / 1000000n).padStart(5, ' ') + '.' + String(us % 1000000n).padStart(6, '0') + '] ' + shown + '\\n');
}
process.stdout.write(out.join(''));
`;

// ---------------------------------------------------------------------------------------------------------------
// namespaces and processes

const netnsList = (): string[] =>
  sh(['ip', 'netns', 'list'])
    .stdout.split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);

/** Kills the processes left in the namespaces (by pid) and deletes the namespaces that exist. */
function removeNamespaces(names: string[]): string[] {
  const present = new Set(netnsList());
  const removed: string[] = [];
  for (const ns of names) {
    if (!present.has(ns)) continue;
    for (let round = 0; round < 2; round++) {
      const pids = sh(['ip', 'netns', 'pids', ns])
        .stdout.split(/\s+/)
        .filter((p) => /^\d+$/.test(p))
        .map(Number);
      for (const pid of pids) {
        try {
          process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
        } catch {
          // already gone
        }
      }
      if (pids.length === 0) break;
      spawnSync('sleep', ['0.2']);
    }
    sh(['ip', 'netns', 'del', ns]);
    removed.push(ns);
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------------------------
// one run of one lab

interface RunResult {
  /** The output with the namespaces mapped back, unmasked. */
  raw: string;
  exitStatus: number;
  /** What went wrong around the script (timeout, processes left running): the transcript is not to be trusted. */
  problems: string[];
  /** What the recorder cleaned up besides (namespaces of an earlier run, or the script did not delete). */
  notes: string[];
}

/** What to undo if the recorder is interrupted while a lab runs. */
let running: { namespaces: string[]; tmp: string; child?: number } | undefined;

async function runLab(file: string): Promise<RunResult> {
  const text = fs.readFileSync(file, 'utf8');
  const names = labNamespaces(text);
  for (const n of names) {
    if (n.startsWith('tsi-') || !/^[A-Za-z][\w.-]*$/.test(n)) throw new UsageError(`${file}: namespace name "${n}" cannot be prefixed`);
    if (`tsi-${n}`.length > 64) throw new UsageError(`${file}: namespace name "${n}" is too long`);
  }
  const real = names.map((n) => `tsi-${n}`);
  const notes: string[] = [];
  const problems: string[] = [];
  const stale = removeNamespaces(real);
  if (stale.length) notes.push(`removed namespaces left by an earlier run: ${stale.join(' ')}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsi-lab-'));
  running = { namespaces: real, tmp };
  const base = path.basename(file);
  fs.writeFileSync(path.join(tmp, base), prefixNamespaces(text, names));
  const shimDir = path.join(tmp, 'bin');
  fs.mkdirSync(shimDir);
  fs.mkdirSync(path.join(tmp, 'home'));
  fs.writeFileSync(path.join(tmp, 'dmesg.mjs'), DMESG_SHIM);
  fs.writeFileSync(
    path.join(tmp, 'dmesg.json'),
    JSON.stringify({ afterSeq: kmsgLastSeq(), prefixes: logPrefixes(text), devices: labDevices(text) }),
  );
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(
    path.join(shimDir, 'dmesg'),
    `#!/bin/sh\nexec ${q(process.execPath)} ${q(path.join(tmp, 'dmesg.mjs'))} ${q(path.join(tmp, 'dmesg.json'))} "$@"\n`,
    { mode: 0o755 },
  );

  const chunks: Buffer[] = [];
  let exitStatus = -1;
  try {
    const child = spawn('/bin/sh', ['-c', 'exec bash "$1" 2>&1', 'sh', base], {
      cwd: tmp,
      env: { PATH: `${shimDir}:${SYSTEM_PATH}`, LC_ALL: 'C', HOME: path.join(tmp, 'home') },
      stdio: ['ignore', 'pipe', 'ignore'],
      detached: true,
    });
    running.child = child.pid;
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    const closed = new Promise<void>((resolve) => child.stdout.on('close', () => resolve()));
    const exited = new Promise<number>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0))),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), LAB_TIMEOUT_MS);
    });
    const first = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (first === 'timeout') {
      problems.push(`timed out after ${LAB_TIMEOUT_MS / 1000} s: killed`);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      exitStatus = await exited;
    } else exitStatus = first;
    // A background process the script left running keeps the pipe open: give it a moment, then end it.
    const late = await Promise.race([closed.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 3000))]);
    if (late) {
      problems.push('processes still running after the script ended: killed');
      removeNamespaces(real);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // no process group left
      }
      child.stdout.destroy();
    }
  } finally {
    const left = removeNamespaces(real);
    if (left.length) notes.push(`namespaces the script did not delete: ${left.join(' ')} (removed)`);
    fs.rmSync(tmp, { recursive: true, force: true });
    running = undefined;
  }
  return { raw: unprefixNamespaces(Buffer.concat(chunks).toString('utf8'), names), exitStatus, problems, notes };
}

// ---------------------------------------------------------------------------------------------------------------
// the command line

function lock(): () => void {
  return pidLock(LOCK, 10, 'lab recorder');
}

function preflight(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new UsageError('record-labs: must run as root on Linux (it builds network namespaces and reads /dev/kmsg); try sudo');
  }
  const missing = TOOLS.filter((t) => sh(['sh', '-c', `command -v ${t}`]).status !== 0);
  if (!fs.existsSync(NF_LOG_ALL_NETNS)) missing.push(`${NF_LOG_ALL_NETNS} (nf_log)`);
  if (missing.length) throw new UsageError(`record-labs: missing ${missing.join(', ')}\n  apt-get install -y ${APT}`);
  const v = sh(['iptables', '-V']).stdout.trim();
  if (!/^iptables v1\.8\.9 \(nf_tables\)$/.test(v)) throw new UsageError(`record-labs: iptables -V says "${v}", expected iptables v1.8.9 (nf_tables)`);
  const nc = sh(['sh', '-c', 'readlink -f "$(command -v nc)"']).stdout.trim();
  if (!/openbsd/.test(nc)) throw new UsageError(`record-labs: nc is ${nc}, expected netcat-openbsd`);
}

const firstLine = (s: string): string => s.split('\n').find((l) => l.trim()) ?? '';
function toolVersions(): Record<string, string> {
  const dpkg = (pkg: string): string => sh(['dpkg-query', '-W', '-f', '${Version}', pkg]).stdout.trim();
  return {
    bash: firstLine(sh(['bash', '--version']).stdout),
    iproute2: firstLine(sh(['ip', '-V']).stdout),
    ping: firstLine(sh(['ping', '-V']).stdout),
    nc: `netcat-openbsd ${dpkg('netcat-openbsd')}`,
    curl: firstLine(sh(['curl', '--version']).stdout),
    tcpdump: firstLine(sh(['tcpdump', '--version']).stdout + sh(['tcpdump', '--version']).stderr),
    conntrack: firstLine(sh(['conntrack', '--version']).stdout + sh(['conntrack', '--version']).stderr),
    nft: firstLine(sh(['nft', '--version']).stdout),
  };
}

/**
 * Sysctls of the host that a fresh namespace starts from: the IPv4 device settings (devconf_inherit_init_net 0) and
 * the TCP buffer sizes (copied from the first namespace; tcp_rmem's maximum sets the window scale in tcpdump lines).
 */
const INHERITED = [
  'net.core.devconf_inherit_init_net',
  'net.ipv4.ip_forward',
  'net.ipv4.conf.all.rp_filter',
  'net.ipv4.conf.default.rp_filter',
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
];
function hostSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of INHERITED) {
    try {
      out[k] = fs.readFileSync(`/proc/sys/${k.replace(/\./g, '/')}`, 'utf8').trim().replace(/\s+/g, ' ');
    } catch {
      out[k] = '?';
    }
  }
  return out;
}

/** The first lines where two transcripts differ, with a little context. */
export function firstDifference(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  if (i === x.length && i === y.length) return '';
  const show = (l: string[]): string => l.slice(Math.max(0, i - 2), i + 3).map((s, k) => `    ${Math.max(0, i - 2) + k + 1}: ${s}`).join('\n');
  return `first difference at line ${i + 1}\n  run 1:\n${show(x)}\n  run 2:\n${show(y)}`;
}

interface Options {
  out: string;
  runs: number;
  print: 'masked' | 'raw' | null;
  quiet: boolean;
  files: string[];
}

function parseArgs(args: string[]): Options {
  const o: Options = { out: DEFAULT_OUT, runs: 1, print: null, quiet: false, files: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') o.out = args[++i] ?? '';
    else if (a === '--runs') o.runs = Number(args[++i]);
    else if (a === '--print') o.print = 'masked';
    else if (a === '--raw') o.print = 'raw';
    else if (a === '--quiet') o.quiet = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npx tsx scripts/record-labs.ts [--out DIR] [--runs N] [--print | --raw] [--quiet] [LAB.sh...]\n');
      process.exit(0);
    } else if (a.startsWith('-')) throw new UsageError(`record-labs: unknown option ${a}`);
    else o.files.push(a);
  }
  if (o.out === '') throw new UsageError('record-labs: --out needs a directory');
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new UsageError('record-labs: --runs needs a positive number');
  if (o.files.length === 0) {
    o.files = fs
      .readdirSync(LABS)
      .filter((f) => f.endsWith('.sh'))
      .sort()
      .map((f) => path.join(LABS, f));
  }
  for (const f of o.files) if (!fs.existsSync(f)) throw new UsageError(`record-labs: ${f}: no such file`);
  return o;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const o = parseArgs(args);
  preflight();
  const unlock = lock();
  const nfLogBefore = fs.readFileSync(NF_LOG_ALL_NETNS, 'utf8').trim();
  // Another recorder that puts nf_log_all_netns back to 0 while a lab runs would silence its LOG rules: keep it at 1.
  const keeper = setInterval(() => {
    try {
      if (fs.readFileSync(NF_LOG_ALL_NETNS, 'utf8').trim() !== '1') fs.writeFileSync(NF_LOG_ALL_NETNS, '1\n');
    } catch {
      // checked again in a moment
    }
  }, 100);
  const restore = (): void => {
    clearInterval(keeper);
    if (running) {
      if (running.child) {
        try {
          process.kill(-running.child, 'SIGKILL');
        } catch {
          // gone
        }
      }
      removeNamespaces(running.namespaces);
      fs.rmSync(running.tmp, { recursive: true, force: true });
    }
    fs.writeFileSync(NF_LOG_ALL_NETNS, `${nfLogBefore}\n`);
    unlock();
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    restore();
    process.exit(128 + (os.constants.signals[sig] ?? 0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  let failures = 0;
  try {
    fs.writeFileSync(NF_LOG_ALL_NETNS, '1\n');
    const header = {
      kernel: sh(['uname', '-r']).stdout.trim(),
      iptables: sh(['iptables', '-V']).stdout.trim(),
      tools: toolVersions(),
      hostSysctls: hostSysctls(),
    };
    fs.mkdirSync(o.out, { recursive: true });
    for (const file of o.files) {
      const name = path.basename(file, '.sh');
      const t0 = Date.now();
      const runs: Array<RunResult & { masked: string }> = [];
      for (let k = 0; k < o.runs; k++) {
        // Another tool may have put nf_log_all_netns back to 0 meanwhile: without it the namespaces log nothing.
        fs.writeFileSync(NF_LOG_ALL_NETNS, '1\n');
        const r = await runLab(file);
        runs.push({ ...r, masked: maskTranscript(r.raw) });
        for (const n of [...r.problems, ...r.notes]) process.stderr.write(`record-labs: ${name}: ${n}\n`);
      }
      const first = runs[0]!;
      if (o.print) process.stdout.write(`----- ${name}\n${o.print === 'raw' ? first.raw : first.masked}-----\n`);
      if (runs.some((r) => r.problems.length > 0)) {
        failures++;
        process.stderr.write(`record-labs: ${name}: not written (see above)\n`);
        continue;
      }
      const bad = runs.findIndex((r) => r.masked !== first.masked || r.exitStatus !== first.exitStatus);
      if (bad > 0) {
        failures++;
        process.stderr.write(
          `record-labs: ${name}: run ${bad + 1} differs from run 1 (exit ${runs[bad]!.exitStatus} vs ${first.exitStatus}); not written\n` +
            `${firstDifference(first.masked, runs[bad]!.masked)}\n`,
        );
        continue;
      }
      const rec: LabRecord = {
        recordedWith: {
          kernel: header.kernel,
          iptables: header.iptables,
          date: new Date().toISOString(),
          command: `bash ${path.basename(file)} (namespaces ${labNamespaces(fs.readFileSync(file, 'utf8')).join(' ') || '-'} run as tsi-*; scripts/record-labs.ts)`,
          tools: header.tools,
          hostSysctls: header.hostSysctls,
        },
        script: path.basename(file),
        transcript: first.masked,
        exitStatus: first.exitStatus,
      };
      const target = path.join(o.out, `${name}.json`);
      fs.writeFileSync(target, `${JSON.stringify(rec, null, 2)}\n`);
      if (!o.quiet) {
        const lines = first.masked.split('\n').length - 1;
        process.stdout.write(`${path.relative(process.cwd(), file)} -> ${path.relative(process.cwd(), target)}: exit ${first.exitStatus}, ${lines} lines, ${o.runs} run(s) alike (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
      }
    }
  } finally {
    restore();
  }
  const ours = new Set(o.files.flatMap((f) => labNamespaces(fs.readFileSync(f, 'utf8')).map((n) => `tsi-${n}`)));
  const left = netnsList().filter((n) => ours.has(n));
  if (left.length) {
    process.stderr.write(`record-labs: namespaces left: ${left.join(' ')}\n`);
    failures++;
  }
  return failures ? 1 : 0;
}

const isMain = ((): boolean => {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return fs.realpathSync(script) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (isMain) {
  main().then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${e.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`record-labs: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
