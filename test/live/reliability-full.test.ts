/**
 * Live suite, reliability (issue 7, items 4-6) at full size, plus what needs root: the bodies of
 * test/reliability/ (which `npm test` runs at fast sizes) with 200 concurrent writers, hundreds of SIGKILLs
 * across restore, -A and -X, and thousands of fuzz runs; a full disk (a 64 KiB tmpfs) and a read-only mount
 * under the state file; and the lock messages set side by side with what the real iptables-legacy prints.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from '../../src/io/state';
import { concurrencySuite } from '../reliability/lib/concurrency';
import { crashSuite } from '../reliability/lib/crash';
import { fuzzSuite } from '../reliability/lib/fuzz-suite';
import { BIN, killAll, leftovers, requireDist, run } from '../reliability/lib/harness';

describe('concurrency, full size', () => concurrencySuite({ writers: 200, restoreRounds: 40, restoreRules: 5000 }));
describe('SIGKILL loops, full size', () => crashSuite({ iterations: 120, rules: 20_000 }));
describe('hostile input, full size', () => fuzzSuite({ commandRuns: 6000, dumpRuns: 6000, byteRuns: 3000, traceRuns: 3000, caseBoundMs: 5000 }));

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? describe : describe.skip;
const hasLegacy = spawnSync('sh', ['-c', 'command -v iptables-legacy && command -v flock && command -v ip'], { encoding: 'utf8' }).status === 0;

function mount(args: string[]): void {
  execFileSync('mount', args, { stdio: 'pipe' });
}
function umount(dir: string): void {
  spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
}

const SMALL = '*filter\n:INPUT DROP [0:0]\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\nCOMMIT\n';
function rulesDump(n: number): string {
  return ['*filter', ':BIG - [0:0]', ...Array.from({ length: n }, (_, i) => `-A BIG -s 10.1.${(i >> 8) & 255}.${i & 255}/32 -p tcp --dport ${1 + i} -j ACCEPT`), 'COMMIT', ''].join('\n');
}

rootOnly('a full disk under the state file (tmpfs, 64 KiB)', () => {
  let dir: string;
  let mnt: string;
  let env: NodeJS.ProcessEnv;
  let state: string;
  beforeAll(() => {
    requireDist();
    dir = mkdtempSync(join(tmpdir(), 'tsi-full-'));
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    mount(['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tsi-rel-tmpfs', mnt]);
    state = join(mnt, 'rules.v4');
    env = { ...process.env, TSIPTABLES_STATE: state };
  });
  afterAll(() => {
    killAll();
    umount(mnt);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a restore larger than the disk: one line, exit 4, the old state intact, nothing left behind', async () => {
    expect((await run('tsiptables-restore', [], { env, input: SMALL })).code).toBe(0);
    const before = readFileSync(state);
    const big = join(dir, 'big.rules');
    writeFileSync(big, rulesDump(3000));
    const o = await run('tsiptables-restore', [big], { env, timeoutMs: 120_000 });
    expect({ code: o.code, stdout: o.stdout, stderr: o.stderr }).toEqual({ code: 4, stdout: '', stderr: `Fatal: can't write state file ${state}: No space left on device\n` });
    expect(readFileSync(state)).toEqual(before);
    expect(leftovers(state)).toEqual([]);
  }, 120_000);

  test('-A, -N and -P on a disk with no room left: one line, exit 4, the state intact; room again: they work', async () => {
    const before = readFileSync(state);
    // Fill the disk to the last page.
    const filler = join(mnt, 'filler');
    const page = Buffer.alloc(4096, 1);
    writeFileSync(filler, '');
    let full = false;
    for (let i = 0; i < 64 && !full; i++) {
      try {
        writeFileSync(filler, page, { flag: 'a' });
      } catch (e) {
        full = (e as { code?: string }).code === 'ENOSPC';
      }
    }
    expect(full).toBe(true);
    for (const args of [['-A', 'INPUT', '-s', '10.0.0.2', '-j', 'ACCEPT'], ['-N', 'NEW'], ['-P', 'INPUT', 'ACCEPT']]) {
      const o = await run('tsiptables', args, { env });
      expect({ args, code: o.code, stderr: o.stderr }).toEqual({ args, code: 4, stderr: `Fatal: can't write state file ${state}: No space left on device\n` });
    }
    expect(readFileSync(state)).toEqual(before);
    expect((await run('tsiptables', ['-S'], { env })).stdout).toBe('-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\n');
    expect(leftovers(state)).toEqual([]);
    rmSync(filler);
    const ok = await run('tsiptables', ['-A', 'INPUT', '-s', '10.0.0.2', '-j', 'ACCEPT'], { env });
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect((await run('tsiptables', ['-S', 'INPUT'], { env })).stdout).toBe('-P INPUT DROP\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\n-A INPUT -s 10.0.0.2/32 -j ACCEPT\n');
  }, 120_000);
});

rootOnly('a read-only state directory (read-only bind mount)', () => {
  let dir: string;
  let src: string;
  let ro: string;
  let env: NodeJS.ProcessEnv;
  let state: string;
  beforeAll(async () => {
    requireDist();
    dir = mkdtempSync(join(tmpdir(), 'tsi-ro-'));
    src = join(dir, 'src');
    ro = join(dir, 'ro');
    mkdirSync(src);
    mkdirSync(ro);
    expect((await run('tsiptables-restore', [], { env: { ...process.env, TSIPTABLES_STATE: join(src, 'rules.v4') }, input: SMALL })).code).toBe(0);
    mount(['--bind', src, ro]);
    mount(['-o', 'remount,bind,ro', ro]);
    state = join(ro, 'rules.v4');
    env = { ...process.env, TSIPTABLES_STATE: state };
  });
  afterAll(() => {
    killAll();
    umount(ro);
    rmSync(dir, { recursive: true, force: true });
  });

  test('writers get iptables-legacy\'s lock-file line and exit 4; readers work; nothing changes', async () => {
    const before = readFileSync(state);
    const line = `Fatal: can't open lock file ${state}.lock: Read-only file system\n`;
    for (const args of [['-A', 'INPUT', '-j', 'DROP'], ['-w', '1', '-F'], ['-X']]) {
      const o = await run('tsiptables', args, { env });
      expect({ args, code: o.code, stderr: o.stderr }).toEqual({ args, code: 4, stderr: line });
    }
    const r = await run('tsiptables-restore', [], { env, input: '*filter\n-A INPUT -j DROP\nCOMMIT\n' });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 4, stderr: line });
    expect((await run('tsiptables', ['-S'], { env })).stdout).toBe('-P INPUT DROP\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A INPUT -s 10.0.0.1/32 -j ACCEPT\n');
    expect((await run('tsiptables-save', [], { env })).code).toBe(0);
    expect(readFileSync(state)).toEqual(before);
    expect(readFileSync(join(src, 'rules.v4'))).toEqual(before);
  }, 60_000);

  (hasLegacy ? test : test.skip)('iptables-legacy with its lock file on the same read-only mount prints the same line', () => {
    const ns = `tsi-rel-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const lock = join(ro, 'xtables.lock');
      const real = spawnSync('ip', ['netns', 'exec', ns, 'iptables-legacy', '-A', 'INPUT', '-j', 'ACCEPT'], { env: { ...process.env, XTABLES_LOCKFILE: lock }, encoding: 'utf8' });
      expect({ status: real.status, stderr: real.stderr }).toEqual({ status: 4, stderr: `Fatal: can't open lock file ${lock}: Read-only file system\n` });
    } finally {
      spawnSync('ip', ['netns', 'del', ns]);
    }
  });
});

(isRoot && hasLegacy ? describe : describe.skip)('the lock messages, side by side with iptables-legacy', () => {
  test('`-w 1` under a held lock: the same two lines (lock file path aside) and exit 4', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsi-lockmsg-'));
    const ns = `tsi-rel-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    const holder = spawn('flock', [join(dir, 'xtables.lock'), 'sleep', '30'], { stdio: 'ignore' });
    try {
      // Wait for flock to hold the lock (flock -n fails while it does).
      while (spawnSync('flock', ['-n', join(dir, 'xtables.lock'), 'true']).status === 0) await new Promise((r) => setTimeout(r, 20));
      const real = spawnSync('ip', ['netns', 'exec', ns, 'iptables-legacy', '-w', '1', '-A', 'INPUT', '-j', 'ACCEPT'], { env: { ...process.env, XTABLES_LOCKFILE: join(dir, 'xtables.lock') }, encoding: 'utf8', timeout: 30_000 });
      const state = join(dir, 'rules.v4');
      const ours = await withLock(state, undefined, () =>
        spawnSync(join(BIN, 'tsiptables'), ['-w', '1', '-A', 'INPUT', '-j', 'ACCEPT'], { env: { ...process.env, TSIPTABLES_STATE: state }, encoding: 'utf8', timeout: 30_000 }),
      );
      expect(real.status).toBe(4);
      expect(ours.status).toBe(4);
      expect(ours.stderr.replace(`${state}.lock`, 'LOCK')).toBe(real.stderr.replace(join(dir, 'xtables.lock'), 'LOCK'));
      expect(existsSync(state)).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      spawnSync('ip', ['netns', 'del', ns]);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
