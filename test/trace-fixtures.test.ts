/**
 * Recorded kernel truth for `tsiptables trace`: every packet of fixtures/traces/recorded/ (recorded by
 * scripts/record-traces.ts from the real kernel in tsi- namespaces) is replayed through the evaluator as one
 * --batch per scenario. Fate, out interface, packet after NAT, TRACE steps and dmesg lines must agree, except
 * for the packets named in test/baselines/trace-disagreeing.txt (written by `npx tsx scripts/trace-agreement.ts
 * --accept`), which are reported. A packet that agrees and is still listed fails too, so the list only shrinks.
 */
import { BASELINE, compareFiles, readBaseline, recordedFiles } from '../scripts/trace-compare';

const files = recordedFiles();
const known = readBaseline();
const results = compareFiles(files);

test('recorded kernel trace cases exist', () => {
  expect(files.length).toBeGreaterThan(0);
  expect(results.length).toBeGreaterThan(0);
});

test('every recorded packet agrees with the kernel, or is a known disagreement', () => {
  const regressions = results.filter((r) => !r.agree && !known.has(r.id)).map((r) => `${r.id}: ${r.packet}\n  ${r.diffs.join('\n  ')}`);
  expect(regressions).toEqual([]);
});

test(`${BASELINE} names only packets that still disagree`, () => {
  const fixed = results.filter((r) => r.agree && known.has(r.id)).map((r) => r.id);
  const stale = [...known].filter((id) => !results.some((r) => r.id === id));
  expect({ fixed, stale }).toEqual({ fixed: [], stale: [] });
});

test('agreement is at least 99%', () => {
  const agree = results.filter((r) => r.agree).length;
  // eslint-disable-next-line no-console
  console.log(`trace: ${agree}/${results.length} recorded packets agree with the kernel`);
  expect(agree / results.length).toBeGreaterThanOrEqual(0.99);
});
