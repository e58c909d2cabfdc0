/**
 * `tsiptables trace [--rules DUMP] [--host HOSTFILE] [--json] [--dmesg] PACKET` and `--batch FILE`: the trace
 * subcommand's options (commander), the PACKET words (everything else, see src/eval/packet-line.ts), and the
 * exit status: 0 delivered/forwarded/sent, 1 dropped or rejected, 2 bad input. `--html/--svg/--dot FILE` also draw
 * the packets' path through netfilter (src/diagram), one picture per connection.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { Host, HostFileError } from '../eval/host';
import { PacketLineError, splitWords } from '../eval/packet-line';
import { statusNames, TraceInputError, type TraceResult } from '../eval/trace';
import { ConntrackTable, tupleText } from '../eval/conntrack';
import { addrToString } from '../model/ip';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, protoName, type Packet } from '../eval/packet';
import type { Rule } from '../model/ruleset';
import type { Step } from '../eval/walk';
import { BatchRunner } from '../eval/batch';
import { loadState, parseDump, statePath, withLock, writeState } from '../io/state';
import { RestoreError } from '../io/restore';
import { Ruleset } from '../model/ruleset';
import { IptablesError } from '../messages';
import { branchesJson, branchesView, dmesgLines, humanView, jsonView, logLines, stepText } from './trace-output';
import { handlePlan, monitorLines } from './trace-monitor';
import { exploreBranches } from '../eval/branches';
import { findMatch } from '../extensions/registry';
import type { RunResult } from './main';
import { runLabTrace } from './trace-lab';
import { connectionInputs, snapshotResult } from '../diagram/connections';
import { writeDiagrams } from './diagram-files';

/** Trace options and whether each takes a value; every other word belongs to the PACKET. */
export const OWN_OPTIONS: ReadonlyMap<string, boolean> = new Map([
  ['--rules', true],
  ['--host', true],
  ['--json', false],
  ['--dmesg', false],
  ['--monitor', false],
  ['--batch', true],
  ['--assume', true],
  ['--update-counters', false],
  ['--no-explain', false],
  ['--color', false],
  ['--no-color', false],
  ['--now', true],
  ['--lab', true],
  ['--from', true],
  ['--html', true],
  ['--svg', true],
  ['--dot', true],
  ['--name', true],
  ['--help', false],
  ['-h', false],
]);

interface TraceFlags {
  rules?: string;
  host?: string;
  json?: boolean;
  dmesg?: boolean;
  monitor?: boolean;
  batch?: string;
  assume?: string[];
  updateCounters?: boolean;
  explain: boolean;
  color?: boolean;
  now?: string;
  lab?: string;
  from?: string;
  html?: string;
  svg?: string;
  dot?: string;
  name?: string;
}

/**
 * A string as JSON.stringify writes it: as it is between quotes unless it holds a character JSON escapes (a
 * control character, a quote or a backslash) or any surrogate (a lone one is escaped), which JSON.stringify
 * then writes. A loop over the characters: cheaper than a regular expression on these short strings.
 */
function jsonString(s: string): string {
  return plain(s) ? `"${s}"` : JSON.stringify(s);
}

/** Nothing in s that JSON.stringify would escape. */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return false;
  }
  return true;
}

/** A number as JSON.stringify writes it. */
function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

const jsonList = (items: readonly string[]): string => {
  let out = '[';
  for (let i = 0; i < items.length; i++) out += (i > 0 ? ',' : '') + jsonString(items[i]!);
  return out + ']';
};

/**
 * The --json line of a packet, `JSON.stringify(jsonView(result))` byte for byte (test/trace-walk.property.test.ts
 * compares them on every recorded kernel case and a kube-proxy batch), written without building the view: a
 * --batch of 100,000 packets spends less on its output. The deciding rule's line is encoded once per rule.
 */
export class JsonLines {
  private readonly decidedRules = new Map<Rule, { chain: string; json: string }>();
  private readonly names = new Map<string, string>();

  line(r: TraceResult): string {
    const conn = r.conn;
    if (r.in === undefined || r.out === undefined) return JSON.stringify(jsonView(r)) + '\n';
    // Fate, conntrack state and NAT manip are fixed words (their types say which): nothing to escape.
    let o = `{"fate":"${r.fate}","in":${r.in === null ? 'null' : jsonString(r.in)},"out":${r.out === null ? 'null' : jsonString(r.out)},"reason":${jsonString(r.reason)}`;
    o += `,"packet":${r.fate === 'dropped' ? 'null' : wireJson(r.packet)},"trace":[`;
    const steps = r.steps;
    for (let i = 0; i < steps.length; i++) o += (i > 0 ? ',' : '') + this.step(steps[i]!);
    let nat = '';
    let route = '';
    let notes = '';
    let logs = false;
    for (const e of r.events) {
      if (e.kind === 'nat') nat += `${nat === '' ? '' : ','}{"manip":"${e.manip}","before":${jsonString(e.before)},"after":${jsonString(e.after)}}`;
      else if (e.kind === 'route') route += (route === '' ? '' : ',') + jsonString(e.text);
      else if (e.kind === 'note') notes += (notes === '' ? '' : ',') + jsonString(e.text);
      else if (e.kind === 'unsimulated') notes += (notes === '' ? '' : ',') + jsonString(`${e.what}: packet semantics not simulated, taken as matching`);
      else if (e.kind === 'log') logs = true;
    }
    o += `],"log":${logs ? jsonList(logLines(r, false)) : '[]'},"verdict":${jsonString(r.verdict)},"conntrack":{"state":"${r.ctState}","entry":`;
    if (conn) {
      o += `{"original":${jsonString(tupleText(conn.orig))},"reply":${jsonString(tupleText(conn.reply))},"status":${jsonList(statusNames(conn.status))},"mark":${jsonNumber(conn.mark)}`;
      if (conn.orig.proto === PROTO_TCP) o += `,"tcp":${jsonString(ConntrackTable.tcpStateName(conn))}`;
      o += `,"confirmed":${conn.confirmed ? 'true' : 'false'}}`;
    } else o += 'null';
    o += `},"nat":[${nat}],"route":[${route}],"decided":`;
    const d = r.decidedBy;
    if (d) {
      o += `{"rule":${d.rule ? this.decidedRule(d.chain, d.rule) : 'null'},"path":[`;
      for (let i = 0; i < d.path.length; i++) o += (i > 0 ? ',' : '') + this.name(d.path[i]!);
      o += `],"step":${this.step(d)}}`;
    } else o += 'null';
    if (r.rejectWith !== undefined) o += `,"reject":${jsonString(r.rejectWith)}`;
    if (r.assumptions.length) {
      o += ',"assumed":[';
      r.assumptions.forEach((a, i) => {
        o += `${i > 0 ? ',' : ''}{"ext":${jsonString(a.ext)},"question":${jsonString(a.question)},"answer":${a.answer ? 'true' : 'false'}`;
        if (a.probability !== undefined) o += `,"probability":${jsonNumber(a.probability)}`;
        o += '}';
      });
      o += ']';
    }
    return o + `,"notes":[${notes}]}\n`;
  }

  /** stepText(s) as JSON. */
  private step(s: Step): string {
    // Table names and step types need no escapes; only a chain name might.
    return plain(s.chain) ? `"${s.table}:${s.chain}:${s.type}:${s.num}"` : JSON.stringify(stepText(s));
  }

  private decidedRule(chain: string, rule: Rule): string {
    let c = this.decidedRules.get(rule);
    if (c === undefined || c.chain !== chain) {
      c = { chain, json: jsonString(`-A ${chain}${rule.line}`) };
      this.decidedRules.set(rule, c);
    }
    return c.json;
  }

  private name(n: string): string {
    let j = this.names.get(n);
    if (j === undefined) {
      j = jsonString(n);
      this.names.set(n, j);
    }
    return j;
  }
}

/** wireView(p) as JSON. */
function wireJson(p: Packet): string {
  let o = `{"proto":${jsonString(protoName(p.proto))},"src":"${addrToString(p.src)}","dst":"${addrToString(p.dst)}"`;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) o += `,"sport":${jsonNumber(p.sport)},"dport":${jsonNumber(p.dport)}`;
  else if (p.proto === PROTO_ICMP) o += `,"type":${jsonNumber(p.icmpType)},"code":${jsonNumber(p.icmpCode)}`;
  return o + '}';
}

/** What tracing the packets came to: the exit status, or the error of a bad packet line. */
interface Outcome {
  status: number;
  error?: string;
}

/** A --batch drawn as a diagram keeps at most this many packets in memory (and in the picture). */
const DIAGRAM_MAX_PACKETS = 1000;

function program(out: { text: string }): Command {
  const cmd = new Command('tsiptables trace')
    .usage('[--rules DUMP] [--host HOSTFILE] [--json] [--dmesg] [--html FILE] [--svg FILE] [--dot FILE] PACKET | --batch FILE')
    .description(
      'Runs a simulated IPv4 packet through the ruleset as the kernel would and explains its path.\n\n' +
        'PACKET := -p tcp|udp|icmp|N -s ADDR -d ADDR [--sport N] [--dport N] [--syn | --tcp-flags MASK COMP]\n' +
        '          [--icmp-type NAME|TYPE[/CODE]] [--icmp-id N] [--icmp-seq N] [-i IFACE] [--uid N] [--gid N]\n' +
        '          [--mark V] [--len N] [--ttl N] [--tos N] [--ip-id N] [--no-df] [--seq N] [--ack-seq N]\n' +
        '          [--window N] [--mac-source MAC]\n' +
        'With -i the packet arrives on IFACE; without it a local process sends it.\n' +
        'Exit status: 0 delivered, forwarded or sent; 1 dropped or rejected; 2 bad input.',
    )
    .option('--rules <DUMP>', 'iptables-save file to trace against (default: the state file, TSIPTABLES_STATE)')
    .option('--host <HOSTFILE>', 'host description: ip addr add / ip route add / ip link set / sysctl -w lines')
    .option('--json', 'one JSON object per packet (JSON Lines with --batch)')
    .option('--dmesg', "the kernel's TRACE and LOG lines for the packet")
    .option('--monitor', 'the lines `xtables-monitor --trace` prints for the packet (nf_tables variant; trace id: the IP id)')
    .option('--batch <FILE>', 'one PACKET a line (- for stdin); conntrack persists from line to line')
    .option('--assume <EXT=yes|no>', 'the answer of a state-dependent match (statistic, limit, recent, set, socket...)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--update-counters', 'add the packets to the rule counters of the state file')
    .option('--no-explain', 'do not say why each rule passed over did not match')
    .option('--color', 'colours even when not writing to a terminal')
    .option('--no-color', 'no colours (also when NO_COLOR is set or not writing to a terminal)')
    .option('--now <ISO-DATE>', 'the clock for -m time (default: now)')
    .option('--lab <SCRIPT>', 'trace through the hosts of a lab script (see tsiptables lab); needs --from')
    .option('--from <NS>', 'with --lab: the namespace the packet starts in')
    .option('--html <FILE>', 'write the netfilter picture of the path as a self-contained HTML page (- for stdout)')
    .option('--svg <FILE>', 'write the same picture as an SVG file (- for stdout)')
    .option('--dot <FILE>', 'write the path as a Graphviz DOT graph (- for stdout)')
    .option('--name <HOST>', "the host's name in --html, --svg and --dot (default: host)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out.text += s), writeErr: (s) => (out.text += s) })
    .helpOption('-h, --help', 'this help');
  return cmd;
}

function splitArgs(argv: readonly string[]): { own: string[]; packet: string[] } {
  const own: string[] = [];
  const packet: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const takes = OWN_OPTIONS.get(name);
    if (takes === undefined) {
      packet.push(a);
      continue;
    }
    own.push(a);
    if (takes && eq < 0 && i + 1 < argv.length) own.push(argv[++i]!);
  }
  return { own, packet };
}

const bad = (msg: string): RunResult => ({ stdout: '', stderr: `tsiptables trace: ${msg}\nTry \`tsiptables trace --help' for more information.\n`, status: 2 });

export interface TraceIo {
  stdin(): string;
  /** Where to write output as it is made (the CLI: stdout); without it, output is returned in RunResult.stdout. */
  write?: (text: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export async function runTrace(argv: readonly string[], io: TraceIo): Promise<RunResult> {
  const { own, packet } = splitArgs(argv);
  const out = { text: '' };
  const cmd = program(out);
  let flags: TraceFlags;
  try {
    cmd.parse(own, { from: 'user' });
    flags = cmd.opts<TraceFlags>();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { stdout: out.text, stderr: '', status: 0 };
      return { stdout: '', stderr: out.text, status: 2 };
    }
    throw e;
  }
  if (flags.batch === undefined && packet.length === 0) return bad('no PACKET given (e.g. -p tcp -s 10.0.0.2 -d 10.0.0.1 --dport 22 -i eth0)');
  if (flags.batch !== undefined && packet.length > 0) return bad(`--batch and a PACKET on the command line: give one or the other (stray "${packet[0]!}")`);
  const assume = new Map<string, boolean>();
  for (const a of flags.assume ?? []) {
    const m = /^([\w-]+)=(yes|no|true|false|1|0)$/.exec(a);
    if (!m) return bad(`--assume ${a}: expected EXT=yes or EXT=no`);
    if (!findMatch(m[1]!)) return bad(`--assume ${a}: there is no match extension "${m[1]!}" (e.g. statistic, limit, hashlimit, recent, set, socket, string)`);
    assume.set(m[1]!, m[2] === 'yes' || m[2] === 'true' || m[2] === '1');
  }
  const now = flags.now !== undefined ? new Date(flags.now) : new Date();
  if (Number.isNaN(now.getTime())) return bad(`--now ${flags.now ?? ''}: not a date`);

  const diagrams = { html: flags.html, svg: flags.svg, dot: flags.dot };
  const wantDiagram = diagrams.html !== undefined || diagrams.svg !== undefined || diagrams.dot !== undefined;
  const toStdout = Object.entries(diagrams).filter(([, f]) => f === '-');
  if (toStdout.length > 1) return bad(`${toStdout.map(([k]) => `--${k}`).join(' and ')}: only one of them can write to stdout (-)`);
  if (flags.name !== undefined && flags.name.trim() === '') return bad('--name: an empty host name');

  if (flags.lab !== undefined) {
    if (flags.batch !== undefined || flags.rules !== undefined || flags.host !== undefined || flags.monitor || flags.updateCounters) return bad('--lab builds its own hosts and rules: it cannot be used with --batch, --rules, --host, --monitor or --update-counters');
    const color = flags.color === true || (flags.color !== false && io.isTTY && !io.env['NO_COLOR']);
    return runLabTrace({ lab: flags.lab, from: flags.from, json: flags.json, dmesg: flags.dmesg, color, now, diagrams }, packet);
  }
  if (flags.from !== undefined) return bad('--from goes with --lab SCRIPT');

  let host: Host;
  try {
    host = flags.host !== undefined ? Host.parse(readFileSync(flags.host, 'utf8')) : Host.defaultHost();
  } catch (e) {
    if (e instanceof HostFileError) return bad(`${flags.host ?? ''}: ${e.message}`);
    return bad(`--host ${flags.host ?? ''}: ${(e as Error).message}`);
  }
  if (flags.updateCounters && flags.rules !== undefined) return bad('--update-counters adds to the state file\'s counters: it cannot be used with --rules');
  const statefile = statePath();
  const load = (): Ruleset => (flags.rules !== undefined ? parseDump(readFileSync(flags.rules, 'utf8')) : loadState(statefile));
  let ruleset: Ruleset;
  try {
    ruleset = load();
  } catch (e) {
    const where = flags.rules !== undefined ? `--rules ${flags.rules}` : `state file ${statefile}`;
    if (e instanceof RestoreError) return bad(`${where}: line ${e.line}: ${e.message.trim()}`);
    if (e instanceof IptablesError) return bad(e.message.trim());
    return bad(`${where}: ${(e as Error).message}`);
  }
  // The picture lists why each rule passed over did not match, so diagrams always collect the explanations.
  const explain = wantDiagram || (flags.explain && !flags.json && !flags.dmesg && !flags.monitor);
  const color = flags.color === true || (flags.color !== false && io.isTTY && !io.env['NO_COLOR']);
  if ((flags.dmesg || flags.monitor) && !ruleset.tables.has('raw')) {
    // The kernel's TRACE needs a TRACE rule in raw, which brings the raw table (and its steps) with it.
    ruleset.ensureTable('raw');
  }

  // The PACKET lines of a batch (split into words as each is traced) and their line numbers, or the command line's.
  const lines: string[] = [];
  const lineNumbers: number[] = [];
  if (flags.batch !== undefined) {
    let text: string;
    try {
      text = flags.batch === '-' ? io.stdin() : readFileSync(flags.batch, 'utf8');
    } catch (e) {
      return bad(`--batch ${flags.batch}: ${(e as Error).message}`);
    }
    text.split('\n').forEach((l, i) => {
      const t = l.trim();
      if (t !== '' && !t.startsWith('#')) {
        lines.push(t);
        lineNumbers.push(i + 1);
      }
    });
  } else lines.push('');
  const wordsOf = (i: number): readonly string[] => (flags.batch !== undefined ? splitWords(lines[i]!) : packet);
  const whereOf = (i: number): string => (flags.batch !== undefined ? `${flags.batch}:${lineNumbers[i]!}: ` : '');

  // Output goes out as it is made when the caller can take it (a 100,000-packet batch would otherwise be
  // held as one string), in pieces of about 64 KB rather than a write per packet; otherwise it is collected.
  const chunks: string[] = [];
  const write = io.write ?? ((text: string): void => void chunks.push(text));
  let pending = '';
  /** Set when a piece went out: the batch then lets the event loop run (see traceSteps). */
  let wrote = false;
  const flush = (): void => {
    if (pending === '') return;
    write(pending);
    pending = '';
    wrote = true;
  };
  // A diagram written to stdout replaces the per-packet output.
  const emit =
    toStdout.length > 0
      ? (): void => undefined
      : (text: string): void => {
          pending += text;
          if (pending.length >= 65536) flush();
        };
  const drawn: TraceResult[] = [];
  let drawnRuleset: Ruleset | undefined;
  const collected = (): string => chunks.join('');
  const tryHelp = "Try `tsiptables trace --help' for more information.\n";

  /**
   * Traces every packet through `rs`: the exit status, or the error of a bad packet line. It pauses (yields)
   * after each piece of output it writes, so that an asynchronous caller can let the event loop run: stdout to a
   * pipe takes a write only then, and a batch that never let it run would hold its whole output in memory.
   */
  function* traceSteps(rs: Ruleset): Generator<void, Outcome, void> {
    // The counters are read only once every packet has run (--update-counters writes them to the state file).
    // The JSON view needs only some of the events; a diagram reads them all.
    const runner = new BatchRunner(rs, host, { explain, assume, now, stepPackets: !flags.json, deferCounters: true, events: flags.json && !wantDiagram ? 'json' : 'all' });
    // --monitor: nf_tables rule handles as iptables-nft-restore gives them to the --rules dump (trace-monitor.ts).
    const monitorPlan = flags.monitor ? handlePlan(rs, flags.rules !== undefined ? readFileSync(flags.rules, 'utf8') : undefined) : undefined;
    drawnRuleset = rs;
    const json = new JsonLines();
    let status = 0;
    try {
      for (let i = 0; i < lines.length; i++) {
        const o = traceOne(rs, runner, json, monitorPlan, i);
        if (typeof o === 'string') return { status: 2, error: o };
        if (o) status = 1;
        if (wrote) {
          wrote = false;
          yield;
        }
      }
    } finally {
      runner.tracer.flushCounters();
      flush();
    }
    return { status };
  }
  /** Under the writers' lock: without a pause. */
  const traceAll = (rs: Ruleset): Outcome => {
    const steps = traceSteps(rs);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  };
  const traceAllPausing = async (rs: Ruleset): Promise<Outcome> => {
    const steps = traceSteps(rs);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  /** One packet: whether it was dropped, or the error of its line. */
  const traceOne = (rs: Ruleset, runner: BatchRunner, json: JsonLines, monitorPlan: ReturnType<typeof handlePlan> | undefined, i: number): boolean | string => {
    let result: TraceResult;
    try {
      result = runner.next(wordsOf(i));
    } catch (e) {
      if (e instanceof PacketLineError || e instanceof TraceInputError) return `tsiptables trace: ${whereOf(i)}${e.message}\n${tryHelp}`;
      throw e;
    }
    if (wantDiagram && drawn.length < DIAGRAM_MAX_PACKETS) drawn.push(snapshotResult(result));
    // A single packet that meets random picks (statistic): every outcome with its probability.
    const random = result.assumptions.some((a) => a.probability !== undefined && a.probability > 0 && a.probability < 1);
    const branches = flags.batch === undefined && !flags.dmesg && !flags.monitor && random ? exploreBranches(rs, host, { explain: false, assume, now }, result.original) : [];
    if (flags.json) emit(branches.length ? JSON.stringify({ ...jsonView(result), branches: branchesJson(branches) }) + '\n' : json.line(result));
    else if (flags.dmesg) emit(dmesgLines(result).map((l) => l + '\n').join(''));
    else if (flags.monitor) emit(monitorLines(result, rs, { plan: monitorPlan }).map((l) => l + '\n').join(''));
    else emit((i > 0 ? '\n' : '') + humanView(result, color) + branchesView(branches));
    return result.fate === 'dropped';
  };

  // --update-counters: read, trace and write back under the writers' lock, so no concurrent change is lost.
  const outcome = flags.updateCounters
    ? await withLock(statefile, undefined, () => {
        const rs = loadState(statefile);
        const o = traceAll(rs);
        if (o.error === undefined) writeState(statefile, rs);
        return o;
      })
    : await traceAllPausing(ruleset);
  if (outcome.error === undefined && wantDiagram && drawnRuleset !== undefined) {
    const failed = writeDiagrams(diagrams, write, {
      inputs: connectionInputs(drawn, drawnRuleset, flags.name ?? 'host'),
      title: flags.batch !== undefined ? `tsiptables trace --batch ${flags.batch}` : `tsiptables trace ${packet.join(' ')}`,
      subtitle: [`rules: ${flags.rules ?? `state file ${statefile}`}`, `host: ${flags.host ?? 'default (eth0 192.168.1.10/24)'}`, `${drawn.length} packet${drawn.length === 1 ? '' : 's'}`].join(' · '),
      footnote: lines.length > drawn.length ? `The picture shows the first ${drawn.length} of ${lines.length} packets.` : undefined,
    });
    if (failed !== undefined) return { stdout: collected(), stderr: `tsiptables trace: ${failed}\n`, status: 2 };
  }
  return { stdout: collected(), stderr: outcome.error ?? '', status: outcome.status };
}
