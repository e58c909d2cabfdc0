/**
 * record-monitor.ts - the truth for `tsiptables trace --monitor`: builds each scenario's host in network
 * namespaces with the nf_tables variant of iptables (iptables-nft-restore, never legacy), inserts `-j TRACE` first
 * in raw PREROUTING and raw OUTPUT, runs `xtables-monitor --trace` in the host namespace while it injects the
 * scenario's packets, and stores, per packet, the lines xtables-monitor printed for it, with the fate, the packet
 * as it left or was delivered and conntrack. How it works and the file format: fixtures/traces/README.md
 * ("xtables-monitor --trace recordings"); the formatter it checks is src/cli/trace-monitor.ts.
 *
 * Host building, PACKET defaults, packet injection (scripts/trace-inject.py) and the command line are those of
 * scripts/record-traces.ts: both come from scripts/lib/recorder-host.ts.
 *
 * Usage (root, Linux with iptables 1.8.9 nf_tables, xtables-monitor, nft, conntrack, setpriv, python3-scapy):
 *
 *   npx tsx scripts/record-monitor.ts [--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]
 *
 *   SCENARIO_FILE   TraceFixtureFile JSON (scenarios/ or recorded/: outcomes are ignored); default: the
 *                   hand-written fixtures/traces/scenarios/{router-lab,conntrack-states,nat,routing,matches-targets}.json
 *   --out DIR       write DIR/<basename> (default fixtures/traces/monitor)
 *   --only NAME     record only the scenario(s) NAME (repeatable); other scenarios of an existing output are kept
 *   --quiet         no per-scenario summary
 *
 * Exit status: 0 all recorded, 1 some scenario could not be set up (written with a recorder note in `why` and no
 * outcomes), 2 bad usage, not root or a tool missing.
 */

import { TraceMonitor } from './lib/trace-monitor';
import { must, NetnsHost, run, runRecorder, runScenario, withRawTable, type Helper, type Outcome } from './lib/recorder-host';
import type { TraceScenario } from './trace-fixture-format';

const HOST = new NetnsHost('tsi-mon-h', 'tsi-mon-p');
const inHost = (...argv: string[]): string[] => HOST.inHost(...argv);
const DEFAULT_SCENARIOS = ['router-lab', 'conntrack-states', 'nat', 'routing', 'matches-targets'].map((n) => `fixtures/traces/scenarios/${n}.json`);
/** After the packet settled: xtables-monitor lines stop arriving for this long. */
const MONITOR_QUIET_MS = 150;

/** What the kernel did with one packet (fate, out, packet, conntrack as scripts/record-traces.ts stores them). */
export type MonitorOutcome = Outcome<{
  /**
   * Every line xtables-monitor --trace printed for the packet, byte for byte without the newline (the trace ids
   * are the kernel's random ones; the recorder's own TRACE rule lines are included), in order: the lines of
   * every trace id whose PACKET lines show the packet's IP id.
   */
  monitor: string[];
}>;

export interface MonitorScenario extends Omit<TraceScenario, 'packets'> {
  /** `nft -a list ruleset` right after iptables-nft-restore (before the TRACE rules), warnings left out. */
  nftRuleset: string;
  /** The handles of the recorder's `-j TRACE` rules (raw PREROUTING and raw OUTPUT). */
  traceRules: { PREROUTING: number; OUTPUT: number };
  packets: Array<{ packet: string; kernel?: MonitorOutcome }>;
}

export interface MonitorFixtureFile {
  recorded: { by: string; how: string; iptables: string; xtablesMonitor: string; nft: string; kernel: string; date: string };
  scenarios: MonitorScenario[];
}

// ---------------------------------------------------------------------------------------------------------------
// xtables-monitor


/** The running xtables-monitor, stopped on errors and signals too. */
let currentMonitor: TraceMonitor | undefined;

const TRACE_ID = /^(?:PACKET| TRACE): \d+ ([0-9a-f]{8}) /;

/** The lines of every trace id whose PACKET lines show IP id `id`, in order. */
function ownMonitorLines(lines: string[], id: number): { mine: string[]; others: number } {
  const ids = new Set<string>();
  const tag = ` ID=${id} `;
  for (const l of lines) {
    const m = TRACE_ID.exec(l);
    if (m && l.startsWith('PACKET: ') && l.includes(tag)) ids.add(m[1]!);
  }
  const mine: string[] = [];
  const other = new Set<string>();
  for (const l of lines) {
    const m = TRACE_ID.exec(l);
    if (m && ids.has(m[1]!)) mine.push(l);
    else if (m) other.add(m[1]!);
  }
  return { mine, others: other.size };
}

function nftRuleset(): string {
  return run(inHost('nft', '-a', 'list', 'ruleset'))
    .stdout.split('\n')
    .filter((l) => !l.startsWith('# Warning:'))
    .join('\n');
}

/** The handle of the `meta nftrace set 1` rule of raw `chain`. */
function traceRuleHandle(text: string, chain: string): number {
  const m = new RegExp(`chain ${chain} \\{[^}]*?meta nftrace set 1 # handle (\\d+)`).exec(text.slice(text.indexOf('table ip raw')));
  if (!m) throw new Error(`no TRACE rule found in raw ${chain}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

/**
 * The scenario's host with the rules (iptables-nft) and a TRACE rule first in raw PREROUTING and OUTPUT, and
 * `xtables-monitor --trace` running in it; the packets' monitor lines.
 */
function recordScenario(helper: Helper, sc: TraceScenario): Promise<{ scenario: MonitorScenario; error?: string }> {
  const out: MonitorScenario = { name: sc.name, why: sc.why, host: sc.host, rules: withRawTable(sc.rules), nftRuleset: '', traceRules: { PREROUTING: 0, OUTPUT: 0 }, packets: [] };
  return runScenario(helper, HOST, sc, out, {
    restore: 'iptables-nft-restore',
    prepare: async () => {
      out.nftRuleset = nftRuleset();
      must(inHost('iptables-nft', '-t', 'raw', '-I', 'PREROUTING', '1', '-j', 'TRACE'));
      must(inHost('iptables-nft', '-t', 'raw', '-I', 'OUTPUT', '1', '-j', 'TRACE'));
      const withTrace = nftRuleset();
      out.traceRules = { PREROUTING: traceRuleHandle(withTrace, 'PREROUTING'), OUTPUT: traceRuleHandle(withTrace, 'OUTPUT') };
      const m = new TraceMonitor(inHost('xtables-monitor', '--trace'), 'xtables-monitor', inHost);
      currentMonitor = m;
      await m.ready();
      let from = 0;
      return {
        beforeSend: () => {
          from = m.lines.length;
        },
        observe: async (k, id, peer, _res, notes) => {
          await m.quiet(MONITOR_QUIET_MS, 2000);
          const { mine, others } = ownMonitorLines(m.lines.slice(from), id);
          if (others > 0) notes.push(`xtables-monitor also traced ${others} other packet(s) meanwhile (the host's answers), left out`);
          // raw PREROUTING always has the recorder's TRACE rule: an arriving packet without lines means trouble.
          if (peer && mine.length === 0) throw new Error(`packet ${k + 1}: xtables-monitor printed nothing for IP id ${id}`);
          return { monitor: mine };
        },
      };
    },
    cleanup: () => {
      currentMonitor?.stop();
      currentMonitor = undefined;
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// main

runRecorder<MonitorScenario>(import.meta.url, {
  name: 'record-monitor',
  defaultOut: 'fixtures/traces/monitor',
  defaultFiles: () => DEFAULT_SCENARIOS,
  host: HOST,
  needs: {
    why: 'it builds network namespaces',
    commands: ['ip', 'iptables-nft', 'iptables-nft-restore', 'xtables-monitor', 'nft', 'conntrack', 'setpriv', 'sysctl'],
    files: [],
    apt: 'iptables nftables conntrack util-linux iproute2 procps python3-scapy',
    version: { argv: ['iptables-nft', '-V'], re: /nf_tables/ },
  },
  header: () => ({
    how:
      'iptables-nft-restore of `rules` in a fresh tsi-mon-h namespace, then iptables-nft -t raw -I PREROUTING 1 -j TRACE and ' +
      '-I OUTPUT 1 -j TRACE; `ip netns exec tsi-mon-h xtables-monitor --trace` running while each packet is injected ' +
      '(scripts/trace-inject.py: an Ethernet frame from the peer end of -i IFACE, else a raw IP socket in the host)',
    iptables: run(['iptables-nft', '-V']).stdout.trim(),
    xtablesMonitor: run(['xtables-monitor', '-V']).stdout.trim(),
    nft: run(['nft', '-v']).stdout.trim(),
  }),
  // Outcomes of a recorded file are not input; nor is the note of an earlier recorder error.
  scenario: (sc) => ({ name: sc.name, why: sc.why.replace(/ \[recorder error: .*\]$/, ''), host: sc.host, rules: sc.rules, packets: sc.packets.map((p) => ({ packet: p.packet })) }),
  record: recordScenario,
  failed: (sc, why) => ({ ...sc, nftRuleset: '', traceRules: { PREROUTING: 0, OUTPUT: 0 }, why, packets: sc.packets.map((p) => ({ packet: p.packet })) }),
  summaryExtra: (sc) => `, ${sc.packets.reduce((a, p) => a + (p.kernel?.monitor.length ?? 0), 0)} monitor lines`,
  interrupt: () => currentMonitor?.stop(),
});
