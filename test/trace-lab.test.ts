/**
 * `tsiptables trace --lab SCRIPT --from NS PACKET`: one packet through the hosts a lab script builds. Its kernel
 * log lines must be the ones the real kernel wrote for the same packet in the recorded run of the lab
 * (fixtures/labs/recorded/router-nat.json: curl's SYN to the DNATed port and the SYN-ACK coming back), and the
 * explained view must name each host crossed.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTrace } from '../src/cli/trace';
import { maskTranscript } from '../src/lab/mask';

const LAB = join(__dirname, '..', 'fixtures', 'labs', 'router-nat.sh');
const recorded = (JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'labs', 'recorded', 'router-nat.json'), 'utf8')) as { transcript: string }).transcript;
const io = { stdin: () => '', isTTY: false, env: {} };

/** The kernel log lines of the recorded run (dmesg's part of the transcript), masked. */
const recordedLog = recorded.split('\n').filter((l) => l.startsWith('[<time>] '));

describe('trace --lab', () => {
  it("logs what the real kernel logged for the lab's SYN to the DNATed port and the SYN-ACK", async () => {
    // The SYN as curl sent it: 60 bytes with its TCP options, window 64240.
    const r = await runTrace(['--lab', LAB, '--from', 'boxA', '--dmesg', '-p', 'tcp', '-d', '10.0.1.1', '--dport', '8800', '--len', '60'], io);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // As dmesg shows them (a timestamp first), masked as the recorded transcript is.
    const got = maskTranscript(
      r.stdout
        .replace(/\n$/, '')
        .split('\n')
        .map((l) => `[    1.000000] ${l}`)
        .join('\n'),
    ).split('\n');
    // 7 lines for the SYN on the router (raw, mangle, nat PREROUTING; mangle, filter FORWARD; mangle, nat POSTROUTING),
    // 5 for the SYN-ACK (no nat: the connection exists).
    expect(got).toHaveLength(12);
    const start = recordedLog.indexOf(got[0]!);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(recordedLog.slice(start, start + got.length)).toEqual(got);
  });

  it('explains the packet host by host, then the answer', async () => {
    const r = await runTrace(['--lab', LAB, '--from', 'boxA', '--no-color', '-p', 'tcp', '-d', '10.0.1.1', '--dport', '8800'], io);
    expect(r.stdout.split('\n').slice(0, 4)).toEqual([
      'path: boxA (sent out eth0) -> router (forwarded out eth1) -> boxB (delivered)',
      'result: delivered in boxB',
      'answer: boxB (sent out eth0) -> router (forwarded out eth0) -> boxA (delivered)',
      'answer result: delivered in boxA',
    ]);
    expect(r.stdout).toContain('DNAT: 10.0.1.2:40000 -> 10.0.1.1:8800 => 10.0.1.2:40000 -> 10.0.2.2:80');
    expect(r.stdout).toContain('SNAT: 10.0.1.2:40000 -> 10.0.2.2:80 => 10.0.2.1:40000 -> 10.0.2.2:80');
  });

  it('a packet the FORWARD policy drops ends there, exit 1; JSON names the hosts', async () => {
    const r = await runTrace(['--lab', LAB, '--from', 'boxB', '--json', '-p', 'icmp', '-d', '10.0.1.2'], io);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as { request: Array<{ host: string; fate: string }>; reply: unknown[] };
    // boxB has no route to 10.0.1.0/24 until the lab adds one with its traffic; the setup-only run keeps that route.
    expect(j.request.map((h) => `${h.host}:${h.fate}`)).toEqual(['boxB:sent', 'router:dropped']);
    expect(j.reply).toEqual([]);
  });

  it('names the chain that dropped the ARP a packet waited for (fixtures/labs/bridge-arp.sh with its ARP drop rule)', async () => {
    const arpLab = readFileSync(join(__dirname, '..', 'fixtures', 'labs', 'bridge-arp.sh'), 'utf8');
    const at = arpLab.indexOf('# 4.');
    expect(at).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'tsi-trace-lab-'));
    try {
      const file = join(dir, 'arp-drop.sh');
      writeFileSync(file, `${arpLab.slice(0, at)}ip netns exec sw nft insert rule bridge filter forward arp operation request arp daddr ip 10.0.0.3 drop\n`);
      const r = await runTrace(['--lab', file, '--from', 'h1', '-p', 'icmp', '-d', '10.0.0.3'], io);
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n')[1]).toBe('result: lost after h1: no neighbour answers ARP for 10.0.0.3 on eth0 (the ARP request was dropped by bridge filter forward rule 1 in sw)');
      // h2 has a neighbour the bridge lets it resolve.
      const ok = await runTrace(['--lab', file, '--from', 'h1', '-p', 'icmp', '-d', '10.0.0.2'], io);
      expect(ok.stdout.split('\n')[1]).toBe('result: delivered in h2');
      // A drop on the way to a host that does not have the address explains nothing: not named.
      writeFileSync(file, `${arpLab.slice(0, at)}ip netns exec sw nft insert rule bridge filter forward oifname p3 arp operation request drop\n`);
      const nobody = await runTrace(['--lab', file, '--from', 'h1', '-p', 'icmp', '-d', '10.0.0.99'], io);
      expect(nobody.stdout.split('\n')[1]).toBe('result: lost after h1: no neighbour answers ARP for 10.0.0.99 on eth0');
      const h3 = await runTrace(['--lab', file, '--from', 'h1', '-p', 'icmp', '-d', '10.0.0.3'], io);
      expect(h3.stdout.split('\n')[1]).toBe('result: lost after h1: no neighbour answers ARP for 10.0.0.3 on eth0 (the ARP request was dropped by bridge filter forward rule 1 in sw)');
      // Over a veth: the router's arp input chain drops boxA's request for its gateway.
      const routerLab = readFileSync(LAB, 'utf8');
      const cut = routerLab.indexOf('ip netns exec boxA ping');
      writeFileSync(file, `${routerLab.slice(0, cut)}ip netns exec router nft add table arp a\nip netns exec router nft 'add chain arp a in { type filter hook input priority 0; policy drop; }'\n`);
      const veth = await runTrace(['--lab', file, '--from', 'boxA', '-p', 'icmp', '-d', '10.0.2.2'], io);
      expect(veth.stdout.split('\n')[1]).toBe('result: lost after boxA: no neighbour answers ARP for 10.0.1.1 on eth0 (the ARP request was dropped by arp a in policy DROP in router)');
      // -p arp is no packet a lab traces.
      const arp = await runTrace(['--lab', file, '--from', 'boxA', '-p', 'arp', '-d', '10.0.1.1'], io);
      expect(arp.status).toBe(2);
      expect(arp.stderr).toMatch(/-p arp: a lab resolves neighbours itself/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what it cannot trace with a clear message', async () => {
    const r = await runTrace(['--lab', LAB, '--from', 'nosuch', '-p', 'icmp', '-d', '10.0.1.2'], io);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--from nosuch: the lab has no namespace "nosuch" \(it has boxA, router, boxB\)/);
    const r2 = await runTrace(['--lab', LAB, '-p', 'icmp', '-d', '10.0.1.2'], io);
    expect(r2.stderr).toMatch(/--lab needs --from NS/);
  });
});
