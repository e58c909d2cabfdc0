/**
 * The state file keeps what iptables-save loses. Rules whose save text does not read back to the same rule
 * (an extension's stateText(): hashlimit byte rates and intervals, recent's counts and default mask, physdev's
 * empty names, SNAT's `/0` base, a comment holding a newline) go through the CLI in-process, and after every
 * listing the state is read back with each rule parsed (the iptables-restore path, not the lazy one) and
 * written again: the listing must still be what the real iptables printed in the recorded case.
 *
 * Rules no recording covers (icmp code ranges, MASQUERADE's `/0`, names with blanks) are checked against the
 * parser itself: after the same reload, `-S` prints the save line of the freshly compiled rule, `-L -n` its
 * match and target texts, and `-C` with the original words finds it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from '../grammar/index';
import { runIptables } from '../src/cli/main';
import { parseCommand } from '../src/compile/command';
import { buildRules } from '../src/compile/rule';
import { parseStateText, STATE_SPELLING_MARK, writeState } from '../src/io/state';
import { caseId, expectedStdout, expectedText, normalizeDates, recordings, runStep, type Case, type Step } from './support/replay';

/** Recorded cases with rules whose save text is lossy. */
const LOSSY_CASES = [
  'ext-hashlimit:33 byte rates',
  'ext-hashlimit:73 rate match and interval',
  'ext-recent:79 bad values',
  'ext-recent:97 check and delete',
  'ext-recent:105 restore recent',
  'ext-recent:18 name source mask',
  'ext-physdev:61 interface name edge cases',
  'ext-target-SNAT:70 bad values',
  'ext-comment:112 restore unterminated quote',
  'cli-restore:624 restore unbalanced quote',
];

let dir: string;
let statePath: string;
let savedEnv: string | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsi-roundtrip-'));
  statePath = join(dir, 'rules.v4');
  savedEnv = process.env.TSIPTABLES_STATE;
  process.env.TSIPTABLES_STATE = statePath;
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env.TSIPTABLES_STATE;
  else process.env.TSIPTABLES_STATE = savedEnv;
  rmSync(dir, { recursive: true, force: true });
});

/** Reads the state file back with every rule parsed (trusted iptables-restore path) and writes it again. */
function reloadFully(): void {
  const text = readFileSync(statePath, 'utf8');
  writeState(statePath, parseStateText(text));
}

const isListing = (s: Step): boolean =>
  s.argv[0] === 'iptables-save' || (s.argv[0] === 'iptables' && s.argv.some((a) => /^-[a-zA-Z]*[LS]/.test(a) || a === '--list' || a === '--list-rules'));

async function expectRecorded(step: Step): Promise<void> {
  const actual = await runStep(step);
  expect({ cmd: step.cmd, stdout: normalizeDates(actual.stdout), stderr: actual.stderr, exit: actual.status }).toEqual({
    cmd: step.cmd,
    stdout: expectedStdout(step),
    stderr: expectedText(step.stderr),
    exit: step.exit,
  });
}

const cases = new Map<string, Case>();
for (const [file, rec] of recordings()) for (const c of rec.cases) cases.set(caseId(file, c), c);

describe('recorded cases with lossy save text', () => {
  for (const id of LOSSY_CASES) {
    test(id, async () => {
      const c = cases.get(id);
      expect(c).toBeDefined();
      let spelled = false;
      for (const step of c!.steps) {
        await expectRecorded(step);
        spelled ||= readFileSync(statePath, { encoding: 'utf8', flag: 'a+' }).includes(STATE_SPELLING_MARK);
        if (isListing(step) && step.exit === 0) {
          reloadFully();
          await expectRecorded(step);
        }
      }
      // The case did exercise a state spelling.
      expect(spelled).toBe(true);
    });
  }
});

/** Rules no recording covers: [table, chain, rule words]. */
const TYPED: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['filter', 'INPUT', ['-p', 'icmp', '-m', 'icmp', '--icmp-type', '3/1:2', '-j', 'ACCEPT']],
  ['filter', 'INPUT', ['-p', 'icmp', '-m', 'icmp', '!', '--icmp-type', '255/0:4', '-j', 'DROP']],
  ['nat', 'POSTROUTING', ['-p', 'tcp', '-j', 'MASQUERADE', '--to-ports', '1000-2000/7', '--random']],
  ['nat', 'POSTROUTING', ['-p', 'udp', '-j', 'SNAT', '--to-source', '192.0.2.1:80-90/5', '--persistent']],
  ['filter', 'INPUT', ['-m', 'hashlimit', '--hashlimit-upto', '100b/s', '--hashlimit-burst', '2000', '--hashlimit-name', 'b', '-j', 'ACCEPT']],
  ['filter', 'INPUT', ['-m', 'hashlimit', '--hashlimit-above', '7/min', '--hashlimit-name', 'a b', '--hashlimit-rate-interval', '3', '-j', 'DROP']],
  ['filter', 'INPUT', ['-m', 'hashlimit', '--hashlimit-upto', '86400000/day', '--hashlimit-name', 'r', '--hashlimit-rate-match', '-j', 'ACCEPT']],
  ['filter', 'INPUT', ['-m', 'recent', '--rcheck', '--seconds', '3000000000', '--hitcount', '5', '--name', 'a b', '-j', 'DROP']],
  ['filter', 'FORWARD', ['-m', 'physdev', '--physdev-in', 'a b', '!', '--physdev-out', '', '-j', 'ACCEPT']],
  ['filter', 'INPUT', ['-m', 'comment', '--comment', 'two\nlines', '-j', 'ACCEPT']],
  ['filter', 'INPUT', ['-m', 'comment', '--comment', 'tsiptables-hex:00', '-j', 'ACCEPT']],
];

describe('typed rules the parser is the truth for', () => {
  for (const [table, chain, words] of TYPED) {
    test(`-t ${table} -A ${chain} ${JSON.stringify(words)}`, async () => {
      const argv = ['-t', table, '-A', chain, ...words];
      const parsed = parseCommandLine(argv);
      if (!parsed.ok) throw new Error('argv does not parse');
      const [fresh] = buildRules(parseCommand(parsed.value, { table: 'filter', restore: false, programName: 'tsiptables', warn: () => undefined }).rule);
      expect(fresh!.stateText).toBeDefined();

      expect((await runIptables('tsiptables', argv)).status).toBe(0);
      reloadFully();
      const rules = await runIptables('tsiptables', ['-t', table, '-S', chain]);
      expect(rules.stdout).toContain(`\n-A ${chain}${fresh!.line}\n`);
      const list = (await runIptables('tsiptables', ['-t', table, '-L', chain, '-n'])).stdout;
      for (const m of fresh!.matches) expect(list).toContain(m.def.print(m.state, true));
      if (fresh!.verdict.kind === 'target') expect(list).toContain(fresh!.verdict.target.def.print(fresh!.verdict.target.state, true));
      expect((await runIptables('tsiptables', ['-t', table, '-C', chain, ...words])).status).toBe(0);
    });
  }
});
