/**
 * The address/port ranges of the NAT targets (SNAT, DNAT, MASQUERADE, REDIRECT), as libxt_NAT.c of iptables
 * 1.8.9 parses and prints them: `[addr[-addr]][:port[-port[/base]]]` and `port[-port[/base]]`, with its
 * own messages (no libxtables wording) and a port syntax that only NAT uses.
 */
import { paramProblem } from '../../messages';
import { addrToString } from '../../model/ip';
import { serviceToPort } from '../option-types';
import { xtStrtoui } from './cstrtoul';

/** enum nf_nat_range_flags. */
export const NAT = {
  MAP_IPS: 1 << 0,
  PROTO_SPECIFIED: 1 << 1,
  PROTO_RANDOM: 1 << 2,
  PERSISTENT: 1 << 3,
  PROTO_RANDOM_FULLY: 1 << 4,
  PROTO_OFFSET: 1 << 5,
} as const;

/** struct nf_nat_range2 (IPv4 part); addresses as uint32 in host order. */
export interface NatRange {
  flags: number;
  minAddr: number;
  maxAddr: number;
  minPort: number;
  maxPort: number;
  basePort: number;
}

export const emptyRange = (): NatRange => ({ flags: 0, minAddr: 0, maxAddr: 0, minPort: 0, maxPort: 0, basePort: 0 });

/** __NAT_parse(): ports only make sense for these protocols (icmp: its id). */
export function portsAllowed(proto: number): boolean {
  return proto === 6 || proto === 17 || proto === 132 || proto === 33 || proto === 1;
}

/** xtables_service_to_port(name, NULL): any protocol's entry. */
function serviceOrFail(arg: string): number {
  const p = serviceToPort(arg);
  if (p === undefined) throw paramProblem(`Port \`${arg}' not valid`);
  return p;
}

/**
 * parse_ports(): `port[-port[/base]]` into `r`. `trusted` (the state file) also takes a base of 0, which is
 * what the revision-0 targets keep of any base and print back.
 */
export function parsePorts(arg: string, portok: boolean, r: NatRange, trusted = false): void {
  if (!portok) throw paramProblem('Need TCP, UDP, SCTP or DCCP with port specification');
  r.flags |= NAT.PROTO_SPECIFIED;
  let port: number;
  let rest: string;
  const first = xtStrtoui(arg, 0, 65535);
  if (first) {
    port = first.value;
    rest = arg.slice(first.end);
  } else {
    port = serviceOrFail(arg);
    rest = '';
  }
  if (rest === '') {
    r.minPort = r.maxPort = port;
    return;
  }
  if (rest[0] === ':') throw paramProblem('Invalid port:port syntax - use dash');
  if (rest[0] !== '-') throw paramProblem(`Garbage after port value: \`${rest}'`);
  const maxText = rest.slice(1);
  const second = xtStrtoui(maxText, 0, 65535);
  if (!second) throw paramProblem(`Port \`${maxText}' not valid`);
  if (second.value < port) throw paramProblem(`Port range \`${maxText}' funky`);
  r.minPort = port;
  r.maxPort = second.value;
  const after = maxText.slice(second.end);
  if (after === '') return;
  if (after[0] !== '/') throw paramProblem(`Garbage after port range: \`${after}'`);
  const baseText = after.slice(1);
  // A numeric base may be followed by anything: the end pointer is not looked at.
  const base = xtStrtoui(baseText, trusted ? 0 : 1, 65535);
  r.flags |= NAT.PROTO_OFFSET;
  r.basePort = base ? base.value : serviceOrFail(baseText);
}

/** inet_pton(AF_INET): exactly four decimal bytes, no leading zeros. */
export function inetPton4(s: string): number | null {
  if (!/^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/.test(s)) return null;
  let v = 0;
  for (const part of s.split('.')) {
    const b = Number(part);
    if (b > 255) return null;
    v = v * 256 + b;
  }
  return v >>> 0;
}

/** parse_to(): `[addr[-addr]][:ports]` for --to-source / --to-destination. */
export function parseTo(arg: string, portok: boolean, r: NatRange, trusted = false): void {
  if (arg.includes('[')) throw paramProblem('Invalid address format');
  let colon = arg.indexOf(':');
  // Two colons: taken for an IPv6 address (which then fails as an IPv4 one).
  if (colon >= 0 && arg.indexOf(':', colon + 1) >= 0) colon = -1;
  let addrText = arg;
  if (colon >= 0) {
    parsePorts(arg.slice(colon + 1), portok, r, trusted);
    // "Starts with colon or [] colon? No IP info..." (the second test meant for "[]:port").
    if (colon === 0 || colon === 2) return;
    addrText = arg.slice(0, colon);
  }
  r.flags |= NAT.MAP_IPS;
  const dash = addrText.indexOf('-');
  const minText = dash >= 0 ? addrText.slice(0, dash) : addrText;
  const min = inetPton4(minText);
  if (min === null) throw paramProblem(`Bad IP address "${minText}"`);
  r.minAddr = min;
  if (dash >= 0) {
    const maxText = addrText.slice(dash + 1);
    const max = inetPton4(maxText);
    if (max === null) throw paramProblem(`Bad IP address "${maxText}"`);
    r.maxAddr = max;
  } else {
    r.maxAddr = min;
  }
}

/** sprint_range(). */
export function rangeText(r: NatRange): string {
  let out = '';
  if (r.flags & NAT.MAP_IPS) {
    out += addrToString(r.minAddr);
    if (r.minAddr !== r.maxAddr) out += `-${addrToString(r.maxAddr)}`;
  }
  if (r.flags & NAT.PROTO_SPECIFIED) {
    out += `:${r.minPort}`;
    if (r.maxPort !== r.minPort) out += `-${r.maxPort}`;
    if (r.flags & NAT.PROTO_OFFSET) out += `/${r.basePort}`;
  }
  return out;
}

/** __NAT_print(): the range after `rangeopt` (its leading colon dropped for port-only targets), then the flags. */
export function natText(r: NatRange, rangeopt: string, flagPrefix: string, skipColon: boolean): string {
  let range = rangeText(r);
  let out = '';
  if (range !== '') {
    if (skipColon && range[0] === ':') range = range.slice(1);
    out += ` ${rangeopt}${range}`;
  }
  if (r.flags & NAT.PROTO_RANDOM) out += ` ${flagPrefix}random`;
  if (r.flags & NAT.PROTO_RANDOM_FULLY) out += ` ${flagPrefix}random-fully`;
  if (r.flags & NAT.PERSISTENT) out += ` ${flagPrefix}persistent`;
  return out;
}

/** The flag options shared by the NAT targets. */
export function natFlag(name: string): number {
  switch (name) {
    case 'random':
      return NAT.PROTO_RANDOM;
    case 'random-fully':
      return NAT.PROTO_RANDOM_FULLY;
    case 'persistent':
      return NAT.PERSISTENT;
  }
  return 0;
}
