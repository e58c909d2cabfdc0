/**
 * iptables' do_parse() (xshared.c): argv -> one command with its rule specification. Order-sensitive like
 * the real thing: `-m` brings in a match's options, `-j` a target's, `-p tcp` loads tcp implicitly when an
 * unknown option follows, `!` applies to the next option. Errors are thrown as IptablesError (data).
 */
import type { ArgNode } from '../ast';
import { findMatch, findTarget } from '../extensions/registry';
import type { AnyMatch, AnyTarget, MatchUse, OptionDef, ParseContext, TargetUse } from '../extensions/spec';
import { IptablesError, paramProblem } from '../messages';
import { protocolNameByNumber, parseProtocol } from '../extensions/option-types';
import { Getopt, longGroup, type LongGroup } from './getopt';

export type CommandName =
  | 'append'
  | 'check'
  | 'delete'
  | 'delete-num'
  | 'insert'
  | 'replace'
  | 'list'
  | 'list-rules'
  | 'flush'
  | 'zero'
  | 'zero-num'
  | 'new-chain'
  | 'delete-chain'
  | 'set-policy'
  | 'rename-chain';

/** Bits as in xshared.h, so "Cannot use -X with -Y" picks the same letters. */
const CMD = {
  INSERT: 1 << 0,
  DELETE: 1 << 1,
  DELETE_NUM: 1 << 2,
  REPLACE: 1 << 3,
  APPEND: 1 << 4,
  LIST: 1 << 5,
  FLUSH: 1 << 6,
  ZERO: 1 << 7,
  NEW_CHAIN: 1 << 8,
  DELETE_CHAIN: 1 << 9,
  SET_POLICY: 1 << 10,
  RENAME_CHAIN: 1 << 11,
  LIST_RULES: 1 << 12,
  ZERO_NUM: 1 << 13,
  CHECK: 1 << 14,
} as const;
const CMD_LETTERS = ['I', 'D', 'D', 'R', 'A', 'L', 'F', 'Z', 'N', 'X', 'P', 'E', 'S', 'Z', 'C'];

const OPT = {
  NUMERIC: 1 << 0,
  SOURCE: 1 << 1,
  DESTINATION: 1 << 2,
  PROTOCOL: 1 << 3,
  JUMP: 1 << 4,
  VERBOSE: 1 << 5,
  EXPANDED: 1 << 6,
  VIANAMEIN: 1 << 7,
  VIANAMEOUT: 1 << 8,
  LINENUMBERS: 1 << 9,
  COUNTERS: 1 << 10,
  FRAGMENT: 1 << 11,
} as const;
/** 1.8.9 names options by their letter in messages (opt2char): `-j`, `-s`, `-0` for --line-numbers. */
const OPT_NAMES: Record<number, string> = {
  [OPT.NUMERIC]: '-n',
  [OPT.SOURCE]: '-s',
  [OPT.DESTINATION]: '-d',
  [OPT.PROTOCOL]: '-p',
  [OPT.JUMP]: '-j',
  [OPT.VERBOSE]: '-v',
  [OPT.EXPANDED]: '-x',
  [OPT.VIANAMEIN]: '-i',
  [OPT.VIANAMEOUT]: '-o',
  [OPT.LINENUMBERS]: '-0',
  [OPT.COUNTERS]: '-c',
  [OPT.FRAGMENT]: '-f',
};
const INVERTIBLE = OPT.SOURCE | OPT.DESTINATION | OPT.PROTOCOL | OPT.VIANAMEIN | OPT.VIANAMEOUT | OPT.FRAGMENT;
const IDRAC = CMD.INSERT | CMD.DELETE | CMD.REPLACE | CMD.APPEND | CMD.CHECK;
/** options_v_commands: which commands each option may go with. */
const OPTION_COMMANDS: ReadonlyArray<readonly [number, number]> = [
  [OPT.NUMERIC, CMD.LIST],
  [OPT.SOURCE, IDRAC],
  [OPT.DESTINATION, IDRAC],
  [OPT.PROTOCOL, IDRAC],
  [OPT.JUMP, IDRAC],
  [OPT.VERBOSE, 0xffffffff],
  [OPT.EXPANDED, CMD.LIST],
  [OPT.VIANAMEIN, IDRAC],
  [OPT.VIANAMEOUT, IDRAC],
  [OPT.LINENUMBERS, CMD.LIST],
  [OPT.COUNTERS, CMD.INSERT | CMD.REPLACE | CMD.APPEND | CMD.SET_POLICY],
  [OPT.FRAGMENT, IDRAC],
];

const OPTSTRING = '-:A:C:D:E:F::I:L::M:N:P:R:S::VX::Z::c:d:i:j:o:p:s:t:vW::46fg:h::m:nw::x';

type Key = { kind: 'core'; letter: string } | { kind: 'ext'; def: AnyMatch | AnyTarget; option: OptionDef };

export const CORE_LONG: ReadonlyArray<readonly [string, 0 | 1 | 2, string]> = [
  ['append', 1, 'A'],
  ['delete', 1, 'D'],
  ['check', 1, 'C'],
  ['insert', 1, 'I'],
  ['replace', 1, 'R'],
  ['list', 2, 'L'],
  ['list-rules', 2, 'S'],
  ['flush', 2, 'F'],
  ['zero', 2, 'Z'],
  ['new-chain', 1, 'N'],
  ['delete-chain', 2, 'X'],
  ['rename-chain', 1, 'E'],
  ['policy', 1, 'P'],
  ['source', 1, 's'],
  ['destination', 1, 'd'],
  ['src', 1, 's'],
  ['dst', 1, 'd'],
  ['protocol', 1, 'p'],
  ['in-interface', 1, 'i'],
  ['jump', 1, 'j'],
  ['table', 1, 't'],
  ['match', 1, 'm'],
  ['numeric', 0, 'n'],
  ['out-interface', 1, 'o'],
  ['verbose', 0, 'v'],
  ['wait', 2, 'w'],
  ['wait-interval', 2, 'W'],
  ['exact', 0, 'x'],
  ['fragments', 0, 'f'],
  ['version', 0, 'V'],
  ['help', 2, 'h'],
  ['line-numbers', 0, '0'],
  ['modprobe', 1, 'M'],
  ['set-counters', 1, 'c'],
  ['goto', 1, 'g'],
  ['ipv4', 0, '4'],
  ['ipv6', 0, '6'],
];
const coreKeys = new Map<string, Key>();
const CORE_GROUP: LongGroup<Key> = longGroup(
  CORE_LONG.map(([name, hasArg, letter]) => {
    let key = coreKeys.get(letter);
    if (!key) {
      key = { kind: 'core', letter };
      coreKeys.set(letter, key);
    }
    return { name, hasArg, key };
  }),
);

/** Each extension's long options, built once per definition (the instance an option goes to is found at use). */
const extGroups = new WeakMap<AnyMatch | AnyTarget, LongGroup<Key>>();

/**
 * libxtables asks the kernel for an xt target's revision when it loads it; for one the kernel lacks (LED,
 * CLUSTERIP, ULOG on the recording kernel) it warns once per process, then the rule fails with ENOENT. One
 * warn callback serves one run (a command, or every line of a restore), so the warning is kept once per callback.
 */
const missingWarned = new WeakMap<(line: string) => void, Set<string>>();
function missingModuleWarning(name: string, warn: (line: string) => void): void {
  let seen = missingWarned.get(warn);
  if (!seen) missingWarned.set(warn, (seen = new Set()));
  if (seen.has(name)) return;
  seen.add(name);
  warn(`Warning: Extension ${name} revision 0 not supported, missing kernel module?`);
}
function extGroup(def: AnyMatch | AnyTarget): LongGroup<Key> {
  let g = extGroups.get(def);
  if (!g) {
    g = longGroup(
      def.options.map((o) => ({ name: o.name, hasArg: o.arg === 'none' ? (0 as const) : o.arg === 'required' ? (1 as const) : (2 as const), key: { kind: 'ext' as const, def, option: o } })),
    );
    extGroups.set(def, g);
  }
  return g;
}

/** An extension instance being filled in while parsing. */
interface Loaded {
  kind: 'match' | 'target';
  def: AnyMatch | AnyTarget;
  state: unknown;
  given: Set<string>;
  /** x6 option ids given (aliases share one). */
  givenIds: Set<number>;
}

export interface RuleSpec {
  /** Raw -s / -d strings (expanded into addresses by the rule builder), undefined when not given. */
  source: string | undefined;
  destination: string | undefined;
  inIface: string;
  outIface: string;
  protocol: number;
  protocolGiven: boolean;
  fragment: boolean;
  inv: { src: boolean; dst: boolean; inIface: boolean; outIface: boolean; proto: boolean; fragment: boolean };
  matches: MatchUse[];
  /** Set when -j/-g named an extension target (standard verdicts included). */
  target: TargetUse | undefined;
  /** The name after -j/-g ("" when none). */
  jumpTo: string;
  goto: boolean;
  counters: { packets: bigint; bytes: bigint } | undefined;
}

export interface ParsedCommand {
  /** The program name to print in messages (tsiptables, tsiptables-restore). */
  program: string;
  command: CommandName;
  /** -L/-S combined with -Z. */
  alsoZero: boolean;
  table: string;
  chain: string | undefined;
  rulenum: number | undefined;
  newName: string | undefined;
  policy: string | undefined;
  rule: RuleSpec;
  numeric: boolean;
  verbose: number;
  exact: boolean;
  lineNumbers: boolean;
  /** -w: undefined = not given, -1 = wait forever, N = seconds. */
  wait: number | undefined;
}

/** Outcomes that end the program early with output on stdout (-h, -V). */
export type EarlyExit = { kind: 'help'; matches: AnyMatch[]; target: AnyTarget | undefined } | { kind: 'version'; inverted: boolean };

export class EarlyExitSignal {
  constructor(readonly exit: EarlyExit) {}
}

export interface ParseOptions {
  /** Table to start from ('filter' for the CLI; the current table in iptables-restore). */
  table: string;
  /** Parsing a line of iptables-restore (forbids -t twice, -w, -W). */
  restore: boolean;
  programName: string;
  warn(line: string): void;
  /** Loading tsiptables' own state file (see ParseContext.trusted). */
  trusted?: boolean;
  /**
   * iptables-restore only: whether a name is a chain of the table the batch has built so far. There `-j NAME`
   * jumps to such a chain even when NAME is also a target extension (restore's `:CLASSIFY` line is accepted,
   * and the nft variant looks the name up in its cache first); the CLI loads the target (recorded:
   * fixtures/traces generated-1, and `-A ... -j CLASSIFY` asking for --set-class).
   */
  isChain?: (name: string) => boolean;
}

const MAX_NAME = 28; // XT_EXTENSION_MAXNAMELEN (29) - 1

/** parse_interface() */
function parseInterface(arg: string, warn: (l: string) => void): string {
  if (arg.length >= 16) throw paramProblem(`interface name \`${arg}' must be shorter than IFNAMSIZ (15)`);
  if (arg.includes('/') || arg.includes(' ')) {
    warn(`Warning: weird character in interface \`${arg}' ('/' and ' ' are not allowed by the kernel).`);
  }
  return arg;
}

/** parse_rulenumber(): 1..INT_MAX */
function parseRulenum(s: string): number {
  const n = /^\s*\+?\d+$/.test(s) || /^0[xX][0-9a-fA-F]+$/.test(s) ? Number(s.trim()) : NaN;
  if (!Number.isFinite(n) || n < 1 || n > 2147483647) throw paramProblem(`Invalid rule number \`${s}'`);
  return n;
}

/**
 * The checks of a new chain's name. `chainLine`: a chain line of iptables-restore, where only the standard
 * verdicts' names clash (the targets libxtables loads at start; `:LOG`, `:CLASSIFY`, `:standard` make chains,
 * recorded in cli-restore), where `-N` refuses every target name.
 */
export function assertValidChainName(name: string, chainLine = false): void {
  if (name === '') throw paramProblem('chain name may not clash with target name');
  if (name.length >= MAX_NAME + 1) throw paramProblem(`chain name \`${name}' too long (must be under ${MAX_NAME + 1} chars)`);
  if (name[0] === '-' || name[0] === '!') throw paramProblem(`chain name not allowed to start with \`${name[0]}'`);
  const target = findTarget(name);
  if (target && (!chainLine || (target.standard === true && name !== 'standard'))) throw paramProblem('chain name may not clash with target name');
  if (/\s/.test(name)) throw paramProblem(`Invalid chain name \`${name}'`);
}

const U64_MAX = (1n << 64n) - 1n;

/**
 * C's sscanf("%llu") (strtoull): leading blanks, optional sign, decimal digits, the rest ignored; too large
 * saturates at 2^64-1, a minus sign negates modulo 2^64 (`-c -1 5` stores 18446744073709551615).
 */
export function scanU64(s: string): bigint | null {
  const m = /^\s*([+-]?)(\d+)/.exec(s);
  if (!m) return null;
  const v = BigInt(m[2]!);
  if (v > U64_MAX) return U64_MAX;
  return m[1] === '-' ? ((1n << 64n) - v) & U64_MAX : v;
}

/** C's sscanf("%i") for -w: decimal, 0x hex or 0 octal; null when nothing numeric. */
function scanInt(s: string): number | null {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)/.exec(s);
  if (!m) return null;
  const v = Number(m[2]!.startsWith('0') && !/^0[xX]/.test(m[2]!) ? parseInt(m[2]!, 8) : m[2]!);
  return m[1] === '-' ? -v : v;
}

export function parseCommand(args: readonly ArgNode[], opts: ParseOptions): ParsedCommand {
  const argv = args.map((a) => a.text);
  const g = new Getopt<Key>(argv, OPTSTRING);
  let command = 0;
  let options = 0;
  let invert = false;
  let table = opts.table;
  let tableSet = false;
  let chain: string | undefined;
  let rulenum: number | undefined;
  let newName: string | undefined;
  let policy: string | undefined;
  let verbose = 0;
  let wait: number | undefined;
  let waitIntervalSet = false;
  let protocolText: string | undefined;
  let protoUsed = false;
  const loaded: Loaded[] = [];
  const rule: RuleSpec = {
    source: undefined,
    destination: undefined,
    inIface: '',
    outIface: '',
    protocol: 0,
    protocolGiven: false,
    fragment: false,
    inv: { src: false, dst: false, inIface: false, outIface: false, proto: false, fragment: false },
    matches: [],
    target: undefined,
    jumpTo: '',
    goto: false,
    counters: undefined,
  };
  let targetLoaded: Loaded | undefined;

  // A plain object kept in step with the parse (an object literal with getters costs microseconds per command:
  // too much for a 150,000-line restore).
  const ctx: { -readonly [K in keyof ParseContext]: ParseContext[K] } = {
    table,
    chain: '',
    protocol: 0,
    protocolInverted: false,
    nextArg: () => (g.hasArg() ? g.take() : undefined),
    warn: opts.warn,
    trusted: opts.trusted === true,
  };
  const syncCtx = (): ParseContext => {
    ctx.table = table;
    ctx.chain = chain ?? '';
    ctx.protocol = rule.protocol;
    ctx.protocolInverted = rule.inv.proto;
    return ctx;
  };

  // getopt's option list: the core options, then each loaded extension's, newest first, as
  // xtables_options_xfrm() merges them.
  const groups: LongGroup<Key>[] = [CORE_GROUP];

  const load = (kind: 'match' | 'target', def: AnyMatch | AnyTarget): Loaded => {
    if (def.kernelMissing && !(def.kind === 'target' && def.standard)) missingModuleWarning(def.name, opts.warn);
    const l: Loaded = { kind, def, state: def.init(), given: new Set(), givenIds: new Set() };
    loaded.push(l);
    groups.splice(1, 0, extGroup(def));
    return l;
  };

  /** The newest loaded instance of a definition: where its options go (command_default()). */
  const ownerOf = (def: AnyMatch | AnyTarget): Loaded => {
    for (let i = loaded.length - 1; i >= 0; i--) if (loaded[i]!.def === def) return loaded[i]!;
    throw new Error(`option of an extension that is not loaded: ${def.name}`);
  };

  const addCommand = (newcmd: number, othercmds: number): void => {
    if (invert) throw paramProblem("unexpected '!' flag");
    if (command & ~othercmds) {
      throw paramProblem(`Cannot use -${cmdLetter(newcmd)} with -${cmdLetter(command & ~othercmds)}`);
    }
    command |= newcmd;
  };

  const setOption = (option: number): void => {
    if (options & option) throw paramProblem(`multiple ${OPT_NAMES[option]} flags not allowed`);
    options |= option;
    if (invert) {
      if (!(INVERTIBLE & option)) throw paramProblem(`cannot have ! before ${OPT_NAMES[option]}`);
      if (option === OPT.SOURCE) rule.inv.src = true;
      if (option === OPT.DESTINATION) rule.inv.dst = true;
      if (option === OPT.PROTOCOL) rule.inv.proto = true;
      if (option === OPT.VIANAMEIN) rule.inv.inIface = true;
      if (option === OPT.VIANAMEOUT) rule.inv.outIface = true;
      if (option === OPT.FRAGMENT) rule.inv.fragment = true;
    }
  };

  const optionalChainArg = (arg: string | undefined): void => {
    if (arg !== undefined) chain = arg;
    else if (g.hasArg()) chain = g.take();
  };

  const jump = (name: string): void => {
    rule.jumpTo = checkTargetName(name);
    const def = opts.isChain?.(name) ? undefined : findTarget(name);
    if (def) targetLoaded = load('target', def);
  };

  const extensionOption = (l: Loaded, o: OptionDef, arg: string | undefined): void => {
    const def = l.def;
    if (def.style === 'x6') {
      // xtables_option_parse(): checks by id, with the flags and name of the first entry of that id.
      const tab = x6Table(def.options);
      const id = tab.idOf.get(o)!;
      const primary = tab.primary.get(id)!;
      const once = !primary.multi || (primary.excludes ?? []).some((n) => n === primary.name);
      if (once && l.givenIds.has(id)) throw paramProblem(`${def.name}: option "--${primary.name}" can only be used once.\n`);
      if (invert && !primary.invert) throw paramProblem(`${def.name}: option "--${primary.name}" cannot be inverted.\n`);
      if (primary.arg !== 'none' && arg === undefined) throw paramProblem(`${def.name}: option "--${primary.name}" requires an argument.\n`);
      l.givenIds.add(id);
    }
    def.parse(l.state, { name: o.name, value: arg, inverted: invert }, syncCtx());
    l.given.add(o.name);
  };

  for (;;) {
    const r = g.next(groups);
    if (r.kind === 'end') break;
    let letter: string | undefined;
    let arg: string | undefined;
    /** 1.8.9 reads -s/-d/-p/-i/-o/-j values as argv[optind-1]: `-ptcp` is protocol "-ptcp". */
    let raw = '';
    if (r.kind === 'short') {
      letter = r.letter;
      arg = r.arg;
      raw = r.raw;
    } else if (r.kind === 'long') {
      if (r.option.key.kind === 'ext') {
        extensionOption(ownerOf(r.option.key.def), r.option.key.option, r.arg);
        invert = false;
        continue;
      }
      letter = r.option.key.letter;
      arg = r.arg;
      raw = r.raw;
    } else if (r.kind === 'word') {
      if (r.arg === '!') {
        if (invert) throw paramProblem('multiple consecutive ! not allowed');
        invert = true;
        continue;
      }
      throw new IptablesError(`Bad argument \`${r.arg}'`, 2, 'bad-argument');
    } else {
      // '?' or ':': perhaps the protocol's match has the option (load_proto), else an error.
      if (protocolText !== undefined && !protoUsed) {
        protoUsed = true;
        const name = /^\d+$/.test(protocolText) ? protocolNameByNumber(Number(protocolText)) : protocolText;
        const def = name !== undefined ? findMatch(name) : undefined;
        if (def) {
          load('match', def);
          g.unread();
          continue;
        }
      }
      if (r.kind === 'missing') throw paramProblem(`option "${r.shown}" requires an argument`);
      throw paramProblem(`unknown option "${r.shown}"`);
    }

    switch (letter) {
      case 'A':
        addCommand(CMD.APPEND, 0);
        chain = arg;
        break;
      case 'C':
        addCommand(CMD.CHECK, 0);
        chain = arg;
        break;
      case 'D':
        addCommand(CMD.DELETE, 0);
        chain = arg;
        if (g.hasArg()) {
          rulenum = parseRuleRange(g.take());
          command = CMD.DELETE_NUM;
        }
        break;
      case 'R':
        addCommand(CMD.REPLACE, 0);
        chain = arg;
        if (g.hasArg()) rulenum = parseRulenum(g.take());
        else throw paramProblem('-R requires a rule number');
        break;
      case 'I':
        addCommand(CMD.INSERT, 0);
        chain = arg;
        rulenum = g.hasArg() ? parseRulenum(g.take()) : 1;
        break;
      case 'L':
        addCommand(CMD.LIST, CMD.ZERO | CMD.ZERO_NUM);
        optionalChainArg(arg);
        if (g.hasArg()) rulenum = parseRulenum(g.take());
        break;
      case 'S':
        addCommand(CMD.LIST_RULES, CMD.ZERO | CMD.ZERO_NUM);
        optionalChainArg(arg);
        if (g.hasArg()) rulenum = parseRulenum(g.take());
        break;
      case 'F':
        addCommand(CMD.FLUSH, 0);
        optionalChainArg(arg);
        break;
      case 'Z':
        addCommand(CMD.ZERO, CMD.LIST | CMD.LIST_RULES);
        optionalChainArg(arg);
        if (g.hasArg()) {
          rulenum = parseRulenum(g.take());
          command = (command & ~CMD.ZERO) | CMD.ZERO_NUM;
        }
        break;
      case 'N':
        assertValidChainName(arg!);
        addCommand(CMD.NEW_CHAIN, 0);
        chain = arg;
        break;
      case 'X':
        addCommand(CMD.DELETE_CHAIN, 0);
        optionalChainArg(arg);
        break;
      case 'E':
        addCommand(CMD.RENAME_CHAIN, 0);
        chain = arg;
        if (g.hasArg()) newName = g.take();
        else throw paramProblem('-E requires old-chain-name and new-chain-name');
        break;
      case 'P':
        addCommand(CMD.SET_POLICY, 0);
        if (g.hasArg()) {
          chain = arg;
          policy = g.take();
        } else throw paramProblem('-P requires a chain and a policy');
        break;
      case 'h': {
        const matches = loaded.filter((l) => l.kind === 'match').map((l) => l.def as AnyMatch);
        if (matches.length === 0 && protocolText !== undefined) {
          const def = findMatch(protocolText);
          if (def) matches.push(def);
        }
        throw new EarlyExitSignal({ kind: 'help', matches, target: targetLoaded?.def as AnyTarget | undefined });
      }
      case 'p': {
        setOption(OPT.PROTOCOL);
        protocolText = raw.toLowerCase();
        rule.protocol = parseProtocol(protocolText);
        rule.protocolGiven = true;
        if (rule.protocol === 0 && rule.inv.proto) throw paramProblem('rule would never match protocol');
        break;
      }
      case 's':
        setOption(OPT.SOURCE);
        rule.source = raw;
        break;
      case 'd':
        setOption(OPT.DESTINATION);
        rule.destination = raw;
        break;
      case 'g':
        // -g names a chain: no target extension is loaded, so `-g ACCEPT` is a jump to a chain "ACCEPT".
        setOption(OPT.JUMP);
        rule.goto = true;
        rule.jumpTo = checkTargetName(arg!);
        break;
      case 'j':
        setOption(OPT.JUMP);
        if (raw !== 'CONTINUE') jump(raw);
        break;
      case 'i':
        if (raw === '') throw paramProblem('Empty interface is likely to be undesired');
        setOption(OPT.VIANAMEIN);
        rule.inIface = parseInterface(raw, opts.warn);
        break;
      case 'o':
        if (raw === '') throw paramProblem('Empty interface is likely to be undesired');
        setOption(OPT.VIANAMEOUT);
        rule.outIface = parseInterface(raw, opts.warn);
        break;
      case 'f':
        setOption(OPT.FRAGMENT);
        rule.fragment = true;
        break;
      case 'v':
        if (!verbose) setOption(OPT.VERBOSE);
        verbose++;
        break;
      case 'm': {
        if (invert) throw paramProblem('unexpected ! flag before --match');
        const def = findMatch(arg!);
        if (!def) throw matchNotFound(arg!);
        load('match', def);
        break;
      }
      case 'n':
        setOption(OPT.NUMERIC);
        break;
      case 't':
        if (invert) throw paramProblem('unexpected ! flag before --table');
        if (opts.restore && tableSet) throw paramProblem(`The -t option cannot be used in ${opts.programName}.\n`);
        table = arg!;
        tableSet = true;
        break;
      case 'x':
        setOption(OPT.EXPANDED);
        break;
      case 'V':
        throw new EarlyExitSignal({ kind: 'version', inverted: invert });
      case 'w': {
        if (opts.restore) throw paramProblem("You cannot use `-w' from iptables-restore");
        let w = -1;
        const text = arg ?? (g.hasArg() ? g.take() : undefined);
        if (text !== undefined) {
          const v = scanInt(text);
          if (v === null) throw paramProblem('wait seconds not numeric');
          w = v;
        }
        wait = w;
        break;
      }
      case 'W': {
        if (opts.restore) throw paramProblem("You cannot use `-W' from iptables-restore");
        const text = arg ?? (g.hasArg() ? g.take() : undefined);
        if (text === undefined) throw paramProblem('wait interval value required');
        if (!/^\s*\+?\d/.test(text)) throw paramProblem('wait interval not numeric');
        opts.warn('Ignoring deprecated --wait-interval option.');
        waitIntervalSet = true;
        break;
      }
      case '0':
        setOption(OPT.LINENUMBERS);
        break;
      case 'M':
        break;
      case 'c': {
        setOption(OPT.COUNTERS);
        const pc = arg!;
        let bc: string | undefined;
        const comma = pc.indexOf(',');
        if (comma >= 0) bc = pc.slice(comma + 1);
        if (bc === undefined && g.hasArg()) bc = g.take();
        if (bc === undefined) throw paramProblem('-c requires packet and byte counter');
        const p = scanU64(pc);
        if (p === null) throw paramProblem('-c packet counter not numeric');
        const b = scanU64(bc);
        if (b === null) throw paramProblem('-c byte counter not numeric');
        rule.counters = { packets: p, bytes: b };
        break;
      }
      case '4':
        break;
      case '6':
        throw new IptablesError('', 2, 'bad-argument');
      default:
        throw paramProblem(`unknown option "-${letter}"`);
    }
    invert = false;
  }

  if (table === 'nat' && (policy === 'DROP' || rule.jumpTo === 'DROP')) {
    throw paramProblem('\nThe "nat" table is not intended for filtering, the use of DROP is therefore inhibited.\n\n');
  }
  if (wait === undefined && waitIntervalSet) throw paramProblem('--wait-interval only makes sense with --wait\n');

  // Final checks of every extension, in the order they were loaded (xtables_option_mfcall/tfcall): the
  // extension's own x6_fcheck first, then libxtables' generic table check.
  syncCtx();
  for (const l of loaded) {
    l.def.finalCheck?.(l.state, ctx, l.given);
    if (l.def.style === 'x6') x6FinalCheck(l);
  }
  if (g.optind < argv.length) throw paramProblem('unknown arguments found on commandline');

  if (!command) throw paramProblem('no command specified');
  if (invert) throw paramProblem('nothing appropriate following !');

  // 1.8.9's generic_opt_check(): an option is legal if it is legal with any of the commands given (-L -Z -n).
  for (const [opt, cmds] of OPTION_COMMANDS) {
    if (options & opt && (cmds & command) === 0) throw paramProblem(`Illegal option \`${OPT_NAMES[opt]}' with this command`);
  }
  if (chain !== undefined && chain.length > MAX_NAME) {
    throw paramProblem(`chain name \`${chain}' too long (must be under ${MAX_NAME + 1} chars)`);
  }
  if (command & (CMD.APPEND | CMD.DELETE | CMD.CHECK | CMD.INSERT | CMD.REPLACE)) {
    if ((chain === 'PREROUTING' || chain === 'INPUT') && options & OPT.VIANAMEOUT) throw paramProblem(`Can't use -o with ${chain}\n`);
    if ((chain === 'POSTROUTING' || chain === 'OUTPUT') && options & OPT.VIANAMEIN) throw paramProblem(`Can't use -i with ${chain}\n`);
  }

  for (const l of loaded) {
    if (l.kind === 'match') {
      const def = l.def as AnyMatch;
      const earlier = def.merge ? rule.matches.find((m) => m.def === def) : undefined;
      if (earlier && def.merge!(earlier.state, l.state)) continue;
      rule.matches.push({ def, state: l.state });
    } else rule.target = { def: l.def as AnyTarget, state: l.state };
  }

  return {
    program: opts.programName,
    command: commandName(command),
    alsoZero: (command & (CMD.LIST | CMD.LIST_RULES)) !== 0 && (command & (CMD.ZERO | CMD.ZERO_NUM)) !== 0,
    table,
    chain,
    rulenum,
    newName,
    policy,
    rule,
    numeric: (options & OPT.NUMERIC) !== 0,
    verbose,
    exact: (options & OPT.EXPANDED) !== 0,
    lineNumbers: (options & OPT.LINENUMBERS) !== 0,
    wait,
  };
}

/** xt_parse_target() */
function checkTargetName(name: string): string {
  if (name.length < 1) throw paramProblem('Invalid target name (too short)');
  if (name.length > MAX_NAME) throw paramProblem(`Invalid target name \`${name}' (${MAX_NAME} chars max)`);
  if (/\s/.test(name)) throw paramProblem(`Invalid target name \`${name}'`);
  return name;
}

function optionId(options: readonly OptionDef[], o: OptionDef): number {
  return o.id ?? options.indexOf(o);
}

/** xtables_option_lookup(): the first entry carrying an id. */
function primaryOf(options: readonly OptionDef[], id: number): OptionDef {
  return options.find((x) => optionId(options, x) === id)!;
}

/** An option table's ids, computed once per definition for the checks that run on every command. */
interface X6Table {
  ids: number[];
  idOf: Map<OptionDef, number>;
  primary: Map<number, OptionDef>;
  also: Map<OptionDef, Set<number | undefined>>;
  excl: Map<OptionDef, Set<number | undefined>>;
}
const x6Tables = new WeakMap<readonly OptionDef[], X6Table>();
function x6Table(options: readonly OptionDef[]): X6Table {
  let t = x6Tables.get(options);
  if (!t) {
    const idOf = new Map(options.map((o) => [o, optionId(options, o)] as const));
    const byName = (n: string): number | undefined => {
      const o = options.find((x) => x.name === n);
      return o ? idOf.get(o) : undefined;
    };
    const ids = [...new Set(idOf.values())].sort((a, b) => a - b);
    t = {
      ids,
      idOf,
      primary: new Map(ids.map((id) => [id, primaryOf(options, id)] as const)),
      also: new Map(options.map((o) => [o, new Set((o.also ?? []).map(byName))] as const)),
      excl: new Map(options.map((o) => [o, new Set((o.excludes ?? []).map(byName))] as const)),
    };
    x6Tables.set(options, t);
  }
  return t;
}

/**
 * xtables_options_fcheck(): for each entry in table order, "must be specified", then, if given, its also/excl
 * against every other id in id order (xtables_option_fcheck2), naming the first entry of that id.
 */
function x6FinalCheck(l: Loaded): void {
  const name = l.def.name;
  const options = l.def.options;
  const tab = x6Table(options);
  for (const o of options) {
    const id = tab.idOf.get(o)!;
    if (o.mandatory && !l.givenIds.has(id)) throw paramProblem(`${name}: option "--${o.name}" must be specified\n`);
    if (!l.givenIds.has(id)) continue;
    const also = tab.also.get(o)!;
    const excl = tab.excl.get(o)!;
    if (also.size === 0 && excl.size === 0) continue;
    for (const other of tab.ids) {
      if (other === id) continue;
      const otherName = tab.primary.get(other)!.name;
      if (also.has(other) && !l.givenIds.has(other)) {
        throw paramProblem(`${name}: option "--${o.name}" also requires "--${otherName}".\n`);
      }
      if (excl.has(other) && l.givenIds.has(other)) {
        throw paramProblem(`${name}: option "--${o.name}" cannot be used together with "--${otherName}".\n`);
      }
    }
  }
}

function matchNotFound(name: string): IptablesError {
  return new IptablesError(`Couldn't load match \`${name}':No such file or directory\n`, 2, 'param');
}

function parseRuleRange(s: string): number {
  if (s.includes(':')) throw paramProblem('Rule ranges are not supported');
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isFinite(n) || n === 0) throw paramProblem(`Invalid rule number \`${s}'`);
  return n;
}

function cmdLetter(bits: number): string {
  let i = 0;
  for (let o = bits; o > 1; o >>= 1) i++;
  return CMD_LETTERS[i] ?? '?';
}

function commandName(bits: number): CommandName {
  const base = bits & ~(CMD.ZERO | CMD.ZERO_NUM);
  if (base & CMD.LIST) return 'list';
  if (base & CMD.LIST_RULES) return 'list-rules';
  switch (bits) {
    case CMD.APPEND:
      return 'append';
    case CMD.CHECK:
      return 'check';
    case CMD.DELETE:
      return 'delete';
    case CMD.DELETE_NUM:
      return 'delete-num';
    case CMD.INSERT:
      return 'insert';
    case CMD.REPLACE:
      return 'replace';
    case CMD.FLUSH:
      return 'flush';
    case CMD.ZERO:
      return 'zero';
    case CMD.ZERO_NUM:
      return 'zero-num';
    case CMD.NEW_CHAIN:
      return 'new-chain';
    case CMD.DELETE_CHAIN:
      return 'delete-chain';
    case CMD.SET_POLICY:
      return 'set-policy';
    case CMD.RENAME_CHAIN:
      return 'rename-chain';
  }
  throw paramProblem('no command specified');
}
