/**
 * A single host with a bridge in its host file (`ip link add br0 type bridge`, `ip link set p1 master br0`,
 * `sysctl -w net.bridge.bridge-nf-call-iptables=N`): `tsiptables trace -i p1` takes the frame in by the port,
 * and bridges it out of another one, or passes it up the bridge device when it is for the host. Checked against
 * the bridge-nf lab's real run (fixtures/labs/recorded/bridge-nf.json): the switch's LOG lines in FORWARD
 * (`IN=br0 OUT=br0 PHYSIN=p1 PHYSOUT=p2`) and INPUT (with PHYSIN= when br_netfilter looked at the frame, without
 * when bridge-nf-call-iptables is 0), and no FORWARD line at all with 0.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIptables } from '../src/cli/main';
import { runTrace } from '../src/cli/trace';
import { maskTranscript } from '../src/lab/mask';

const recorded = (JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'labs', 'recorded', 'bridge-nf.json'), 'utf8')) as { transcript: string }).transcript.split('\n');
const io = { stdin: (): string => '', isTTY: false, env: {} };
const SWITCH = ['ip link add br0 type bridge', 'ip link set p1 master br0', 'ip link set p2 master br0', 'ip addr add 10.0.0.254/24 dev br0'];

let dir: string;
let state: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-trace-bridge-'));
  state = join(dir, 'rules.v4');
  // The switch's rules in the lab.
  for (const argv of [
    ['-A', 'FORWARD', '-p', 'icmp', '-j', 'LOG', '--log-prefix', 'sw-FWD '],
    ['-A', 'INPUT', '-p', 'icmp', '-j', 'LOG', '--log-prefix', 'sw-IN '],
  ]) {
    expect((await runIptables('tsiptables', argv, state)).status).toBe(0);
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function logLines(hostLines: string[], packet: string[]): Promise<string[]> {
  const host = join(dir, 'host.txt');
  writeFileSync(host, `${hostLines.join('\n')}\n`);
  const saved = process.env.TSIPTABLES_STATE;
  process.env.TSIPTABLES_STATE = state;
  try {
    const r = await runTrace(['--host', host, '--dmesg', ...packet], io);
    expect(r.stderr).toBe('');
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith('sw-'))
      .map((l) => maskTranscript(`[    1.000000] ${l}`));
  } finally {
    if (saved === undefined) delete process.env.TSIPTABLES_STATE;
    else process.env.TSIPTABLES_STATE = saved;
  }
}

describe('trace through a host-file bridge, against the bridge-nf lab', () => {
  it('bridge-nf-call-iptables=1 (the default): FORWARD logs IN=br0 OUT=br0 PHYSIN= PHYSOUT= as the kernel did, both ways', async () => {
    const there = await logLines(SWITCH, ['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'p1']);
    expect(there).toEqual([expect.stringContaining('sw-FWD IN=br0 OUT=br0 PHYSIN=p1 PHYSOUT=p2 ')]);
    expect(recorded).toContain(there[0]);
    const back = await logLines(SWITCH, ['-p', 'icmp', '--icmp-type', 'echo-request', '-s', '10.0.0.2', '-d', '10.0.0.1', '-i', 'p2', '-o', 'p1']);
    expect(recorded).toContain(back[0]);
    expect(back[0]).toContain('PHYSIN=p2 PHYSOUT=p1');
  });

  it('a frame for the switch goes up br0: INPUT logs PHYSIN=p1 with br_netfilter, none without; FORWARD sees nothing with 0', async () => {
    const up = await logLines(SWITCH, ['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.254', '-i', 'p1']);
    expect(up).toEqual([expect.stringContaining('sw-IN IN=br0 OUT= PHYSIN=p1 ')]);
    expect(recorded).toContain(up[0]);
    const off = [...SWITCH, 'sysctl -w net.bridge.bridge-nf-call-iptables=0'];
    const upOff = await logLines(off, ['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.254', '-i', 'p1']);
    expect(upOff).toEqual([expect.stringContaining('sw-IN IN=br0 OUT= MAC=')]);
    expect(recorded).toContain(upOff[0]);
    expect(await logLines(off, ['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'p1'])).toEqual([]);
  });

  it('refuses what is no bridge: -o without a bridge port, a port of no bridge, a master that is no bridge', async () => {
    const host = join(dir, 'host.txt');
    writeFileSync(host, `${SWITCH.join('\n')}\n`);
    const bad = async (hostText: string | undefined, packet: string[]): Promise<string> => {
      if (hostText !== undefined) writeFileSync(host, hostText);
      return (await runTrace(['--rules', '/dev/null', '--host', host, ...packet], io)).stderr;
    };
    expect(await bad(undefined, ['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'p1', '-o', 'p9'])).toMatch(/^tsiptables trace: -o p9: not another port of br0 \(its ports: p1, p2\)/);
    expect(await bad('ip addr add 10.0.0.254/24 dev eth0\n', ['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0', '-o', 'eth1'])).toMatch(/-o eth1: only a frame that comes in by a bridge port/);
    expect(await bad('ip link set p1 master br9\n', ['-p', 'icmp', '-d', '10.0.0.2'])).toMatch(/host file line 1: "br9" is no bridge/);
  });
});
