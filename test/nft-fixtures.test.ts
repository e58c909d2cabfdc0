/**
 * Replays the recordings of the real nft 1.0.6 (fixtures/nft/recorded/*.json, made by scripts/record-nft.ts)
 * against `tsiptables nft`, each case on a fresh state file, without root. Every case listed in
 * test/baselines/nft-agreeing.json must agree byte for byte (stdout, stderr, exit status); the test also prints
 * the count of agreeing cases. NFT_REPLAY_DIR replays another recording directory (the live test's).
 * NFT_WRITE_BASELINE=1 replays every case and rewrites the baseline with those that agree (after re-recording).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RecordedCase, RecordedFile } from '../scripts/fixture-format';
import { expectedStderr, replayStep } from './support/nft-replay';

const DIR = process.env.NFT_REPLAY_DIR ?? join(process.cwd(), 'fixtures', 'nft', 'recorded');
const BASELINE = join(process.cwd(), 'test', 'baselines', 'nft-agreeing.json');

/** Replays one case; returns the first disagreeing step's report, or undefined when all steps agree. */
export async function replayNftCase(c: RecordedCase): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'tsi-nft-'));
  try {
    const state = join(dir, 'rules.v4');
    for (const step of c.steps) {
      const r = await replayStep(step, state);
      const stderr = expectedStderr(step);
      if (r.stdout !== step.stdout || r.stderr !== stderr || r.status !== step.exit) {
        return `${step.cmd}\n--- expected (exit ${step.exit})\n${step.stdout}${stderr}--- actual (exit ${r.status})\n${r.stdout}${r.stderr}`;
      }
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function recordings(): [string, RecordedFile][] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(DIR, f), 'utf8')) as RecordedFile]);
}

const agreeing = new Set<string>(JSON.parse(readFileSync(BASELINE, 'utf8')) as string[]);

const writeBaseline = process.env.NFT_WRITE_BASELINE === '1';

describe('tsiptables nft agrees with the recorded nft 1.0.6', () => {
  const agreed: string[] = [];
  if (writeBaseline) afterAll(() => writeFileSync(BASELINE, `${JSON.stringify(agreed, null, 2)}\n`));
  for (const [base, rec] of recordings()) {
    for (const c of rec.cases) {
      const id = `${base}: ${c.name}`;
      if (writeBaseline) {
        test(id, async () => {
          if ((await replayNftCase(c)) === undefined) agreed.push(id);
        });
        continue;
      }
      const run = agreeing.has(id) ? test : test.skip;
      run(id, async () => {
        expect(await replayNftCase(c)).toBeUndefined();
      });
    }
  }
});
