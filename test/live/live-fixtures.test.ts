/**
 * Live suite (root, real iptables 1.8.9): re-records every corpus into a temporary directory with the
 * repository's own recorder, checks that the real binaries and kernel still answer exactly as the committed
 * fixtures say, then replays the fresh recording against tsiptables: every case of the agreement baseline must
 * agree with what the real iptables printed today.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caseId, expectedStdout, expectedText, replayCase, type Recording } from '../support/replay';

const out = mkdtempSync(join(tmpdir(), 'tsi-live-'));
const agreeing = new Set<string>(JSON.parse(readFileSync('test/baselines/agreeing.json', 'utf8')) as string[]);

afterAll(() => rmSync(out, { recursive: true, force: true }));

test('the recorder runs against the real iptables and leaves no namespace behind', () => {
  execFileSync('npx', ['tsx', 'scripts/record-fixtures.ts', '--out', out, '--quiet'], { stdio: 'inherit', timeout: 1_500_000 });
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('tsi-'));
  expect(left).toEqual([]);
}, 1_600_000);

test('the real binaries still answer as the committed fixtures say', () => {
  let report = '';
  try {
    execFileSync('npx', ['tsx', 'scripts/diff-fixtures.ts', 'fixtures/recorded', out], { encoding: 'utf8' });
  } catch (e) {
    report = String((e as { stdout?: string }).stdout ?? e);
  }
  expect(report).toBe('');
}, 120_000);

test('tsiptables agrees with today\'s recording on every baseline case', async () => {
  const failures: string[] = [];
  for (const file of execFileSync('ls', [out], { encoding: 'utf8' }).split('\n').filter((f) => f.endsWith('.json'))) {
    const base = file.replace(/\.json$/, '');
    const rec = JSON.parse(readFileSync(join(out, file), 'utf8')) as Recording;
    for (const c of rec.cases) {
      const id = caseId(base, c);
      if (!agreeing.has(id)) continue;
      const outcomes = await replayCase(c);
      const bad = outcomes.find((o) => !o.agrees);
      if (bad) {
        failures.push(`${id}: ${bad.step.cmd}\nexpected ${JSON.stringify(expectedStdout(bad.step) + expectedText(bad.step.stderr))}\nactual   ${JSON.stringify(bad.actual.stdout + bad.actual.stderr)}`);
      }
    }
  }
  expect(failures).toEqual([]);
}, 600_000);
