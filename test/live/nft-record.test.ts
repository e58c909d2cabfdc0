/**
 * Live suite (root, the real nft 1.0.6): re-records every nft corpus into a temporary directory with
 * scripts/record-nft.ts, checks that nft still answers exactly as the committed recordings say (provenance
 * dates and kernel aside) and leaves no tsi-nft- namespace behind, then replays today's recording against
 * tsiptables for every case of test/baselines/nft-agreeing.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordedFile } from '../../scripts/fixture-format';
import { runNft, runTranslate } from '../../src/cli/nft';

const out = mkdtempSync(join(tmpdir(), 'tsi-nft-live-'));
const committed = join(process.cwd(), 'fixtures', 'nft', 'recorded');
const agreeing = new Set<string>(JSON.parse(readFileSync('test/baselines/nft-agreeing.json', 'utf8')) as string[]);

afterAll(() => rmSync(out, { recursive: true, force: true }));

function read(dir: string, f: string): RecordedFile {
  return JSON.parse(readFileSync(join(dir, f), 'utf8')) as RecordedFile;
}

test('the recorder runs against the real nft and leaves no namespace behind', () => {
  execFileSync('npx', ['tsx', 'scripts/record-nft.ts', '--out', out, '--quiet'], { stdio: 'inherit', timeout: 600_000 });
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('tsi-nft-'));
  expect(left).toEqual([]);
}, 620_000);

test('the real nft still answers as the committed recordings say', () => {
  const files = readdirSync(committed).filter((f) => f.endsWith('.json')).sort();
  expect(readdirSync(out).filter((f) => f.endsWith('.json')).sort()).toEqual(files);
  for (const f of files) expect({ file: f, cases: read(out, f).cases }).toEqual({ file: f, cases: read(committed, f).cases });
});

test("tsiptables nft agrees with today's recording on every baseline case", async () => {
  const failures: string[] = [];
  for (const f of readdirSync(out).filter((x) => x.endsWith('.json'))) {
    const base = f.replace(/\.json$/, '');
    for (const c of read(out, f).cases) {
      const id = `${base}: ${c.name}`;
      if (!agreeing.has(id)) continue;
      const dir = mkdtempSync(join(tmpdir(), 'tsi-nft-'));
      try {
        for (const step of c.steps) {
          const translating = step.argv[0] === 'iptables-translate';
          const r = translating ? runTranslate(step.argv.slice(1)) : await runNft(step.argv.slice(1), () => step.stdin ?? '', join(dir, 'rules.v4'));
          const stderr = translating ? step.stderr.replace(/iptables-translate/g, 'tsiptables-translate') : step.stderr;
          if (r.stdout !== step.stdout || r.stderr !== stderr || r.status !== step.exit) {
            failures.push(`${id}: ${step.cmd}`);
            break;
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  expect(failures).toEqual([]);
});
