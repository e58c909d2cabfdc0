/**
 * Live suite (root, real kernel): re-runs scripts/record-labs.ts on every fixtures/labs/*.sh into a temporary
 * directory and checks that the record is reproducible: today's masked transcript and exit status are the committed
 * ones (fixtures/labs/recorded/), and the run leaves no tsi- namespace of the labs behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LABS = 'fixtures/labs';
const RECORDED = join(LABS, 'recorded');

interface LabRecord {
  script: string;
  transcript: string;
  exitStatus: number;
}

const isRoot = process.getuid?.() === 0;
const maybe = isRoot ? describe : describe.skip;

const labs = readdirSync(LABS)
  .filter((f) => f.endsWith('.sh'))
  .sort();

/** The namespaces a lab creates, as the recorder runs them. */
const namespacesOf = (file: string): string[] =>
  [...readFileSync(join(LABS, file), 'utf8').matchAll(/^\s*ip\s+netns\s+add\s+(\S+)\s*$/gm)].map((m) => `tsi-${m[1]!}`);

/** Where two transcripts first differ, with two lines of context. */
function firstDifference(committed: string, today: string): string {
  const a = committed.split('\n');
  const b = today.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length && i === b.length) return '';
  const around = (l: string[]): string =>
    l
      .slice(Math.max(0, i - 2), i + 3)
      .map((s, k) => `    ${Math.max(0, i - 2) + k + 1}: ${s}`)
      .join('\n');
  return `first difference at line ${i + 1}\n  committed:\n${around(a)}\n  today:\n${around(b)}`;
}

maybe('lab recorder (live)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tsi-live-labs-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('re-records every lab and leaves no namespace behind', () => {
    execFileSync('npx', ['tsx', 'scripts/record-labs.ts', '--quiet', '--out', out], { stdio: 'inherit', timeout: 600_000 });
    const ours = new Set(labs.flatMap(namespacesOf));
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => ours.has(n));
    expect(left).toEqual([]);
  }, 620_000);

  test.each(labs)('%s: the masked transcript and exit status are the committed ones', (file) => {
    const name = file.replace(/\.sh$/, '.json');
    const committed = JSON.parse(readFileSync(join(RECORDED, name), 'utf8')) as LabRecord;
    expect(existsSync(join(out, name))).toBe(true);
    const today = JSON.parse(readFileSync(join(out, name), 'utf8')) as LabRecord;
    expect(today.script).toBe(committed.script);
    expect(firstDifference(committed.transcript, today.transcript)).toBe('');
    expect(today.exitStatus).toBe(committed.exitStatus);
  });
});
