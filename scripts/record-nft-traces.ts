/**
 * record-nft-traces.ts - the truth for `tsiptables trace --monitor` with nftables chains: builds each scenario's
 * host in network namespaces (tsi-nt-h, the host; tsi-nt-p, every neighbour), loads the scenario's nft ruleset with
 * the real `nft -f` and its iptables commands with iptables-nft (in the scenario's order: that order is the order
 * the kernel registers their hooks in, which decides between chains of equal priority), then makes every packet
 * traced from its first hook on and runs `nft monitor trace` in the host while it injects the scenario's packets.
 * It stores, per packet, the lines `nft monitor trace` printed for it, with the fate, the packet as it left or was
 * delivered and conntrack. test/nft-traces.test.ts replays them through tsiptables.
 *
 * How every packet is traced from its first hook on (the recorder's own table `tsitrace`, added after the
 * scenario's rules, before the monitor starts):
 *
 *   table netdev tsitrace {            # one chain per host interface: arriving packets
 *     chain in_eth0 { type filter hook ingress device "eth0" priority -1000; policy accept; meta nftrace set 1 }
 *   }
 *   table ip tsitrace {                # packets a local process sends (the host's own answers have no socket
 *     chain out {                      # with a file, or none: `meta skuid` does not match them, so they are
 *       type filter hook output priority -1000; policy accept;   # not traced)
 *       meta skuid >= 0 meta nftrace set 1
 *     }
 *   }
 *
 * Priority -1000 is below every hook a scenario uses (scenarios keep their priorities above it), so the trace bit is
 * set before anything of the scenario runs. The lines of table `netdev tsitrace` and `ip tsitrace` are left out
 * of the recording (tsiptables traces from the first hook on and has no such table); every other chain reports
 * its own `packet:` line at its first event anyway (the kernel dumps the packet once per base chain run), so
 * leaving them out changes no other line.
 *
 * Which lines belong to a packet: the lines of every trace id one of whose `packet:` lines shows `ip id N` with
 * N the packet's IP id (the recorder gives each packet its own). Trace ids are the kernel's random ones: they
 * are stored masked, `trace id #0`, `#1`, ... in their order of first appearance among the packet's lines.
 *
 * Host building, PACKET defaults, packet injection (scripts/trace-inject.py) and the command line are those of
 * scripts/record-traces.ts and scripts/record-monitor.ts (scripts/lib/recorder-host.ts); the scenario files are
 * fixtures/nft/traces/scenarios/*.json (format: NftTraceScenarioFile below), written to
 * fixtures/nft/traces/recorded/<same name>.json (format: NftTraceFixtureFile).
 *
 * Usage (root, Linux with nft 1.0.x, iptables 1.8.9 nf_tables, conntrack, setpriv, Debian's python3-scapy):
 *
 *   npx tsx scripts/record-nft-traces.ts [--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]
 *
 *   SCENARIO_FILE   default: every fixtures/nft/traces/scenarios/*.json
 *   --out DIR       write DIR/<basename> (default fixtures/nft/traces/recorded)
 *   --only NAME     record only the scenario(s) NAME (repeatable); other scenarios of an existing output are kept
 *   --quiet         no per-scenario summary
 *
 * Exit status: 0 all recorded, 1 some scenario could not be set up (written with a recorder note in `why` and no
 * outcomes), 2 bad usage, not root or a tool missing. The namespaces are deleted after each scenario, on errors
 * and on SIGINT/SIGTERM too.
 */
import { TraceMonitor } from './lib/trace-monitor';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { must, NetnsHost, run, runRecorder, runScenario, type Helper, type HostInfo, type Outcome } from './lib/recorder-host';
import type { TraceScenario } from './trace-fixture-format';

const HOST = new NetnsHost('tsi-nt-h', 'tsi-nt-p');
const inHost = (...argv: string[]): string[] => HOST.inHost(...argv);
const SCENARIO_DIR = 'fixtures/nft/traces/scenarios';
/** After the packet settled: monitor lines stop arriving for this long. */
const MONITOR_QUIET_MS = 150;
/** The recorder's own table (both families); its lines are left out. */
const TRACE_TABLE = 'tsitrace';

// ---------------------------------------------------------------------------------------------------------------
// formats

/** One scenario as written by hand (fixtures/nft/traces/scenarios/*.json). */
export interface NftTraceScenario {
  name: string;
  why: string;
  /** HOSTFILE text (`ip addr add`, `ip route add`, `ip link set dev X address M`, `sysctl -w`). */
  host: string;
  /** An `nft -f` file (may be empty). */
  nft: string;
  /** iptables commands, one per entry, `iptables ARGS...` (run as iptables-nft; words split on blanks, no quoting). */
  iptables?: string[];
  /** Run the iptables commands before `nft -f` (default: after). Decides the order of equal-priority hooks. */
  iptablesFirst?: boolean;
  packets: Array<{ packet: string; kernel?: NftTraceOutcome }>;
}

export interface NftTraceScenarioFile {
  scenarios: NftTraceScenario[];
}

/** What the kernel did with one packet (fate, out, packet, conntrack as scripts/record-traces.ts stores them). */
export type NftTraceOutcome = Outcome<{
  /**
   * Every line `nft monitor trace` printed for the packet, byte for byte without the newline, trace ids masked
   * (`trace id #0 ...`, numbered by first appearance), the recorder's tsitrace lines left out.
   */
  monitor: string[];
}>;

export interface NftTraceRecordedScenario extends NftTraceScenario {
  /** `nft -a list ruleset` once the scenario's rules are in (before the recorder's tsitrace tables). */
  nftRuleset: string;
}

export interface NftTraceFixtureFile {
  recorded: { by: string; how: string; nft: string; iptables: string; kernel: string; date: string };
  scenarios: NftTraceRecordedScenario[];
}

// ---------------------------------------------------------------------------------------------------------------
// nft monitor trace


/** The running monitor, stopped on errors and signals too. */
let currentMonitor: TraceMonitor | undefined;

const TRACE_LINE = /^trace id ([0-9a-f]{8}) /;
const OWN_LINE = new RegExp(`^trace id [0-9a-f]{8} (?:netdev|ip) ${TRACE_TABLE} `);

/** Trace ids replaced by `#n`, n their order of first appearance. */
export function maskTraceIds(lines: readonly string[]): string[] {
  const ids = new Map<string, number>();
  return lines.map((l) =>
    l.replace(/^trace id ([0-9a-f]{8}|#\d+) /, (_m, id: string) => {
      if (!ids.has(id)) ids.set(id, ids.size);
      return `trace id #${ids.get(id)!} `;
    }),
  );
}

/** The lines of every trace id one of whose packet: lines shows IP id `id`, in order, without the recorder's own. */
function ownMonitorLines(lines: string[], id: number): { mine: string[]; others: number } {
  const ids = new Set<string>();
  const tag = ` ip id ${id} `;
  for (const l of lines) {
    const m = TRACE_LINE.exec(l);
    if (m && / packet: /.test(l) && l.includes(tag)) ids.add(m[1]!);
  }
  const mine: string[] = [];
  const other = new Set<string>();
  for (const l of lines) {
    const m = TRACE_LINE.exec(l);
    if (m && ids.has(m[1]!)) {
      if (!OWN_LINE.test(l)) mine.push(l);
    } else if (m) other.add(m[1]!);
  }
  return { mine: maskTraceIds(mine), others: other.size };
}

function nftRuleset(): string {
  return run(inHost('nft', '-a', 'list', 'ruleset'))
    .stdout.split('\n')
    .filter((l) => !l.startsWith('# Warning:'))
    .join('\n');
}

/** The recorder's tsitrace tables for the host's interfaces. */
export function traceTables(ifaces: readonly string[]): string {
  const chains = ifaces
    .map((i) => `\tchain in_${i.replace(/[^A-Za-z0-9_]/g, '_')} {\n\t\ttype filter hook ingress device "${i}" priority -1000; policy accept;\n\t\tmeta nftrace set 1\n\t}\n`)
    .join('');
  return (
    (ifaces.length ? `table netdev ${TRACE_TABLE} {\n${chains}}\n` : '') +
    `table ip ${TRACE_TABLE} {\n\tchain out {\n\t\ttype filter hook output priority -1000; policy accept;\n\t\tmeta skuid >= 0 meta nftrace set 1\n\t}\n}\n`
  );
}

function nftFile(text: string, what: string): void {
  const r = run(inHost('nft', '-f', '/dev/stdin'), text);
  if (r.status !== 0) throw new Error(`nft -f (${what}): exit ${r.status}: ${(r.stderr || r.stdout).trim().replace(/\n/g, ' | ')}`);
}

function iptablesCommand(cmd: string): void {
  const w = cmd.trim().split(/\s+/);
  if (w[0] !== 'iptables') throw new Error(`iptables command expected, got "${cmd}"`);
  must(inHost('iptables-nft', ...w.slice(1)));
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

interface WorkOut {
  why: string;
  rules: string;
  packets: Array<{ packet: string; kernel?: NftTraceOutcome }>;
}

function recordScenario(helper: Helper, given: TraceScenario): Promise<{ scenario: NftTraceRecordedScenario; error?: string }> {
  const sc = given as unknown as NftTraceScenario;
  const ipt = sc.iptables ?? [];
  // The shared host builder reads `rules` for NAT addresses to give permanent neighbours to; the rules themselves
  // are loaded in prepare() (restore `true` loads nothing).
  const forHost: TraceScenario = { name: sc.name, why: sc.why, host: sc.host, rules: `${sc.nft}\n${ipt.join('\n')}`, packets: sc.packets.map((p) => ({ packet: p.packet })) };
  const work: WorkOut = { why: sc.why, rules: '', packets: [] };
  let ruleset = '';
  const done = (): NftTraceRecordedScenario => {
    const o: NftTraceRecordedScenario = { name: sc.name, why: work.why, host: sc.host, nft: sc.nft, nftRuleset: ruleset, packets: work.packets };
    if (sc.iptables) o.iptables = sc.iptables;
    if (sc.iptablesFirst) o.iptablesFirst = true;
    // key order as in the scenario file, the ruleset before the packets
    return { name: o.name, why: o.why, host: o.host, nft: o.nft, ...(o.iptables ? { iptables: o.iptables } : {}), ...(o.iptablesFirst ? { iptablesFirst: true } : {}), nftRuleset: o.nftRuleset, packets: o.packets };
  };
  return runScenario(helper, HOST, forHost, work, {
    restore: 'true',
    prepare: async (h: HostInfo) => {
      if (sc.iptablesFirst) ipt.forEach(iptablesCommand);
      if (sc.nft.trim() !== '') nftFile(sc.nft, 'the scenario');
      if (!sc.iptablesFirst) ipt.forEach(iptablesCommand);
      ruleset = nftRuleset();
      nftFile(traceTables(h.ifaces), 'the tsitrace tables');
      // stdbuf: line-buffered even into a pipe. nft lists the ruleset (its cache, which names the rules in trace
      // lines) before it listens: 100 ms more after joining the group.
      const m = new TraceMonitor(inHost('stdbuf', '-oL', 'nft', 'monitor', 'trace'), 'nft monitor trace', inHost, 100);
      currentMonitor = m;
      await m.ready();
      let from = 0;
      return {
        beforeSend: () => {
          from = m.lines.length;
        },
        observe: async (k, id, _peer, _res, notes) => {
          await m.quiet(MONITOR_QUIET_MS, 2000);
          const { mine, others } = ownMonitorLines(m.lines.slice(from), id);
          if (others > 0) notes.push(`nft monitor trace also traced ${others} other packet(s) meanwhile, left out`);
          // Every packet is traced (tsitrace): a packet without lines means trouble.
          if (mine.length === 0 && !m.lines.slice(from).some((l) => l.includes(` ip id ${id} `))) throw new Error(`packet ${k + 1}: nft monitor trace printed nothing for IP id ${id}`);
          return { monitor: mine };
        },
      };
    },
    cleanup: () => {
      currentMonitor?.stop();
      currentMonitor = undefined;
    },
  }).then((r) => ({ scenario: done(), ...(r.error ? { error: r.error } : {}) }));
}

// ---------------------------------------------------------------------------------------------------------------
// main

runRecorder<NftTraceRecordedScenario>(import.meta.url, {
  name: 'record-nft-traces',
  defaultOut: 'fixtures/nft/traces/recorded',
  defaultFiles: () =>
    fs
      .readdirSync(SCENARIO_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => path.join(SCENARIO_DIR, f)),
  host: HOST,
  needs: {
    why: 'it builds network namespaces',
    commands: ['ip', 'nft', 'iptables-nft', 'conntrack', 'setpriv', 'sysctl', 'stdbuf'],
    files: [],
    apt: 'nftables iptables conntrack util-linux iproute2 procps coreutils python3-scapy',
    version: { argv: ['iptables-nft', '-V'], re: /nf_tables/ },
  },
  header: () => ({
    how:
      'in a fresh tsi-nt-h namespace: `nft -f` of `nft` and iptables-nft of `iptables` (in that order, or iptables first with ' +
      '`iptablesFirst`), then the recorder\'s tsitrace tables (netdev ingress per interface and ip output, priority -1000, ' +
      '`meta nftrace set 1`); `ip netns exec tsi-nt-h nft monitor trace` running while each packet is injected ' +
      '(scripts/trace-inject.py: an Ethernet frame from the peer end of -i IFACE, else a raw IP socket in the host); ' +
      'per packet the lines of the trace ids whose packet: lines show its IP id, tsitrace lines left out, trace ids masked as #n',
    nft: run(['nft', '-v']).stdout.trim(),
    iptables: run(['iptables-nft', '-V']).stdout.trim(),
  }),
  // Outcomes of a recorded file are not input; nor is the note of an earlier recorder error.
  scenario: (given) => {
    const sc = given as unknown as NftTraceRecordedScenario;
    const o: NftTraceScenario = { name: sc.name, why: sc.why.replace(/ \[recorder error: .*\]$/, ''), host: sc.host, nft: sc.nft, packets: sc.packets.map((p) => ({ packet: p.packet })) };
    if (sc.iptables) o.iptables = sc.iptables;
    if (sc.iptablesFirst) o.iptablesFirst = true;
    return o as unknown as TraceScenario;
  },
  record: recordScenario,
  failed: (given, why) => {
    const sc = given as unknown as NftTraceScenario;
    return { ...sc, why, nftRuleset: '', packets: sc.packets.map((p) => ({ packet: p.packet })) };
  },
  summaryExtra: (sc) => `, ${sc.packets.reduce((a, p) => a + (p.kernel?.monitor.length ?? 0), 0)} monitor lines`,
  interrupt: () => currentMonitor?.stop(),
});
