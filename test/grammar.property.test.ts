/**
 * Property tests (fast-check) for the grammar:
 *  - the fast path for rule lines (grammar/fast-args.ts) gives exactly the Chevrotain parse, on generated
 *    lines full of quotes, backslashes, blanks and option-looking words;
 *  - canonical rule text parses back to itself: rules built from generated option sets, saved, parsed
 *    again and saved again give the same text (the save/parse round trip iptables-save relies on).
 */
import fc from 'fast-check';
import { parseCommandLineWith, parseDumpLineWith } from '../grammar/index';
import { parseCommand } from '../src/compile/command';
import { buildRules } from '../src/compile/rule';
import type { ArgNode } from '../src/ast';

const piece = fc.constantFrom(' ', '  ', '\t', '"', '\\', '!', '-', '--', '-A', '--dport', 'x', 'INPUT', ':', '*', '[1:2]', 'é', '\r', '\f', '=');

test('the fast rule-line path equals the Chevrotain parse', () => {
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), fc.constantFrom('', '\n'), (parts, end) => {
      const line = `-${parts.join('')}${end}`;
      const fast = parseDumpLineWith(line, 7, true);
      const slow = parseDumpLineWith(line, 7, false);
      expect(fast).toEqual(slow);
    }),
    { numRuns: 3000 },
  );
});

test('command lines classified directly equal the Chevrotain commandLine rule', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string(), fc.array(piece, { maxLength: 4 }).map((p) => p.join(''))), { maxLength: 12 }), (argv) => {
      expect(parseCommandLineWith(argv, true)).toEqual(parseCommandLineWith(argv, false));
    }),
    { numRuns: 2000 },
  );
});

const octet = fc.integer({ min: 0, max: 255 });
const addr = fc.tuple(octet, octet, octet, octet, fc.integer({ min: 0, max: 32 })).map(([a, b, c, d, m]) => `${a}.${b}.${c}.${d}/${m}`);
const port = fc.integer({ min: 0, max: 65535 });
const word = fc.stringMatching(/^[A-Za-z0-9 _.:\/"'\\-]{1,20}$/);
const option: fc.Arbitrary<string[]> = fc.oneof(
  fc.tuple(fc.boolean(), addr).map(([n, a]) => [...(n ? ['!'] : []), '-s', a]),
  fc.tuple(fc.boolean(), addr).map(([n, a]) => [...(n ? ['!'] : []), '-d', a]),
  fc.constantFrom<string[]>(['-i', 'eth0'], ['!', '-i', 'br+'], ['-f']),
  word.map((w) => ['-m', 'comment', '--comment', w]),
  fc.tuple(port, port).map(([a, b]) => ['-p', 'tcp', '--dport', `${Math.min(a, b)}:${Math.max(a, b)}`]),
  fc.tuple(fc.boolean(), port).map(([n, p]) => ['-p', 'udp', ...(n ? ['!'] : []), '--sport', String(p)]),
  fc.constantFrom<string[]>(['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'], ['-m', 'mark', '--mark', '0x10/0xff'], ['-m', 'limit', '--limit', '5/min']),
);
const target: fc.Arbitrary<string[]> = fc.constantFrom<string[]>(['-j', 'ACCEPT'], ['-j', 'DROP'], ['-j', 'LOG', '--log-prefix', 'a b "c'], ['-j', 'RETURN'], [] as string[]);

function nodes(argv: string[]): ArgNode[] {
  return argv.map((text, i) => ({ kind: text === '!' ? 'bang' : text.startsWith('--') ? 'long' : text.startsWith('-') ? 'short' : 'word', text, quoted: false, line: 1, column: i + 1 }));
}

test('canonical rule text parses back to itself', () => {
  let checked = 0;
  fc.assert(
    fc.property(fc.array(option, { maxLength: 4 }), target, (opts, tgt) => {
      const seen = new Set<string>();
      const argv = ['-A', 'INPUT'];
      for (const o of opts) {
        const key = o.find((w) => w.startsWith('-') && w !== '-m') ?? '';
        if (seen.has(key) || (o.includes('-p') && [...seen].some((k) => k === '-p'))) continue;
        seen.add(key);
        if (o.includes('-p')) seen.add('-p');
        argv.push(...o);
      }
      argv.push(...tgt);
      const warn = (): void => undefined;
      let first: string;
      try {
        const cmd = parseCommand(nodes(argv), { table: 'filter', restore: false, programName: 'tsiptables', warn });
        const [rule] = buildRules(cmd.rule);
        first = `-A INPUT${rule!.text}${rule!.targetText}`;
      } catch {
        return; // a generated combination iptables refuses: nothing to round-trip
      }
      const line = parseDumpLineWith(first + '\n', 1, false);
      if (!line.ok || line.value.kind !== 'rule') throw new Error(`does not parse: ${first}`);
      const again = parseCommand(line.value.args, { table: 'filter', restore: true, programName: 'tsiptables', warn });
      const [rule2] = buildRules(again.rule);
      expect(`-A INPUT${rule2!.text}${rule2!.targetText}`).toBe(first);
      checked++;
    }),
    { numRuns: 1500 },
  );
  // Most generated rules are valid: the property must have been exercised, not skipped.
  expect(checked).toBeGreaterThan(1000);
});
