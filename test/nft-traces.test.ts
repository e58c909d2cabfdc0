/**
 * `tsiptables trace --monitor` with nftables chains against the real `nft monitor trace`: every scenario of
 * fixtures/nft/traces/recorded/ (recorded by scripts/record-nft-traces.ts in tsi-nt-* namespaces: the kernel's
 * lines for packets traced from their first hook on, the recorder's own tsitrace chains left out, trace ids masked
 * as `#n`) is rebuilt for tsiptables the way a user would: a state file in a temp dir (TSIPTABLES_STATE),
 * `tsiptables nft --host HOST -f FILE` and the `tsiptables iptables ...` commands in the recorded order, and the
 * packets traced as one `--batch` (conntrack carried from packet to packet) with `trace --monitor --host HOST`.
 * Packet k's lines are what batch 1..k printed beyond batch 1..k-1. Only the trace ids are masked, the same way.
 *
 * Scenarios listed in KNOWN_GAPS do not agree yet: their test is `test.failing` (it fails as soon as they agree,
 * so the list shrinks with the fixes). The per-scenario count of agreeing lines is printed either way.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runIptables } from '../src/cli/main';
import { runNft } from '../src/cli/nft';
import { runTrace } from '../src/cli/trace';
import type { NftTraceFixtureFile, NftTraceRecordedScenario } from '../scripts/record-nft-traces';

const DIR = 'fixtures/nft/traces/recorded';

/**
 * Scenarios whose lines do not all agree yet, with the cause (see the report printed by the summary test). A
 * listed scenario must still disagree; remove it when it agrees.
 */
const KNOWN_GAPS: ReadonlyMap<string, string> = new Map<string, string>([]);

const recorded: NftTraceRecordedScenario[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .flatMap((f) => (JSON.parse(readFileSync(join(DIR, f), 'utf8')) as NftTraceFixtureFile).scenarios)
  .filter((s) => !/\[recorder error: /.test(s.why));

/** Trace ids replaced by `#n`, n their order of first appearance (as the recorder stores them). */
function maskTraceIds(lines: readonly string[]): string[] {
  const ids = new Map<string, number>();
  return lines.map((l) =>
    l.replace(/^trace id ([0-9a-f]{8}|#\d+) /, (_m, id: string) => {
      if (!ids.has(id)) ids.set(id, ids.size);
      return `trace id #${ids.get(id)!} `;
    }),
  );
}

/** The length of the longest common subsequence of two line lists. */
function commonLines(a: readonly string[], b: readonly string[]): number {
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const x of a) {
    const cur = [0];
    for (let j = 0; j < b.length; j++) cur.push(x === b[j] ? prev[j]! + 1 : Math.max(prev[j + 1]!, cur[j]!));
    prev = cur;
  }
  return prev[b.length]!;
}

const io = { stdin: () => '', isTTY: false, env: {} as NodeJS.ProcessEnv };

interface PacketResult {
  packet: string;
  kernel: string[];
  mine: string[];
  /** Lines both have in the same order (longest common subsequence), out of the longer of the two. */
  agree: number;
  total: number;
}

interface ScenarioResult {
  name: string;
  /** Set when tsiptables could not even build the host or load the rules. */
  setupError?: string;
  packets: PacketResult[];
}

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');

async function replay(sc: NftTraceRecordedScenario): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tsi-nft-traces-'));
  const saved = process.env.TSIPTABLES_STATE;
  const state = join(dir, 'rules.v4');
  process.env.TSIPTABLES_STATE = state;
  try {
    const host = join(dir, 'host.txt');
    writeFileSync(host, sc.host);
    const rules = join(dir, 'rules.nft');
    writeFileSync(rules, sc.nft);
    const problems: string[] = [];
    const nft = async (): Promise<void> => {
      if (sc.nft.trim() === '') return;
      const r = await runNft(['--host', host, '-f', rules], () => '', state);
      if (r.status !== 0) problems.push(`tsiptables nft -f: exit ${r.status}: ${r.stderr.trim()}`);
    };
    const ipt = async (): Promise<void> => {
      for (const c of sc.iptables ?? []) {
        const r = await runIptables('tsiptables', c.trim().split(/\s+/).slice(1), state);
        if (r.status !== 0) problems.push(`tsiptables ${c}: exit ${r.status}: ${r.stderr.trim()}`);
      }
    };
    if (sc.iptablesFirst) {
      await ipt();
      await nft();
    } else {
      await nft();
      await ipt();
    }
    if (problems.length) return { name: sc.name, setupError: problems.join('; '), packets: [] };
    const packets: PacketResult[] = [];
    let before: string[] = [];
    for (let k = 0; k < sc.packets.length; k++) {
      const batch = sc.packets
        .slice(0, k + 1)
        .map((p) => p.packet)
        .join('\n');
      const r = await runTrace(['--monitor', '--host', host, '--batch', '-'], { ...io, stdin: () => `${batch}\n` });
      const all = lines(r.stdout);
      let mine: string[];
      if (r.status === 2) mine = [`[tsiptables trace: exit 2: ${r.stderr.trim()}]`];
      else if (all.slice(0, before.length).join('\n') !== before.join('\n')) mine = ['[batch 1..k does not begin with the lines of batch 1..k-1]', ...all];
      else mine = all.slice(before.length);
      before = all;
      const kernel = sc.packets[k]!.kernel?.monitor ?? [];
      const masked = maskTraceIds(mine);
      const total = Math.max(masked.length, kernel.length);
      const agree = commonLines(masked, kernel);
      packets.push({ packet: sc.packets[k]!.packet, kernel, mine: masked, agree, total });
    }
    return { name: sc.name, packets };
  } finally {
    if (saved === undefined) delete process.env.TSIPTABLES_STATE;
    else process.env.TSIPTABLES_STATE = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = new Map<string, ScenarioResult>();

beforeAll(async () => {
  for (const sc of recorded) results.set(sc.name, await replay(sc));
}, 120_000);

const sum = (r: ScenarioResult, f: (p: PacketResult) => number): number => r.packets.reduce((a, p) => a + f(p), 0);
const agrees = (r: ScenarioResult): boolean => r.setupError === undefined && r.packets.every((p) => p.agree === p.total);

/** The differing packets of a scenario, kernel and tsiptables lines side by side. */
function diff(r: ScenarioResult): string {
  if (r.setupError) return `${r.name}: ${r.setupError}`;
  return r.packets
    .filter((p) => p.agree !== p.total)
    .map((p) => `${r.name}: ${p.packet}\n  kernel:\n    ${p.kernel.join('\n    ')}\n  tsiptables:\n    ${p.mine.join('\n    ')}`)
    .join('\n');
}

test('recorded nft trace scenarios exist', () => {
  expect(recorded.length).toBeGreaterThan(0);
  expect([...KNOWN_GAPS.keys()].filter((n) => !recorded.some((s) => s.name === n))).toEqual([]);
});

describe.each(recorded.map((s) => [s.name]))('%s', (name) => {
  const t = KNOWN_GAPS.has(name) ? test.failing : test;
  t('every packet: the lines nft monitor trace printed (trace ids masked)', () => {
    const r = results.get(name)!;
    expect(diff(r)).toBe('');
  });
});

test('summary: agreeing lines per scenario', () => {
  const rows = recorded.map((s) => {
    const r = results.get(s.name)!;
    const a = sum(r, (p) => p.agree);
    const t = sum(r, (p) => p.total) || s.packets.reduce((n, p) => n + (p.kernel?.monitor.length ?? 0), 0);
    return `  ${agrees(r) ? 'ok  ' : KNOWN_GAPS.has(s.name) ? 'gap ' : 'FAIL'} ${s.name}: ${a}/${t} lines${r.setupError ? ` (setup: ${r.setupError})` : ''}`;
  });
  const all = recorded.map((s) => results.get(s.name)!);
  // eslint-disable-next-line no-console
  console.log(
    `trace --monitor (nft): ${all.filter(agrees).length}/${all.length} scenarios agree, ` +
      `${all.reduce((a, r) => a + sum(r, (p) => p.agree), 0)}/${all.reduce((a, r) => a + sum(r, (p) => p.total), 0)} lines\n${rows.join('\n')}` +
      (process.env.NFT_TRACES_DIFF ? `\n${all.filter((r) => !agrees(r)).map(diff).join('\n')}` : ''),
  );
  // Listed gaps that agree now must leave the list (their test.failing fails too).
  expect(all.filter((r) => KNOWN_GAPS.has(r.name) && agrees(r)).map((r) => r.name)).toEqual([]);
});
