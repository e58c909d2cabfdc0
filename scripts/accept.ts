/**
 * Replays every recorded case and rewrites test/baselines/agreeing.json (the cases that agree with the real
 * iptables) and test/baselines/disagreeing.txt (the rest, with the first differing step). Refuses to drop a
 * case that agreed before unless --allow-regressions is given.
 *   npx tsx scripts/accept.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { caseId, expectedStdout, expectedText, recordings, replayCase } from '../test/support/replay';

const BASE = 'test/baselines/agreeing.json';
// --only PREFIX: replay only recordings whose name starts with PREFIX; --dry-run: write nothing;
// --show N: print the first N disagreements.
const argAfter = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const only = argAfter('--only');
const dry = process.argv.includes('--dry-run');
const show = Number(argAfter('--show') ?? '0');
const before = new Set<string>(JSON.parse(readFileSync(BASE, 'utf8')) as string[]);
const agree: string[] = [];
const report: string[] = [];
let total = 0;
const perFile = new Map<string, [number, number]>();
for (const [file, rec] of recordings()) {
  if (only !== undefined && !file.startsWith(only)) continue;
  for (const c of rec.cases) {
    total++;
    const id = caseId(file, c);
    const outcomes = await replayCase(c);
    const ok = outcomes.length === c.steps.length && outcomes.every((o) => o.agrees);
    const pf = perFile.get(file) ?? [0, 0];
    pf[1]++;
    if (ok) {
      agree.push(id);
      pf[0]++;
    } else {
      const bad = outcomes[outcomes.length - 1]!;
      report.push(
        `## ${id}\n$ ${bad.step.cmd}\n--- expected (exit ${bad.step.exit})\n${expectedStdout(bad.step)}${expectedText(bad.step.stderr)}--- actual (exit ${bad.actual.status})\n${bad.actual.stdout}${bad.actual.stderr}`,
      );
    }
    perFile.set(file, pf);
  }
}
if (show > 0) console.log(report.slice(0, show).join('\n'));
if (dry || only !== undefined) {
  for (const [f, [a, t]] of perFile) console.log(`${f.padEnd(28)} ${String(a).padStart(4)} / ${t}`);
  console.log(`agreeing: ${agree.length} / ${total} cases (dry run: baseline not written)`);
  process.exit(0);
}
const lost = [...before].filter((id) => !agree.includes(id));
if (lost.length && !process.argv.includes('--allow-regressions')) {
  console.error(`regressions (agreed before, not now):\n${lost.join('\n')}`);
  process.exit(1);
}
writeFileSync(BASE, JSON.stringify(agree, null, 1) + '\n');
writeFileSync('test/baselines/disagreeing.txt', report.join('\n'));
for (const [f, [a, t]] of perFile) console.log(`${f.padEnd(28)} ${String(a).padStart(4)} / ${t}`);
console.log(`agreeing: ${agree.length} / ${total} cases`);
