/**
 * The README's single-host nft example (fixtures/examples/nft-edge: the load balancer of the stateless NAT lab as
 * one host) through the CLI, in-process: the client's ping to 10.0.1.1 is rewritten at netdev ingress, bypasses
 * conntrack and is forwarded to the backend, as the lab's real run shows it (fixtures/labs/recorded/stateless-nat.json:
 * its `ip bypass forward` lines name rule `ct state untracked meta mark 0x00000001 ... accept`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNft } from '../src/cli/nft';
import { runTrace } from '../src/cli/trace';

const EX = 'fixtures/examples/nft-edge';
const HOST = join(EX, 'host.txt');
const PING = ['-p', 'icmp', '-s', '10.0.1.2', '-d', '10.0.1.1', '-i', 'eth0'];

let dir: string;
let saved: string | undefined;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-nft-example-'));
  saved = process.env.TSIPTABLES_STATE;
  process.env.TSIPTABLES_STATE = join(dir, 'rules.v4');
  const r = await runNft(['--host', HOST, '-f', join(EX, 'ruleset.nft')], () => '', process.env.TSIPTABLES_STATE);
  expect(r.status).toBe(0);
});
afterEach(() => {
  if (saved === undefined) delete process.env.TSIPTABLES_STATE;
  else process.env.TSIPTABLES_STATE = saved;
  rmSync(dir, { recursive: true, force: true });
});

const io = { isTTY: false, env: {}, stdin: (): string => '' };

test('the ping is rewritten at ingress, untracked and forwarded to the backend', async () => {
  const r = await runTrace(['--host', HOST, '--json', ...PING], io);
  const j = JSON.parse(r.stdout) as { fate: string; out: string; packet: { dst: string }; conntrack: { state: string }; trace: string[] };
  expect(j.fate).toBe('forwarded');
  expect(j.out).toBe('eth1');
  expect(j.packet.dst).toBe('10.0.2.2');
  expect(j.conntrack.state).toBe('UNTRACKED');
  expect(j.trace[j.trace.length - 1]).toBe('ip bypass:forward:rule:1');
});

test('--monitor prints the lb lines of the lab\'s real run for the same ping (the lab adds an iptables LOG chain)', async () => {
  const r = await runTrace(['--host', HOST, '--monitor', ...PING], io);
  const mask = (l: string): string => l.replace(/^trace id \S+ /, '').replace(/ether (saddr|daddr) \S+/g, 'ether $1 <mac>').replace(/ ip id \d+ /, ' ip id <id> ').replace(/ icmp id \S+ /, ' icmp id <id> ').replace(/ @th,64,96 \S+ /, ' @th,64,96 <hdr> ');
  const mine = r.stdout.split('\n').filter((l) => l !== '').map(mask);
  const rec = JSON.parse(readFileSync('fixtures/labs/recorded/stateless-nat.json', 'utf8')) as { transcript: string };
  const real = rec.transcript
    .split('\n')
    .filter((l) => l.startsWith('trace id ') && !l.includes(' ip filter FORWARD '))
    .slice(0, mine.length)
    .map((l) => mask(l.replace(/<mac>/g, 'x').replace(/<id>/g, '0').replace(/<hdr>/g, '0x0')));
  expect(mine.length).toBe(8);
  expect(mine).toEqual(real);
});
