/**
 * Recorded truth: every case of fixtures/recorded/ is replayed. Cases listed in test/baselines/agreeing.json
 * must agree byte for byte (stdout, stderr, exit status) with what the real iptables 1.8.9 printed; the list
 * only grows (`npm run accept` rewrites it after a change makes more cases agree). The cases not yet in it are
 * counted and named in test/baselines/disagreeing.txt so the gaps are visible.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseId, expectedStdout, expectedText, recordings, replayCase } from './support/replay';

const BASELINE = join(process.cwd(), 'test', 'baselines', 'agreeing.json');
const agreeing = new Set<string>(JSON.parse(readFileSync(BASELINE, 'utf8')) as string[]);

for (const [file, rec] of recordings()) {
  describe(file, () => {
    for (const c of rec.cases) {
      const id = caseId(file, c);
      if (!agreeing.has(id)) continue;
      test(id, async () => {
        const outcomes = await replayCase(c);
        for (const o of outcomes) {
          expect({ cmd: o.step.cmd, stdout: o.actual.stdout, stderr: o.actual.stderr, exit: o.actual.status }).toEqual({
            cmd: o.step.cmd,
            stdout: expectedStdout(o.step),
            stderr: expectedText(o.step.stderr),
            exit: o.step.exit,
          });
        }
      });
    }
  });
}

test('the agreement baseline names only recorded cases', () => {
  const known = new Set<string>();
  for (const [file, rec] of recordings()) for (const c of rec.cases) known.add(caseId(file, c));
  const stale = [...agreeing].filter((id) => !known.has(id));
  expect(stale).toEqual([]);
});
