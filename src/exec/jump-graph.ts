/**
 * A table's jump graph (which chain jumps or goes to which), numbered: chains are indexes, edges are arrays of
 * indexes, walks mark typed arrays. Built once for a command's kernel checks (validate.ts checkRuleAllowed): a
 * kube-proxy table has 40,000 chains and 80,000 jumps, walked several times per `-A`. Every walk is iterative, so
 * a chain of jumps thousands deep cannot exhaust the call stack.
 */
import type { Hook } from '../extensions/spec';
import { jumpsOf, type Table } from '../model/ruleset';

export class JumpGraph {
  /** Chain names by index, in the table's order. */
  readonly names: string[] = [];
  readonly hooks: (Hook | undefined)[] = [];
  private readonly ids = new Map<string, number>();
  /** Jumps out of each chain (one entry per rule, targets that are chains of the table). */
  private readonly down: number[][] = [];
  /** Jumps into each chain, by caller. */
  private readonly up: number[][] = [];

  constructor(t: Table) {
    for (const c of t.chains.values()) {
      this.ids.set(c.name, this.names.length);
      this.names.push(c.name);
      this.hooks.push(c.hook);
      this.down.push([]);
      this.up.push([]);
    }
    let from = 0;
    for (const c of t.chains.values()) {
      for (const name of jumpsOf(c)) {
        const to = this.ids.get(name);
        if (to === undefined) continue;
        this.down[from]!.push(to);
        this.up[to]!.push(from);
      }
      from++;
    }
  }

  id(name: string): number | undefined {
    return this.ids.get(name);
  }

  /** Every chain reachable from `start` by jumps (`start` included), in depth-first order. */
  below(start: number): number[] {
    return this.walk(start, this.down);
  }

  /** The hooks of the built-in chains from which `chain` is reached (through jumps and gotos). */
  reachingHooks(chain: number): Set<Hook> {
    const hooks = new Set<Hook>();
    for (const c of this.walk(chain, this.up)) {
      const h = this.hooks[c];
      if (h !== undefined) hooks.add(h);
    }
    return hooks;
  }

  /** The longest jump path down from `start` (0: it jumps nowhere); Infinity when a loop is on the way. */
  height(start: number): number {
    return this.longest(start, this.down, () => 0);
  }

  /** The greatest height() of `starts`, in one walk (chains below several of them are measured once). */
  maxHeight(starts: readonly number[]): number {
    const memo = this.freshMemo();
    let best = 0;
    for (const s of starts) best = Math.max(best, this.longest(s, this.down, () => 0, memo));
    return best;
  }

  /** The longest jump path from a built-in chain down to `chain` (0 for a built-in one); -Infinity if none reaches it. */
  depthFromBase(chain: number): number {
    return this.longest(chain, this.up, (c) => (this.hooks[c] !== undefined ? 0 : -Infinity));
  }

  private walk(start: number, edges: readonly number[][]): number[] {
    const seen = new Uint8Array(this.names.length);
    const out = [start];
    seen[start] = 1;
    for (let i = 0; i < out.length; i++) {
      for (const next of edges[out[i]!]!) {
        if (seen[next]) continue;
        seen[next] = 1;
        out.push(next);
      }
    }
    return out;
  }

  /**
   * The longest path from `start` along `edges`, memoised: each chain's value is `base(chain)` at an end, else
   * 1 + the best of its neighbours'. A neighbour on the current path (a loop) makes it Infinity when walking
   * down, and is skipped walking up (a loop above a chain does not lengthen the way down to it).
   */
  private freshMemo(): Float64Array {
    return new Float64Array(this.names.length).fill(NaN);
  }

  private longest(start: number, edges: readonly number[][], base: (c: number) => number, memo = this.freshMemo()): number {
    if (!Number.isNaN(memo[start]!)) return memo[start]!;
    const onPath = new Uint8Array(this.names.length);
    const loopValue = edges === this.down ? Infinity : NaN;
    const stack: Array<{ node: number; i: number; best: number }> = [{ node: start, i: 0, best: base(start) }];
    onPath[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const next = edges[top.node]!;
      let pushed = false;
      while (top.i < next.length) {
        const n = next[top.i++]!;
        if (onPath[n]) {
          if (!Number.isNaN(loopValue)) top.best = Math.max(top.best, loopValue);
          continue;
        }
        const known = memo[n]!;
        if (!Number.isNaN(known)) {
          top.best = Math.max(top.best, known + 1);
          continue;
        }
        onPath[n] = 1;
        stack.push({ node: n, i: 0, best: base(n) });
        pushed = true;
        break;
      }
      if (pushed) continue;
      memo[top.node] = top.best;
      onPath[top.node] = 0;
      stack.pop();
      const parent = stack[stack.length - 1];
      if (parent) parent.best = Math.max(parent.best, top.best + 1);
    }
    return memo[start]!;
  }
}
