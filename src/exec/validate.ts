/**
 * What the kernel (nf_tables with xtables compat) checks when a rule is added: the jump target exists, no
 * loop, no chain deeper than JUMP_STACK_SIZE jumps, and every match/target may run in the hooks that reach the chain (a user chain inherits the hooks of
 * every built-in chain that jumps to it, directly or not).
 */
import type { Hook, KernelView } from '../extensions/spec';
import { IptablesError, Exit, kernelRefused } from '../messages';
import type { Chain, Rule, Table } from '../model/ruleset';

/**
 * NFT_JUMP_STACK_SIZE: nft_chain_validate() refuses a chain reached at this jump depth from a base chain with
 * EMLINK ("Too many links"); a loop reached from a base chain ends the same way. Checked against iptables-nft
 * 1.8.9 on a 6.x kernel: a chain of user chains jumped to from INPUT is refused from the 16th jump on.
 */
export const JUMP_STACK_SIZE = 16;

/**
 * `-j X`/`-g X` must name an existing chain. A jump to a built-in chain is refused by the kernel: with
 * ENOENT when that base chain is not registered yet, EOPNOTSUPP when it is (recorded in cli-options).
 * Targets the running kernel lacks (QUEUE) are refused with ENOENT too.
 */
export function checkJumpTargets(t: Table, c: Chain, r: Rule, op: string): void {
  const what = `rule in chain ${c.name}`;
  if (r.verdict.kind === 'target' && r.verdict.target.def.kernelMissing) throw kernelRefused(op, 'No such file or directory', what);
  if (r.jumpTo === undefined) return;
  const target = t.chains.get(r.jumpTo);
  if (!target) {
    throw new IptablesError(`Chain '${r.jumpTo}' does not exist`, Exit.Parameter, 'param');
  }
  if (target.hook) {
    const registered = target.registered || target === c;
    throw kernelRefused(op, registered ? 'Operation not supported' : 'No such file or directory', what);
  }
}

/** Hooks from which `chain` can be reached (through jumps and gotos). */
export function reachingHooks(t: Table, chain: string): Set<Hook> {
  const callers = new Map<string, string[]>();
  for (const c of t.chains.values()) {
    for (const r of c.rules) {
      if (r.jumpTo !== undefined) {
        const list = callers.get(r.jumpTo) ?? [];
        list.push(c.name);
        callers.set(r.jumpTo, list);
      }
    }
  }
  const hooks = new Set<Hook>();
  const seen = new Set<string>();
  const stack = [chain];
  while (stack.length) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const c = t.chains.get(name);
    if (c?.hook) hooks.add(c.hook);
    for (const from of callers.get(name) ?? []) stack.push(from);
  }
  return hooks;
}

/**
 * Why the kernel refuses the rule in `table` reached from `hooks` (an errno text), or undefined. The fixed
 * lists (tables, hooks, protocol) are checked against every hook that reaches the chain; checkentry
 * (kernelCheck) only when the rule itself is added, with its own chain's hook (`ownHook`).
 */
function refusal(r: Rule, table: string, hooks: Set<Hook>, ownHook: Hook | undefined | null): string | undefined {
  const f = r.facts;
  for (const d of f.defs) {
    if (d.tables && !d.tables.includes(table)) return 'Invalid argument';
    const proto = d.kind === 'match' ? d.requiresProtocol : undefined;
    if (proto !== undefined && (f.proto !== proto || f.protoInverted)) return 'Invalid argument';
    if (d.hooks) for (const h of hooks) if (!d.hooks.includes(h)) return 'Invalid argument';
  }
  if (ownHook === null || !f.defs.some((d) => d.kernelCheck)) return undefined;
  // checkentry: only for the rule being added (complete, never lazy), with its own chain's hook.
  const view: KernelView = { table, protocol: f.proto, protocolInverted: f.protoInverted, hooks: new Set(ownHook ? [ownHook] : []) };
  const uses = [...r.matches, ...(r.verdict.kind === 'target' ? [r.verdict.target] : [])];
  for (const u of uses) {
    const why = u.def.kernelCheck?.(u.state, view);
    if (why !== undefined) return why;
  }
  return undefined;
}

/**
 * Every chain reachable from `chain` (itself included), or null if that walk meets a chain on its own path (a
 * loop). Iterative: a chain of jumps thousands deep must not exhaust the call stack.
 */
function reachableFrom(t: Table, start: string, extra?: Rule): string[] | null {
  const out: string[] = [start];
  const seen = new Set<string>([start]);
  const onPath = new Set<string>([start]);
  const rulesOf = (name: string): readonly Rule[] => {
    const rules = t.chains.get(name)?.rules ?? [];
    return name === start && extra ? [...rules, extra] : rules;
  };
  const stack: Array<{ name: string; rules: readonly Rule[]; i: number }> = [{ name: start, rules: rulesOf(start), i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.rules.length) {
      onPath.delete(top.name);
      stack.pop();
      continue;
    }
    const to = top.rules[top.i++]!.jumpTo;
    if (to === undefined) continue;
    if (onPath.has(to)) return null;
    if (seen.has(to)) continue;
    seen.add(to);
    onPath.add(to);
    out.push(to);
    stack.push({ name: to, rules: rulesOf(to), i: 0 });
  }
  return out;
}

/**
 * The longest jump path from each chain walked from `roots` downward (0: the chain jumps nowhere), memoised
 * over the whole walk. Iterative. A chain met again on its own path (a loop) counts as unbounded.
 */
function heights(t: Table, roots: readonly string[]): Map<string, number> {
  const h = new Map<string, number>();
  for (const root of roots) {
    if (h.has(root)) continue;
    const onPath = new Set<string>([root]);
    const stack: Array<{ name: string; i: number; best: number }> = [{ name: root, i: 0, best: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const rules = t.chains.get(top.name)?.rules ?? [];
      let pushed = false;
      while (top.i < rules.length) {
        const to = rules[top.i++]!.jumpTo;
        if (to === undefined || !t.chains.has(to)) continue;
        if (onPath.has(to)) {
          top.best = Infinity;
          continue;
        }
        const known = h.get(to);
        if (known !== undefined) {
          top.best = Math.max(top.best, known + 1);
          continue;
        }
        onPath.add(to);
        stack.push({ name: to, i: 0, best: 0 });
        pushed = true;
        break;
      }
      if (pushed) continue;
      h.set(top.name, top.best);
      onPath.delete(top.name);
      stack.pop();
      const parent = stack[stack.length - 1];
      if (parent) parent.best = Math.max(parent.best, top.best + 1);
    }
  }
  return h;
}

/** The longest jump path from a base chain down to `chain` (0 for a base chain); -Infinity if none reaches it. */
function depthFromBase(t: Table, chain: string): number {
  const callers = new Map<string, string[]>();
  for (const c of t.chains.values()) {
    for (const r of c.rules) {
      if (r.jumpTo === undefined) continue;
      const list = callers.get(r.jumpTo);
      if (list) list.push(c.name);
      else callers.set(r.jumpTo, [c.name]);
    }
  }
  // The same walk as heights(), on the graph of callers, with base chains as the ends.
  const up = new Map<string, number>();
  const onPath = new Set<string>([chain]);
  const stack: Array<{ name: string; i: number; best: number }> = [{ name: chain, i: 0, best: t.chains.get(chain)?.hook ? 0 : -Infinity }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const from = callers.get(top.name) ?? [];
    let pushed = false;
    while (top.i < from.length) {
      const p = from[top.i++]!;
      if (onPath.has(p)) continue;
      const known = up.get(p);
      if (known !== undefined) {
        top.best = Math.max(top.best, known + 1);
        continue;
      }
      onPath.add(p);
      stack.push({ name: p, i: 0, best: t.chains.get(p)?.hook ? 0 : -Infinity });
      pushed = true;
      break;
    }
    if (pushed) continue;
    up.set(top.name, top.best);
    onPath.delete(top.name);
    stack.pop();
    const child = stack[stack.length - 1];
    if (child) child.best = Math.max(child.best, top.best + 1);
  }
  return up.get(chain)!;
}

export function checkRuleAllowed(t: Table, c: Chain, r: Rule, op: string): void {
  const hooks = reachingHooks(t, c.name);
  const what = `rule in chain ${c.name}`;
  const own = refusal(r, t.name, hooks, c.hook);
  if (own !== undefined) throw kernelRefused(op, own, what);
  if (r.jumpTo !== undefined) {
    const reach = reachableFrom(t, c.name, r);
    if (reach === null) {
      if (hooks.size > 0) throw kernelRefused(op, 'Too many links', what);
      return;
    }
    if (hooks.size === 0) return;
    // The new jump puts the target's chains one level below this chain's deepest level.
    const below = heights(t, [r.jumpTo]).get(r.jumpTo) ?? 0;
    if (depthFromBase(t, c.name) + 1 + below >= JUMP_STACK_SIZE) throw kernelRefused(op, 'Too many links', what);
    for (const name of reach) {
      for (const rule of t.chains.get(name)?.rules ?? []) {
        const why = refusal(rule, t.name, hooks, null);
        if (why !== undefined) throw kernelRefused(op, why, what);
      }
    }
  }
}

/** The checks that need no jump graph: tables, protocol, checkentry with the chain's own hook. */
export function checkRuleAlone(t: Table, c: Chain, r: Rule, op: string): void {
  const hooks = new Set<Hook>(c.hook ? [c.hook] : []);
  const why = refusal(r, t.name, hooks, c.hook);
  if (why !== undefined) throw kernelRefused(op, why, `rule in chain ${c.name}`);
}

/**
 * The whole-table check the kernel makes when a batch is committed, in one pass: the hooks reaching every
 * chain (from the built-in chains through jumps and gotos), no loop reachable from a built-in chain, and every
 * rule allowed in the hooks that reach it. Returns the reason of the first problem found, or undefined.
 */
export function validateTable(t: Table): string | undefined {
  const hooks = new Map<string, Set<Hook>>();
  let loop = false;
  // Iterative DFS from each built-in chain, marking hooks and finding back edges (loops).
  for (const root of t.chains.values()) {
    if (!root.hook) continue;
    const hook = root.hook;
    const seen = new Set<string>();
    const stack: Array<{ name: string; i: number }> = [{ name: root.name, i: 0 }];
    const onPath = new Set<string>([root.name]);
    seen.add(root.name);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const c = t.chains.get(top.name);
      let set = hooks.get(top.name);
      if (!set) hooks.set(top.name, (set = new Set()));
      set.add(hook);
      const rules = c?.rules ?? [];
      let pushed = false;
      while (top.i < rules.length) {
        const to = rules[top.i++]!.jumpTo;
        if (to === undefined) continue;
        if (onPath.has(to)) {
          loop = true;
          continue;
        }
        if (seen.has(to)) continue;
        seen.add(to);
        onPath.add(to);
        stack.push({ name: to, i: 0 });
        pushed = true;
        break;
      }
      if (!pushed) {
        onPath.delete(top.name);
        stack.pop();
      }
    }
  }
  if (loop) return 'Too many links';
  const roots = [...t.chains.values()].filter((c) => c.hook).map((c) => c.name);
  const h = heights(t, roots);
  if (roots.some((name) => (h.get(name) ?? 0) >= JUMP_STACK_SIZE)) return 'Too many links';
  for (const c of t.chains.values()) {
    const set = hooks.get(c.name);
    if (!set || set.size === 0) continue;
    for (const r of c.rules) {
      const why = refusal(r, t.name, set, null);
      if (why !== undefined) return why;
    }
  }
  return undefined;
}
