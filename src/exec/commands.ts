/**
 * Carries out one parsed iptables command on a ruleset, as the nf_tables variant of iptables 1.8.9 does:
 * which commands create a table, what each refuses and with which text. Returns what goes to stdout; errors
 * are thrown as IptablesError. Kernel-side checks (hook limits, loops) live in validate.ts.
 */
import { buildRules, completeRule } from '../compile/rule';
import type { ParsedCommand } from '../compile/command';
import { IptablesError, NFT_STRERROR, nftError, kernelRefused, Exit } from '../messages';
import { type Chain, type Rule, Ruleset, type Table, chainsInSaveOrder, referenceCounts, zeroCounters } from '../model/ruleset';
import { isBuiltinChain, isTableName, TABLES, type TableName } from '../model/tables';
import { chainTitle, columnHeader, ruleRow, verboseRuleLine, type ListFormat } from '../format/list';
import { listRulesChainHeader, listRulesRule, ruleWarnings } from '../format/save';
import { checkRuleAllowed, checkRuleAlone, checkJumpTargets } from './validate';
import { renameInHookOrder } from '../eval/hook-order';
import { findTarget } from '../extensions/registry';

export interface ExecResult {
  stdout: string;
  /** What goes to stderr beside it (libxtables' warnings while saving rules, see format/save.ts ruleWarnings). */
  stderr?: string;
  /** Whether the ruleset was changed (and must be written back). */
  changed: boolean;
}

function tableOf(cmd: ParsedCommand): TableName {
  if (!isTableName(cmd.table)) {
    throw new IptablesError(`table '${cmd.table}' does not exist\nPerhaps ${cmd.program} or your kernel needs to be upgraded.`, Exit.Version, 'prefixed');
  }
  return cmd.table;
}

/** A table as listing sees it: the real one, or the empty built-in chains the nft variant shows for a table never used. */
function viewTable(rs: Ruleset, name: TableName): Table {
  return rs.table(name) ?? new Ruleset().ensureTable(name);
}

/** What -C/-D compare: the save text, refined by an extension's compareKey where save text loses a difference. */
function ruleKey(r: Rule): string {
  const uses = [...r.matches, ...(r.verdict.kind === 'target' ? [r.verdict.target] : [])];
  if (!uses.some((u) => u.def.compareKey)) return r.line;
  return uses.map((u) => `${u.def.name}:${u.def.compareKey ? u.def.compareKey(u.state) : u.def.save(u.state)}`).join('|') + `|${r.line}`;
}

/** The rule's save line without the options of matches whose data iptables does not compare (compareNoData). */
function noDataLine(r: Rule): string {
  let line = r.line;
  for (const u of r.matches) {
    if (!u.def.compareNoData) continue;
    const name = u.def.saveName?.(u.state) ?? u.def.name;
    line = line.replace(`-m ${name}${u.def.save(u.state)}`, `-m ${name}`);
  }
  return line;
}

/** `candidate` is the rule a -C/-D command built (complete); `stored` may be a lazy rule of the state. */
function sameRule(stored: Rule, candidate: Rule): boolean {
  if (stored.line !== candidate.line && !(candidate.matches.some((u) => u.def.compareNoData) && noDataLine(stored) === noDataLine(candidate))) {
    return false;
  }
  const uses = [...candidate.matches, ...(candidate.verdict.kind === 'target' ? [candidate.verdict.target] : [])];
  return !uses.some((u) => u.def.compareKey) || ruleKey(stored) === ruleKey(candidate);
}

export interface ExecOptions {
  /**
   * What the kernel checks when a rule is added: 'full' (the CLI: per-rule checks and the jump graph),
   * 'per-rule' (iptables-restore: the jump graph is checked once at COMMIT by validateTable, as the kernel
   * does when the batch arrives), 'none' (`iptables-restore --test` asks no kernel).
   */
  kernel?: 'full' | 'per-rule' | 'none';
}

export function execute(rs: Ruleset, cmd: ParsedCommand, opts: ExecOptions = {}): ExecResult {
  const tname = tableOf(cmd);
  const chainName = cmd.chain;
  switch (cmd.command) {
    case 'append':
    case 'insert':
    case 'replace':
    case 'check':
    case 'delete': {
      const rules = buildRules(cmd.rule);
      if (cmd.command === 'replace' && rules.length !== 1) {
        throw new IptablesError('Replacement rule does not specify a unique address', Exit.Parameter, 'param');
      }
      if (cmd.command === 'check' || cmd.command === 'delete') {
        const t = rs.table(tname);
        const c = t?.chains.get(chainName!);
        for (const r of rules) {
          const idx = c ? c.rules.findIndex((x) => sameRule(x, r)) : -1;
          if (idx < 0) throw nftError(NFT_STRERROR.badRule);
          if (cmd.command === 'delete') c!.rules.splice(idx, 1);
        }
        return { stdout: cmd.verbose ? rules.map(verboseRuleLine).join('') : '', changed: cmd.command === 'delete' };
      }
      const t = rs.ensureTable(tname);
      const c = t.chains.get(chainName!);
      if (!c) throw nftError(NFT_STRERROR.noChain);
      if (cmd.command === 'replace' && c.hook && !c.registered) throw nftError(NFT_STRERROR.noChain);
      // The positions are checked before the kernel sees the rule; inserting at the position after the last
      // rule is an append (nft_rule_insert()), and the kernel says so.
      const at = cmd.command === 'insert' ? (cmd.rulenum ?? 1) - 1 : cmd.command === 'replace' ? cmd.rulenum! - 1 : c.rules.length;
      if (cmd.command === 'insert' && at > c.rules.length) throw nftError(NFT_STRERROR.insertTooBig);
      if (cmd.command === 'replace' && at >= c.rules.length) throw nftError(NFT_STRERROR.replaceTooBig);
      const op = cmd.command === 'replace' ? 'RULE_REPLACE' : cmd.command === 'insert' && !(at > 0 && at === c.rules.length) ? 'RULE_INSERT' : 'RULE_APPEND';
      const kernel = opts.kernel ?? 'full';
      if (kernel !== 'none') {
        for (const r of rules) {
          checkJumpTargets(t, c, r, op);
          if (kernel === 'per-rule') checkRuleAlone(t, c, r, op, rs);
          else checkRuleAllowed(t, c, r, op, rs);
        }
      }
      if (c.hook) c.registered = true;
      if (cmd.command === 'append') c.rules.push(...rules);
      // One insert per address pair, each at the same position: `-I X -s a,b` leaves b before a.
      else if (cmd.command === 'insert') for (const r of rules) c.rules.splice(at, 0, r);
      else c.rules[at] = rules[0]!;
      return { stdout: cmd.verbose ? rules.map(verboseRuleLine).join('') : '', changed: true };
    }
    case 'delete-num': {
      const c = rs.table(tname)?.chains.get(chainName!);
      if (!c || (c.hook && !c.registered)) throw nftError(NFT_STRERROR.noChain);
      const at = cmd.rulenum! - 1;
      if (at < 0 || at >= c.rules.length) throw nftError(NFT_STRERROR.deleteTooBig);
      c.rules.splice(at, 1);
      return { stdout: '', changed: true };
    }
    case 'list':
    case 'list-rules': {
      const t = viewTable(rs, tname);
      const chains = chainsForListing(t, chainName);
      let out = '';
      if (cmd.command === 'list') {
        const f: ListFormat = { numeric: cmd.numeric, verbose: cmd.verbose > 0, exact: cmd.exact, lineNumbers: cmd.lineNumbers };
        const refs = referenceCounts(t);
        chains.forEach((c, i) => {
          if (i > 0) out += '\n';
          if (cmd.rulenum === undefined) out += chainTitle(c, refs.get(c.name) ?? 0, f) + columnHeader(f);
          c.rules.forEach((r, n) => {
            if (cmd.rulenum === undefined || cmd.rulenum === n + 1) out += ruleRow(r, n + 1, f);
            r.release?.();
          });
        });
      } else {
        const verbose = cmd.verbose > 0;
        if (cmd.rulenum === undefined) for (const c of chains) out += listRulesChainHeader(c, verbose);
        for (const c of chains) {
          c.rules.forEach((r, n) => {
            if (cmd.rulenum === undefined || cmd.rulenum === n + 1) out += listRulesRule(c.name, r, verbose);
          });
        }
      }
      let changed = false;
      if (cmd.alsoZero) {
        out += zero(t, chainName, cmd.rulenum, cmd.verbose > 0);
        changed = rs.table(tname) !== undefined;
      }
      const warnings = ruleWarnings(chains, cmd.rulenum === undefined ? undefined : (_c, i) => i + 1 === cmd.rulenum);
      return { stdout: out, stderr: warnings, changed };
    }
    case 'flush': {
      const t = rs.table(tname);
      if (chainName !== undefined) {
        const c = t?.chains.get(chainName);
        if (!c) throw nftError(NFT_STRERROR.noChain);
        c.rules = [];
      } else if (t) for (const c of t.chains.values()) c.rules = [];
      return { stdout: '', changed: true };
    }
    case 'zero':
    case 'zero-num': {
      const t = rs.table(tname);
      if (chainName !== undefined && !t?.chains.get(chainName)) throw nftError(NFT_STRERROR.noChain);
      const out = zero(t ?? viewTable(rs, tname), chainName, cmd.command === 'zero-num' ? cmd.rulenum : undefined, cmd.verbose > 0);
      return { stdout: out, changed: t !== undefined };
    }
    case 'new-chain': {
      const t = rs.ensureTable(tname);
      if (t.chains.has(chainName!)) throw nftError(NFT_STRERROR.chainExists);
      t.chains.set(chainName!, { name: chainName!, hook: undefined, registered: true, policy: undefined, counters: zeroCounters(), rules: [] });
      return { stdout: '', changed: true };
    }
    case 'delete-chain': {
      const t = rs.table(tname);
      const targets: Chain[] = [];
      if (chainName !== undefined) {
        const c = t?.chains.get(chainName);
        if (!c || c.hook) throw nftError(NFT_STRERROR.noChain);
        targets.push(c);
      } else if (t) {
        for (const c of chainsInSaveOrder(t)) if (!c.hook) targets.push(c);
      }
      const refs = t ? referenceCounts(t) : new Map<string, number>();
      for (const c of targets) {
        if ((refs.get(c.name) ?? 0) > 0 || c.rules.length > 0) throw kernelRefused('CHAIN_DEL', 'Device or resource busy', `chain ${c.name}`);
      }
      for (const c of targets) t!.chains.delete(c.name);
      return { stdout: '', changed: true };
    }
    case 'set-policy': {
      if (!isBuiltinChain(tname, chainName!)) throw nftError(NFT_STRERROR.badBuiltin);
      if (cmd.policy !== 'ACCEPT' && cmd.policy !== 'DROP') throw nftError(NFT_STRERROR.badPolicy);
      // `-P CHAIN POLICY -c P B` is accepted and its counters ignored (recorded in cli-commands).
      const c = rs.ensureTable(tname).chains.get(chainName!)!;
      c.policy = cmd.policy;
      c.registered = true;
      c.counted = true;
      return { stdout: '', changed: true };
    }
    case 'rename-chain': {
      const t = rs.table(tname);
      const c = t?.chains.get(chainName!);
      if (!t || !c || c.hook) throw nftError(NFT_STRERROR.noChain);
      if (t.chains.has(cmd.newName!)) throw nftError(NFT_STRERROR.fileExists);
      renameChain(t, c, cmd.newName!);
      renameInHookOrder(rs, tname, chainName!, cmd.newName!);
      return { stdout: '', changed: true };
    }
  }
}

function chainsForListing(t: Table, chainName: string | undefined): Chain[] {
  if (chainName === undefined) return chainsInSaveOrder(t);
  const c = t.chains.get(chainName);
  if (!c) {
    throw new IptablesError(`chain \`${chainName}' in table \`${t.name}' is incompatible, use 'nft' tool.`, Exit.Other, 'prefixed');
  }
  return [c];
}

/** Zeroes counters; with -v the nft variant says "Zeroing chain `X'" for each chain. */
function zero(t: Table, chainName: string | undefined, rulenum: number | undefined, verbose: boolean): string {
  const chains = chainName === undefined ? chainsInSaveOrder(t) : [t.chains.get(chainName)!];
  let out = '';
  for (const c of chains) {
    if (verbose && rulenum === undefined) out += `Zeroing chain \`${c.name}'\n`;
    if (rulenum === undefined) {
      c.counters = zeroCounters();
      for (const r of c.rules) r.counters = zeroCounters();
    } else {
      const r = c.rules[rulenum - 1];
      if (r) r.counters = zeroCounters();
    }
  }
  return out;
}

function renameChain(t: Table, c: Chain, newName: string): void {
  const entries = [...t.chains.entries()].map(([k, v]) => (k === c.name ? ([newName, v] as const) : ([k, v] as const)));
  const old = c.name;
  c.name = newName;
  t.chains.clear();
  for (const [k, v] of entries) t.chains.set(k, v);
  for (const ch of t.chains.values()) {
    ch.rules = ch.rules.map((r) => {
      if (r.jumpTo !== old) return r;
      const kind = r.verdict.kind === 'goto' ? 'goto' : 'jump';
      return completeRule(r.ip, r.matches, { kind, chain: newName }, r.counters);
    });
  }
}

/** Names that a `-j` may use without being a chain: the extension targets. */
export function isTargetName(name: string): boolean {
  return findTarget(name) !== undefined;
}

export { TABLES };
