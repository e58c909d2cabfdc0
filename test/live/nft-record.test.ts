/**
 * Live suite (root, the real nft 1.0.6): re-records every nft corpus into a temporary directory with
 * scripts/record-nft.ts, checks that nft still answers exactly as the committed recordings say (provenance
 * dates and kernel aside) and leaves no tsi-nft- namespace behind, then replays today's recording against
 * tsiptables for every case of test/baselines/nft-agreeing.json. Last, a differential run: generated rulesets
 * (fixed seed) go through the real nft in a tsi- namespace and through tsiptables, and must print the same.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { NftRuleset, rulesetText, runNftText } from '../../src/nft/index';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordedFile } from '../../scripts/fixture-format';
import { expectedStderr, replayStep } from '../support/nft-replay';

const out = mkdtempSync(join(tmpdir(), 'tsi-nft-live-'));
const committed = join(process.cwd(), 'fixtures', 'nft', 'recorded');
const agreeing = new Set<string>(JSON.parse(readFileSync('test/baselines/nft-agreeing.json', 'utf8')) as string[]);

afterAll(() => rmSync(out, { recursive: true, force: true }));

function read(dir: string, f: string): RecordedFile {
  return JSON.parse(readFileSync(join(dir, f), 'utf8')) as RecordedFile;
}

test('the recorder runs against the real nft and leaves no namespace behind', () => {
  execFileSync('npx', ['tsx', 'scripts/record-nft.ts', '--out', out, '--quiet'], { stdio: 'inherit', timeout: 600_000 });
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('tsi-nft-'));
  expect(left).toEqual([]);
}, 620_000);

test('the real nft still answers as the committed recordings say', () => {
  const files = readdirSync(committed).filter((f) => f.endsWith('.json')).sort();
  expect(readdirSync(out).filter((f) => f.endsWith('.json')).sort()).toEqual(files);
  for (const f of files) expect({ file: f, cases: read(out, f).cases }).toEqual({ file: f, cases: read(committed, f).cases });
});

test("tsiptables nft agrees with today's recording on every baseline case", async () => {
  const failures: string[] = [];
  for (const f of readdirSync(out).filter((x) => x.endsWith('.json'))) {
    const base = f.replace(/\.json$/, '');
    for (const c of read(out, f).cases) {
      const id = `${base}: ${c.name}`;
      if (!agreeing.has(id)) continue;
      const dir = mkdtempSync(join(tmpdir(), 'tsi-nft-'));
      try {
        for (const step of c.steps) {
          const r = await replayStep(step, join(dir, 'rules.v4'));
          if (r.stdout !== step.stdout || r.stderr !== expectedStderr(step) || r.status !== step.exit) {
            failures.push(`${id}: ${step.cmd}`);
            break;
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  expect(failures).toEqual([]);
});

// Generated rulesets: IPv6, ICMP types, tcp flag masks, interval sets, mark arithmetic, limits, log levels and
// flags, NAT with flags, concatenations, vmaps, fib and more, in one inet table (a nat base chain and a target).
const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const prefix = fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`);
const hex4 = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv6 = fc.oneof(fc.array(hex4, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')), fc.tuple(hex4, hex4).map(([a, b]) => `${a}::${b}`), fc.constant('::1'), fc.tuple(hex4, fc.integer({min:0,max:128})).map(([a,n]) => `${a}::/${n}`));
const port = fc.integer({ min: 0, max: 65535 }).map(String);
const mark = fc.integer({ min: 0, max: 0xffffffff }).map((n) => `0x${n.toString(16)}`);
const verdict = fc.constantFrom('accept', 'drop', 'return', 'continue', '', 'jump other', 'goto other');
const flags = fc.subarray(['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ecn', 'cwr'], { minLength: 1 }).map((s) => s.join(','));
const icmpT = fc.constantFrom('echo-request', 'echo-reply', 'destination-unreachable', 'time-exceeded', 'redirect', 'parameter-problem', 'router-advertisement');
const icmp6T = fc.constantFrom('echo-request', 'echo-reply', 'nd-neighbor-solicit', 'nd-router-advert', 'packet-too-big', 'mld-listener-query');
const rule = fc.oneof(
  fc.tuple(ipv6, verdict).map(([a, v]) => `ip6 saddr ${a} ${v}`),
  fc.tuple(fc.array(ipv6, { minLength: 1, maxLength: 4 }), verdict).map(([a, v]) => `ip6 daddr { ${a.join(', ')} } ${v}`),
  fc.tuple(fc.array(icmp6T, { minLength: 1, maxLength: 4 }), verdict).map(([a, v]) => `icmpv6 type { ${[...new Set(a)].join(', ')} } ${v}`),
  fc.tuple(fc.array(icmpT, { minLength: 1, maxLength: 4 }), verdict).map(([a, v]) => `icmp type { ${[...new Set(a)].join(', ')} } ${v}`),
  fc.tuple(flags, flags, verdict).map(([a, b, v]) => `tcp flags & (${b.replace(/,/g, '|')}) == ${a.split(',')[0]} ${v}`),
  fc.tuple(flags, verdict).map(([a, v]) => `tcp flags ${a} ${v}`),
  fc.tuple(fc.array(fc.oneof(prefix, ipv4), { minLength: 1, maxLength: 4 }), verdict).map(([a, v]) => `ip saddr { ${a.join(', ')} } ${v}`),
  fc.tuple(fc.array(fc.tuple(port, fc.integer({min:0,max:100})).map(([p, n]) => `${p}-${Math.min(65535, Number(p) + n)}`), { minLength: 1, maxLength: 3 }), verdict).map(([a, v]) => `udp dport { ${a.join(', ')} } ${v}`),
  fc.tuple(mark, mark).map(([a, b]) => `meta mark set meta mark & ${a} | ${b}`),
  fc.tuple(mark).map(([a]) => `ct mark set ct mark | ${a}`),
  fc.tuple(fc.integer({min:1,max:100}), fc.constantFrom('second','minute'), fc.integer({min:1,max:20}), fc.constantFrom('packets','bytes')).map(([n,u,b,k]) => `limit rate ${n}/${u} burst ${b} ${k} accept`),
  fc.tuple(fc.constantFrom('emerg','alert','crit','err','warn','notice','info','debug'), fc.constantFrom('', ' flags tcp sequence', ' flags all', ' flags ip options')).map(([l, f]) => `log level ${l}${f}`),
  fc.tuple(ipv4, port, fc.constantFrom('', ' random', ' persistent', ' random,persistent', ' fully-random')).map(([a, p, f]) => `tcp dport ${p} dnat to ${a}:${p}${f}`),
  fc.tuple(ipv4, fc.constantFrom('', ' persistent')).map(([a, f]) => `snat to ${a}${f}`),
  fc.tuple(fc.array(fc.tuple(ipv4, port), { minLength: 1, maxLength: 4 }), verdict).map(([es, v]) => `ip saddr . tcp dport { ${es.map(([a, p]) => `${a} . ${p}`).join(', ')} } ${v}`),
  fc.tuple(fc.array(port, { minLength: 1, maxLength: 4 })).map(([ps]) => `tcp dport vmap { ${[...new Set(ps)].map((p, i) => `${p} : ${['accept', 'drop', 'jump other'][i % 3]}`).join(', ')} }`),
  fc.constantFrom('fib daddr type local accept', 'fib saddr . iif oif missing drop', 'fib daddr type { local, broadcast } drop', 'ct state new,untracked accept', 'ct status dnat,snat accept', 'meta nfproto ipv6 accept', 'ip6 nexthdr tcp accept', 'ct direction original accept', 'meta l4proto { tcp, udp, icmp } accept', 'tcp option maxseg size set rt mtu', 'ip dscp { cs0, ef, af41 } accept', 'meta skuid { 0, 1000 } accept', 'ether type { ip, arp } accept', 'udp dport 53 ct state new notrack', 'meta priority 1 accept', 'ip ttl != { 1, 64, 128 } drop', 'ip length < 100 drop'),
);
const table = fc.tuple(fc.array(rule, { minLength: 1, maxLength: 6 })).map(([rs]) => `table inet t {\n\tchain other {\n\t}\n\tchain c {\n\t\ttype nat hook prerouting priority -100;\n${rs.map((r) => `\t\t${r}\n`).join('')}\t}\n}\n`);

test('generated rulesets print as the real nft prints them (or fail as it fails)', () => {
  const ns = `tsi-nft-diff-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const failures: string[] = [];
  try {
    for (const t of fc.sample(table, { numRuns: 150, seed: 41 })) {
      const input = `flush ruleset\n${t}`;
      const real = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input, encoding: 'utf8' });
      const list = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'ruleset'], { encoding: 'utf8' });
      const mine = runNftText(input, new NftRuleset(), '/dev/stdin');
      const realOut = real.status === 0 ? list.stdout : `ERR ${real.stderr}`;
      const mineOut = mine.ok ? rulesetText(mine.ruleset) : `ERR ${mine.stderr}`;
      if (realOut !== mineOut) failures.push(`${input}--- nft\n${realOut}--- tsiptables\n${mineOut}`);
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
  expect(failures.slice(0, 3)).toEqual([]);
}, 300_000);
