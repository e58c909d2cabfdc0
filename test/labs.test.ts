/**
 * `tsiptables lab` against the record: every bundled lab under fixtures/labs/ was run for real (bash, ip,
 * iptables 1.8.9, ping, nc, curl, tcpdump, conntrack in tsi- namespaces, scripts/record-labs.ts); the simulator
 * must print the same transcript, line for line, once what varies between real runs is masked (src/lab/mask.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLab } from '../src/lab/run';
import { maskTranscript } from '../src/lab/mask';

const DIR = join(__dirname, '..', 'fixtures', 'labs');
const RECORDED = join(DIR, 'recorded');

interface Record {
  script: string;
  transcript: string;
  exitStatus: number;
}

const records = readdirSync(RECORDED)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(RECORDED, f), 'utf8')) as Record);

/** The first differing line, with a little context, for a readable failure. */
function firstDifference(want: string, got: string): string | undefined {
  const w = want.split('\n');
  const g = got.split('\n');
  for (let i = 0; i < Math.max(w.length, g.length); i++) {
    if (w[i] !== g[i]) return `line ${i + 1}\n  recorded: ${JSON.stringify(w[i])}\n  simulated: ${JSON.stringify(g[i])}\n  before: ${JSON.stringify(w.slice(Math.max(0, i - 3), i))}`;
  }
  return undefined;
}

describe('bundled labs print what the real run printed', () => {
  it('has every bundled lab recorded', () => {
    const scripts = readdirSync(DIR).filter((f) => f.endsWith('.sh')).sort();
    expect(records.map((r) => r.script).sort()).toEqual(scripts);
  });
  for (const rec of records) {
    it(rec.script, async () => {
      const script = readFileSync(join(DIR, rec.script), 'utf8');
      const r = await runLab(script, { scriptName: rec.script });
      expect(r.unsupported).toEqual([]);
      const got = maskTranscript(r.transcript);
      expect(firstDifference(rec.transcript, got)).toBeUndefined();
      expect(r.status).toBe(rec.exitStatus);
    });
  }
});
