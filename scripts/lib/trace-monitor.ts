/**
 * A trace monitor running in a recorder's host namespace (`xtables-monitor --trace`, `nft monitor trace`): its
 * stdout lines as they come, when it has joined the netfilter trace group (so no event is missed), and when its
 * output has gone quiet. Shared by scripts/record-monitor.ts and scripts/record-nft-traces.ts.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { run } from './recorder-host';

/** NFNLGRP_NFTRACE (9) as a bit of /proc/net/netlink's Groups column. */
const NFTRACE_GROUP_BIT = 1 << 8;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class TraceMonitor {
  private proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  lastAt = Date.now();
  private exited = false;
  stderr = '';

  /**
   * `argv`: the monitor as run in the host (`ip netns exec NS PROGRAM ...`); `name` names it in errors;
   * `settleMs`: how long it still needs after joining the group before events reach it.
   */
  constructor(
    argv: readonly string[],
    private readonly name: string,
    private readonly inHost: (...argv: string[]) => string[],
    private readonly settleMs = 0,
  ) {
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      this.lines.push(l);
      this.lastAt = Date.now();
    });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.on('exit', () => (this.exited = true));
  }

  /** Until the monitor's netlink socket has joined the trace group in the host namespace. */
  async ready(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.name} exited: ${this.stderr.trim()}`);
      const table = run(this.inHost('cat', '/proc/net/netlink')).stdout.split('\n').slice(1);
      // sk Eth Pid Groups ...: NETLINK_NETFILTER is protocol 12.
      if (table.some((l) => {
        const w = l.trim().split(/\s+/);
        return w[1] === '12' && (parseInt(w[3] ?? '0', 16) & NFTRACE_GROUP_BIT) !== 0;
      })) {
        if (this.settleMs > 0) await sleep(this.settleMs);
        return;
      }
      await sleep(20);
    }
    throw new Error(`${this.name} did not subscribe to the trace group`);
  }

  /** Until no line came for `quietMs` (at most `maxMs`). */
  async quiet(quietMs: number, maxMs: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < maxMs && Date.now() - Math.max(this.lastAt, t0) < quietMs) await sleep(10);
  }

  stop(): void {
    if (!this.exited) this.proc.kill('SIGTERM');
  }
}
