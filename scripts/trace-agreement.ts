/**
 * How many recorded kernel trace packets tsiptables agrees with, and what differs:
 *
 *   npx tsx scripts/trace-agreement.ts [--accept] [--show N] [FILE...]
 *
 * --accept rewrites test/baselines/trace-disagreeing.txt (the packets known to disagree, which the replay test
 * tolerates and names). Default files: fixtures/traces/recorded/*.json.
 */
import { writeFileSync } from 'node:fs';
import { BASELINE, compareFiles, recordedFiles } from './trace-compare';

function main(argv: string[]): void {
  const accept = argv.includes('--accept');
  const showAt = argv.indexOf('--show');
  const show = showAt >= 0 ? Number(argv[showAt + 1]) : 20;
  const files = argv.filter((a, i) => !a.startsWith('--') && !(showAt >= 0 && i === showAt + 1));
  const results = compareFiles(files.length ? files : recordedFiles());
  const agree = results.filter((r) => r.agree).length;
  const pct = results.length ? ((100 * agree) / results.length).toFixed(1) : '0';
  const bad = results.filter((r) => !r.agree);
  for (const r of bad.slice(0, show)) console.log(`${r.id}\n  ${r.packet}\n  ${r.diffs.join('\n  ')}`);
  console.log(`\n${agree}/${results.length} packets agree with the kernel (${pct}%)`);
  if (accept) {
    const text = `# Recorded kernel trace cases tsiptables still disagrees with (scripts/trace-compare.ts --accept).\n# id<TAB>first difference\n${bad.map((r) => `${r.id}\t${r.diffs[0]!.split('\n')[0]!}`).join('\n')}\n`;
    writeFileSync(BASELINE, text);
    console.log(`wrote ${BASELINE} (${bad.length} known disagreements)`);
  }
}

main(process.argv.slice(2));
