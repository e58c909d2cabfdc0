/**
 * Live suite (root, real kernel): re-records a sample of the committed kernel trace cases with
 * scripts/record-traces.ts (fed the committed recordings themselves, so the scenarios are exactly the stored
 * ones) and checks that the kernel still does what fixtures/traces/recorded/ says, packet by packet: fate, out
 * interface, the packet after NAT, the TRACE steps and every dmesg line, MAC= aside (the veth MACs are
 * deterministic, but the comparison does not depend on them). Scenarios whose outcome depends on the kernel's
 * randomness (the SNAT port clash) are not in the sample.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceFixtureFile } from '../../scripts/trace-fixture-format';

const RECORDED = 'fixtures/traces/recorded';
/** file -> scenarios re-recorded. */
const SAMPLE: Record<string, string[]> = {
  'router-lab.json': ['router-lab'],
  'conntrack-states.json': ['invalid-flows', 'nat-first-packet', 'rst-deletes-entry', 'nat-needs-conntrack'],
  'routing.json': ['rp-filter-strict', 'martians', 'local-addresses-and-broadcast'],
  'matches-targets.json': ['user-chains', 'owner-match', 'icmp-error-related'],
  'nat.json': ['redirect'],
};

const isRoot = process.getuid?.() === 0;
const maybe = isRoot ? describe : describe.skip;

const stripMac = (l: string): string => l.replace(/ MAC=\S*/, ' MAC=');

maybe('kernel trace recorder (live)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tsi-live-traces-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('re-records the sample and leaves no namespace behind', () => {
    const files = Object.keys(SAMPLE).map((f) => join(RECORDED, f));
    const only = Object.values(SAMPLE).flatMap((names) => names.flatMap((n) => ['--only', n]));
    execFileSync('npx', ['tsx', 'scripts/record-traces.ts', '--quiet', '--out', out, ...only, ...files], { stdio: 'inherit', timeout: 300_000 });
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^tsi-rec-[hp]\b/.test(l));
    expect(left).toEqual([]);
  }, 320_000);

  test('the kernel still does what the committed recordings say', () => {
    const diffs: string[] = [];
    for (const [file, names] of Object.entries(SAMPLE)) {
      const before = JSON.parse(readFileSync(join(RECORDED, file), 'utf8')) as TraceFixtureFile;
      const fresh = existsSync(join(out, file)) ? (JSON.parse(readFileSync(join(out, file), 'utf8')) as TraceFixtureFile) : { scenarios: [] };
      for (const name of names) {
        const a = before.scenarios.find((s) => s.name === name);
        const b = fresh.scenarios.find((s) => s.name === name);
        if (!a || !b) {
          diffs.push(`${file}#${name}: missing (${a ? 'not re-recorded' : 'not in the committed file'})`);
          continue;
        }
        a.packets.forEach((p, i) => {
          const k = p.kernel;
          const f = b.packets[i]?.kernel;
          if (!k || !f) {
            diffs.push(`${file}#${name}#${i + 1}: no outcome`);
            return;
          }
          const view = (o: typeof k): unknown => ({ fate: o.fate, out: o.out, packet: o.packet, trace: o.trace, dmesg: o.dmesg.map(stripMac) });
          if (JSON.stringify(view(k)) !== JSON.stringify(view(f))) {
            diffs.push(`${file}#${name}#${i + 1}: ${p.packet}\n  committed: ${JSON.stringify(view(k))}\n  today:     ${JSON.stringify(view(f))}`);
          }
        });
      }
    }
    expect(diffs).toEqual([]);
  });
});

