/**
 * Chains read from the state file keep their rules as text until a command reads them (io/state.ts StateChain),
 * and the kernel's jump-graph checks run on that text (exec/jump-graph.ts, validate.ts). Differential property:
 * for generated rulesets and command sequences, the CLI on a state file read that way answers exactly as on the
 * same state read with every rule parsed (the file without its state header goes through iptables-restore):
 * the same stdout, stderr and exit status for each command, and the same iptables-save output after each (read
 * from the state's text on one side, from the parsed ruleset on the other).
 */
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIptables, runRestore, runSave, type RunResult } from '../src/cli/main';
import { STATE_HEADER } from '../src/io/state';

const CHAINS = ['A', 'B', 'C', 'D'];

/** Rule bodies: plain targets, jumps and gotos to user chains, quoted texts that look like jumps, hook-limited extensions. */
const ruleBody = (table: 'filter' | 'nat'): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom('-j ACCEPT', '-p tcp --dport 22 -j DROP', '-s 10.0.0.0/8 -j RETURN', '-m comment --comment "x -j A y" -j ACCEPT'),
    fc.constantFrom(...CHAINS).map((c) => `-j ${c}`),
    fc.constantFrom(...CHAINS).map((c) => `-p udp -g ${c}`),
    table === 'filter'
      ? fc.constantFrom('-m owner --uid-owner 0 -j ACCEPT', '-j LOG --log-prefix "a -j B"', '-j REJECT --reject-with tcp-reset -p tcp')
      : fc.constantFrom('-p tcp -j DNAT --to-destination 10.0.0.1:80', '-j MASQUERADE', '-j SNAT --to-source 1.2.3.4'),
  );

interface Model {
  table: 'filter' | 'nat';
  rules: Array<{ chain: string; body: string; packets: number }>;
}

const model: fc.Arbitrary<Model> = fc.constantFrom<'filter' | 'nat'>('filter', 'nat').chain((table) =>
  fc.record({
    table: fc.constant(table),
    rules: fc.array(
      fc.record({
        chain: fc.constantFrom(...CHAINS, ...(table === 'filter' ? ['INPUT', 'OUTPUT', 'FORWARD'] : ['PREROUTING', 'OUTPUT', 'POSTROUTING'])),
        body: ruleBody(table),
        packets: fc.constantFrom(0, 0, 7),
      }),
      { maxLength: 14 },
    ),
  }),
);

/** Commands after the restore: listings, zeroing, renames, deletions, and rules added with jumps. */
const command = (table: 'filter' | 'nat'): fc.Arbitrary<string[]> =>
  fc.oneof(
    fc.constant(['-S']),
    fc.constant(['-L', '-n', '-v', '-x']),
    fc.constantFrom(...CHAINS).map((c) => ['-L', c, '-n', '--line-numbers']),
    fc.constantFrom(...CHAINS).map((c) => ['-S', c, '-v']),
    fc.constantFrom(...CHAINS).map((c) => ['-Z', c]),
    fc.constantFrom(...CHAINS).map((c) => ['-E', c, `${c}2`]),
    fc.constantFrom(...CHAINS).map((c) => ['-X', c]),
    fc.constantFrom(...CHAINS).map((c) => ['-F', c]),
    fc.constantFrom(...CHAINS).map((c) => ['-D', c, '1']),
    fc.tuple(fc.constantFrom(...CHAINS, table === 'filter' ? 'INPUT' : 'PREROUTING', 'OUTPUT'), ruleBody(table)).map(([c, body]) => ['-A', c, ...splitWords(body)]),
    fc.tuple(fc.constantFrom(...CHAINS), ruleBody(table)).map(([c, body]) => ['-C', c, ...splitWords(body)]),
    fc.tuple(fc.constantFrom(...CHAINS), ruleBody(table)).map(([c, body]) => ['-D', c, ...splitWords(body)]),
    fc.constant(['-N', 'E']),
  ).map((argv) => ['-t', table, ...argv]);

/** The generated bodies quote with double quotes around words without escapes. */
function splitWords(body: string): string[] {
  return [...body.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

function dump(m: Model): string {
  const lines = [`*${m.table}`, ...CHAINS.map((c) => `:${c} - [0:0]`)];
  for (const r of m.rules) lines.push(`[${r.packets}:${r.packets * 60}] -A ${r.chain} ${r.body}`);
  return `${lines.join('\n')}\nCOMMIT\n`;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-lazy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const same = (r: RunResult): string => `${r.status}\n${r.stdout}\n${r.stderr}`;
/** What iptables-save prints with and without counters, whole and for one table (the state's own text path vs the loaded ruleset's). */
const saveOf = (path: string): string =>
  [['-c'], [], ['-t', 'nat'], ['-c', '-t', 'filter']].map((argv) => {
    const r = runSave('tsiptables-save', argv, new Date(0), path);
    return `${r.status}\n${r.stdout}${r.stderr}`;
  }).join('\n--\n');

test('the CLI on a lazily read state answers as on the same state fully parsed', async () => {
  let checked = 0;
  await fc.assert(
    fc.asyncProperty(model, fc.array(fc.constant(null), { minLength: 1, maxLength: 6 }), fc.nat(), async (m, slots, seed) => {
      const lazy = join(dir, `lazy-${checked}`);
      const full = join(dir, `full-${checked}`);
      const restored = await runRestore('tsiptables-restore', ['-c'], () => dump(m), lazy);
      if (restored.status !== 0) return; // a loop or a hook-limited rule in the wrong place: refused, nothing to compare
      checked++;
      const cmds = fc.sample(command(m.table), { numRuns: slots.length, seed });
      for (const argv of cmds) {
        // The reference: the same state text without the header that marks it as ours, read by iptables-restore.
        const text = readFileSync(lazy, 'utf8');
        expect(text.startsWith(STATE_HEADER)).toBe(true);
        writeFileSync(full, text.slice(STATE_HEADER.length));
        const a = await runIptables('tsiptables', argv, lazy);
        const b = await runIptables('tsiptables', argv, full);
        expect([argv.join(' '), same(a)]).toEqual([argv.join(' '), same(b)]);
        expect(saveOf(lazy)).toBe(saveOf(full));
      }
    }),
    { numRuns: 150, seed: 20261202 },
  );
  expect(checked).toBeGreaterThan(50);
});

/**
 * The checks of one `-A` (validate.ts checkRuleAllowed: the numbered jump graph, rules checked only where hooks
 * grow, parsed only for hook-limited extensions) against the kernel's whole-table check at COMMIT (validateTable,
 * through iptables-restore --noflush): the rule is refused by one exactly when it is refused by the other.
 */
test('one -A is refused exactly when the whole table with it fails the COMMIT check', async () => {
  let refused = 0;
  let accepted = 0;
  await fc.assert(
    fc.asyncProperty(model, fc.nat(), async (m, seed) => {
      const state = join(dir, `add-${refused + accepted}`);
      const copy = `${state}-restore`;
      if ((await runRestore('tsiptables-restore', ['-c'], () => dump(m), state)).status !== 0) return;
      const [chain, body] = fc.sample(fc.tuple(fc.constantFrom(...CHAINS, m.table === 'filter' ? 'INPUT' : 'PREROUTING', 'OUTPUT'), ruleBody(m.table)), { numRuns: 1, seed })[0]!;
      writeFileSync(copy, readFileSync(state));
      const one = await runIptables('tsiptables', ['-t', m.table, '-A', chain, ...splitWords(body)], state);
      const batch = await runRestore('tsiptables-restore', ['--noflush'], () => `*${m.table}\n-A ${chain} ${body}\nCOMMIT\n`, copy);
      expect([chain, body, one.status === 0]).toEqual([chain, body, batch.status === 0]);
      if (one.status === 0) {
        accepted++;
        expect(saveOf(state)).toBe(saveOf(copy));
      } else refused++;
    }),
    { numRuns: 300, seed: 7 },
  );
  expect(refused).toBeGreaterThan(20);
  expect(accepted).toBeGreaterThan(50);
});

/**
 * Chains whose names are also targets' (a restore's `:LOG - [0:0]` makes one): a rule's `-j LOG` is then the
 * target or a jump, and the state file keeps which (CHAIN_JUMP_MARK). Each sequence must answer the same on the
 * lazily read state as on the fully parsed one, and as iptables does where that is recorded (cli-restore).
 */
test.each<[string, Array<[string, string[], string?]>]>([
  [
    '-E of a chain named like a target renames the jumps to it',
    [
      ['restore', [], '*filter\n:LOG - [0:0]\n-A INPUT -j LOG\n-A LOG -j ACCEPT\nCOMMIT\n'],
      ['ipt', ['-E', 'LOG', 'FOO']],
      ['ipt', ['-S']],
      ['ipt', ['-L', '-n']],
    ],
  ],
  [
    'the LOG target added from the command line beside a chain named LOG is the target',
    [
      ['restore', [], '*filter\n:LOG - [0:0]\nCOMMIT\n'],
      ['ipt', ['-A', 'INPUT', '-j', 'LOG']],
      ['ipt', ['-L', '-n']],
      ['ipt', ['-X', 'LOG']],
      ['ipt', ['-S']],
    ],
  ],
  [
    'a --noflush restore adds the LOG target beside a chain named LOG made before the batch',
    [
      ['restore', [], '*filter\n:LOG - [0:0]\n-A LOG -m owner --uid-owner 0 -j DROP\nCOMMIT\n'],
      ['restore', ['--noflush'], '*filter\n-A INPUT -j LOG\nCOMMIT\n'],
      ['ipt', ['-L', '-n']],
    ],
  ],
  [
    'a chain named LOG made after a LOG target rule does not turn that rule into a jump',
    [
      ['ipt', ['-A', 'INPUT', '-j', 'LOG']],
      ['restore', ['--noflush'], '*filter\n:LOG - [0:0]\n-A LOG -m owner --uid-owner 0 -j DROP\nCOMMIT\n'],
      ['ipt', ['-L', '-n']],
      ['ipt', ['-S']],
    ],
  ],
  [
    'jumps to chains named like targets survive later commands',
    [
      ['restore', [], '*filter\n:LOG - [0:0]\n:TRACE - [0:0]\n-A INPUT -j LOG\n-A INPUT -j TRACE\n-A FORWARD -g LOG\nCOMMIT\n'],
      ['ipt', ['-A', 'OUTPUT', '-j', 'ACCEPT']],
      ['ipt', ['-L', '-n']],
      ['ipt', ['-X', 'LOG']],
      ['ipt', ['-D', 'INPUT', '1']],
      ['ipt', ['-S']],
    ],
  ],
])('%s', async (_name, steps) => {
  const lazy = join(dir, `named-${checkedNamed}`);
  const full = join(dir, `named-full-${checkedNamed++}`);
  for (const [kind, argv, stdin] of steps) {
    // The reference reads the same state text without the header that marks it as ours (fully parsed).
    try {
      writeFileSync(full, readFileSync(lazy, 'utf8').slice(STATE_HEADER.length));
    } catch {
      rmSync(full, { force: true });
    }
    const run = (path: string): Promise<RunResult> =>
      kind === 'restore' ? runRestore('tsiptables-restore', argv, () => stdin!, path) : runIptables('tsiptables', ['-t', 'filter', ...argv], path);
    const a = await run(lazy);
    const b = await run(full);
    expect([argv.join(' '), same(a)]).toEqual([argv.join(' '), same(b)]);
    expect(saveOf(lazy)).toBe(saveOf(full));
  }
});
let checkedNamed = 0;
