/**
 * Live suite (root, real kernel and nft): re-records every nft trace scenario (fixtures/nft/traces/scenarios) with
 * scripts/record-nft-traces.ts into a temporary directory and checks that the kernel still prints what
 * fixtures/nft/traces/recorded/ says, packet by packet: fate, out interface and every `nft monitor trace` line
 * (trace ids are masked by the recorder), and that no tsi-nt- namespace is left behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NftTraceFixtureFile } from '../../scripts/record-nft-traces';

const RECORDED = 'fixtures/nft/traces/recorded';
const isRoot = process.getuid?.() === 0;
const maybe = isRoot ? describe : describe.skip;

maybe('nft trace recorder (live)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'tsi-nft-traces-'));
    execFileSync('npx', ['tsx', 'scripts/record-nft-traces.ts', '--quiet', '--out', out], { stdio: 'inherit', timeout: 600_000 });
  }, 620_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  const files = readdirSync(RECORDED).filter((f) => f.endsWith('.json')).sort();
  for (const f of files) {
    test(f, () => {
      const committed = JSON.parse(readFileSync(join(RECORDED, f), 'utf8')) as NftTraceFixtureFile;
      const today = JSON.parse(readFileSync(join(out, f), 'utf8')) as NftTraceFixtureFile;
      expect(today.scenarios.map((s) => s.name)).toEqual(committed.scenarios.map((s) => s.name));
      committed.scenarios.forEach((s, i) => {
        const t = today.scenarios[i]!;
        expect(t.packets.map((p) => ({ packet: p.packet, fate: p.kernel?.fate, out: p.kernel?.out, monitor: p.kernel?.monitor }))).toEqual(
          s.packets.map((p) => ({ packet: p.packet, fate: p.kernel?.fate, out: p.kernel?.out, monitor: p.kernel?.monitor })),
        );
      });
    });
  }

  test('leaves no tsi-nt- namespace behind', () => {
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.startsWith('tsi-nt-'));
    expect(left).toEqual([]);
  });
});
