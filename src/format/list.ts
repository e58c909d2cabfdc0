/** `iptables -L` text (print_header, print_rule_details, print_firewall of xshared.c / nft-ipv4.c). */
import { addrToAnyName, addrToString, maskToListString, type AddrMask } from '../model/ip';
import type { Chain, Rule } from '../model/ruleset';
import { protoToName } from '../extensions/option-types';
import { ruleTargetName } from './rule-text';

export interface ListFormat {
  numeric: boolean;
  verbose: boolean;
  /** -x: exact numbers instead of K/M/G. */
  exact: boolean;
  lineNumbers: boolean;
}

const U64 = (1n << 64n) - 1n;

/** xtables_print_num() in table layout; `n + 500` wraps at 2^64 as the C code does (huge counters show 0K). */
export function formatNum(n: bigint, f: ListFormat, notable = false): string {
  if (f.exact) return notable ? `${n} ` : `${String(n).padStart(8)} `;
  if (n <= 99999n) return notable ? `${n} ` : `${String(n).padStart(5)} `;
  let v = ((n + 500n) & U64) / 1000n;
  for (const unit of ['K', 'M', 'G']) {
    if (v <= 9999n) return notable ? `${v}${unit} ` : `${String(v).padStart(4)}${unit} `;
    v = ((v + 500n) & U64) / 1000n;
  }
  return notable ? `${v}T ` : `${String(v).padStart(4)}T `;
}

export function chainTitle(c: Chain, refs: number, f: ListFormat): string {
  let out = `Chain ${c.name}`;
  if (c.policy) {
    out += ` (policy ${c.policy}`;
    if (f.verbose) out += ` ${formatNum(c.counters.packets, f, true)}packets, ${formatNum(c.counters.bytes, f, true)}bytes`;
    out += ')\n';
  } else {
    out += ` (${refs} references)\n`;
  }
  return out;
}

export function columnHeader(f: ListFormat): string {
  let out = '';
  if (f.lineNumbers) out += 'num  ';
  if (f.verbose) {
    out += f.exact ? `${'pkts'.padStart(8)} ${'bytes'.padStart(10)} ` : `${'pkts'.padStart(5)} ${'bytes'.padStart(5)} `;
  }
  out += `${'target'.padEnd(9)} `;
  out += ' prot opt';
  if (f.verbose) out += ` ${'in'.padEnd(6)} ${'out'.padEnd(6)} `;
  out += ` ${'source'.padEnd(19)} `;
  out += ` ${'destination'.padEnd(19)} `;
  return out + '\n';
}

/** ipv4_addr_to_string() */
function addrText(a: AddrMask, numeric: boolean): string {
  if (a.mask === 0 && !numeric) return 'anywhere';
  return (numeric ? addrToString(a.addr) : addrToAnyName(a.addr)) + maskToListString(a.mask);
}

export function ruleRow(r: Rule, num: number, f: ListFormat): string {
  let out = '';
  if (f.lineNumbers) out += `${String(num).padEnd(4)} `;
  if (f.verbose) out += formatNum(r.counters.packets, f) + formatNum(r.counters.bytes, f);
  out += `${ruleTargetName(r).padEnd(9)} `;
  const ip = r.ip;
  out += ip.inv.proto ? '!' : ' ';
  const pname = f.numeric ? undefined : protoToName(ip.proto, false);
  out += `${(pname ?? String(ip.proto)).padEnd(4)} `;
  out += `${ip.inv.fragment ? '!' : '-'}${ip.fragment ? 'f' : '-'} `;
  if (f.verbose) {
    const any = f.numeric ? '*' : 'any';
    out += ` ${((ip.inv.inIface ? '!' : '') + (ip.inIface || any)).padEnd(6)} `;
    out += `${((ip.inv.outIface ? '!' : '') + (ip.outIface || any)).padEnd(6)} `;
  }
  out += (ip.inv.src ? '!' : ' ') + `${addrText(ip.src, f.numeric).padEnd(19)} `;
  out += (ip.inv.dst ? '!' : ' ') + `${addrText(ip.dst, f.numeric).padEnd(19)} `;
  if (r.verdict.kind === 'goto') out += '[goto] ';
  for (const m of r.matches) out += m.def.print(m.state, f.numeric);
  if (r.verdict.kind === 'target') out += r.verdict.target.def.print(r.verdict.target.state, f.numeric);
  return out + '\n';
}

/**
 * The line `-v` prints for -A/-I/-D/-C/-R (print_firewall_line: FMT_PRINT_RULE = no counters, options, via,
 * numeric, no table layout): `ACCEPT  all opt -- in * out *  0.0.0.0/0  -> 0.0.0.0/0  `.
 */
export function verboseRuleLine(r: Rule): string {
  const ip = r.ip;
  let out = `${ruleTargetName(r)} `;
  out += ip.inv.proto ? '!' : ' ';
  out += `${protoToName(ip.proto, true) ?? String(ip.proto)} `;
  out += `opt ${ip.inv.fragment ? '!' : '-'}${ip.fragment ? 'f' : '-'} `;
  out += `in ${(ip.inv.inIface ? '!' : '') + (ip.inIface || '*')} `;
  out += `out ${(ip.inv.outIface ? '!' : '') + (ip.outIface || '*')} `;
  out += (ip.inv.src ? '!' : ' ') + `${addrText(ip.src, true)} `;
  out += (ip.inv.dst ? '!' : ' ') + `-> ${addrText(ip.dst, true)}`;
  out += '  ';
  if (r.verdict.kind === 'goto') out += '[goto] ';
  for (const m of r.matches) out += m.def.print(m.state, true);
  if (r.verdict.kind === 'target') out += r.verdict.target.def.print(r.verdict.target.state, true);
  return out + '\n';
}
