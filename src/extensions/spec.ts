/**
 * What one extension is: its option table, parse, final check, canonical save text and `-L` text (later its
 * packet semantics), in one file, as netfilter's libxt_*.c are. The command-line compiler routes options to
 * extensions generically; adding `-m foo` means adding matches/foo.ts and one line in registry.ts.
 */
import type { IptablesError } from '../messages';
import type { EvalContext, TargetVerdict } from '../eval/context';

/** getopt_long's has_arg: no value, a required value, or one only given as `--opt=value`. */
export type ArgKind = 'none' | 'required' | 'optional';

export interface OptionDef {
  /** Long name without the dashes, e.g. "dport". */
  name: string;
  /**
   * The option's id in the C enum (defaults to its index in the table). Aliases share an id
   * (--sport/--source-port): libxtables then names the FIRST entry with that id in every message, checks
   * "once", `!` and "requires an argument" by id with that entry's flags, and visits other options in id
   * order in its final check.
   */
  id?: number;
  arg: ArgKind;
  /** `!` may stand before it (XTOPT_INVERT); otherwise `!` is refused with libxtables' message. */
  invert?: boolean;
  /** Must be given at least once (XTOPT_MAND): "option \"--x\" must be specified". */
  mandatory?: boolean;
  /** May be given more than once (XTOPT_MULTI); otherwise "option \"--x\" can only be used once.". */
  multi?: boolean;
  /** Options (by name) that cannot be combined with this one (x6 `excl`); its own name means "once" even if multi. */
  excludes?: string[];
  /** Requires these options too (x6 `also`): "option \"--x\" also requires \"--y\"". */
  also?: string[];
}

/** One option occurrence as getopt delivered it. */
export interface OptionUse {
  /** The canonical long name of the option (aliases resolved). */
  name: string;
  /** The option's value, undefined for 'none' options (or an absent optional value). */
  value: string | undefined;
  inverted: boolean;
}

/** Where the rule is going and what the base rule already says; extensions may consult it. */
export interface ParseContext {
  readonly table: string;
  readonly chain: string;
  /** IP protocol number from `-p` (0 when not given or `all`). */
  readonly protocol: number;
  readonly protocolInverted: boolean;
  /** Takes the next argv element when it exists and does not start with '-' or '!' (old-style 2-arg options). */
  nextArg(): string | undefined;
  /** Emits a warning line on stderr as iptables does (e.g. deprecation notices). */
  warn(line: string): void;
  /**
   * True only while loading tsiptables' own state file: the text there may use an extension's stateText()
   * spellings (values iptables-save prints lossily, e.g. `--seconds -1`), which are accepted nowhere else.
   */
  trusted: boolean;
}

export interface ExtensionCommon<S> {
  /** The name given to -m / -j. */
  name: string;
  /** Other names that load this same extension (e.g. NOTRACK as CT --notrack is a separate file; keep real aliases only). */
  aliases?: readonly string[];
  /** Man page section of iptables-extensions this file implements (for the curious reader). */
  manSection?: string;
  /** The `--help` text block iptables prints for this extension. */
  help: string;
  options: readonly OptionDef[];
  /**
   * 'x6': libxtables checks the option table (once, invert, mandatory, excludes, also) with its generic
   * messages before/after parse. 'old': the extension's parse does every check itself (old-style API).
   */
  style: 'x6' | 'old';
  init(): S;
  /** Applies one option; throws IptablesError for bad values. `seen` counts options given before this one. */
  parse(state: S, use: OptionUse, ctx: ParseContext): void;
  /** After all options: mandatory/combination checks beyond the generic ones. */
  finalCheck?(state: S, ctx: ParseContext, given: ReadonlySet<string>): void;
  /** Canonical save text after ` -m NAME` / ` -j NAME`: starts with a space, or is empty. */
  save(state: S): string;
  /** The `-L` options-column text (leading space included), numeric when -n. */
  print(state: S, numeric: boolean): string;
  /** The name iptables-save prints after -m/-j, when it differs from `name` (e.g. state -> state). */
  saveName?(state: S): string;
  /** Key for rule comparison (-D/-C by spec) where save text loses a difference the kernel sees. */
  compareKey?(state: S): string;
  /**
   * The extension registers no userspacesize (libxt_helper): iptables compares none of its data, so -C/-D find
   * a rule whose match of this name has any options at all.
   */
  compareNoData?: boolean;
  /**
   * A line libxtables prints on stderr each time it prints (`-L`) or saves (`-S`, iptables-save) a rule using
   * this extension, e.g. connlabel's warning about its missing names file.
   */
  ruleWarning?: string;
  /** The kernelCheck looks at other rules (KernelView.peers), of every table: commands then read them all. */
  kernelCheckSeesPeers?: boolean;
  /**
   * The state file's text for this extension when save() is lossy or does not parse back (iptables-save
   * prints `--seconds -1`, `0b/s`, only the low icmp code); parse() must accept it when ctx.trusted.
   * Return undefined (or omit) when save() already round-trips.
   */
  stateText?(state: S): string | undefined;
  /**
   * What the kernel's checkentry refuses beyond fixed hooks/tables (e.g. REJECT --reject-with tcp-reset
   * without `-p tcp`): the errno text of `RULE_APPEND failed (<text>)`, or undefined when accepted.
   */
  kernelCheck?(state: S, view: KernelView): string | undefined;
  /**
   * Its checkentry takes a conntrack reference (nf_ct_netns_get): while a rule with it exists, conntrack runs in
   * the namespace. Without any such rule there is no conntrack, every packet is INVALID to conntrack matches and
   * the nat chains never run (recorded in fixtures/traces: nat-needs-conntrack).
   */
  needsConntrack?: boolean;
}

/** The part of a rule the kernel's checkentry sees (struct xt_mtchk_param / xt_tgchk_param). */
export interface KernelView {
  table: string;
  /** IP protocol number of the rule (0 = any). */
  protocol: number;
  /** `! -p PROTO`. */
  protocolInverted: boolean;
  /**
   * The hook of the rule's own built-in chain, or none in a user chain: the kernel runs checkentry once, when
   * the rule is added, with that hook mask (a later jump re-checks only the fixed hooks/tables lists).
   */
  hooks: ReadonlySet<Hook>;
  /**
   * The targets of the other rules of the ruleset (every table), for checkentry code that looks up state the
   * kernel shares between rules: IDLETIMER's timers by label, RATEEST's estimators by name. Optional: when the
   * caller does not give it, those checks pass.
   */
  peers?: (target: string) => Iterable<TargetUse>;
}

/** A match (-m NAME, or implicit through -p). */
export interface MatchDef<S> extends ExtensionCommon<S> {
  kind: 'match';
  /** Hooks the kernel accepts the match in (xt_match.hooks); undefined = any. */
  hooks?: readonly Hook[];
  /** Tables the kernel accepts it in (xt_match.table); undefined = any. */
  tables?: readonly string[];
  /** The protocol the kernel demands (xt_match.proto): without `-p` of it (not inverted), EINVAL. */
  requiresProtocol?: number;
  /**
   * The kernel the fixtures were recorded on has no such match (ipvs): loading it warns "Extension NAME revision 0
   * not supported, missing kernel module?" as for a missing target; the match's kernelCheck refuses the rule.
   */
  kernelMissing?: boolean;
  /**
   * iptables-nft turns some matches into nftables payload expressions and reads them back as ONE match: a
   * second instance of the same match in a rule (`-p tcp ! --syn -m tcp --dport 80`) is folded into the first.
   * Returns true when `later` was merged into `earlier` (which it may change).
   */
  merge?(earlier: S, later: S): boolean;
  /**
   * Packet semantics (the kernel's xt_match.match): does the packet match? The walker applies no inversion
   * of its own; `!` is part of the state. Extensions without it are reported as "not simulated" and taken
   * as matching, said aloud in the trace.
   */
  match?(state: S, ctx: EvalContext): boolean;
  /**
   * Why the packet did not match, for a person: the first criterion that failed, as "--dport 22: packet has
   * 80" (the option as saved, a colon, what the packet has). Called only after match() returned false.
   */
  explain?(state: S, ctx: EvalContext): string;
}

/** A target (-j NAME). Standard verdicts are targets too. */
export interface TargetDef<S> extends ExtensionCommon<S> {
  kind: 'target';
  hooks?: readonly Hook[];
  tables?: readonly string[];
  /** ACCEPT/DROP/RETURN/QUEUE: a verdict rather than an xt target; saved as plain `-j NAME`. */
  standard?: boolean;
  /** The kernel the fixtures were recorded on has no such target (QUEUE): adding the rule fails with ENOENT. */
  kernelMissing?: boolean;
  /** xtables' real_name: the kernel's name of an alias target, shown in the target column of -L. */
  realName?: string;
  /** Userspace check run once the whole rule is known (e.g. TCPMSS needs -p tcp). */
  ruleCheck?(state: S, ctx: ParseContext, matchNames: readonly string[]): IptablesError | undefined;
  /**
   * Packet semantics (xt_target.target): side effects through ctx (mark, log, NAT, reject...), then the
   * verdict. Standard verdicts (ACCEPT, DROP, RETURN, QUEUE) are handled by the walker itself.
   */
  run?(state: S, ctx: EvalContext): TargetVerdict;
}

export type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

/** Erases the state type so heterogeneous extensions can share one registry (state stays opaque outside). */
export type AnyMatch = MatchDef<unknown>;
export type AnyTarget = TargetDef<unknown>;

export function defineMatch<S>(def: MatchDef<S>): AnyMatch {
  return def as unknown as AnyMatch;
}

export function defineTarget<S>(def: TargetDef<S>): AnyTarget {
  return def as unknown as AnyTarget;
}

/** An extension bound to a rule: the definition and its parsed state. */
export interface MatchUse {
  def: AnyMatch;
  state: unknown;
}
export interface TargetUse {
  def: AnyTarget;
  state: unknown;
}
