/**
 * iptables-restore's line loop (xtables-restore.c) over the grammar's dump lines: tables are staged and
 * committed at COMMIT, all or nothing per table; errors carry the line number and iptables-restore's wording.
 */
import { SectionMade } from '../eval/hook-order';
import { parseDumpLine } from '../../grammar/index';
import type { ArgNode } from '../ast';
import { EarlyExitSignal, parseCommand, type EarlyExit, type ParsedCommand } from '../compile/command';
import { assertValidChainName, scanU64 } from '../compile/command';
import { execute } from '../exec/commands';
import { checkAddresses } from '../compile/rule';
import { Exit, IptablesError, kernelRefused, NFT_STRERROR, nftError, paramProblem } from '../messages';
import { type Chain, chainWithRules, type Counters, type Rule, Ruleset, type Table, zeroCounters } from '../model/ruleset';
import { validateTable } from '../exec/validate';
import { CHAIN_JUMP_MARK, jumpOfLine, LazyRule } from './lazy-rule';
import { isBuiltinChain, isTableName, TABLES, type TableName } from '../model/tables';

/** xshared.c: the size of one word's buffer (struct xt_param_buf) and of restore's argv (MAX_ARGC). */
const PARAM_BUFFER = 1024;
const MAX_ARGC = 255;
/** xtables-restore.c reads its input with fgets() into a buffer of this size. */
const FGETS_BUFFER = 10240;

/**
 * The input as xtables_restore_parse() sees it: fgets() hands over at most FGETS_BUFFER - 1 bytes, so a longer
 * line arrives as several, each with its own line number, and only the last keeps the newline (recorded in
 * cli-restore). `cut` holds the (1-based) numbers of the lines that were cut off without one.
 */
function fgetsLines(text: string): { lines: string[]; cut: Set<number> } {
  const whole = text.split('\n');
  if (whole.length > 0 && whole[whole.length - 1] === '') whole.pop();
  const max = FGETS_BUFFER - 1;
  const cut = new Set<number>();
  // Lines this short cannot reach the limit (a UTF-16 unit is at most 3 UTF-8 bytes): the common case is a copy.
  if (whole.every((l) => l.length * 3 + 1 <= max)) return { lines: whole, cut };
  const lines: string[] = [];
  for (const l of whole) {
    if (l.length * 3 + 1 <= max) {
      lines.push(l);
      continue;
    }
    const bytes = Buffer.from(l, 'utf8');
    let at = 0;
    // A line of n bytes and its newline: pieces of `max` bytes while more than `max` are left.
    while (bytes.length + 1 - at > max) {
      lines.push(bytes.subarray(at, at + max).toString('utf8'));
      cut.add(lines.length);
      at += max;
    }
    lines.push(bytes.subarray(at).toString('utf8'));
  }
  return { lines, cut };
}

/** Written by io/state.ts after `*table` (a comment to iptables-restore). */
export const REGISTERED_MARK = '# tsiptables: registered';

export interface RestoreOptions {
  counters: boolean;
  noflush: boolean;
  test: boolean;
  /** -T: only this table is restored. */
  onlyTable: string | undefined;
  verbose: boolean;
  programName: string;
  warn(line: string): void;
  /** Loading our own state file: chain names were checked when created (`-E` allows names `-N` refuses). */
  trusted?: boolean;
  /**
   * Keep the rules read in compact form (io/lazy-rule.ts LazyRule.of: texts, counters, facts), their parsed
   * parts dropped once checked: for a restore whose result is only written out (tsiptables-restore).
   */
  compact?: boolean;
}

/** An error with the line it belongs to; `atCommit` errors are reported as iptables-restore does at COMMIT. */
export class RestoreError extends Error {
  /** What had been committed before the failure (the nft variant keeps it); undefined if nothing was. */
  committed: Ruleset | undefined;
  constructor(
    readonly error: IptablesError,
    readonly line: number,
  ) {
    super(error.message);
  }
}

/**
 * `-h` or `-V` on a rule line: iptables-restore's do_parse() prints the help (or version) and exits 0 there,
 * the tables COMMITted before kept and the current one dropped.
 */
export class RestoreEarlyExit extends Error {
  /** What had been committed before that line; undefined if nothing was. */
  committed: Ruleset | undefined;
  constructor(
    readonly exit: EarlyExit,
    /** What the restore printed before that line (-v). */
    readonly stdout: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${exit.kind === 'help' ? '-h' : '-V'} ends the restore there (iptables-restore prints its ${exit.kind} and exits)`);
    this.name = 'RestoreEarlyExit';
  }
}

/** The `-6` that ends parsing of a line in iptables-restore: the line is ignored (do_parse returns early). */
class SkipLine extends Error {}

export interface RestoreResult {
  ruleset: Ruleset;
  stdout: string;
}

/** Runs a dump against `base` (not modified) and returns the new ruleset. Throws RestoreError (or RestoreEarlyExit). */
export function restore(text: string, base: Ruleset, opts: RestoreOptions): RestoreResult {
  let committed = base.clone();
  /** What a failure hands back when no table was committed yet: nothing (the state is left as it is). */
  const untouched = committed;
  /** The tables COMMITted so far: a failure later in the input keeps them, as the nft variant does. */
  let pending: Ruleset | undefined;
  let staged: Ruleset | undefined;
  let table: TableName | undefined;
  let skipping = false;
  /** The first error the kernel would report at COMMIT; with `refusals`, every rule it refuses. */
  let deferred: IptablesError | undefined;
  let refusals: Refusal[] = [];
  /** User chains created since the current `*table` line. */
  const createdHere = new Set<string>();
  /**
   * User chains the current section names in a chain line or `-N`: there `-j NAME` jumps to the chain even when
   * NAME is a target (ParseOptions.isChain); a chain that exists only from before the batch does not count
   * (recorded in cli-restore: `--noflush` with `-j CLASSIFY` asks for --set-class).
   */
  const declaredHere = new Set<string>();
  /** Chains the current section renamed: their old names stay taken until the batch ends. */
  const renamedHere = new Set<string>();
  /** The state file's CHAIN_JUMP_MARK was the line before (trusted input only). */
  let chainJumpNext = false;
  /**
   * The current table's changes as replayable steps, and the ruleset they start from: the jump-graph checks
   * are made once at COMMIT (validateTable); only if that fails are the steps replayed with per-rule graph
   * checks, to name the line the kernel would have refused.
   */
  let ops: Op[] = [];
  /** The rules this table's lines added, in batch order (see graphRefusals), and whether lines only added. */
  let tags = new Map<Rule, RuleTag>();
  let additive = true;
  let sectionBase: Ruleset | undefined;
  /** Where the current section's tables and chains go in Ruleset.hookOrder (not for --test or our own state). */
  let made: SectionMade | undefined;
  let stdout = '';
  const { lines, cut } = fgetsLines(text);
  let lineNo = 0;
  // One closure for the whole input (not one per line: a kube-proxy dump has 150,000 of them).
  const fail = (e: IptablesError): never => {
    const err = new RestoreError(e, lineNo);
    err.committed = (pending ?? committed) === untouched ? undefined : pending ?? committed;
    throw err;
  };
  for (const raw of lines) {
    lineNo++;
    if (raw === '') continue;
    if (table !== undefined && raw.startsWith(REGISTERED_MARK) && staged) {
      // State files only: which built-in chains the nf_tables variant has registered (see model/ruleset.ts).
      const t = staged.ensureTable(table);
      for (const c of t.chains.values()) if (c.hook) c.registered = c.counted = false;
      // `NAME+`: registered and counting its policy.
      for (const word of raw.slice(REGISTERED_MARK.length).split(' ').filter((n) => n !== '')) {
        const c = t.chains.get(word.replace(/\+$/, ''));
        if (c?.hook) {
          c.registered = true;
          c.counted = word.endsWith('+');
        }
      }
      continue;
    }
    if (raw.startsWith('#')) {
      // Our own state file: the next rule's `-j NAME` is a jump to the chain NAME, not the target NAME.
      if (opts.trusted && raw === CHAIN_JUMP_MARK) chainJumpNext = true;
      if (opts.verbose) stdout += raw + '\n';
      continue;
    }
    if (table !== undefined && /^COMMIT$/.test(raw)) {
      if (!opts.test && !opts.trusted && !skipping && (deferred === undefined || deferred.status === Exit.Resource)) {
        // Rules the kernel refuses on their own hide the jump graph's problems (iptables-nft 1.8.9, kernel 6.x).
        deferred = kernelReport(refusals, refusals.length === 0 ? graphRefusals(staged!, table, sectionBase!, ops, tags, additive) : undefined) ?? deferred;
      }
      if (deferred) fail(deferred);
      if (!skipping && !opts.test) pending = staged!;
      table = undefined;
      staged = undefined;
      continue;
    }
    if (raw.startsWith('*') && table === undefined) {
      if (pending) {
        committed = pending;
        pending = undefined;
      }
      const name = raw.slice(1).split(/[ \t]/).find((w) => w !== '');
      if (!name) fail(paramProblem(`${opts.programName}: line ${lineNo} table name invalid`));
      if (!isTableName(name!)) fail(paramProblem(`${opts.programName}: line ${lineNo} table name '${name}' invalid`));
      table = name as TableName;
      skipping = opts.onlyTable !== undefined && opts.onlyTable !== table;
      staged = (pending ?? committed).clone();
      createdHere.clear();
      declaredHere.clear();
      renamedHere.clear();
      if (!opts.noflush && !skipping) {
        // The nft variant flushes by deleting the table; chain lines and rules bring it back.
        if (opts.verbose && !opts.test) for (const hook of TABLES[table].chains) stdout += `Flushing chain \`${hook}'\n`;
        staged.tables.delete(table);
      }
      made = opts.trusted || opts.test || skipping ? undefined : new SectionMade(staged, table, !opts.noflush);
      ops = [];
      refusals = [];
      tags = new Map();
      additive = true;
      sectionBase = opts.trusted || opts.test ? undefined : staged.clone();
      continue;
    }
    if (table === undefined) fail(new IptablesError(`${opts.programName}: line ${lineNo} failed`, Exit.Other, 'plain'));
    if (skipping) continue;
    if (raw.startsWith(':')) {
      // A chain line, split as xtables-restore does it (strtok on blanks), not by the rule grammar.
      const [name, policy, ctrs] = raw.slice(1).split(/[ \t]+/).filter((w) => w !== '');
      if (!name || raw[1] === ' ' || raw[1] === '\t') fail(paramProblem(`${opts.programName}: line ${lineNo} chain name invalid`));
      try {
        if (!opts.trusted) assertValidChainName(name!, true);
      } catch (e) {
        fail(e as IptablesError);
      }
      if (policy === undefined) fail(paramProblem(`${opts.programName}: line ${lineNo} policy invalid`));
      let counters: Counters | undefined;
      if (isBuiltinChain(table!, name!)) {
        // parse_counters(): sscanf("[%llu:%llu]"), so the closing bracket is not checked.
        const m = ctrs !== undefined ? /^\[\s*([+-]?\d+):\s*([+-]?\d+)/.exec(ctrs) : null;
        if ((ctrs === undefined && opts.counters) || (ctrs !== undefined && opts.counters && !m)) {
          fail(paramProblem(`invalid policy counters for chain '${name}'`));
        }
        counters = m ? { packets: scanU64(m[1]!)!, bytes: scanU64(m[2]!)! } : zeroCounters();
        if (policy !== '-' && policy !== 'ACCEPT' && policy !== 'DROP') {
          fail(new IptablesError(`${opts.programName}: line ${lineNo} failed: Bad policy name.`, Exit.Other, 'plain'));
        }
      } else {
        if (!staged!.table(table!)?.chains.has(name!)) createdHere.add(name!);
        declaredHere.add(name!);
      }
      const tname = table!;
      const declare = (rs: Ruleset): string => {
        const t = rs.ensureTable(tname);
        if (counters) {
          const c = t.chains.get(name!)!;
          if (policy !== '-') c.policy = policy as 'ACCEPT' | 'DROP';
          c.registered = true;
          c.counted = true;
          if (opts.counters) c.counters = counters;
        } else {
          const existing = t.chains.get(name!);
          if (existing) existing.rules = [];
          else t.chains.set(name!, { name: name!, hook: undefined, registered: true, policy: undefined, counters: zeroCounters(), rules: [] });
        }
        return '';
      };
      if (sectionBase && (staged!.table(tname)?.chains.get(name!)?.rules.length ?? 0) > 0 && !counters) additive = false;
      if (!opts.test) declare(staged!);
      made?.chain(name!);
      if (sectionBase) ops.push({ line: lineNo, run: declare });
      continue;
    }
    // A rule line may start with counters: tokenize_rule_counters() reads "[pcnt:bcnt]" loosely.
    let body = raw;
    let lineCounters: [string, string] | undefined;
    if (raw.startsWith('[')) {
      const close = raw.indexOf(']');
      if (close < 0) fail(paramProblem(`Bad line ${lineNo}: need ]`));
      const inner = raw.slice(1);
      const colon = inner.indexOf(':');
      if (colon < 0 || colon > close - 1) {
        if (colon < 0) fail(paramProblem(`Bad line ${lineNo}: need ]`));
      }
      const pcnt = inner.slice(0, colon);
      const rest = inner.slice(colon + 1);
      const end = rest.indexOf(']');
      if (end < 0) fail(paramProblem(`Bad line ${lineNo}: need ]`));
      lineCounters = [pcnt, rest.slice(0, end)];
      body = ' '.repeat(colon + end + 3) + rest.slice(end + 1);
    }
    // fgets() keeps the newline: an unbalanced quote swallows it into the value (recorded in cli-restore).
    // (Only a quote can reach the newline; without one the line parses the same without it.)
    const parsed = parseDumpLine(body.indexOf('"') < 0 || cut.has(lineNo) ? body : body + '\n', lineNo);
    if (!parsed.ok) fail(paramProblem(parsed.problems[0]!.message));
    const ast = parsed.ok ? parsed.value : undefined;
    if (!ast) continue;
    if (ast.kind === 'rule' && ast.counters && lineCounters) {
      fail(new IptablesError(`Bad argument \`[${ast.counters.packets}:${ast.counters.bytes}]'`, Exit.Parameter, 'bad-argument'));
    }
    if (ast.kind === 'table' || ast.kind === 'commit' || ast.kind === 'rule' || ast.kind === 'chain') {
      const at = { quoted: false, line: lineNo, column: 1 };
      const args: ArgNode[] = ast.kind === 'rule' ? ast.args : [{ kind: 'word', text: raw.trim(), ...at }];
      const prefix: ArgNode[] = [
        { kind: 'short', text: '-t', quoted: false, line: lineNo, column: 1 },
        { kind: 'word', text: table!, quoted: false, line: lineNo, column: 1 },
      ];
      if (opts.counters && lineCounters) {
        prefix.push({ kind: 'short', text: '-c', ...at }, { kind: 'word', text: lineCounters[0], ...at }, { kind: 'word', text: lineCounters[1], ...at });
      }
      // iptables-restore passes -v to every rule command when verbose and flushing.
      if (opts.verbose && !opts.noflush) prefix.push({ kind: 'short', text: '-v', ...at });
      try {
        for (const a of args) if (a.kind === 'short' && a.text === '-6') throw new SkipLine();
        // add_param_to_argv() splits the line word by word: a word of PARAM_BUFFER (1024) characters or more
        // stops it with "Parameter too long!", and add_argv() holds at most MAX_ARGC (255) - 1 words; the
        // first of the two reached, left to right, is the message (both recorded in cli-restore).
        args.forEach((a, k) => {
          if (a.text.length * 3 >= PARAM_BUFFER && Buffer.byteLength(a.text, 'utf8') >= PARAM_BUFFER) throw paramProblem('Parameter too long!');
          if (1 + prefix.length + k + 1 >= MAX_ARGC) throw paramProblem('Parser cannot handle more arguments');
        });
        // Our own state file (trusted) marks a jump to a chain named like a target (CHAIN_JUMP_MARK).
        const jumpTo = chainJumpNext ? jumpOfLine(body, () => true) : undefined;
        chainJumpNext = false;
        const cmd = parseCommand([...prefix, ...args], {
          table: table!,
          restore: true,
          programName: opts.programName,
          warn: opts.warn,
          trusted: opts.trusted === true,
          isChain: opts.trusted ? (name) => name === jumpTo : (name) => declaredHere.has(name),
        });
        if (cmd.command === 'rename-chain' && createdHere.has(cmd.chain!)) {
          // Renaming a chain created in the same transaction fails in the nf_tables batch (cli-restore).
          throw kernelRefused('CHAIN_RENAME', 'No such file or directory', `chain ${cmd.newName}`);
        }
        if (cmd.command === 'new-chain' && renamedHere.has(cmd.chain!)) {
          // The name a chain was renamed from is still taken within the batch (nft-iptables).
          throw nftError(NFT_STRERROR.chainExists);
        }
        if (opts.test) {
          // --test parses every line as do_parse() does (addresses included) and queues nothing.
          if (cmd.rule.source !== undefined || cmd.rule.destination !== undefined) checkAddresses(cmd.rule);
          continue;
        }
        const run = (rs: Ruleset, defer: boolean): string => execute(rs, cmd, { kernel: defer ? 'per-rule' : 'full' }).stdout;
        const op = NEW_RULE_OPS[cmd.command];
        const before = sectionBase && op ? (staged!.table(table!)?.chains.get(cmd.chain!)?.rules.length ?? 0) : 0;
        const beforeAll = opts.compact && op ? (staged!.table(table!)?.chains.get(cmd.chain!)?.rules.length ?? 0) : 0;
        const out = run(staged!, true);
        if (opts.compact && op) compactNewRules(staged!.table(table!)!, cmd, beforeAll);
        if (sectionBase) {
          // The steps are replayed only for a batch of at most REPLAY_LIMIT lines (graphRefusals): beyond it,
          // only their count matters, and a 150,000-line batch does not keep 150,000 parsed commands.
          if (ops.length < REPLAY_LIMIT) ops.push({ line: lineNo, run, cmd });
          else if (ops.length === REPLAY_LIMIT) ops.push({ line: lineNo, run: () => '' });
          if (op) tagNewRules(tags, staged!.table(table!)!.chains.get(cmd.chain!)!, cmd, op, before, lineNo);
          else if (!ADDITIVE.has(cmd.command)) additive = false;
        }
        stdout += out;
        if (cmd.command === 'rename-chain') renamedHere.add(cmd.chain!);
        if (made && cmd.command === 'delete-chain') made.deleted((c) => staged!.table(table!)?.chains.has(c) === true);
        else if (made && cmd.chain !== undefined) {
          if (cmd.command === 'rename-chain') made.renamed(cmd.chain, cmd.newName!);
          else {
            const c = staged!.table(table!)?.chains.get(cmd.chain);
            if (c && (!c.hook || c.registered)) made.chain(cmd.chain);
          }
        }
        if (cmd.command === 'new-chain') {
          createdHere.add(cmd.chain!);
          declaredHere.add(cmd.chain!);
        }
      } catch (e) {
        if (e instanceof SkipLine) continue;
        if (e instanceof EarlyExitSignal) {
          const early = new RestoreEarlyExit(e.exit, stdout, lineNo);
          early.committed = (pending ?? committed) === untouched ? undefined : pending ?? committed;
          throw early;
        }
        if (!(e instanceof IptablesError)) throw e;
        // Kernel-side refusals surface at COMMIT in the nft variant; so does a jump to a missing chain.
        // --test does not ask the kernel, so it sees neither.
        if (e.status === Exit.Resource) {
          if (!opts.test) {
            deferred ??= e;
            refusals.push({ line: lineNo, message: e.message });
          }
          continue;
        }
        if (/^Chain '.*' does not exist$/.test(e.message)) {
          if (!opts.test) deferred ??= e;
          continue;
        }
        if (e.framing === 'nft') fail(new IptablesError(`${opts.programName}: line ${lineNo} failed: ${e.message}`, Exit.Other, 'plain'));
        fail(e);
      }
    }
  }
  if (table !== undefined) {
    const err = new RestoreError(new IptablesError(`${opts.programName}: COMMIT expected at line ${lineNo + 1}`, Exit.Other, 'plain'), lineNo + 1);
    err.committed = (pending ?? committed) === untouched ? undefined : pending ?? committed;
    throw err;
  }
  return { ruleset: pending ?? committed, stdout };
}

/** A replayable step of the current table; `cmd` when it is a parsed command line (rule lines). */
interface Op {
  line: number;
  run: (rs: Ruleset, defer: boolean) => string;
  cmd?: ParsedCommand;
}

/** A rule the kernel refuses: its line and the message (` RULE_APPEND failed (Errno text): rule in chain X`). */
interface Refusal {
  line: number;
  message: string;
}

const NEW_RULE_OPS: Partial<Record<ParsedCommand['command'], string>> = { append: 'RULE_APPEND', insert: 'RULE_INSERT', replace: 'RULE_REPLACE' };

/** Commands that leave every rule where it was (so the table only grows as the batch goes on). */
const ADDITIVE = new Set<ParsedCommand['command']>(['append', 'insert', 'new-chain', 'set-policy', 'zero', 'zero-num', 'list', 'list-rules', 'check']);

/** A rule a restore line added: its place in the batch, its line, and how the kernel names the operation. */
interface RuleTag {
  seq: number;
  line: number;
  op: string;
  chain: string;
}

/** How many steps of a batch are replayed to find the rule the kernel refuses (see graphRefusals). */
const REPLAY_LIMIT = 2000;

/** Replaces the rules `cmd` just added to its chain (which had `before` rules) by their compact form. */
function compactNewRules(t: Table, cmd: ParsedCommand, before: number): void {
  const c = t.chains.get(cmd.chain!)!;
  const added = c.rules.length - before;
  const from = cmd.command === 'append' ? before : cmd.command === 'insert' ? (cmd.rulenum ?? 1) - 1 : cmd.rulenum! - 1;
  const count = cmd.command === 'replace' ? 1 : added;
  for (let i = from; i < from + count; i++) c.rules[i] = LazyRule.of(t.name, c.name, c.rules[i]!);
}

/** Tags the rules `cmd` just added to `c` (which had `before` rules), in the order the batch adds them. */
function tagNewRules(tags: Map<Rule, RuleTag>, c: Chain, cmd: ParsedCommand, op: string, before: number, line: number): void {
  const added = c.rules.length - before;
  let rules: Rule[];
  let name = op;
  if (cmd.command === 'append') rules = c.rules.slice(before);
  else if (cmd.command === 'insert') {
    const at = (cmd.rulenum ?? 1) - 1;
    // Each address pair is inserted at the same place, so the batch's first rule ends up last.
    rules = c.rules.slice(at, at + added).reverse();
    if (at > 0 && at === before) name = 'RULE_APPEND';
  } else rules = [c.rules[cmd.rulenum! - 1]!];
  for (const r of rules) tags.set(r, { seq: tags.size, line, op: name, chain: c.name });
}

/** The table with only the rules added up to batch position `seq` (and those it had before the batch). */
function upTo(t: Table, tags: ReadonlyMap<Rule, RuleTag>, seq: number): Table {
  const chains = new Map<string, Chain>();
  for (const [name, c] of t.chains) chains.set(name, chainWithRules(c, c.rules.filter((r) => (tags.get(r)?.seq ?? -1) <= seq)));
  return { ...t, chains };
}

/**
 * The COMMIT-time check of the jump graph (hooks reaching each chain, loops, jump depth). When the table fails
 * it, the rule after which the kernel finds the table invalid is refused, and so is every rule added after it
 * in the batch (the kernel checks the whole table again at each one and the invalid rule stays in the
 * transaction), with the same errno: `-s a,b` makes two rules, two messages.
 *
 * When the lines only added rules, the table only grows, so that rule is found by bisection over the batch
 * (each step checks the table with the rules added so far): O(n log n), where replaying n lines with the
 * graph checks of each would be O(n^2), minutes for a kube-proxy dump with one loop. Lines that also delete,
 * flush or replace are replayed in order as the kernel sees them (up to 2,000 lines; beyond, the bisection's
 * answer over the rules that remain).
 */
function graphRefusals(staged: Ruleset, table: TableName, base: Ruleset, ops: readonly Op[], tags: ReadonlyMap<Rule, RuleTag>, additive: boolean): Refusal[] | string | undefined {
  const t = staged.table(table);
  const why = t ? validateTable(t) : undefined;
  if (why === undefined) return undefined;
  if (!additive && ops.length <= REPLAY_LIMIT) return replayRefusals(base, ops, why);
  const order = [...t!.chains.values()].flatMap((c) => c.rules.map((r) => tags.get(r))).filter((g): g is RuleTag => g !== undefined).sort((a, b) => a.seq - b.seq);
  if (order.length === 0 || validateTable(upTo(t!, tags, -1)) !== undefined) return why;
  // The first position whose table is invalid: invalid at the end, valid before the batch.
  let lo = 0;
  let hi = order.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (validateTable(upTo(t!, tags, order[mid]!.seq)) !== undefined) hi = mid;
    else lo = mid + 1;
  }
  const errno = validateTable(upTo(t!, tags, order[lo]!.seq)) ?? why;
  return order.slice(lo).map((g) => ({ line: g.line, message: ` ${g.op} failed (${errno}): rule in chain ${g.chain}` }));
}

/** graphRefusals() for lines that also delete, flush or replace: replayed in order with the CLI's checks. */
function replayRefusals(base: Ruleset, ops: readonly Op[], why: string): Refusal[] | string {
  const rs = base.clone();
  for (let k = 0; k < ops.length; k++) {
    try {
      ops[k]!.run(rs, false);
    } catch (e) {
      if (!(e instanceof IptablesError) || e.status !== Exit.Resource) throw e;
      const out: Refusal[] = [{ line: ops[k]!.line, message: e.message }];
      const errno = /failed \((.*?)\): /.exec(e.message)?.[1] ?? why;
      for (const later of ops.slice(k + 1)) {
        const op = later.cmd ? NEW_RULE_OPS[later.cmd.command] : undefined;
        if (!op) continue;
        // One message per rule the line makes (`-s a,b` is two rules).
        const { srcs, dsts } = checkAddresses(later.cmd!.rule);
        for (let n = 0; n < srcs.length * dsts.length; n++) out.push({ line: later.line, message: ` ${op} failed (${errno}): rule in chain ${later.cmd!.chain}` });
      }
      return out;
    }
  }
  return why;
}

/**
 * What iptables-restore (nft variant) prints for a batch the kernel refused: one `line N: ...` per refused rule
 * in line order, exit 4, gathered as nft_action() gathers them in its 1024-byte errmsg buffer.
 */
function kernelReport(refusals: readonly Refusal[], graph: Refusal[] | string | undefined): IptablesError | undefined {
  const all = [...refusals, ...(Array.isArray(graph) ? graph : [])].sort((a, b) => a.line - b.line);
  if (all.length === 0) return typeof graph === 'string' ? new IptablesError(` COMMIT failed (${graph})`, Exit.Resource, 'prefixed') : undefined;
  return new IptablesError(errmsgBuffer(all.map((r) => `\nline ${r.line}:${r.message}`)), Exit.Resource, 'prefixed');
}

/**
 * nft_action()'s errmsg[1024]: each message is snprintf()ed at the end of those kept so far; it is kept only if
 * it fitted (a message that fills the buffer exactly loses its last character to the NUL). A message that did
 * not fit stays, cut, until the next one is written over it, so the last one shows, cut, at the end.
 */
function errmsgBuffer(messages: readonly string[]): string {
  let kept = '';
  let room = 1024;
  let cut = '';
  for (const m of messages) {
    if (room > 0) cut = m.slice(0, room - 1);
    if (m.length > 0 && m.length <= room) {
      kept += cut;
      room -= m.length;
      cut = '';
    }
  }
  return kept + cut;
}

export { nftError };
