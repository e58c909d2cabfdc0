/**
 * The library API: what the CLI does, as functions on an in-memory Ruleset, with types.
 *
 *   import { parseSave, runCommand, save, trace } from 'tsiptables';
 *   const rs = parseSave(readFileSync('rules.v4', 'utf8'));
 *   runCommand(rs, '-t nat -A POSTROUTING -o eth0 -j MASQUERADE');
 *   const r = trace(rs, '-p tcp -s 10.0.1.2 -d 10.0.2.2 --dport 80 -i eth0', { host: 'ip addr add 10.0.1.1/24 dev eth0\n...' });
 *   console.log(r.fate, r.trace);
 *
 * Errors are thrown as IptablesError (exit status and iptables' message), PacketLineError and HostFileError.
 */
import { parseCommandLine } from '../grammar/index';
import { parseCommand as compileCommand, type ParsedCommand } from './compile/command';
import { execute } from './exec/commands';
import { saveRuleset } from './format/save';
import { parseDump } from './io/state';
import { IptablesError, paramProblem } from './messages';
import { Ruleset } from './model/ruleset';
import { Host } from './eval/host';
import { BatchRunner } from './eval/batch';
import { splitWords } from './eval/packet-line';
import { jsonView, dmesgLines } from './cli/trace-output';

export { Ruleset, IptablesError };
export { PacketLineError } from './eval/packet-line';
export { HostFileError } from './eval/host';
export type { ParsedCommand };

const words = (argv: string | readonly string[]): readonly string[] => (typeof argv === 'string' ? splitWords(argv) : argv);

/** An iptables-save dump (with or without counters) as a Ruleset, read as iptables-restore reads it. */
export function parseSave(text: string): Ruleset {
  return parseDump(text);
}

/** An iptables command line (without the program name) parsed and checked as iptables 1.8.9 does. */
export function parseCommand(argv: string | readonly string[]): ParsedCommand {
  const parsed = parseCommandLine(words(argv));
  if (!parsed.ok) throw paramProblem(parsed.problems[0]!.message);
  return compileCommand(parsed.value, { table: 'filter', restore: false, programName: 'iptables', warn: () => undefined });
}

/** Runs an iptables command on the ruleset (changing it) and returns what iptables would print. */
export function runCommand(rs: Ruleset, argv: string | readonly string[]): string {
  return execute(rs, parseCommand(argv)).stdout;
}

/** The ruleset as iptables-save prints it (`counters`: as `iptables-save -c`). */
export function save(rs: Ruleset, opts: { counters?: boolean; now?: Date } = {}): string {
  return saveRuleset(rs, opts.counters ?? false, 'iptables-save', opts.now ?? new Date());
}

export interface TraceOptions {
  /** HOSTFILE text (`ip addr add ...`, `ip route add ...`, `sysctl -w ...`); default: a host with eth0 192.168.1.10/24. */
  host?: string;
  /** Answers for state-dependent matches, e.g. { statistic: false }. */
  assume?: Record<string, boolean>;
  now?: Date;
}

/** What `tsiptables trace --json` prints for a packet (its main fields; the JSON has more). */
export interface TraceJson {
  fate: 'delivered' | 'forwarded' | 'sent' | 'dropped';
  in: string | null;
  out: string | null;
  reason: string;
  packet: { proto: string; src: string; dst: string; sport?: number; dport?: number; type?: number; code?: number } | null;
  trace: string[];
  log: string[];
  verdict: string;
}

/** The JSON view plus the `--dmesg` lines, and every other field of the JSON view. */
export interface TraceReport extends TraceJson {
  dmesg: string[];
  [more: string]: unknown;
}

/**
 * Runs packets (PACKET lines of `tsiptables trace`) through the ruleset, one after another with conntrack
 * kept between them, as `tsiptables trace --batch` does. The ruleset's counters are updated.
 */
export function traceBatch(rs: Ruleset, packets: ReadonlyArray<string | readonly string[]>, opts: TraceOptions = {}): TraceReport[] {
  const host = opts.host !== undefined ? Host.parse(opts.host) : Host.defaultHost();
  const runner = new BatchRunner(rs, host, { explain: false, assume: new Map(Object.entries(opts.assume ?? {})), now: opts.now ?? new Date() });
  return packets.map((p) => {
    const r = runner.next(words(p));
    return { ...(jsonView(r) as unknown as TraceJson), dmesg: dmesgLines(r) };
  });
}

/** One packet through the ruleset (see traceBatch). */
export function trace(rs: Ruleset, packet: string | readonly string[], opts: TraceOptions = {}): TraceReport {
  return traceBatch(rs, [packet], opts)[0]!;
}
