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
import { TraceInputError, type TraceResult } from '../eval/trace';
import { ConntrackTable, tupleText } from '../eval/conntrack';
import { IPS, type Tuple } from '../eval/context';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, protoName, type Packet } from '../eval/packet';
import type { Rule } from '../model/ruleset';
import type { Step } from '../eval/walk';
import { BatchRunner } from '../eval/batch';
import { loadState, parseDump, statePath, withLock, writeState } from '../io/state';
import { RestoreError } from '../io/restore';
import { Ruleset } from '../model/ruleset';
import { IptablesError } from '../messages';
import { branchesJson, branchesView, dmesgLines, humanView, jsonView, logLines, stepText, wireView } from './trace-output';
import { handlePlan, monitorLines } from './trace-monitor';
import { nftMonitorLines } from './nft-monitor';
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
 * then writes.
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

/** A string's UTF-8, and whether it is all ASCII. */
interface Encoded {
  bytes: Uint8Array;
  ascii: boolean;
}
const encode = (s: string): Encoded => {
  const bytes = Buffer.from(s, 'utf8');
  return { bytes, ascii: bytes.length === s.length };
};

/**
 * The --json lines of packets, `JSON.stringify(jsonView(result))` byte for byte (test/trace-walk.property.test.ts
 * compares them on every recorded kernel case, a kube-proxy batch and arbitrary text in every field), written
 * as UTF-8 into a buffer without building the view or a string per line: a --batch of 100,000 packets spends
 * less on its output. append() adds a packet's line, take() returns the lines so far as one string; line() is
 * one packet's line alone. What repeats from packet to packet (the deciding rule's line) is encoded once.
 */
export class JsonLines {
  private buf = Buffer.allocUnsafe(1 << 17);
  private n = 0;
  /** Every byte written since the last take() is ASCII (the string is then the bytes as Latin-1). */
  private ascii = true;
  private readonly decidedRules = new Map<Rule, { chain: string; json: Encoded }>();
  private readonly names = new Map<string, Encoded>();

  /** Bytes of the lines appended and not yet taken. */
  get size(): number {
    return this.n;
  }

  /** The lines appended since the last take(), as one string. */
  take(): string {
    const s = this.buf.toString(this.ascii ? 'latin1' : 'utf8', 0, this.n);
    this.n = 0;
    this.ascii = true;
    return s;
  }

  /** One packet's line. */
  line(r: TraceResult): string {
    const from = this.n;
    this.append(r);
    const s = this.buf.toString('utf8', from, this.n);
    this.n = from;
    return s;
  }

  append(r: TraceResult): void {
    if (r.in === undefined || r.out === undefined) {
      this.text(JSON.stringify(jsonView(r)) + '\n');
      return;
    }
    const conn = r.conn;
    // Fate, conntrack state and NAT manip are fixed words (their types say which): nothing to escape.
    this.lit('{"fate":"');
    this.lit(r.fate);
    this.lit('","in":');
    this.strOrNull(r.in);
    this.lit(',"out":');
    this.strOrNull(r.out);
    this.lit(',"reason":');
    this.str(r.reason);
    this.lit(',"packet":');
    if (r.fate === 'dropped') this.lit('null');
    else this.wire(r.packet);
    this.lit(',"trace":[');
    const steps = r.steps;
    for (let i = 0; i < steps.length; i++) {
      if (i > 0) this.byte(0x2c);
      this.step(steps[i]!);
    }
    this.lit('],"log":[');
    let logs = false;
    for (const e of r.events) if (e.kind === 'log') logs = true;
    if (logs) this.strings(logLines(r, false));
    this.lit('],"verdict":');
    this.str(r.verdict);
    // An ARP frame has no conntrack state at all.
    if (r.original.arp) this.lit(',"conntrack":{"state":null,"entry":');
    else {
      this.lit(',"conntrack":{"state":"');
      this.lit(r.ctState);
      this.lit('","entry":');
    }
    if (conn) {
      this.lit('{"original":');
      this.tuple(conn.orig);
      this.lit(',"reply":');
      this.tuple(conn.reply);
      this.lit(',"status":[');
      this.status(conn.status);
      this.lit('],"mark":');
      this.num(conn.mark);
      if (conn.orig.proto === PROTO_TCP) {
        this.lit(',"tcp":');
        this.str(ConntrackTable.tcpStateName(conn));
      }
      this.lit(conn.confirmed ? ',"confirmed":true}' : ',"confirmed":false}');
    } else this.lit('null');
    this.lit('},"nat":[');
    let first = true;
    for (const e of r.events) {
      if (e.kind !== 'nat') continue;
      this.lit(first ? '{"manip":"' : ',{"manip":"');
      first = false;
      this.lit(e.manip);
      this.lit('","before":');
      this.str(e.before);
      this.lit(',"after":');
      this.str(e.after);
      this.byte(0x7d);
    }
    this.lit('],"route":[');
    first = true;
    for (const e of r.events) {
      if (e.kind !== 'route') continue;
      if (!first) this.byte(0x2c);
      first = false;
      this.str(e.text);
    }
    this.lit('],"decided":');
    const d = r.decidedBy;
    if (d) {
      this.lit('{"rule":');
      if (d.rule) this.bytes(this.decidedRule(d.chain, d.rule));
      else this.lit('null');
      this.lit(',"path":[');
      for (let i = 0; i < d.path.length; i++) {
        if (i > 0) this.byte(0x2c);
        this.bytes(this.name(d.path[i]!));
      }
      this.lit('],"step":');
      this.step(d);
      this.byte(0x7d);
    } else this.lit('null');
    if (r.rejectWith !== undefined) {
      this.lit(',"reject":');
      this.str(r.rejectWith);
    }
    if (r.assumptions.length) {
      this.lit(',"assumed":[');
      r.assumptions.forEach((a, i) => {
        this.lit(i > 0 ? ',{"ext":' : '{"ext":');
        this.str(a.ext);
        this.lit(',"question":');
        this.str(a.question);
        this.lit(a.answer ? ',"answer":true' : ',"answer":false');
        if (a.probability !== undefined) {
          this.lit(',"probability":');
          this.num(a.probability);
        }
        this.byte(0x7d);
      });
      this.byte(0x5d);
    }
    this.lit(',"notes":[');
    first = true;
    for (const e of r.events) {
      if (e.kind !== 'note' && e.kind !== 'unsimulated') continue;
      if (!first) this.byte(0x2c);
      first = false;
      this.str(e.kind === 'note' ? e.text : `${e.what}: packet semantics not simulated, taken as matching`);
    }
    this.lit(']}\n');
  }

  /** Room for `more` bytes. */
  private room(more: number): void {
    if (this.n + more <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + more));
    this.buf.copy(bigger, 0, 0, this.n);
    this.buf = bigger;
  }

  private byte(b: number): void {
    this.room(1);
    this.buf[this.n++] = b;
  }

  /** ASCII text the writer itself spells (keys, punctuation, fixed words). */
  private lit(s: string): void {
    this.room(s.length);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < s.length; i++) b[n++] = s.charCodeAt(i);
    this.n = n;
  }

  /** Any text as UTF-8, unescaped. */
  private text(s: string): void {
    this.room(s.length * 3);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[n++] = c;
        continue;
      }
      this.ascii = false;
      if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
      } else {
        const lo = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          b[n++] = 0xf0 | (c >> 18);
          b[n++] = 0x80 | ((c >> 12) & 0x3f);
        } else b[n++] = 0xe0 | (c >> 12);
        b[n++] = 0x80 | ((c >> 6) & 0x3f);
      }
      b[n++] = 0x80 | (c & 0x3f);
    }
    this.n = n;
  }

  private bytes(e: Encoded): void {
    this.room(e.bytes.length);
    this.buf.set(e.bytes, this.n);
    this.n += e.bytes.length;
    if (!e.ascii) this.ascii = false;
  }

  /** A string as JSON: plain ASCII copied between quotes, anything else as JSON.stringify writes it. */
  private str(s: string): void {
    this.room(s.length + 2);
    const b = this.buf;
    let n = this.n;
    b[n++] = 0x22;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) {
        this.text(jsonString(s));
        return;
      }
      b[n++] = c;
    }
    b[n++] = 0x22;
    this.n = n;
  }

  private strOrNull(s: string | null): void {
    if (s === null) this.lit('null');
    else this.str(s);
  }

  private strings(items: readonly string[]): void {
    for (let i = 0; i < items.length; i++) {
      if (i > 0) this.byte(0x2c);
      this.str(items[i]!);
    }
  }

  private num(x: number): void {
    if (x >= 0 && x <= 0x7fffffff && (x | 0) === x) {
      this.room(10);
      if (x === 0) {
        this.buf[this.n++] = 0x30;
        return;
      }
      let digits = 0;
      for (let v = x; v > 0; v = (v / 10) | 0) digits++;
      let n = this.n + digits;
      this.n = n;
      for (let v = x; v > 0; v = (v / 10) | 0) this.buf[--n] = 0x30 + (v % 10);
      return;
    }
    this.lit(jsonNumber(x));
  }

  /** tupleText(t) as JSON, written (tcp, udp, icmp; other protocols through the text). */
  private tuple(t: Tuple): void {
    const proto = t.proto;
    if (proto === PROTO_TCP || proto === PROTO_UDP) {
      this.lit(proto === PROTO_TCP ? '"tcp ' : '"udp ');
      this.addr(t.src);
      this.byte(0x3a);
      this.num(t.sport);
      this.lit(' -> ');
      this.addr(t.dst);
      this.byte(0x3a);
      this.num(t.dport);
      this.byte(0x22);
    } else if (proto === PROTO_ICMP) {
      this.lit('"icmp ');
      this.addr(t.src);
      this.lit(' -> ');
      this.addr(t.dst);
      this.lit(' type ');
      this.num(t.dport >> 8);
      this.lit(' id ');
      this.num(t.sport);
      this.byte(0x22);
    } else this.str(tupleText(t));
  }

  /** statusNames(status) as JSON strings, written. */
  private status(status: number): void {
    let first = true;
    for (const [bit, json] of STATUS_JSON) {
      if (!(status & bit)) continue;
      if (!first) this.byte(0x2c);
      first = false;
      this.lit(json);
    }
  }

  /** stepText(s) as JSON: table names and step types need no escapes; a chain name might. */
  private step(s: Step): void {
    const { table, chain, type } = s;
    this.room(table.length + chain.length + type.length + 14);
    const b = this.buf;
    let n = this.n;
    b[n++] = 0x22;
    for (let i = 0; i < table.length; i++) b[n++] = table.charCodeAt(i);
    b[n++] = 0x3a;
    for (let i = 0; i < chain.length; i++) {
      const c = chain.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) {
        this.text(jsonString(stepText(s)));
        return;
      }
      b[n++] = c;
    }
    b[n++] = 0x3a;
    for (let i = 0; i < type.length; i++) b[n++] = type.charCodeAt(i);
    b[n++] = 0x3a;
    this.n = n;
    this.num(s.num);
    this.byte(0x22);
  }

  /** wireView(p) as JSON. */
  private wire(p: Packet): void {
    if (p.arp) {
      this.text(JSON.stringify(wireView(p)));
      return;
    }
    this.lit('{"proto":');
    this.str(protoName(p.proto));
    this.lit(',"src":"');
    this.addr(p.src);
    this.lit('","dst":"');
    this.addr(p.dst);
    this.byte(0x22);
    if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) {
      this.lit(',"sport":');
      this.num(p.sport);
      this.lit(',"dport":');
      this.num(p.dport);
    } else if (p.proto === PROTO_ICMP) {
      this.lit(',"type":');
      this.num(p.icmpType);
      this.lit(',"code":');
      this.num(p.icmpCode);
    }
    this.byte(0x7d);
  }

  /** addrToString(a), written. */
  private addr(a: number): void {
    this.num(a >>> 24);
    this.byte(0x2e);
    this.num((a >>> 16) & 255);
    this.byte(0x2e);
    this.num((a >>> 8) & 255);
    this.byte(0x2e);
    this.num(a & 255);
  }

  private decidedRule(chain: string, rule: Rule): Encoded {
    let c = this.decidedRules.get(rule);
    if (c === undefined || c.chain !== chain) {
      c = { chain, json: encode(jsonString(`-A ${chain}${rule.line}`)) };
      this.decidedRules.set(rule, c);
    }
    return c.json;
  }

  private name(n: string): Encoded {
    let j = this.names.get(n);
    if (j === undefined) {
      j = encode(jsonString(n));
      this.names.set(n, j);
    }
    return j;
  }
}

/** statusNames() as JSON strings, by bit. */
const STATUS_JSON: ReadonlyArray<readonly [number, string]> = [
  [IPS.SEEN_REPLY, '"SEEN_REPLY"'],
  [IPS.ASSURED, '"ASSURED"'],
  [IPS.SRC_NAT, '"SNAT"'],
  [IPS.DST_NAT, '"DNAT"'],
];

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
        '        | -p arp [--arp-op request|reply] -s SENDER -d TARGET [-i IFACE] [--mac-source MAC]\n' +
        'With -i the packet arrives on IFACE; without it a local process sends it. An ARP frame meets the netdev\n' +
        'and arp family chains only. With -i PORT of a bridge of the host file, a frame not for this host is bridged\n' +
        'out of -o PORT (default: the bridge\'s first other port).\n' +
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
  if ((flags.dmesg || (flags.monitor && ruleset.nft === undefined)) && !ruleset.tables.has('raw')) {
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
  /** The --json lines, written straight into a buffer (pending text goes out before them). */
  const json = new JsonLines();
  /** Set when a piece went out: the batch then lets the event loop run (see traceSteps). */
  let wrote = false;
  const flush = (): void => {
    if (json.size > 0) pending += json.take();
    if (pending === '') return;
    write(pending);
    pending = '';
    wrote = true;
  };
  // A diagram written to stdout replaces the per-packet output.
  const quiet = toStdout.length > 0;
  const emit = (text: string): void => {
    if (quiet) return;
    if (json.size > 0) pending += json.take();
    pending += text;
    if (pending.length >= 65536) flush();
  };
  const emitJson = (r: TraceResult): void => {
    if (quiet) return;
    json.append(r);
    if (json.size >= 65536) flush();
  };
  const drawn: TraceResult[] = [];
  let drawnRuleset: Ruleset | undefined;
  const collected = (): string => chunks.join('');
  const tryHelp = "Try `tsiptables trace --help' for more information.\n";
  // Pictures are of IPv4 packets: an ARP frame among the packets is refused before any is traced.
  const isArp = (w: readonly string[]): boolean => w.some((x, k) => (x === '-p' || x === '--protocol') && w[k + 1] === 'arp');
  const arpAt = wantDiagram ? lines.findIndex((_, i) => isArp(wordsOf(i))) : -1;
  if (arpAt >= 0) return { stdout: '', stderr: `tsiptables trace: ${whereOf(arpAt)}an ARP frame is not drawn (--html, --svg, --dot show IPv4 packets)\n${tryHelp}`, status: 2 };

  /**
   * Traces every packet through `rs`: the exit status, or the error of a bad packet line. It pauses (yields)
   * after each piece of output it writes, so that an asynchronous caller can let the event loop run: stdout to a
   * pipe takes a write only then, and a batch that never let it run would hold its whole output in memory.
   */
  function* traceSteps(rs: Ruleset): Generator<void, Outcome, void> {
    // The counters are read only once every packet has run (--update-counters writes them to the state file).
    // The JSON view needs only some of the events; a diagram reads them all.
    const runner = new BatchRunner(rs, host, { explain, assume, now, stepPackets: !flags.json, deferCounters: true, events: flags.json && !wantDiagram ? 'json' : 'all', nfTraceFromStart: rs.nft !== undefined && !flags.json });
    // --monitor: nf_tables rule handles as iptables-nft-restore gives them to the --rules dump (trace-monitor.ts).
    const monitorPlan = flags.monitor ? handlePlan(rs, flags.rules !== undefined ? readFileSync(flags.rules, 'utf8') : undefined) : undefined;
    drawnRuleset = rs;
    let status = 0;
    try {
      for (let i = 0; i < lines.length; i++) {
        const o = traceOne(rs, runner, monitorPlan, i);
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
  let traceIds = 0x1000;
  const traceOne = (rs: Ruleset, runner: BatchRunner, monitorPlan: ReturnType<typeof handlePlan> | undefined, i: number): boolean | string => {
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
    if (flags.json) {
      if (branches.length) emit(JSON.stringify({ ...jsonView(result), branches: branchesJson(branches) }) + '\n');
      else emitJson(result);
    }
    else if (flags.dmesg) emit(dmesgLines(result).map((l) => l + '\n').join(''));
    else if (flags.monitor && rs.nft !== undefined) {
      // A host with nft chains: what `nft monitor trace` prints, the packet traced from its first hook on.
      emit(nftMonitorLines(result, () => (traceIds++).toString(16).padStart(8, '0')).map((l) => l + '\n').join(''));
    } else if (flags.monitor) emit(monitorLines(result, rs, { plan: monitorPlan }).map((l) => l + '\n').join(''));
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
