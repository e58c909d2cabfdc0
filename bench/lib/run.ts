/**
 * run.ts - run one command under GNU time and return its wall time and peak RSS, plus the network namespace
 * the real iptables run in.  Everything here is asynchronous so that SIGINT can be handled while a child runs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One measured run. */
export interface Sample {
  /** Wall time in seconds (GNU time %e, 10 ms resolution; hrtime when GNU time is missing). */
  wall: number;
  /** Peak RSS in KiB (GNU time %M), null without GNU time. */
  maxRssKB: number | null;
  /** Exit status of the measured command (128+N when killed by signal N). */
  code: number;
  /** First bytes of its standard error. */
  stderr: string;
}

export interface RunOptions {
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  env?: NodeJS.ProcessEnv;
  /** Send standard output here (a file path); otherwise it is discarded. */
  stdoutFile?: string;
}

const STDERR_KEEP = 4096;

/**
 * The child currently running, so that a signal handler can end it.  Each child leads its own process group
 * (detached), so that killing the group also ends what GNU time and `ip netns exec` started.
 */
let current: ChildProcess | null = null;

export function killCurrentChild(): void {
  const c = current;
  if (c && c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Path of a working GNU time (it must understand -f and -o), or null. */
export function findGnuTime(): string | null {
  for (const p of ['/usr/bin/time', '/bin/time']) {
    try {
      execFileSync(p, ['-f', '%e %M', '-o', '/dev/null', 'true'], { stdio: 'ignore' });
      return p;
    } catch {
      /* missing, or busybox time without -f/-o */
    }
  }
  return null;
}

/** Full path of an executable found in PATH, /usr/sbin or /sbin, or null. */
export function which(name: string): string | null {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

export class Runner {
  private seq = 0;
  constructor(
    private readonly timeBin: string | null,
    private readonly ipBin: string | null,
    private readonly tmpDir: string,
  ) {}

  async run(cmd: string[], opts: RunOptions = {}): Promise<Sample> {
    const timeFile = path.join(this.tmpDir, `time-${process.pid}-${this.seq++}.txt`);
    let argv = this.timeBin ? [this.timeBin, '-o', timeFile, '-f', '%e %M', ...cmd] : cmd;
    if (opts.netns) {
      if (!this.ipBin) throw new Error('ip(8) not found');
      argv = [this.ipBin, 'netns', 'exec', opts.netns, ...argv];
    }
    const out = opts.stdoutFile ? fs.openSync(opts.stdoutFile, 'w') : 'ignore';
    const t0 = process.hrtime.bigint();
    let stderr = '';
    let code: number;
    try {
      code = await new Promise<number>((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {
          stdio: ['ignore', out, 'pipe'],
          env: opts.env ?? process.env,
          detached: true,
        });
        current = child;
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (d: string) => {
          if (stderr.length < STDERR_KEEP) stderr += d.slice(0, STDERR_KEEP - stderr.length);
        });
        child.on('error', reject);
        child.on('close', (c, sig) => {
          current = null;
          if (c !== null) resolve(c);
          else resolve(128 + (sig ? (signalNumber(sig) ?? 0) : 0));
        });
      });
    } finally {
      if (typeof out === 'number') fs.closeSync(out);
    }
    const hr = Number(process.hrtime.bigint() - t0) / 1e9;
    let wall = hr;
    let maxRssKB: number | null = null;
    if (this.timeBin) {
      const text = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8') : '';
      fs.rmSync(timeFile, { force: true });
      // With -o, GNU time writes "Command exited with non-zero status N" before the format line.
      const m = /(\d+(?:\.\d+)?) (\d+)\s*$/.exec(text);
      if (m) {
        wall = Number(m[1]);
        maxRssKB = Number(m[2]);
      }
    }
    return { wall, maxRssKB, code, stderr: stderr.trim() };
  }
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const n = (
    {
      SIGHUP: 1,
      SIGINT: 2,
      SIGQUIT: 3,
      SIGKILL: 9,
      SIGSEGV: 11,
      SIGPIPE: 13,
      SIGTERM: 15,
    } as Partial<Record<NodeJS.Signals, number>>
  )[sig];
  return n;
}

/**
 * The network namespace the real iptables run in: `tsi-bench-<pid>`, recreated for each fresh start and
 * deleted at the end, on error and on signals (see installCleanup in bench.ts, which calls destroySync).
 */
export class Netns {
  readonly name = `tsi-bench-${process.pid}`;
  private exists = false;
  constructor(private readonly ipBin: string) {}

  /** Deletes the namespace if present and creates it anew (empty ruleset). */
  fresh(): void {
    this.destroySync();
    execFileSync(this.ipBin, ['netns', 'add', this.name], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exists = true;
  }

  destroySync(): void {
    if (!this.exists && !listNetns(this.ipBin).includes(this.name)) return;
    try {
      execFileSync(this.ipBin, ['netns', 'del', this.name], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch {
      /* already gone */
    }
    this.exists = false;
  }
}

export function listNetns(ipBin: string): string[] {
  try {
    return execFileSync(ipBin, ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

/** Whether process `pid` exists. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
