/**
 * The three views of a trace result: JSON (the contract of `--json`), the kernel's dmesg lines (`--dmesg`:
 * TRACE lines as iptables-legacy's TRACE target writes them, interleaved with LOG lines) and the explained
 * view for a person (hooks and tables in order, each rule passed over with the criterion that failed, the
 * rule that decided with its comment and chain path, NAT, route and a closing verdict).
 */
import { Chalk, type ChalkInstance } from 'chalk';
import Table from 'cli-table3';
import { addrToString } from '../model/ip';
import { formatLogLine, traceLine, type LinkType } from '../eval/log-format';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, protoName, type Packet } from '../eval/packet';
import { statusNames, type TraceEvent, type TraceResult } from '../eval/trace';
import type { Step } from '../eval/walk';
import { ConntrackTable, tupleText } from '../eval/conntrack';
import type { Branch } from '../eval/branches';


/** `table:chain:type:N`, the kernel's TRACE notation. */
export function stepText(s: Step): string {
  return `${s.table}:${s.chain}:${s.type}:${s.num}`;
}

export interface WireView {
  proto: string;
  /** ARP: request or reply, and the sender's and target's MACs. */
  arp?: { op: 'request' | 'reply'; sha: string; tha: string };
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  type?: number;
  code?: number;
}

export function wireView(p: Packet): WireView {
  if (p.arp) return { proto: 'arp', src: addrToString(p.arp.spa), dst: addrToString(p.arp.tpa), arp: { op: p.arp.op === 1 ? 'request' : 'reply', sha: p.arp.sha, tha: p.arp.tha } };
  const v: WireView = { proto: protoName(p.proto), src: addrToString(p.src), dst: addrToString(p.dst) };
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) {
    v.sport = p.sport;
    v.dport = p.dport;
  } else if (p.proto === PROTO_ICMP) {
    v.type = p.icmpType;
    v.code = p.icmpCode;
  }
  return v;
}

/** LOG lines of the run; `mac` false leaves out the MAC= part (the JSON view). */
export function logLines(r: TraceResult, mac: boolean): string[] {
  const out: string[] = [];
  for (const e of r.events) if (e.kind === 'log') out.push(logLine(e, mac));
  return out;
}

function logLine(e: Extract<TraceEvent, { kind: 'log' }>, mac: boolean): string {
  return formatLogLine({ prefix: e.req.prefix, flags: e.req.flags, pkt: e.packet, inIface: e.packet.inIface, outIface: e.packet.outIface, macHeader: mac, linkType: linkType(e.packet) });
}

/** lo frames show a zero MAC header; a looped-back broadcast copy has none at all (`MAC=`). */
function linkType(p: Packet): LinkType {
  if (p.inIface === 'lo') return 'loopback';
  return p.macSrc === null ? 'none' : 'ether';
}

/** The dmesg lines: a TRACE line per step (as the packet was at that step) and the LOG lines, in order. */
export function dmesgLines(r: TraceResult): string[] {
  const out: string[] = [];
  for (const e of r.events) {
    if (e.kind === 'step') {
      const p = e.packet;
      out.push(traceLine(e.step.table, e.step.chain, e.step.type, e.step.num, { pkt: p, inIface: p.inIface, outIface: p.outIface, macHeader: true, linkType: linkType(p) }));
    } else if (e.kind === 'log') out.push(logLine(e, true));
  }
  return out;
}

export function jsonView(r: TraceResult): Record<string, unknown> {
  const conn = r.conn;
  return {
    fate: r.fate,
    in: r.in,
    out: r.out,
    reason: r.reason,
    packet: r.fate === 'dropped' ? null : wireView(r.packet),
    trace: r.steps.map(stepText),
    log: logLines(r, false),
    verdict: r.verdict,
    conntrack: {
      state: r.original.arp ? null : r.ctState,
      entry: conn ? { original: tupleText(conn.orig), reply: tupleText(conn.reply), status: statusNames(conn.status), mark: conn.mark, ...(conn.orig.proto === PROTO_TCP ? { tcp: ConntrackTable.tcpStateName(conn) } : {}), confirmed: conn.confirmed } : null,
    },
    nat: r.events.filter((e): e is Extract<TraceEvent, { kind: 'nat' }> => e.kind === 'nat').map((e) => ({ manip: e.manip, before: e.before, after: e.after })),
    route: r.events.filter((e): e is Extract<TraceEvent, { kind: 'route' }> => e.kind === 'route').map((e) => e.text),
    decided: r.decidedBy ? { rule: r.decidedBy.rule ? `-A ${r.decidedBy.chain}${r.decidedBy.rule.line}` : null, path: r.decidedBy.path, step: stepText(r.decidedBy) } : null,
    ...(r.rejectWith !== undefined ? { reject: r.rejectWith } : {}),
    ...(r.assumptions.length ? { assumed: r.assumptions.map((a) => ({ ext: a.ext, question: a.question, answer: a.answer, ...(a.probability !== undefined ? { probability: a.probability } : {}) })) } : {}),
    notes: r.events.filter((e) => e.kind === 'note' || e.kind === 'unsimulated').map((e) => (e.kind === 'note' ? e.text : e.kind === 'unsimulated' ? `${e.what}: packet semantics not simulated, taken as matching` : '')),
  };
}

function commentOf(line: string): string | undefined {
  const m = /-m comment --comment ("(?:[^"\\]|\\.)*"|\S+)/.exec(line);
  if (!m) return undefined;
  return m[1]!.startsWith('"') ? m[1]!.slice(1, -1).replace(/\\(.)/g, '$1') : m[1];
}

/** The explained view. */
export function humanView(r: TraceResult, color: boolean): string {
  const c: ChalkInstance = new Chalk({ level: color ? 1 : 0 });
  const lines: string[] = [];
  const o = r.original;
  const what = o.arp ? `arp ${o.arp.op === 1 ? 'request' : 'reply'}` : protoName(o.proto);
  const arriving = o.physIn !== undefined && o.physIn !== o.inIface ? `${o.physIn}, a port of ${o.inIface}` : o.inIface;
  lines.push(c.bold(`packet ${what} ${describeEnds(o)}${arriving ? ` arriving on ${arriving}` : ` sent by this host${o.outIface ? ` out of ${o.outIface}` : ''}`}`));
  const ruleText = (s: Step): string => (s.rule ? `-A ${s.chain}${s.rule.line}` : '');
  for (const e of r.events) {
    switch (e.kind) {
      case 'hook':
        lines.push(c.cyan.bold(`${e.hook}`));
        break;
      case 'chain':
        lines.push(`  ${c.cyan(`${e.table} ${e.chain}`)}`);
        break;
      case 'miss':
        lines.push(c.gray(`    ${e.miss.chain} #${e.miss.num} skipped: ${e.miss.why}    (${`-A ${e.miss.chain}${e.miss.rule.line}`.trim()})`));
        break;
      case 'step': {
        const s = e.step;
        const what =
          s.rule === undefined
            ? s.type === 'policy'
              ? `policy ${s.verdict}`
              : 'end of chain: return'
            : `${s.verdict === 'JUMP' || s.verdict === 'GOTO' ? s.verdict.toLowerCase() : s.verdict}`;
        const col = s.verdict === 'ACCEPT' ? c.green : s.verdict === 'DROP' ? c.red : c.yellow;
        lines.push(`    ${col(`${s.chain} #${s.num} ${s.rule ? 'matched' : ''}`.trimEnd())} ${col(what)}${s.rule ? `    ${ruleText(s)}` : ''}`);
        const comment = s.rule ? commentOf(s.rule.line) : undefined;
        if (comment !== undefined) lines.push(`      comment: ${comment}`);
        if (s.path.length > 1) lines.push(`      path: ${s.path.join(' -> ')}`);
        break;
      }
      case 'conntrack':
        lines.push(`  ${c.magenta('conntrack')}: ${e.state}${e.conn ? ` (${e.conn})` : ''}${e.why ? ` — ${e.why}` : ''}`);
        break;
      case 'nat':
        lines.push(`  ${c.magenta(e.manip === 'src' ? 'SNAT' : 'DNAT')}: ${e.before} => ${e.after}${e.note ? ` (${e.note})` : ''}`);
        break;
      case 'route':
        lines.push(`  ${c.blue(e.text)}`);
        break;
      case 'log':
        lines.push(`    LOG: ${logLine(e, false)}`);
        break;
      case 'reject':
        lines.push(`    ${c.red(`REJECT would send back ${e.with}`)}`);
        break;
      case 'note':
        lines.push(`  note: ${e.text}`);
        break;
      case 'assume':
        lines.push(`  ${c.yellow('assumed')}: ${e.assumption.question}: ${e.assumption.answer ? 'yes' : 'no'}${e.assumption.probability !== undefined ? ` (the kernel says yes with probability ${e.assumption.probability})` : ''}; choose with --assume ${e.assumption.ext}=${e.assumption.answer ? 'no' : 'yes'}`);
        break;
      case 'unsimulated':
        lines.push(`  ${c.yellow('not simulated')}: ${e.what} taken as matching`);
        break;
      case 'nft': {
        // An nft base chain: its rules that ran (with their verdicts) and those passed over, with why.
        if (e.dev !== undefined) lines.push(c.cyan.bold(`${e.hook.toUpperCase()} ${e.dev}`));
        lines.push(`  ${c.cyan(`${e.family} ${e.table} ${e.chain}`)} ${c.gray(`(nft, hook ${e.hook})`)}`);
        for (const x of e.events) {
          if (x.kind === 'miss') lines.push(c.gray(`    ${x.chain.name} handle ${x.handle} skipped: ${x.why}    (${x.text})`));
          else if (x.kind === 'rule') {
            const col = x.verdict === 'accept' ? c.green : x.verdict === 'drop' ? c.red : c.yellow;
            lines.push(`    ${col(`${x.chain.name} handle ${x.handle} matched ${x.verdict}`)}    ${x.text}`);
          } else if (x.kind === 'policy') lines.push(`    ${(x.verdict === 'drop' ? c.red : c.green)(`${x.chain.name} policy ${x.verdict}`)}`);
          else if (x.kind === 'return') lines.push(`    ${c.yellow(`${x.chain.name}: end of chain, return`)}`);
        }
        break;
      }
    }
  }
  const table = new Table({ head: ['fate', 'in', 'out', 'packet after NAT', 'conntrack', 'decided by'], style: { head: color ? ['bold'] : [], border: color ? ['grey'] : [] } });
  table.push([r.fate, r.in ?? '-', r.out ?? '-', r.fate === 'dropped' ? '-' : describeEnds(r.packet), r.packet.arp ? '-' : r.ctState, r.decidedBy ? `${r.decidedBy.table} ${r.decidedBy.chain} ${r.decidedBy.rule || r.decidedBy.type === 'rule' ? `#${r.decidedBy.num}` : 'policy'}` : r.reason]);
  lines.push(table.toString());
  const verdictColor = r.fate === 'dropped' ? c.red.bold : c.green.bold;
  lines.push(verdictColor(`${r.fate}: ${r.verdict}${whyNot(r)}`));
  return lines.join('\n') + '\n';
}

/** For a drop by policy: the rule that came closest (same chain, accepting, one criterion short). */
function whyNot(r: TraceResult): string {
  const d = r.decidedBy;
  if (!d || r.fate !== 'dropped' || d.type !== 'policy' || d.rule !== undefined) return '';
  const misses = r.events.filter((e): e is Extract<TraceEvent, { kind: 'miss' }> => e.kind === 'miss' && e.miss.table === d.table && e.miss.chain === d.chain);
  const accepting = misses.find((m) => / -j ACCEPT$/.test(m.miss.rule.line));
  const base = ': no rule matched';
  if (!accepting) return base;
  return `${base}; rule ${accepting.miss.num} would have accepted it but ${accepting.miss.why}`;
}

function describeEnds(p: Packet): string {
  // ARP as tcpdump words it.
  if (p.arp) return p.arp.op === 1 ? `who-has ${addrToString(p.arp.tpa)} tell ${addrToString(p.arp.spa)}` : `${addrToString(p.arp.spa)} is-at ${p.arp.sha}`;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) return `${addrToString(p.src)}:${p.sport} -> ${addrToString(p.dst)}:${p.dport}`;
  if (p.proto === PROTO_ICMP) return `${addrToString(p.src)} -> ${addrToString(p.dst)} type ${p.icmpType}/${p.icmpCode}`;
  return `${addrToString(p.src)} -> ${addrToString(p.dst)}`;
}

/** Every outcome of a packet that meets random picks, most likely first (same outcomes merged). */
function mergedBranches(bs: readonly Branch[]): Array<{ probability: number; b: Branch; key: string }> {
  const by = new Map<string, { probability: number; b: Branch; key: string }>();
  for (const b of bs) {
    const r = b.result;
    const key = `${r.fate} ${r.out ?? '-'} ${describeEnds(r.packet)}`;
    const e = by.get(key);
    if (e) e.probability += b.probability;
    else by.set(key, { probability: b.probability, b, key });
  }
  return [...by.values()].sort((x, y) => y.probability - x.probability);
}

export function branchesJson(bs: readonly Branch[]): unknown[] {
  return mergedBranches(bs).map(({ probability, b }) => ({
    probability: Math.round(probability * 1e6) / 1e6,
    fate: b.result.fate,
    out: b.result.out,
    packet: b.result.fate === 'dropped' ? null : wireView(b.result.packet),
    via: viaChain(b.result) ?? null,
  }));
}

/** The chain that decided the outcome of a random pick: where the DNAT ran (a KUBE-SEP-*), else the last jump. */
function viaChain(r: TraceResult): string | undefined {
  const nat = r.steps.filter((s) => s.table === 'nat' && s.rule !== undefined && / -j (DNAT|REDIRECT)\b/.test(s.rule.line)).pop();
  return nat?.chain ?? r.steps.filter((s) => s.verdict === 'JUMP' || s.verdict === 'GOTO').map((s) => s.rule?.jumpTo ?? '').pop();
}

export function branchesView(bs: readonly Branch[]): string {
  if (bs.length === 0) return '';
  const lines = ['every outcome of the random picks (-m statistic), with its probability:'];
  for (const { probability, b } of mergedBranches(bs)) {
    const r = b.result;
    const via = viaChain(r);
    lines.push(`  ${(probability * 100).toFixed(1).padStart(5)}%  ${r.fate}${r.out ? ` out ${r.out}` : ''}  ${describeEnds(r.packet)}${via ? `  via ${via}` : ''}${r.fate === 'dropped' ? ` (${r.verdict})` : ''}`);
  }
  return lines.join('\n') + '\n';
}
