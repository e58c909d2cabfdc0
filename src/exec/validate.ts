/**
 * What the kernel (nf_tables with xtables compat) checks when a rule is added: the jump target exists, no
 * loop, no chain deeper than JUMP_STACK_SIZE jumps, and every match/target may run in the hooks that reach the chain (a user chain inherits the hooks of
 * every built-in chain that jumps to it, directly or not).
 */
import type { Hook, KernelView, TargetUse } from '../extensions/spec';
import { extensionWords } from '../extensions/registry';
import { IptablesError, Exit, kernelRefused } from '../messages';
import { JumpGraph } from './jump-graph';
import { type Chain, jumpsOf, type Rule, type Ruleset, type Table } from '../model/ruleset';

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

/**
 * Why the kernel refuses the rule in `table` reached from `hooks` (an errno text), or undefined. The fixed
 * lists (tables, hooks, protocol) are checked against every hook that reaches the chain; checkentry
 * (kernelCheck) only when the rule itself is added, with its own chain's hook (`ownHook`).
 */
function refusal(r: Rule, table: string, hooks: Set<Hook>, ownHook: Hook | undefined | null, rs?: Ruleset): string | undefined {
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
  if (rs) view.peers = (name) => targetsNamed(rs, name);
  const uses = [...r.matches, ...(r.verdict.kind === 'target' ? [r.verdict.target] : [])];
  for (const u of uses) {
    const why = u.def.kernelCheck?.(u.state, view);
    if (why !== undefined) return why;
  }
  return undefined;
}

/**
 * The targets called `name` of the ruleset's rules, every loaded table: what the kernel shares between rules
 * (IDLETIMER's timers, RATEEST's estimators). Only rules whose line names the target are parsed. Tables a
 * command did not load (Ruleset.untouched) are not looked at: the CLI loads every table for a rule using an
 * extension with kernelCheckSeesPeers.
 */
function* targetsNamed(rs: Ruleset, name: string): Iterable<TargetUse> {
  const word = ` -j ${name}`;
  for (const t of rs.tables.values()) {
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        if (!r.line.includes(word)) continue;
        if (r.verdict.kind === 'target' && r.verdict.target.def.name === name) yield r.verdict.target;
      }
    }
  }
}

let hookLimited: RegExp | undefined;

/** The words of the extensions limited to some hooks (xt_match.hooks, xt_target.hooks). */
function hookLimitedPattern(): RegExp {
  hookLimited ??= new RegExp(extensionWords((d) => d.hooks !== undefined).source);
  return hookLimited;
}

export function checkRuleAllowed(t: Table, c: Chain, r: Rule, op: string, rs?: Ruleset): void {
  const g = new JumpGraph(t);
  const self = g.id(c.name)!;
  const hooks = g.reachingHooks(self);
  const what = `rule in chain ${c.name}`;
  const own = refusal(r, t.name, hooks, c.hook, rs);
  if (own !== undefined) throw kernelRefused(op, own, what);
  // Chains no built-in chain reaches are not checked (a loop among them is allowed); checkJumpTargets has
  // already refused a jump to a chain that does not exist.
  const target = r.jumpTo === undefined ? undefined : g.id(r.jumpTo);
  if (target === undefined || hooks.size === 0) return;
  // A loop: the new jump leads back to this chain.
  const below = g.below(target);
  if (below.includes(self)) throw kernelRefused(op, 'Too many links', what);
  // The new jump puts the target's chains one level below this chain's deepest level.
  if (g.depthFromBase(self) + 1 + g.height(target) >= JUMP_STACK_SIZE) throw kernelRefused(op, 'Too many links', what);
  // Only the chains below the jump can gain hooks (this chain's own rules were allowed in its hooks when they
  // came), and none does when every hook reaching this chain already reaches the target: then every rule
  // below it was allowed in these hooks before. Every refusal here reads the same ('Invalid argument').
  const targetHooks = g.reachingHooks(target);
  if ([...hooks].every((h) => targetHooks.has(h))) return;
  const limited = hookLimitedPattern();
  for (const n of below) {
    for (const rule of t.chains.get(g.names[n]!)?.rules ?? []) {
      // Allowed where it is, a rule can be refused in new hooks only for an extension limited to some hooks,
      // whose `-m NAME`/`-j NAME` its canonical line then holds: the others need no parse.
      if (!limited.test(rule.line)) continue;
      const why = refusal(rule, t.name, hooks, null);
      if (why !== undefined) throw kernelRefused(op, why, what);
    }
  }
}

/** The checks that need no jump graph: tables, protocol, checkentry with the chain's own hook. */
export function checkRuleAlone(t: Table, c: Chain, r: Rule, op: string, rs?: Ruleset): void {
  const hooks = new Set<Hook>(c.hook ? [c.hook] : []);
  const why = refusal(r, t.name, hooks, c.hook, rs);
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
      const jumps = c ? jumpsOf(c) : [];
      let pushed = false;
      while (top.i < jumps.length) {
        const to = jumps[top.i++]!;
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
  const g = new JumpGraph(t);
  const roots = [...t.chains.values()].filter((c) => c.hook).map((c) => g.id(c.name)!);
  if (g.maxHeight(roots) >= JUMP_STACK_SIZE) return 'Too many links';
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
