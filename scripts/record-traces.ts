/**
 * record-traces.ts - the truth for `tsiptables trace`: builds each scenario's host in network namespaces with
 * iptables-legacy, injects its packets and stores what the real kernel did (TRACE/LOG lines, fate, the packet as
 * it left or was delivered, conntrack). The file format is scripts/trace-fixture-format.ts; how it works, how to
 * re-record and the known limits are in fixtures/traces/README.md. The host, the PACKET defaults, the packet engine
 * (scripts/trace-inject.py) and the command line are in scripts/lib/recorder-host.ts, shared with
 * scripts/record-monitor.ts; this file adds the TRACE rules and what dmesg shows.
 *
 * Usage (root, Linux with iptables-legacy 1.8.9, conntrack, setpriv and Debian's python3-scapy):
 *
 *   npx tsx scripts/record-traces.ts [--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]
 *
 *   SCENARIO_FILE   TraceFixtureFile JSON (packets without `kernel`); default: fixtures/traces/scenarios/*.json
 *   --out DIR       write DIR/<basename> (default fixtures/traces/recorded)
 *   --only NAME     record only the scenario(s) NAME (repeatable); when DIR/<basename> exists already, the other
 *                   scenarios of that file are kept as they were recorded
 *   --quiet         no per-scenario summary
 *
 * Exit status: 0 all recorded, 1 some scenario could not be set up (it is written with a recorder note in `why`
 * and no outcomes), 2 bad usage, not root or a tool missing.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { must, NetnsHost, run, runRecorder, runScenario, withRawTable, type Helper } from './lib/recorder-host';
import type { TraceScenario } from './trace-fixture-format';

const HOST = new NetnsHost('tsi-rec-h', 'tsi-rec-p');
const DEFAULT_SCENARIOS = 'fixtures/traces/scenarios';
const NF_LOG_ALL_NETNS = '/proc/sys/net/netfilter/nf_log_all_netns';

// ---------------------------------------------------------------------------------------------------------------
// dmesg

/** raw:PREROUTING/OUTPUT numbers without the recorder's TRACE rule; null for that rule's own line. */
function renumber(line: string): string | null {
  const m = /^TRACE: (\w+):([^: ]+):(rule|return|policy):(\d+) /.exec(line);
  if (!m) return line;
  if (m[1] !== 'raw' || (m[2] !== 'PREROUTING' && m[2] !== 'OUTPUT')) return line;
  const n = Number(m[4]) - 1;
  if (n === 0) return null; // our TRACE rule, printed when an already traced packet (loopback) reaches it again
  return `TRACE: ${m[1]}:${m[2]}:${m[3]}:${n} ${line.slice(m[0].length)}`;
}

function ownLines(kmsg: string[], id: number, ifaces: Set<string>): string[] {
  const out: string[] = [];
  for (const line of kmsg) {
    const s = line.indexOf(' SRC=');
    if (s < 0) continue;
    const idm = / ID=(\d+) /.exec(line.slice(s));
    if (!idm || Number(idm[1]) !== id) continue;
    const inm = /(?:^| )IN=(\S*) /.exec(line);
    const outm = / OUT=(\S*) /.exec(line);
    if (!inm || !outm || !ifaces.has(inm[1]!) || !ifaces.has(outm[1]!)) continue;
    const r = renumber(line);
    if (r !== null) out.push(r);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

/** The scenario's host with the rules and a TRACE rule first in raw PREROUTING and OUTPUT; the packets' dmesg lines. */
function recordScenario(helper: Helper, sc: TraceScenario): Promise<{ scenario: TraceScenario; error?: string }> {
  const out: TraceScenario = { name: sc.name, why: sc.why, host: sc.host, rules: withRawTable(sc.rules), packets: [] };
  return runScenario(helper, HOST, sc, out, {
    restore: 'iptables-legacy-restore',
    prepare: (h) => {
      must(HOST.inHost('iptables-legacy', '-t', 'raw', '-I', 'PREROUTING', '1', '-j', 'TRACE'));
      must(HOST.inHost('iptables-legacy', '-t', 'raw', '-I', 'OUTPUT', '1', '-j', 'TRACE'));
      const ifaceSet = new Set(['', 'lo', ...h.ifaces]);
      return {
        // Another tool may have put nf_log_all_netns back to 0 meanwhile: without it a namespace logs nothing.
        beforeSend: () => fs.writeFileSync(NF_LOG_ALL_NETNS, '1\n'),
        observe: (k, id, peer, res) => {
          const dmesg = ownLines(res.kmsg, id, ifaceSet);
          const trace = dmesg.filter((l) => l.startsWith('TRACE: ')).map((l) => l.slice(7, l.indexOf(' ', 7)));
          // raw PREROUTING always has the recorder's TRACE rule: an arriving packet without TRACE lines means the
          // kernel logged nothing (nf_log_all_netns off, ring buffer trouble), not that the packet took no path.
          if (peer && trace.length === 0) throw new Error(`packet ${k + 1}: no TRACE line in dmesg for IP id ${id}`);
          return { trace, dmesg };
        },
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// main

runRecorder<TraceScenario>(import.meta.url, {
  name: 'record-traces',
  defaultOut: 'fixtures/traces/recorded',
  defaultFiles: () =>
    fs
      .readdirSync(DEFAULT_SCENARIOS)
      .sort()
      .filter((f) => f.endsWith('.json'))
      .map((f) => path.join(DEFAULT_SCENARIOS, f)),
  host: HOST,
  needs: {
    why: 'it builds network namespaces and reads /dev/kmsg',
    commands: ['ip', 'iptables-legacy', 'iptables-legacy-restore', 'conntrack', 'setpriv', 'sysctl'],
    files: [[NF_LOG_ALL_NETNS, '/proc/sys/net/netfilter/nf_log_all_netns (nf_log)']],
    apt: 'iptables conntrack util-linux iproute2 procps python3-scapy',
    version: { argv: ['iptables-legacy', '-V'], re: /legacy/ },
  },
  start: () => fs.writeFileSync(NF_LOG_ALL_NETNS, '1\n'),
  header: () => ({ iptables: run(['iptables-legacy', '-V']).stdout.trim() }),
  record: recordScenario,
  failed: (sc, why) => ({ ...sc, why, packets: sc.packets.map((pc) => ({ packet: pc.packet })) }),
});
