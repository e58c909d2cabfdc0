/**
 * Runs bundled labs with the simulator and compares the masked transcript with the real run's record
 * (fixtures/labs/recorded/<lab>.json, made by scripts/record-labs.ts).
 *
 *   npx tsx scripts/lab-check.ts [--side-by-side] [--from LINE] [--lines N] [fixtures/labs/LAB.sh ...]
 *
 * Prints "identical" or the first difference per lab (exit 1 if any differs); --side-by-side prints both
 * transcripts in two columns (real | simulated), starting at --from, --lines rows.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';

const args = process.argv.slice(2);
const side = args.includes('--side-by-side');
const opt = (name: string, def: number): number => {
  const k = args.indexOf(name);
  return k >= 0 ? Number(args[k + 1]) : def;
};
const from = opt('--from', 1);
const rows = opt('--lines', 60);
const dir = 'fixtures/labs';
const files = args.filter((a, i) => a.endsWith('.sh') && !['--from', '--lines'].includes(args[i - 1] ?? ''));
const labs = files.length > 0 ? files : readdirSync(dir).filter((f) => f.endsWith('.sh')).sort().map((f) => join(dir, f));

let failed = 0;
for (const file of labs) {
  const name = basename(file);
  const recFile = join(dir, 'recorded', name.replace(/\.sh$/, '.json'));
  if (!existsSync(recFile)) {
    console.log(`${name}: not recorded yet (npm run record:labs, as root)`);
    failed++;
    continue;
  }
  const rec = JSON.parse(readFileSync(recFile, 'utf8')) as { transcript: string; exitStatus: number };
  const r = await runLab(readFileSync(file, 'utf8'), { scriptName: name });
  const got = maskTranscript(r.transcript);
  const w = rec.transcript.split('\n');
  const g = got.split('\n');
  const diff = w.findIndex((l, i) => l !== g[i]);
  const at = diff >= 0 ? diff : w.length < g.length ? w.length : -1;
  if (at < 0 && r.status === rec.exitStatus) console.log(`${name}: identical to the real run (${w.length} lines, exit status ${r.status})`);
  else {
    failed++;
    if (at >= 0) console.log(`${name}: line ${at + 1} differs\n  real:      ${JSON.stringify(w[at])}\n  simulated: ${JSON.stringify(g[at])}`);
    else console.log(`${name}: exit status ${r.status}, the real run's was ${rec.exitStatus}`);
  }
  if (side) {
    const width = 70;
    const cut = (s: string | undefined): string => {
      const t = (s ?? '').replace(/\r$/, '');
      return t.length > width ? t.slice(0, width - 1) + '…' : t.padEnd(width, ' ');
    };
    console.log(`${'real (masked)'.padEnd(width)} | simulated (masked)`);
    for (let i = from - 1; i < Math.min(Math.max(w.length, g.length), from - 1 + rows); i++) console.log(`${cut(w[i])} ${w[i] === g[i] ? '|' : '≠'} ${cut(g[i]).trimEnd()}`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
