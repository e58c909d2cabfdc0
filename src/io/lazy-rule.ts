/**
 * Rules read from the state file, parsed only when a part of them is needed. Their save line, jump target
 * and counters are known from the text alone: the state holds canonical iptables-save text, where a jump to
 * a user chain always ends the line with `-j CHAIN` or `-g CHAIN` and nothing after it (and a `-j` to a chain
 * that has a target's name carries a mark line before it, CHAIN_JUMP_MARK).
 */
import { fastArgs } from '../../grammar/fast-args';
import type { ArgNode } from '../ast';
import { parseCommand } from '../compile/command';
import { buildRules } from '../compile/rule';
import { findMatch, findTarget } from '../extensions/registry';
import { parseProtocol } from '../extensions/option-types';
import type { AnyMatch, AnyTarget, MatchUse } from '../extensions/spec';
import type { Counters, IpMatch, Rule, RuleFacts, Verdict } from '../model/ruleset';
import { Exit, IptablesError } from '../messages';

/**
 * The chain the canonical rule text `text.slice(start, end)` jumps or goes to, or undefined: its last option
 * is `-j NAME` or `-g NAME` with a NAME of no blanks or quotes (a quoted value cannot end a canonical line with
 * that shape). Read in place, without slicing the line out of a state file's text.
 */
export function jumpAt(text: string, start: number, end: number, isChain?: (name: string) => boolean): string | undefined {
  const q = text.lastIndexOf(' -', end - 2);
  if (q < start) return undefined;
  const kind = text.charCodeAt(q + 2);
  if ((kind !== 0x6a && kind !== 0x67) || text.charCodeAt(q + 3) !== 0x20 || q + 4 >= end) return undefined;
  for (let i = q + 4; i < end; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x20 || ch === 0x22 || ch === 0x09 || ch === 0x0a || ch === 0x0d || ch === 0x0b || ch === 0x0c) return undefined;
  }
  const name = text.slice(q + 4, end);
  // `-j NAME` with an extension of that name is a target (ACCEPT, LOG...), unless `isChain` says the rule jumps
  // to a chain of that name (see ParseOptions.isChain); `-g` always names a chain.
  return kind === 0x67 || findTarget(name) === undefined || isChain?.(name) === true ? name : undefined;
}

const ALWAYS = (): boolean => true;

/**
 * The state file's comment line before a rule whose `-j NAME` jumps to the chain NAME though NAME is also a
 * target (a chain a restore made with a target's name, `:LOG - [0:0]`): without it the line reads as the target.
 */
export const CHAIN_JUMP_MARK = '# tsiptables: chain-jump';

/**
 * Whether `r` jumps (`-j`, not `-g`) to a chain whose name is also a target's: its line alone does not say so.
 * Read from jumpTo and the text, which a lazy rule knows without parsing.
 */
export function isChainJump(r: Rule): boolean {
  const to = r.jumpTo;
  return to !== undefined && findTarget(to) !== undefined && (r.stateText ?? r.line).endsWith(` -j ${to}`);
}

/** The chain a canonical rule line jumps or goes to, or undefined. */
export function jumpOfLine(line: string, isChain?: (name: string) => boolean): string | undefined {
  return jumpAt(line, 0, line.length, isChain);
}

/** The extensions and protocol of a canonical rule line, read from its words without parsing options. */
export function factsOfLine(line: string): RuleFacts {
  const words = fastArgs(line, 1);
  const defs: Array<AnyMatch | AnyTarget> = [];
  let proto = 0;
  let protoInverted = false;
  for (let i = 0; i < words.length - 1; i++) {
    const w = words[i]!;
    if (w.kind !== 'short') continue;
    const next = words[i + 1]!.text;
    if (w.text === '-m') {
      const d = findMatch(next);
      if (d) defs.push(d);
    } else if (w.text === '-j') {
      const d = findTarget(next);
      if (d) defs.push(d);
    } else if (w.text === '-p') {
      proto = parseProtocol(next);
      protoInverted = i > 0 && words[i - 1]!.kind === 'bang';
    }
  }
  return { defs, proto, protoInverted };
}

const facts = new Map<string, RuleFacts>();

/** One shared facts object per combination (a kube-proxy dump has 150,000 rules and a handful of those). */
function internFacts(f: RuleFacts): RuleFacts {
  let key = `${f.proto}${f.protoInverted ? '!' : ''}`;
  for (const d of f.defs) key += ` ${d.kind === 'match' ? 'm' : 'j'}${d.name}`;
  const known = facts.get(key);
  if (known) return known;
  facts.set(key, f);
  return f;
}

export class LazyRule implements Rule {
  counters: Counters;
  readonly jumpTo: string | undefined;
  private parsed: Rule | undefined;
  private cachedFacts: RuleFacts | undefined;

  /**
   * `stateLine` is the text after `-A CHAIN` as the state file has it; `saveDiffers` says that it is a
   * state spelling (Rule.stateText), so the save line must come from parsing it.
   */
  constructor(
    private readonly table: string,
    private readonly chain: string,
    private readonly stateLine: string,
    counters: Counters,
    private readonly saveDiffers: boolean,
    /**
     * The line's `-j NAME` jumps to the chain NAME though NAME is also a target (a chain a restore made with that
     * name; the state file marks such rules, see CHAIN_JUMP_MARK).
     */
    chainJump = false,
  ) {
    this.counters = counters;
    this.jumpTo = jumpOfLine(stateLine, chainJump ? ALWAYS : undefined);
  }

  /**
   * The compact form of a complete rule (its texts, counters and facts; the parsed parts are dropped and come
   * back from the text if asked for): what a 150,000-rule restore keeps while it reads the rest.
   */
  static of(table: string, chain: string, r: Rule): LazyRule {
    const lazy = new LazyRule(table, chain, r.stateText ?? r.line, r.counters, r.stateText !== undefined, isChainJump(r));
    lazy.cachedFacts = internFacts(r.facts);
    return lazy;
  }

  private full(): Rule {
    if (!this.parsed) {
      const at = { quoted: false, line: 1, column: 1 };
      const args: ArgNode[] = [{ kind: 'short', text: '-t', ...at }, { kind: 'word', text: this.table, ...at }, ...fastArgs(`-A ${this.chain}${this.stateLine}`, 1)];
      const cmd = parseCommand(args, { table: this.table, restore: true, programName: 'tsiptables-restore', warn: () => undefined, trusted: true, isChain: (name) => name === this.jumpTo });
      const rules = buildRules(cmd.rule);
      if (rules.length !== 1) {
        throw new IptablesError(`state file is damaged: rule does not parse to one rule: -A ${this.chain}${this.stateLine}`, Exit.Other, 'plain');
      }
      this.parsed = rules[0]!;
    }
    return this.parsed;
  }

  release(): void {
    if (this.parsed && !this.cachedFacts) this.cachedFacts = this.parsed.facts;
    this.parsed = undefined;
  }

  get ip(): IpMatch {
    return this.full().ip;
  }
  get matches(): readonly MatchUse[] {
    return this.full().matches;
  }
  get verdict(): Verdict {
    return this.full().verdict;
  }
  get text(): string {
    return this.full().text;
  }
  get targetText(): string {
    return this.full().targetText;
  }
  get line(): string {
    return this.saveDiffers ? this.full().line : this.stateLine;
  }
  get stateText(): string | undefined {
    return this.saveDiffers ? this.stateLine : undefined;
  }
  get facts(): RuleFacts {
    if (this.parsed) return this.parsed.facts;
    this.cachedFacts ??= factsOfLine(this.stateLine);
    return this.cachedFacts;
  }
}
