/**
 * `tsiptables trace --monitor`: the packet's path as `xtables-monitor --trace` (iptables 1.8.9, nf_tables variant)
 * prints it when a `-j TRACE` rule (nft: `meta nftrace set 1`) sits first in raw PREROUTING and raw OUTPUT.
 * Recorded from the real thing by scripts/record-monitor.ts (fixtures/traces/monitor/), replayed by
 * test/trace-monitor.test.ts. What the recordings show (kernel 6.18, iptables 1.8.9, xtables-monitor.c
 * trace_cb/trace_print_packet):
 *
 * - Lines: `PACKET: 2 <id> IN=.. OUT=.. MACSRC=.. MACDST=.. MACPROTO=0800 SRC=.. DST=.. LEN=.. TOS=0x.. TTL=..
 *   ID=.. [DF] [OPT (HEX)] [SPORT=.. DPORT=.. [SYN ACK FIN RST PSH URG]] [MARK=0x..] ` (trailing blank), then
 *   ` TRACE: 2 <id> table:chain:rule:0x<handle>:<VERDICT>  -4 -t table -A chain ...` (leading blank, two blanks
 *   before the rule, which is the kernel's rule read back as iptables-nft-save prints it) and
 *   ` TRACE: 2 <id> table:chain:policy:<VERDICT> ` (trailing blank). 2 is NFPROTO_IPV4, <id> is `%08x`.
 * - The packet is dumped once per base chain the packet enters (per nft_do_chain), with the first trace event
 *   there; xtables-monitor prints that PACKET line before the event's TRACE line. The dump is taken after the
 *   first matching rule ran (a MARK rule first in a chain shows its MARK=), except in raw PREROUTING/OUTPUT
 *   where the TRACE rule is the first event (so the packet as it entered).
 * - Verdicts: CONTINUE (a match-only rule, LOG, MARK, ...), ACCEPT (also DNAT/SNAT/MASQUERADE/REDIRECT), DROP (also
 *   REJECT), `JUMP:<chain>`, `GOTO:<chain>`, RETURN printed as its raw code `0xfffffffb` (NFT_RETURN, which
 *   print_verdict() does not name), QUEUE. nf_tables has no legacy quirk: an unconditional `-j ACCEPT` is a
 *   rule line with its handle. Falling off the end of a user chain prints nothing (no `return:` line).
 * - Only base chains nf_tables has take part: iptables-nft-restore creates the built-in chains a dump declares
 *   (or appends to), not every chain of the table.
 * - Link layer: MACSRC/MACDST as ether_ntoa() writes them (no leading zeros), `LOOPBACK` for lo, nothing for
 *   locally generated packets. ICMP and other protocols print no transport part; udp (and sctp, dccp,
 *   udplite) ports only when 4 bytes of transport header exist, tcp only with a full 20-byte header.
 * - From the source only (no recorded packet has them): `OPT (..)` for IP options (printf "%02X" of a signed char,
 *   so a byte >= 0x80 reads FFFFFF80..), NFQUEUE verdicts (`QUEUE`, or the raw code for a queue number other than 0).
 * - A frame sent to a broadcast or multicast address shows that link-layer destination (ff:ff:ff:ff:ff:ff,
 *   01:00:5e:..), as the simulator gives it (src/eval/trace.ts).
 *
 * Handles: nf_tables numbers chains and rules of a table from one counter (table->hgenerator). A dump restored in
 * one go by iptables-nft-restore into a fresh table gives a handle to each chain and each rule in the order of
 * the dump's lines: `:CHAIN` lines, a built-in chain at its first `-A` when it was not declared, every `-A`/`-I`
 * rule. A `*table` line starts the table anew (iptables-nft-restore deletes it): handles restart at 1. The
 * recorder's TRACE rules are inserted after the restore, so they take the next free handles of raw and change
 * no other handle; they are left out of this view, as if they were there but not counted (the --dmesg
 * convention), while the PACKET line their event carries stays. Without the dump text the handles are those of
 * the ruleset's own iptables-save dump (every built-in chain, user chains sorted by name, rules in that order).
 *
 * Trace id: random in the kernel (derived from the skb), constant along one packet's path. Here it is the IP id of
 * the packet as it entered, as `%08x` (`--ip-id 101` -> `00000065`), so the user chooses it with `--ip-id`
 * (`traceId` overrides it). What the kernel traces as a new skb, with a new id, gets the next number: a local
 * packet looped back through lo and a local broadcast's looped-back copy (their way in: raw PREROUTING, INPUT).
 */
import type { Rule, Ruleset } from '../model/ruleset';
import { chainsInSaveOrder } from '../model/ruleset';
import { addrToString } from '../model/ip';
import { isBuiltinChain, isTableName } from '../model/tables';
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type Packet } from '../eval/packet';
import type { TraceResult } from '../eval/trace';
import type { Step } from '../eval/walk';

/** nf_tables handles of one table: each chain's own, and its rules' in chain order. */
export interface TableHandles {
  chains: Map<string, number>;
  rules: Map<string, number[]>;
}

/** Table name -> its handles, as iptables-nft-restore leaves them. */
export type HandlePlan = Map<string, TableHandles>;

export interface MonitorOptions {
  /** The iptables-save/restore text the ruleset was read from (exact handles); else the ruleset's own save order. */
  dump?: string;
  /** A plan computed once (planHandles) for a batch; wins over `dump`. */
  plan?: HandlePlan;
  /** The trace id (uint32); default: the IP id of the packet as it entered. */
  traceId?: number;
}

const NFPROTO_IPV4 = 2;
/** NFT_RETURN as print_verdict() prints it (its default case, "0x%x" of the unsigned code). */
const NFT_RETURN_TEXT = '0xfffffffb';
const IPPROTO_DCCP = 33;
const IPPROTO_SCTP = 132;
const IPPROTO_UDPLITE = 136;

/**
 * The handles iptables-nft-restore gives a dump restored in one go (fresh tables). Undefined when the text holds a
 * command this emulation does not follow (anything but `:CHAIN`, `-A`, `-I`, `-N`).
 */
export function planHandles(dump: string): HandlePlan | undefined {
  const plan: HandlePlan = new Map();
  let table: TableHandles | undefined;
  let tableName = '';
  let counter = 0;
  const ensure = (chain: string): number[] | undefined => {
    if (!table) return undefined;
    if (!table.chains.has(chain)) {
      if (!isTableName(tableName) || !isBuiltinChain(tableName, chain)) return undefined;
      table.chains.set(chain, ++counter);
      table.rules.set(chain, []);
    }
    return table.rules.get(chain);
  };
  for (const raw of dump.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      tableName = line.slice(1).trim();
      table = { chains: new Map(), rules: new Map() };
      plan.set(tableName, table);
      counter = 0;
      continue;
    }
    if (line === 'COMMIT') {
      table = undefined;
      continue;
    }
    if (!table) return undefined;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/[ \t]+/)[0]!;
      if (!table.chains.has(name)) {
        table.chains.set(name, ++counter);
        table.rules.set(name, []);
      } else if (!isTableName(tableName) || !isBuiltinChain(tableName, name)) table.rules.set(name, []); // flushed
      continue;
    }
    const words = line.replace(/^\[[^\]]*\]\s*/, '').split(/[ \t]+/);
    const cmd = words[0];
    const chain = words[1];
    if (chain === undefined) return undefined;
    if (cmd === '-N' || cmd === '--new-chain') {
      if (table.chains.has(chain)) return undefined;
      table.chains.set(chain, ++counter);
      table.rules.set(chain, []);
      continue;
    }
    if (cmd !== '-A' && cmd !== '--append' && cmd !== '-I' && cmd !== '--insert') return undefined;
    const rules = ensure(chain);
    if (!rules) return undefined;
    const handle = ++counter;
    if (cmd === '-A' || cmd === '--append') rules.push(handle);
    else {
      const pos = words[2] !== undefined && /^\d+$/.test(words[2]) ? Number(words[2]) : 1;
      if (pos < 1 || pos > rules.length + 1) return undefined;
      rules.splice(pos - 1, 0, handle);
    }
  }
  return plan;
}

/** The handles of the ruleset's own iptables-save dump restored in one go. */
export function planFromRuleset(ruleset: Ruleset): HandlePlan {
  const plan: HandlePlan = new Map();
  for (const t of ruleset.tables.values()) {
    const chains = chainsInSaveOrder(t);
    const th: TableHandles = { chains: new Map(), rules: new Map() };
    let counter = 0;
    for (const c of chains) th.chains.set(c.name, ++counter);
    for (const c of chains) th.rules.set(c.name, c.rules.map(() => ++counter));
    plan.set(t.name, th);
  }
  return plan;
}

/** Whether the plan has every rule of the ruleset (same chains, same rule counts). */
function planFits(plan: HandlePlan, ruleset: Ruleset): boolean {
  for (const t of ruleset.tables.values()) {
    const th = plan.get(t.name);
    for (const c of t.chains.values()) {
      const rules = th?.rules.get(c.name);
      if (rules === undefined) {
        // A built-in chain the dump never named: nf_tables has no such base chain (it must be empty).
        if (c.hook === undefined || c.rules.length > 0) return false;
        continue;
      }
      if (rules.length !== c.rules.length) return false;
    }
  }
  return true;
}

/** The plan for a ruleset: from its dump text when that fits, else from its save order. */
export function handlePlan(ruleset: Ruleset, dump?: string): HandlePlan {
  if (dump !== undefined) {
    const p = planHandles(dump);
    if (p && planFits(p, ruleset)) return p;
  }
  return planFromRuleset(ruleset);
}

const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/** ether_ntoa(): bytes in lower-case hex without leading zeros. */
function etherNtoa(mac: string): string {
  return mac
    .split(':')
    .map((b) => parseInt(b, 16).toString(16))
    .join(':');
}

/** printf("%02X", (char)b): a byte >= 0x80 is sign-extended to an int first. */
function optByte(b: number): string {
  return b >= 0x80 ? (0xffffff00 | b).toString(16).toUpperCase() : b.toString(16).toUpperCase().padStart(2, '0');
}

/** trace_print_packet() for an IPv4 packet. */
export function packetLine(id: number, p: Packet): string {
  let s = `PACKET: ${NFPROTO_IPV4} ${hex8(id)} `;
  if (p.inIface !== null) s += `IN=${p.inIface} `;
  if (p.outIface !== null) s += `OUT=${p.outIface} `;
  if (p.inIface !== null) {
    // The link-layer header of an arriving frame (kept up to POSTROUTING); lo's is all zeros; a looped-back
    // broadcast copy has none.
    if (p.inIface === 'lo') s += 'LOOPBACK ';
    else if (p.macSrc !== null && p.macDst !== null) s += `MACSRC=${etherNtoa(p.macSrc)} MACDST=${etherNtoa(p.macDst)} MACPROTO=0800 `;
  }
  s += `SRC=${addrToString(p.src)} DST=${addrToString(p.dst)} LEN=${p.len} TOS=0x${p.tos.toString(16)} TTL=${p.ttl} ID=${p.id} `;
  if (p.df) s += 'DF ';
  const optLen = p.ipOptions.length;
  if (optLen > 0) s += `OPT (${[...p.ipOptions].map(optByte).join('')}) `;
  const l4 = p.len - 20 - optLen;
  if (p.proto === PROTO_TCP) {
    if (l4 >= 20) {
      s += `SPORT=${p.sport} DPORT=${p.dport} `;
      const f = p.tcpFlags;
      if (f & TCP_SYN) s += 'SYN ';
      if (f & TCP_ACK) s += 'ACK ';
      if (f & TCP_FIN) s += 'FIN ';
      if (f & TCP_RST) s += 'RST ';
      if (f & TCP_PSH) s += 'PSH ';
      if (f & TCP_URG) s += 'URG ';
    }
  } else if (p.proto === PROTO_UDP || p.proto === IPPROTO_UDPLITE || p.proto === IPPROTO_SCTP || p.proto === IPPROTO_DCCP) {
    // Only udp carries ports in a simulated packet; the others have zero bytes where the ports would be.
    if (l4 >= 4) s += p.proto === PROTO_UDP ? `SPORT=${p.sport} DPORT=${p.dport} ` : 'SPORT=0 DPORT=0 ';
  }
  if (p.mark !== 0) s += `MARK=0x${(p.mark >>> 0).toString(16)} `;
  return s;
}

/** The verdict of a rule event as print_verdict() writes it. */
function verdictText(step: Step, rule: Rule): string {
  switch (step.verdict) {
    case 'JUMP':
      return `JUMP:${rule.jumpTo ?? ''}`;
    case 'GOTO':
      return `GOTO:${rule.jumpTo ?? ''}`;
    case 'RETURN':
      return NFT_RETURN_TEXT;
    case 'QUEUE':
      return 'QUEUE';
    default:
      break;
  }
  const v = rule.verdict;
  if (v.kind === 'target' && v.target.def.name === 'NFQUEUE') {
    // NF_QUEUE_NR(num) | NF_VERDICT_FLAG_QUEUE_BYPASS: the verdict the trace reports before nf_queue() fails.
    const st = v.target.state as { queuenum?: number; bypass?: boolean };
    const code = ((((st.queuenum ?? 0) << 16) | 3 | (st.bypass ? 0x8000 : 0)) >>> 0);
    return code === 3 ? 'QUEUE' : `0x${code.toString(16)}`;
  }
  return step.verdict;
}

interface Traversal {
  table: string;
  chain: string;
  steps: Array<{ step: Step; packet: Packet }>;
}

/**
 * The lines `xtables-monitor --trace` prints for the packet (without newlines).
 */
export function monitorLines(result: TraceResult, ruleset: Ruleset, opts: MonitorOptions = {}): string[] {
  const plan = opts.plan ?? handlePlan(ruleset, opts.dump);
  const firstId = (opts.traceId ?? result.original.id) >>> 0;
  // Group the steps by base chain traversal.
  const traversals: Array<Traversal & { copy: number }> = [];
  let cur: (Traversal & { copy: number }) | undefined;
  let copy = 0;
  let lastHook: string | undefined;
  for (const e of result.events) {
    if (e.kind === 'hook') {
      // A packet that comes back in (lo, a broadcast's looped copy) is a new skb for the trace id.
      if (e.hook === 'PREROUTING' && lastHook !== undefined) copy++;
      lastHook = e.hook;
      cur = undefined;
    } else if (e.kind === 'chain') {
      cur = { table: e.table, chain: e.chain, steps: [], copy };
      traversals.push(cur);
    } else if (e.kind === 'step' && cur) cur.steps.push({ step: e.step, packet: e.packet });
  }
  const out: string[] = [];
  for (const t of traversals) {
    const th = plan.get(t.table);
    if (!th || !th.chains.has(t.chain) || t.steps.length === 0) continue;
    const id = (firstId + t.copy) >>> 0;
    const hdr = ` TRACE: ${NFPROTO_IPV4} ${hex8(id)} `;
    // The dump comes with the first event: the TRACE rule in raw, else the first rule that matched (after it ran).
    const traceRuleFirst = t.table === 'raw' && (t.chain === 'PREROUTING' || t.chain === 'OUTPUT');
    const dumped = traceRuleFirst ? t.steps[0]!.packet : (t.steps[1] ?? t.steps[0]!).packet;
    out.push(packetLine(id, dumped));
    for (const { step } of t.steps) {
      const rule = step.rule;
      if (rule === undefined) {
        if (step.type === 'policy') out.push(`${hdr}${step.table}:${step.chain}:policy:${step.verdict} `);
        continue; // the end of a user chain: nf_tables reports nothing
      }
      const handle = th.rules.get(step.chain)?.[step.num - 1];
      const h = handle === undefined ? '?' : handle.toString(16);
      out.push(`${hdr}${step.table}:${step.chain}:rule:0x${h}:${verdictText(step, rule)}  -4 -t ${step.table} -A ${step.chain}${rule.line}`);
    }
  }
  return out;
}
