/**
 * trace-bench.ts - packets per second of `tsiptables trace --batch` on kube-proxy style rulesets.
 *
 *   npx tsx bench/trace-bench.ts [--services N] [--packets N] [--reps N]
 *
 * Generates the dump (bench/gen-kube-proxy.ts), a host (one interface holding every address, forwarding on)
 * and a batch of new TCP connections from pods to random service cluster IPs, then times the real CLI
 * (`bin/tsiptables trace --json --batch`, its output read through a pipe) end to end, once with one packet
 * (start-up + loading the ruleset) and once with the whole batch; packets/s = (N - 1) / (difference). With
 * --reps N it does so N times; the machine's other work only ever slows a run down, so the fastest one-packet
 * run and the fastest batch run are the best estimates of each, and packets/s is taken from those two (each
 * rep's own figure is reported too: a rep whose one-packet run was slowed shows a figure too high, one whose
 * batch was slowed one too low).
 * No assertion: it only reports. bench.ts calls benchTrace() for the `npm run bench` table.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, generate } from './gen-kube-proxy';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface TraceBenchResult {
  services: number;
  rules: number;
  packets: number;
  /** Wall seconds of the fastest one-packet run (start-up + load) and of the fastest batch run. */
  oneS: number;
  batchS: number;
  /** Packets/s from those two, and each rep's own (its batch against its own one-packet run). */
  packetsPerSecond: number;
  runs: number[];
  /** Fates of the batch (delivered/forwarded/sent/dropped counts). */
  fates: Record<string, number>;
}

/** Service cluster IPs and ports of a kube-proxy dump (`-A KUBE-SERVICES -d IP/32 -p tcp ... --dport P`). */
function services(dump: string): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const re = /^-A KUBE-SERVICES .*-p tcp -d (\S+?)(?:\/32)? --dport (\d+) -j KUBE-SVC-/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(dump)) !== null) out.push([m[1]!, Number(m[2])]);
  return out;
}

/**
 * Runs the CLI, its output read through a pipe. The output is kept as bytes while the clock runs: decoding a
 * batch's 170 MB of JSON into a string is this script's work, not the tool's.
 */
function runCli(args: string[]): { s: number; stdout: Buffer; code: number } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tsiptables'), ...args], { maxBuffer: 1 << 30 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0 && r.status !== 1) throw new Error(`tsiptables trace failed (${r.status}): ${r.stderr.toString('utf8')}`);
  return { s, stdout: r.stdout, code: r.status ?? -1 };
}

export function benchTrace(serviceCount: number, packetCount: number, reps = 1): TraceBenchResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsi-trace-bench-'));
  try {
    const dump = generate({ ...DEFAULT_OPTIONS, services: serviceCount });
    const rules = dump.split('\n').filter((l) => l.startsWith('-A ')).length;
    fs.writeFileSync(path.join(dir, 'rules'), dump);
    fs.writeFileSync(path.join(dir, 'host'), 'ip addr add 10.0.0.10/8 dev eth0\nip addr add 192.168.0.10/16 dev eth1\nip addr add 172.16.0.10/12 dev eth2\nsysctl -w net.ipv4.ip_forward=1\n');
    const svc = services(dump);
    if (svc.length === 0) throw new Error('no services found in the generated dump');
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const lines: string[] = [];
    for (let i = 0; i < packetCount; i++) {
      const [ip, port] = svc[rnd(svc.length)]!;
      lines.push(`-p tcp -s 192.168.${1 + rnd(250)}.${1 + rnd(250)} -d ${ip} --sport ${1024 + (i % 60000)} --dport ${port} -i eth1`);
    }
    fs.writeFileSync(path.join(dir, 'one'), lines[0]! + '\n');
    fs.writeFileSync(path.join(dir, 'batch'), lines.join('\n') + '\n');
    const base = ['trace', '--rules', path.join(dir, 'rules'), '--host', path.join(dir, 'host'), '--json', '--batch'];
    const runs: Array<{ oneS: number; batchS: number; pps: number }> = [];
    let out: Buffer = Buffer.alloc(0);
    for (let r = 0; r < reps; r++) {
      const oneS = runCli([...base, path.join(dir, 'one')]).s;
      const b = runCli([...base, path.join(dir, 'batch')]);
      runs.push({ oneS, batchS: b.s, pps: (packetCount - 1) / Math.max(b.s - oneS, 1e-6) });
      out = b.stdout;
    }
    const fates: Record<string, number> = {};
    for (const l of out.toString('latin1').split('\n')) {
      const m = /^\{"fate":"(\w+)"/.exec(l);
      if (m) fates[m[1]!] = (fates[m[1]!] ?? 0) + 1;
    }
    const oneS = Math.min(...runs.map((r) => r.oneS));
    const batchS = Math.min(...runs.map((r) => r.batchS));
    const pps = (packetCount - 1) / Math.max(batchS - oneS, 1e-6);
    return { services: serviceCount, rules, packets: packetCount, oneS, batchS, packetsPerSecond: pps, runs: runs.map((r) => Math.round(r.pps)), fates };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTraceBench(rs: readonly TraceBenchResult[]): string {
  const rows = rs.map(
    (r) =>
      `  trace --batch  ${String(r.services).padStart(6)} services ${String(r.rules).padStart(7)} rules  ${String(r.packets).padStart(7)} packets: ${r.batchS.toFixed(2)} s (start-up+load ${r.oneS.toFixed(2)} s) => ${Math.round(r.packetsPerSecond).toLocaleString('en-US')} packets/s` +
      `${r.runs.length > 1 ? ` (fastest of ${r.runs.length} each; the reps alone: ${r.runs.map((x) => x.toLocaleString('en-US')).join(', ')})` : ''}  fates ${JSON.stringify(r.fates)}`,
  );
  return rows.join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number): number => {
    const i = argv.indexOf(name);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const reps = opt('--reps', 1);
  const packets = opt('--packets', 20000);
  const svcArg = argv.indexOf('--services');
  const list = svcArg >= 0 ? [Number(argv[svcArg + 1])] : [10, 10000];
  const results = list.map((n) => benchTrace(n, packets, reps));
  process.stdout.write(formatTraceBench(results));
}
