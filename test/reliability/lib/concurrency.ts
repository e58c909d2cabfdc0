/**
 * Writers under concurrency, run as real processes of the built CLI (item 4 of issue 7): none lost or
 * doubled, `-w N` gives up as iptables-legacy does, readers never see a partial ruleset, and a killed
 * holder's lock never blocks the next writer.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from '../../../src/io/state';
import { addr, BIN, killAll, leftovers, requireDist, ruleLines, run, Scratch, sleep, start } from './harness';

export interface ConcurrencySizes {
  /** Concurrent `tsiptables -w -A` processes. */
  writers: number;
  /** Restores alternating between two rulesets while readers read. */
  restoreRounds: number;
  /** Rules in each of the two alternating rulesets. */
  restoreRules: number;
}

function dump(chain: string, n: number, from: number): string {
  const lines = ['*filter', `:${chain} - [0:0]`, `-A INPUT -j ${chain}`];
  for (let i = 0; i < n; i++) lines.push(`-A ${chain} -s ${addr(from + i)}/32 -j ACCEPT`);
  lines.push('COMMIT', '');
  return lines.join('\n');
}

const lockMessage = (state: string, wait: number): string =>
  `Can't lock ${state}.lock: Resource temporarily unavailable\nAnother app is currently holding the xtables lock. Stopped waiting after ${wait}s.\n`;

export function concurrencySuite(size: ConcurrencySizes): void {
  let s: Scratch;
  beforeAll(requireDist);
  beforeEach(() => (s = new Scratch('tsi-conc-')));
  afterEach(() => s.cleanup());
  afterAll(killAll);

  test(`${size.writers} concurrent \`tsiptables -w -A\` leave exactly ${size.writers} rules, none lost or doubled`, async () => {
    const n = size.writers;
    const outcomes = await Promise.all(
      Array.from({ length: n }, (_, i) => run('tsiptables', ['-w', '-A', 'INPUT', '-s', addr(i), '-j', 'ACCEPT'], { env: s.env, timeoutMs: 300_000 })),
    );
    expect(outcomes.filter((o) => o.code !== 0 || o.stderr !== '')).toEqual([]);
    const listed = await run('tsiptables', ['-S', 'INPUT'], { env: s.env });
    const rules = ruleLines(listed.stdout).sort();
    const expected = Array.from({ length: n }, (_, i) => `-A INPUT -s ${addr(i)}/32 -j ACCEPT`).sort();
    expect(rules).toEqual(expected);
    // The lock is released and nothing of the writers is left beside the state file.
    expect(leftovers(s.state)).toEqual([]);
  }, 600_000);

  test('`-w 1` under a held lock: the loser prints the xtables lock message, exits 4 and changes nothing', async () => {
    expect((await run('tsiptables', ['-A', 'INPUT', '-j', 'ACCEPT'], { env: s.env })).code).toBe(0);
    const before = readFileSync(s.state);
    // This process takes the writers' lock (the real code path) and runs the CLI while holding it.
    const held = await withLock(s.state, undefined, () => ({
      append: spawnSync(join(BIN, 'tsiptables'), ['-w', '1', '-A', 'INPUT', '-j', 'DROP'], { env: s.env, encoding: 'utf8', timeout: 30_000 }),
      restore: spawnSync(join(BIN, 'tsiptables-restore'), ['-w', '2'], { env: s.env, encoding: 'utf8', input: '*filter\n-A INPUT -j DROP\nCOMMIT\n', timeout: 30_000 }),
      // Without -w, and with -w 0, iptables-legacy waits for ever: still waiting when killed after 1.2 s.
      noWait: spawnSync(join(BIN, 'tsiptables'), ['-A', 'INPUT', '-j', 'DROP'], { env: s.env, encoding: 'utf8', timeout: 1200, killSignal: 'SIGKILL' }),
      waitZero: spawnSync(join(BIN, 'tsiptables'), ['-w', '0', '-A', 'INPUT', '-j', 'DROP'], { env: s.env, encoding: 'utf8', timeout: 1200, killSignal: 'SIGKILL' }),
      // Readers take no lock.
      list: spawnSync(join(BIN, 'tsiptables'), ['-S'], { env: s.env, encoding: 'utf8', timeout: 30_000 }),
    }));
    expect({ status: held.append.status, stderr: held.append.stderr, stdout: held.append.stdout }).toEqual({ status: 4, stderr: lockMessage(s.state, 1), stdout: '' });
    expect({ status: held.restore.status, stderr: held.restore.stderr }).toEqual({ status: 4, stderr: lockMessage(s.state, 2) });
    expect({ signal: held.noWait.signal, stderr: held.noWait.stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    expect({ signal: held.waitZero.signal, stderr: held.waitZero.stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    expect({ status: held.list.status, stdout: held.list.stdout }).toEqual({ status: 0, stdout: '-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -j ACCEPT\n' });
    expect(readFileSync(s.state)).toEqual(before);
    // The two killed waiters left prepared lock directories; the next writer clears them.
    expect((await run('tsiptables', ['-w', '1', '-A', 'INPUT', '-j', 'DROP'], { env: s.env })).code).toBe(0);
    expect(leftovers(s.state)).toEqual([]);
  }, 120_000);

  test('a writer killed while holding the lock does not block the next one', async () => {
    const big = s.file('big.rules');
    writeFileSync(big, dump('BIG', 20_000, 0));
    for (let round = 0; round < 3; round++) {
      const { child, done } = start('tsiptables-restore', [big], { env: s.env, timeoutMs: 120_000 });
      // Wait until the restore holds the lock (its owner entry names its pid), then kill it there.
      const lockDir = `${s.state}.lock`;
      const holding = (): boolean => existsSync(lockDir) && readdirSync(lockDir).some((e) => e.startsWith(`owner.${child.pid}.`));
      while (!holding() && child.exitCode === null) await sleep(2);
      expect(holding()).toBe(true);
      child.kill('SIGKILL');
      expect((await done).signal).toBe('SIGKILL');
      // The dead holder's entry is still there: the lock was left behind, not released.
      expect(readdirSync(lockDir).filter((e) => e.startsWith(`owner.${child.pid}.`))).toHaveLength(1);
      // `-w 1` would give up (exit 4) if the dead holder's lock were taken as held.
      const next = await run('tsiptables', ['-w', '1', '-A', 'INPUT', '-s', addr(round), '-j', 'DROP'], { env: s.env });
      expect({ code: next.code, stderr: next.stderr }).toEqual({ code: 0, stderr: '' });
      expect(leftovers(s.state)).toEqual([]);
    }
    expect(ruleLines((await run('tsiptables', ['-S', 'INPUT'], { env: s.env })).stdout)).toEqual([0, 1, 2].map((i) => `-A INPUT -s ${addr(i)}/32 -j DROP`));
  }, 300_000);

  test(`readers during ${size.restoreRounds} restores see the old or the new ruleset, never a part`, async () => {
    const a = s.file('a.rules');
    const b = s.file('b.rules');
    writeFileSync(a, dump('ALPHA', size.restoreRules, 0));
    writeFileSync(b, dump('BETA', size.restoreRules + 1, 1000));
    // The complete outputs for each ruleset, taken while nothing else runs.
    const views = async (): Promise<{ file: Buffer; list: string; save: string }> => ({
      file: readFileSync(s.state),
      list: (await run('tsiptables', ['-S'], { env: s.env })).stdout,
      save: (await run('tsiptables-save', [], { env: s.env })).stdout.replace(/^# (Generated|Completed).*\n/gm, ''),
    });
    expect((await run('tsiptables-restore', [b], { env: s.env })).code).toBe(0);
    const viewB = await views();
    expect((await run('tsiptables-restore', [a], { env: s.env })).code).toBe(0);
    const viewA = await views();
    expect(ruleLines(viewA.list)).toHaveLength(size.restoreRules + 1);

    let writing = true;
    const writer = (async () => {
      try {
        for (let i = 0; i < size.restoreRounds; i++) {
          const o = await run('tsiptables-restore', [i % 2 === 0 ? b : a], { env: s.env, timeoutMs: 120_000 });
          expect({ code: o.code, stderr: o.stderr }).toEqual({ code: 0, stderr: '' });
        }
      } finally {
        writing = false;
      }
    })();
    const seen = { list: 0, save: 0, file: 0, partial: [] as string[] };
    const processReader = async (kind: 'list' | 'save'): Promise<void> => {
      while (writing) {
        const o = kind === 'list' ? await run('tsiptables', ['-S'], { env: s.env }) : await run('tsiptables-save', [], { env: s.env });
        const text = kind === 'list' ? o.stdout : o.stdout.replace(/^# (Generated|Completed).*\n/gm, '');
        if (o.code !== 0 || (text !== viewA[kind] && text !== viewB[kind])) seen.partial.push(`${kind}: exit ${o.code}, ${text.length} bytes, ${o.stderr}`);
        seen[kind]++;
      }
    };
    const fileReader = async (): Promise<void> => {
      while (writing) {
        const bytes = readFileSync(s.state);
        if (!bytes.equals(viewA.file) && !bytes.equals(viewB.file)) seen.partial.push(`file: ${bytes.length} bytes`);
        seen.file++;
        await sleep(1);
      }
    };
    await Promise.all([writer, processReader('list'), processReader('save'), fileReader()]);
    expect(seen.partial).toEqual([]);
    expect(seen.list).toBeGreaterThan(0);
    expect(seen.save).toBeGreaterThan(0);
    expect(seen.file).toBeGreaterThan(0);
  }, 600_000);
}
