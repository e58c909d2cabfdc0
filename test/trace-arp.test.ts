/**
 * `tsiptables trace -p arp`: one ARP frame through a single host's chains that see it (netdev ingress/egress,
 * the arp family's input/output). Checked against the bridge-arp lab's real run
 * (fixtures/labs/recorded/bridge-arp.json): h2's `table arp watch`, loaded here as a single host, must log the
 * request it got from h1 and the reply it sent as the real kernel logged them, and count them as the real
 * `nft list ruleset` did (28 bytes in, 42 out). A netdev ingress chain with `policy drop` that accepts only
 * IPv4 drops the ARP and says why.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNft } from '../src/cli/nft';
import { runTrace } from '../src/cli/trace';
import { maskTranscript } from '../src/lab/mask';

const LABS = join(__dirname, '..', 'fixtures', 'labs');
const script = readFileSync(join(LABS, 'bridge-arp.sh'), 'utf8');
const recorded = (JSON.parse(readFileSync(join(LABS, 'recorded', 'bridge-arp.json'), 'utf8')) as { transcript: string }).transcript.split('\n');
const io = { stdin: (): string => '', isTTY: false, env: {} };

/** The here-document h2's ruleset is loaded from in the lab. */
function h2Ruleset(): string {
  const start = script.indexOf("ip netns exec h2 nft -f - <<'NFT'\n");
  expect(start).toBeGreaterThan(0);
  const body = script.slice(script.indexOf('\n', start) + 1);
  return body.slice(0, body.indexOf('\nNFT\n') + 1);
}

let dir: string;
let host: string;
let state: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-trace-arp-'));
  host = join(dir, 'host.txt');
  state = join(dir, 'rules.v4');
  writeFileSync(host, 'ip addr add 10.0.0.2/24 dev eth0\n');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function load(text: string): Promise<void> {
  const file = join(dir, 'ruleset.nft');
  writeFileSync(file, text);
  const r = await runNft(['--host', host, '-f', file], () => '', state);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

async function trace(args: string[]): Promise<{ stdout: string; stderr: string; status: number }> {
  const saved = process.env.TSIPTABLES_STATE;
  process.env.TSIPTABLES_STATE = state;
  try {
    return await runTrace(['--host', host, ...args], io);
  } finally {
    if (saved === undefined) delete process.env.TSIPTABLES_STATE;
    else process.env.TSIPTABLES_STATE = saved;
  }
}

/** A dmesg line as the recording masks it. */
const masked = (line: string): string => maskTranscript(`[    1.000000] ${line}`);

describe('trace -p arp against the bridge-arp lab', () => {
  it("logs h2's arp input and output lines as the real kernel did, and counts 28 and 42 bytes", async () => {
    await load(h2Ruleset());
    const inLine = await trace(['--dmesg', '--update-counters', '-p', 'arp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0']);
    expect(inLine.stderr).toBe('');
    const outLine = await trace(['--dmesg', '--update-counters', '-p', 'arp', '--arp-op', 'reply', '-s', '10.0.0.2', '-d', '10.0.0.1']);
    expect(outLine.stderr).toBe('');
    const got = [...inLine.stdout.trimEnd().split('\n'), ...outLine.stdout.trimEnd().split('\n')].map(masked);
    expect(got).toHaveLength(2);
    for (const l of got) expect(recorded).toContain(l);
    expect(got[0]).toMatch(/h2-arp-in IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 /);
    expect(got[1]).toMatch(/h2-arp-out IN= OUT=eth0 ARP HTYPE=1 PTYPE=0x0800 OPCODE=2 /);
    const list = await runNft(['list', 'ruleset'], () => '', state);
    // The real run counted 3 requests in (84 bytes) and 2 replies out (84 bytes): 28 and 42 a frame.
    expect(list.stdout).toContain('\t\tcounter packets 1 bytes 28\n\t\tarp daddr ip 10.0.0.2 counter packets 1 bytes 28\n');
    expect(list.stdout).toContain('\tchain out {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tcounter packets 1 bytes 42\n');
  });

  it('a request for another host passes the arp input chain without counting as one for h2', async () => {
    await load(h2Ruleset());
    const r = await trace(['--json', '--update-counters', '-p', 'arp', '-s', '10.0.0.1', '-d', '10.0.0.254', '-i', 'eth0']);
    expect(JSON.parse(r.stdout)).toMatchObject({ fate: 'delivered', in: 'eth0', packet: { proto: 'arp', src: '10.0.0.1', dst: '10.0.0.254', arp: { op: 'request', tha: '00:00:00:00:00:00' } } });
    const list = await runNft(['list', 'ruleset'], () => '', state);
    expect(list.stdout).toContain('\t\tcounter packets 1 bytes 28\n\t\tarp daddr ip 10.0.0.2 counter packets 0 bytes 0\n');
  });
});

describe('trace -p arp through a netdev ingress chain that accepts only IPv4', () => {
  const ddos = ['table netdev ddos {', '\tchain in {', '\t\ttype filter hook ingress device eth0 priority -500; policy drop;', '\t\tip saddr 10.0.0.0/24 accept', '\t}', '}', ''].join('\n');

  it('drops the ARP request at the policy and says the frame has no ip saddr; IPv4 from the same host passes', async () => {
    await load(ddos);
    const r = await trace(['-p', 'arp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0']);
    expect(r.status).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('packet arp request who-has 10.0.0.2 tell 10.0.0.1 arriving on eth0');
    expect(lines).toContain('    in handle 2 skipped: ip saddr 10.0.0.0/24 (the packet has no ip saddr)    (ip saddr 10.0.0.0/24 accept)');
    expect(lines).toContain('dropped: dropped by netdev ddos in policy DROP: no rule matched');
    // --monitor traces the frame from its first hook (as the recorded nft trace scenarios do): the dump names
    // its operation, and no rule ran to its end.
    const monitor = await trace(['--monitor', '-p', 'arp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0']);
    expect(monitor.stdout.replace(/ether saddr \S+ /, 'ether saddr <mac> ').split('\n')).toEqual([
      'trace id 00001000 netdev ddos in packet: iif "eth0" ether saddr <mac> ether daddr ff:ff:ff:ff:ff:ff arp operation request ',
      'trace id 00001000 netdev ddos in policy drop ',
      '',
    ]);
    const ping = await trace(['-p', 'icmp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0']);
    expect(ping.status).toBe(0);
  });

  it('refuses IP options on an ARP frame, --arp-op without -p arp, and a picture of one', async () => {
    await load(ddos);
    expect((await trace(['-p', 'arp', '--ttl', '3', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0'])).stderr).toMatch(/^tsiptables trace: -p arp: an ARP frame has no IP header/);
    expect((await trace(['-p', 'icmp', '--arp-op', 'reply', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0'])).stderr).toMatch(/^tsiptables trace: --arp-op needs -p arp/);
    const pic = await trace(['--html', join(dir, 'x.html'), '-p', 'arp', '-s', '10.0.0.1', '-d', '10.0.0.2', '-i', 'eth0']);
    expect(pic.status).toBe(2);
    expect(pic.stderr).toMatch(/an ARP frame is not drawn/);
  });
});
