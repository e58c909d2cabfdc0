/**
 * Property: the printed ruleset is a fixed point. Any generated nft file that tsiptables accepts prints as
 * `nft list ruleset` text which, read again, prints the very same text; and the state file's form (`nft -a list
 * ruleset` text under the handle counters) reads back to itself.
 */
import fc from 'fast-check';
import { NftRuleset, rulesetFromText, rulesetText, runNftText, storedText } from '../src/nft/index';

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const prefix = fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([a, n]) => `${a}/${n}`);
const port = fc.integer({ min: 0, max: 65535 }).map(String);
const portRange = fc.tuple(fc.integer({ min: 0, max: 30000 }), fc.integer({ min: 0, max: 30000 })).map(([a, b]) => `${a}-${a + b}`);
const mark = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }).map(String), fc.integer({ min: 0, max: 0xffffffff }).map((n) => `0x${n.toString(16)}`));
const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);
const text = fc.stringMatching(/^[A-Za-z0-9 :_-]{0,12}$/);
const verdict = fc.constantFrom('accept', 'drop', 'return', 'continue', '');
const mac = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map((b) => b.map((x) => x.toString(16)).join(':'));
const ctStates = fc.subarray(['new', 'established', 'related', 'invalid', 'untracked'], { minLength: 1 }).map((s) => s.join(','));

const ipRule = fc.oneof(
  fc.tuple(fc.constantFrom('saddr', 'daddr'), fc.oneof(ipv4, prefix), verdict).map(([f, a, v]) => `ip ${f} ${a} ${v}`),
  fc.tuple(fc.constantFrom('tcp', 'udp'), fc.constantFrom('sport', 'dport'), fc.oneof(port, portRange), verdict).map(([p, f, x, v]) => `${p} ${f} ${x} ${v}`),
  fc.tuple(fc.array(port, { minLength: 1, maxLength: 6 }), verdict).map(([ps, v]) => `tcp dport { ${ps.join(', ')} } counter ${v}`),
  fc.tuple(fc.array(ipv4, { minLength: 1, maxLength: 5 }), verdict).map(([as, v]) => `ip saddr != { ${as.join(', ')} } ${v}`),
  mark.map((m) => `meta mark set ${m}`),
  mark.map((m) => `ct mark set ${m}`),
  fc.tuple(mark, mark, verdict).map(([a, b, v]) => `meta mark & ${a} == ${b} ${v}`),
  fc.tuple(ctStates, verdict).map(([s, v]) => `ct state ${s} ${v}`),
  fc.tuple(text, verdict).map(([t, v]) => `log prefix "${t}" ${v}`),
  fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.constantFrom('second', 'minute', 'hour'), verdict).map(([n, u, v]) => `limit rate ${n}/${u} ${v}`),
  fc.tuple(fc.constantFrom('ttl', 'length'), fc.constantFrom('', '> ', '< ', '!= '), fc.integer({ min: 0, max: 255 }), verdict).map(([f, o, n, v]) => `ip ${f} ${o}${n} ${v}`),
  fc.tuple(verdict, text).map(([v, t]) => `counter ${v} comment "${t}"`),
  fc.tuple(fc.array(portRange, { minLength: 1, maxLength: 4 }), verdict).map(([rs, v]) => `udp dport { ${rs.join(', ')} } ${v}`),
  fc.tuple(fc.array(fc.oneof(prefix, ipv4), { minLength: 2, maxLength: 4 }), verdict).map(([as, v]) => `ip daddr { ${as.join(', ')} } ${v}`),
  fc.tuple(mark, mark).map(([a, b]) => `meta mark set meta mark & ${a} | ${b}`),
  fc.constantFrom('tcp flags syn / syn,ack accept', 'icmp type echo-request accept', 'iifname "eth*" drop', 'iif "lo" accept', 'meta l4proto { tcp, udp } accept', 'reject', 'ip protocol tcp accept'),
);
const netdevRule = fc.oneof(
  fc.tuple(mac, verdict).map(([m, v]) => `ether saddr & ff:ff:ff:00:00:00 == ${m} ${v}`),
  ipv4.map((a) => `ip saddr set ${a}`),
  fc.tuple(ipv4, verdict).map(([a, v]) => `ip daddr ${a} ${v}`),
);

const chain = (rule: fc.Arbitrary<string>, base: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(name, fc.option(base, { nil: undefined }), fc.array(rule, { maxLength: 5 })).map(([n, b, rs]) => {
    const lines = [...(b !== undefined ? [b] : []), ...rs.map((r) => r.trim())].map((l) => `\t\t${l}\n`).join('');
    return `\tchain ${n} {\n${lines}\t}\n`;
  });

const priority = fc.oneof(fc.integer({ min: -400, max: 400 }).map(String), fc.constantFrom('filter', 'raw', 'mangle', 'security', 'filter + 3', 'raw - 7'));
const ipBase = fc
  .tuple(fc.constantFrom('prerouting', 'input', 'forward', 'output', 'postrouting'), priority, fc.constantFrom('accept', 'drop'))
  .map(([h, p, pol]) => `type filter hook ${h} priority ${p}; policy ${pol};`);
const netdevBase = fc.tuple(fc.integer({ min: -600, max: 600 }), fc.constantFrom('accept', 'drop')).map(([p, pol]) => `type filter hook ingress device lo priority ${p}; policy ${pol};`);

const set = fc.oneof(
  fc.tuple(name, fc.boolean(), fc.array(ipv4, { maxLength: 7 })).map(([n, iv, els]) => `\tset s${n} {\n\t\ttype ipv4_addr\n${iv ? '\t\tflags interval\n' : ''}${els.length ? `\t\telements = { ${els.join(', ')} }\n` : ''}\t}\n`),
  fc.tuple(name, fc.array(port, { maxLength: 12 })).map(([n, els]) => `\tset p${n} {\n\t\ttype inet_service\n${els.length ? `\t\telements = { ${els.join(', ')} }\n` : ''}\t}\n`),
);

const table = fc.oneof(
  fc.tuple(fc.constantFrom('ip', 'inet'), name, fc.array(set, { maxLength: 2 }), fc.array(chain(ipRule, ipBase), { maxLength: 3 })).map(([f, n, ss, cs]) => `table ${f} ${n} {\n${ss.join('')}${cs.join('')}}\n`),
  fc.tuple(name, fc.array(chain(netdevRule, netdevBase), { maxLength: 2 })).map(([n, cs]) => `table netdev ${n} {\n${cs.join('')}}\n`),
);

test('printing a parsed ruleset and parsing it again is a fixed point', () => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(table, { minLength: 1, maxLength: 3 }), (tables) => {
      const first = runNftText(tables.join(''), new NftRuleset(), 'gen');
      if (!first.ok) return;
      accepted++;
      const printed = rulesetText(first.ruleset);
      // Read back as a listing (rulesetFromText): `{ 1-11 }` stays a set there, where nft's own reader would
      // make it the comparison `1-11` (recorded in nft-forms) — the printed text is a fixed point of that reader.
      expect(rulesetText(rulesetFromText(printed))).toBe(printed);
      // Read as a file, it is accepted too.
      const again = runNftText(printed, new NftRuleset(), 'printed');
      if (!again.ok) throw new Error(`printed text does not read back:\n${printed}\n${again.stderr}`);
      // The state file's form keeps handles and the kernel's handle counters as well.
      const stored = storedText(first.ruleset);
      expect(storedText(rulesetFromText(stored))).toBe(stored);
    }),
    { numRuns: 300 },
  );
  expect(accepted).toBeGreaterThan(100);
});
