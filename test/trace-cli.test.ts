/**
 * `tsiptables trace` as a command: the bundled router lab (fixtures/examples/router-lab, the same host, rules and
 * packets as the recorded scenario fixtures/traces/recorded/router-lab.json) through the CLI entry point, checked
 * against what the kernel did: the JSON contract, the --dmesg lines (line for line, MAC= aside), exit statuses,
 * the explained view, bad input, and --update-counters on the state file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrace } from '../src/cli/trace';
import { runIptables } from '../src/cli/main';
import type { TraceFixtureFile } from '../scripts/trace-fixture-format';

const LAB = 'fixtures/examples/router-lab';
const RULES = join(LAB, 'rules.txt');
const HOST = join(LAB, 'host.txt');
const PACKETS = join(LAB, 'packets.txt');
const recorded = (JSON.parse(readFileSync('fixtures/traces/recorded/router-lab.json', 'utf8')) as TraceFixtureFile).scenarios[0]!;
const io = { stdin: () => '', isTTY: false, env: {} as NodeJS.ProcessEnv };
const words = (line: string): string[] => line.split(' ');
const stripMac = (l: string): string => l.replace(/ MAC=\S*/, '');

test('the bundled example is the recorded router lab', () => {
  expect(readFileSync(HOST, 'utf8')).toBe(recorded.host);
  expect(readFileSync(RULES, 'utf8')).toBe(recorded.rules);
  expect(readFileSync(PACKETS, 'utf8')).toBe(recorded.packets.map((p) => p.packet + '\n').join(''));
});

test('--json --batch: one object per packet with the contract fields, agreeing with the kernel', async () => {
  const r = await runTrace(['--rules', RULES, '--host', HOST, '--json', '--batch', PACKETS], io);
  const objs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(objs).toHaveLength(recorded.packets.length);
  objs.forEach((o, i) => {
    const k = recorded.packets[i]!.kernel!;
    expect(Object.keys(o)).toEqual(expect.arrayContaining(['fate', 'in', 'out', 'reason', 'packet', 'trace', 'log']));
    expect({ fate: o['fate'], out: o['out'], packet: o['packet'], trace: o['trace'] }).toEqual({ fate: k.fate, out: k.out, packet: k.packet, trace: k.trace });
    // LOG lines as dmesg shows them, without the MAC= field.
    const kernelLogs = k.dmesg.filter((l) => !l.startsWith('TRACE: ')).map(stripMac);
    expect(o['log']).toEqual(kernelLogs);
  });
  // boxB's NEW packet is dropped: exit status 1 for the batch, "out": null.
  expect(r.status).toBe(1);
  expect(objs[5]).toMatchObject({ fate: 'dropped', out: null, packet: null, reason: 'policy' });
});

test('--dmesg: the TRACE and LOG lines the kernel printed, line for line (MAC aside)', async () => {
  for (const [i, p] of recorded.packets.entries()) {
    const lines = recorded.packets.slice(0, i + 1).map((q) => q.packet).join('\n') + '\n';
    const r = await runTrace(['--rules', RULES, '--host', HOST, '--dmesg', '--batch', '-'], { ...io, stdin: () => lines });
    const all = r.stdout.split('\n').slice(0, -1);
    const mine = all.slice(all.length - p.kernel!.dmesg.length).map(stripMac);
    expect(mine).toEqual(p.kernel!.dmesg.map(stripMac));
  }
});

test('exit status: 0 forwarded, 1 dropped, 2 bad input', async () => {
  const fwd = await runTrace(['--rules', RULES, '--host', HOST, '--json', ...words(recorded.packets[0]!.packet)], io);
  expect(fwd.status).toBe(0);
  const drop = await runTrace(['--rules', RULES, '--host', HOST, '--json', ...words('-p tcp -s 10.0.2.2 -d 10.0.1.2 --sport 50000 --dport 22 -i eth1')], io);
  expect(drop.status).toBe(1);
  const bad = await runTrace(['--rules', RULES, '--host', HOST, '-p', 'tcp', '-s', '10.0.0.300', '-d', '10.0.1.1'], io);
  expect(bad).toMatchObject({ status: 2, stdout: '' });
  expect(bad.stderr).toContain('-s: "10.0.0.300" is not an IPv4 address');
  const noIface = await runTrace(['--rules', RULES, '--host', HOST, ...words('-p udp -s 10.0.9.9 -d 10.0.1.1 -i eth7')], io);
  expect(noIface.status).toBe(2);
  expect(noIface.stderr).toContain('-i eth7: the host has no such interface');
});

test('a bad host file line is named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsi-trace-'));
  try {
    writeFileSync(join(dir, 'host'), 'ip addr add 10.0.0.1/24 dev eth0\nip route add 10.9.0.0/16 via 10.0.0.254\nip link sett eth0 up\n');
    const r = await runTrace(['--rules', RULES, '--host', join(dir, 'host'), ...words('-p icmp -s 10.0.0.2 -d 10.0.0.1 -i eth0')], io);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('host file line 3: unknown command');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the explained view names the deciding rule, the criteria that failed and the closest accepting rule', async () => {
  const r = await runTrace(['--rules', RULES, '--host', HOST, '--no-color', ...words('-p tcp -s 10.0.2.2 -d 10.0.1.2 --sport 50000 --dport 22 -i eth1')], io);
  expect(r.stdout).toContain('FORWARD #3 skipped: -i eth0: packet came in on eth1');
  expect(r.stdout).toContain('FORWARD #2 skipped: --ctstate RELATED,ESTABLISHED: connection is NEW');
  expect(r.stdout).toMatch(/dropped: dropped by filter FORWARD policy DROP: no rule matched; rule \d would have accepted it but /);
  const dnat = await runTrace(['--rules', RULES, '--host', HOST, '--no-color', ...words(recorded.packets[2]!.packet)], io);
  expect(dnat.stdout).toContain('DNAT: 10.0.1.2:40000 -> 10.0.1.1:8800 => 10.0.1.2:40000 -> 10.0.2.2:80');
  expect(dnat.stdout).toContain('SNAT: 10.0.1.2:40000 -> 10.0.2.2:80 => 10.0.2.1:40000 -> 10.0.2.2:80');
  expect(dnat.stdout).toContain('forwarded: forwarded out eth1');
});

test('--update-counters adds the packet to the state file counters', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsi-trace-'));
  const saved = process.env['TSIPTABLES_STATE'];
  process.env['TSIPTABLES_STATE'] = join(dir, 'rules.v4');
  try {
    await runIptables('tsiptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'ACCEPT']);
    const r = await runTrace(['--host', HOST, '--update-counters', '--json', ...words('-p tcp -s 10.0.1.2 -d 10.0.1.1 --dport 22 -i eth0 --len 60')], io);
    expect(r.status).toBe(0);
    const listed = await runIptables('tsiptables', ['-S', 'INPUT', '-v']);
    expect(listed.stdout).toContain('-A INPUT -p tcp -m tcp --dport 22 -c 1 60 -j ACCEPT');
  } finally {
    if (saved === undefined) delete process.env['TSIPTABLES_STATE'];
    else process.env['TSIPTABLES_STATE'] = saved;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a packet meeting random picks gets every outcome with its probability (kube-proxy endpoints)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsi-trace-'));
  try {
    writeFileSync(
      join(dir, 'rules'),
      [
        '*nat',
        ':PREROUTING ACCEPT [0:0]',
        ':INPUT ACCEPT [0:0]',
        ':OUTPUT ACCEPT [0:0]',
        ':POSTROUTING ACCEPT [0:0]',
        ':SVC - [0:0]',
        '-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j SVC',
        '-A SVC -p tcp -m statistic --mode random --probability 0.33333333349 -j DNAT --to-destination 10.1.0.1:8080',
        '-A SVC -p tcp -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.1.0.2:8080',
        '-A SVC -p tcp -j DNAT --to-destination 10.1.0.3:8080',
        'COMMIT',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'host'), 'ip addr add 10.0.0.1/24 dev eth0\nip addr add 10.1.0.254/24 dev eth1\nsysctl -w net.ipv4.ip_forward=1\n');
    const r = await runTrace(['--rules', join(dir, 'rules'), '--host', join(dir, 'host'), '--json', ...words('-p tcp -s 10.0.0.2 -d 10.96.0.10 --dport 80 -i eth0')], io);
    const o = JSON.parse(r.stdout) as { branches: Array<{ probability: number; packet: { dst: string } }> };
    const byDst = Object.fromEntries(o.branches.map((b) => [b.packet.dst, b.probability]));
    expect(Object.keys(byDst).sort()).toEqual(['10.1.0.1', '10.1.0.2', '10.1.0.3']);
    for (const p of Object.values(byDst)) expect(p).toBeCloseTo(1 / 3, 5);
    // --assume forces one answer for the printed trace.
    const forced = await runTrace(['--rules', join(dir, 'rules'), '--host', join(dir, 'host'), '--json', '--assume', 'statistic=no', ...words('-p tcp -s 10.0.0.2 -d 10.96.0.10 --dport 80 -i eth0')], io);
    expect((JSON.parse(forced.stdout) as { packet: { dst: string } }).packet.dst).toBe('10.1.0.3');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an ICMP error quotes the latest packet it answers however long the batch (no window of recent packets)', async () => {
  const lines = ['-p udp -s 10.0.1.2 -d 10.0.2.2 --sport 5000 --dport 53 -i eth0'];
  for (let i = 0; i < 200; i++) lines.push(`-p udp -s 10.0.1.3 -d 10.0.2.9 --sport ${6000 + i} --dport 53 -i eth0`);
  // boxB's port unreachable for the first packet: addressed to the router's MASQUERADE address, as boxB saw it.
  lines.push('-p icmp -s 10.0.2.2 -d 10.0.2.1 --icmp-type port-unreachable -i eth1');
  const r = await runTrace(['--rules', RULES, '--host', HOST, '--json', '--batch', '-'], { ...io, stdin: () => lines.join('\n') + '\n' });
  const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { fate: string; conntrack: { state: string }; packet: { dst: string } };
  expect(last).toMatchObject({ fate: 'forwarded', conntrack: { state: 'RELATED' }, packet: { dst: '10.0.1.2' } });
});
