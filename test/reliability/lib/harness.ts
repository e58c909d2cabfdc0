/**
 * Shared by the reliability suites (test/reliability, and test/live/reliability-full.test.ts at full size):
 * scratch directories, the built CLI run as real processes (every child is tracked and killed at the end),
 * a seeded random source, and what a state directory may hold after writers have come and gone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** TSI_FULL=1: the full-size variants (200 writers, hundreds of SIGKILLs, thousands of fuzz runs). */
export const FULL = process.env.TSI_FULL === '1';

export const ROOT = process.cwd();
export const BIN = join(ROOT, 'bin');
export type Program = 'tsiptables' | 'tsiptables-restore' | 'tsiptables-save';

export function requireDist(): void {
  if (!existsSync(join(ROOT, 'dist', 'tsiptables.cjs'))) throw new Error('dist/ is missing: run `npm run build`');
}

/** A temporary directory with a state file path in it; `cleanup()` removes it. */
export class Scratch {
  readonly dir: string;
  readonly state: string;
  readonly env: NodeJS.ProcessEnv;
  constructor(prefix: string) {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    this.state = join(this.dir, 'rules.v4');
    this.env = { ...process.env, TSIPTABLES_STATE: this.state };
  }
  file(name: string): string {
    return join(this.dir, name);
  }
  cleanup(): void {
    try {
      chmodSync(this.dir, 0o700);
    } catch {
      // Already gone.
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  input?: string | Buffer;
  /** A hang bound: the child is killed after this many ms (and the outcome says SIGKILL). */
  timeoutMs?: number;
  uid?: number;
  gid?: number;
}

/** Starts bin/PROGRAM; the returned child is tracked until it exits. */
export function start(program: Program, args: readonly string[], o: RunOptions): { child: ChildProcess; done: Promise<Outcome> } {
  const child = spawn(join(BIN, program), args, { env: o.env, stdio: ['pipe', 'pipe', 'pipe'], uid: o.uid, gid: o.gid });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(o.input ?? '');
  const timer = o.timeoutMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), o.timeoutMs) : undefined;
  const done = new Promise<Outcome>((resolve, reject) => {
    child.on('error', reject);
    // 'close', not 'exit': the pipes are drained by then.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

export function run(program: Program, args: readonly string[], o: RunOptions): Promise<Outcome> {
  return start(program, args, o).done;
}

/** Kills every child still running (afterAll of each suite). */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}

/** mulberry32: a small seeded generator, so a failing loop can be replayed with TSI_SEED. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The seed of the randomised loops and fuzz runs: TSI_SEED when set; otherwise one drawn from the checked-out
 * commit, so CI on a clone runs the very cases its author ran on that commit (a new commit explores new ones);
 * outside git, the clock.
 */
export function seedFromEnv(): number {
  const s = Number(process.env.TSI_SEED);
  if (process.env.TSI_SEED && Number.isInteger(s)) return s;
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  if (head.status === 0 && /^[0-9a-f]{8}/.test(head.stdout)) return parseInt(head.stdout.slice(0, 8), 16) % 2 ** 31;
  return Date.now() % 2 ** 31;
}

/**
 * What beside the state file is not the state file: the lock directory, prepared lock directories and
 * temporary files of writers (all named `<state>.<something>`).
 */
export function leftovers(state: string): string[] {
  const base = basename(state);
  return readdirSync(dirname(state)).filter((n) => n.startsWith(`${base}.`));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `-A` lines of `-S` output. */
export function ruleLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('-A '));
}

/** A distinct address for each i < 2^24. */
export function addr(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}
