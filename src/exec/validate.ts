/**
 * What the kernel (nf_tables with xtables compat) checks when a rule is added: the jump target exists, no
 * loop, and every match/target may run in the hooks that reach the chain (a user chain inherits the hooks of
 * every built-in chain that jumps to it, directly or not).
 */
import type { Hook } from '../extensions/spec';
import { IptablesError, Exit, kernelRefused } from '../messages';
import type { Chain, Rule, Table } from '../model/ruleset';

/**
 * `-j X`/`-g X` must name an existing chain. A jump to a built-in chain is refused by the kernel: with
 * ENOENT when that base chain is not registered yet, EOPNOTSUPP when it is (recorded in cli-options).
 * Targets the running kernel lacks (QUEUE) are refused with ENOENT too.
 */
export function checkJumpTargets(t: Table, c: Chain, r: Rule, op: string): void {
  const what = `rule in chain ${c.name}`;
  if (r.verdict.kind === 'target' && r.verdict.target.def.kernelMissing) throw kernelRefused(op, 'No such file or directory', what);
  if (r.verdict.kind !== 'jump' && r.verdict.kind !== 'goto') return;
  const target = t.chains.get(r.verdict.chain);
  if (!target) {
    throw new IptablesError(`Chain '${r.verdict.chain}' does not exist`, Exit.Parameter, 'param');
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
      if (r.verdict.kind === 'jump' || r.verdict.kind === 'goto') {
        const list = callers.get(r.verdict.chain) ?? [];
        list.push(c.name);
        callers.set(r.verdict.chain, list);
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

function allowedIn(r: Rule, table: string, hooks: Set<Hook>): boolean {
  for (const m of r.matches) {
    if (m.def.tables && !m.def.tables.includes(table)) return false;
    if (m.def.hooks) for (const h of hooks) if (!m.def.hooks.includes(h)) return false;
  }
  if (r.verdict.kind === 'target') {
    const d = r.verdict.target.def;
    if (d.tables && !d.tables.includes(table)) return false;
    if (d.hooks) for (const h of hooks) if (!d.hooks.includes(h)) return false;
  }
  return true;
}

/** Every chain reachable from `chain` (itself included), or null if that walk meets `chain` again (a loop). */
function reachableFrom(t: Table, start: string, extra?: Rule): string[] | null {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string, path: Set<string>): boolean => {
    if (path.has(name)) return false;
    if (seen.has(name)) return true;
    seen.add(name);
    out.push(name);
    const c = t.chains.get(name);
    const rules = [...(c?.rules ?? []), ...(name === start && extra ? [extra] : [])];
    path.add(name);
    for (const r of rules) {
      if ((r.verdict.kind === 'jump' || r.verdict.kind === 'goto') && !visit(r.verdict.chain, path)) return false;
    }
    path.delete(name);
    return true;
  };
  return visit(start, new Set()) ? out : null;
}

export function checkRuleAllowed(t: Table, c: Chain, r: Rule, op: string): void {
  const hooks = reachingHooks(t, c.name);
  const what = `rule in chain ${c.name}`;
  if (!allowedIn(r, t.name, hooks)) throw kernelRefused(op, 'Invalid argument', what);
  if (r.verdict.kind === 'jump' || r.verdict.kind === 'goto') {
    const reach = reachableFrom(t, c.name, r);
    if (reach === null) {
      if (hooks.size > 0) throw kernelRefused(op, 'Too many links', what);
      return;
    }
    if (hooks.size === 0) return;
    for (const name of reach) {
      for (const rule of t.chains.get(name)?.rules ?? []) {
        if (!allowedIn(rule, t.name, hooks)) throw kernelRefused(op, 'Invalid argument', what);
      }
    }
  }
}
