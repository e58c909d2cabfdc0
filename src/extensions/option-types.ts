/**
 * Value parsers shared by extensions, with libxtables' wording for bad values (xtoptions.c, xtables.c).
 * Names resolve through the bundled netdb (src/data/netdb.ts), generated from Debian's netbase.
 */
import { PROTOCOLS, SERVICES } from '../data/netdb';
import { parseUint, parseUintStrict } from '../model/cnum';
import { paramProblem, type IptablesError } from '../messages';

/** getservbyname(name, proto): proto undefined matches any protocol (getaddrinfo's service lookup). */
export function serviceToPort(name: string, proto?: string): number | undefined {
  for (const [n, port, p, ...aliases] of SERVICES) {
    if (proto !== undefined && p !== proto) continue;
    if (n === name || aliases.includes(name)) return port;
  }
  return undefined;
}

/** getservbyport(port, proto): the first entry in file order. */
export function portToService(port: number, proto: string): string | undefined {
  for (const [n, p, pr] of SERVICES) if (p === port && pr === proto) return n;
  return undefined;
}

/** xtables_chain_protos: the names iptables knows without /etc/protocols, and prints in saves. */
export const CHAIN_PROTOS: ReadonlyArray<readonly [string, number]> = [
  ['tcp', 6],
  ['sctp', 132],
  ['udp', 17],
  ['udplite', 136],
  ['icmp', 1],
  ['ipv6-icmp', 58],
  ['icmpv6', 58],
  ['esp', 50],
  ['ah', 51],
  ['mobility-header', 135],
  ['ipv6-mh', 135],
  ['mh', 135],
  ['dccp', 33],
  ['ipcomp', 108],
  ['all', 0],
];

export function protocolByName(name: string): number | undefined {
  for (const [n, num, ...aliases] of PROTOCOLS) if (n === name || aliases.includes(name)) return num;
  return undefined;
}

export function protocolNameByNumber(num: number): string | undefined {
  for (const [n, p] of PROTOCOLS) if (p === num) return n;
  return undefined;
}

/** xtables_parse_protocol(): a number 0..255, a name from /etc/protocols, or one of CHAIN_PROTOS. */
export function parseProtocol(s: string): number {
  const n = parseUint(s, 0, 255);
  if (n !== null) return n;
  const byName = protocolByName(s);
  if (byName !== undefined) return byName;
  for (const [name, num] of CHAIN_PROTOS) if (name === s) return num;
  throw paramProblem(`unknown protocol "${s}" specified`);
}

/** proto_to_name(): with lookup, /etc/protocols first; then the chain_protos table; else undefined. */
export function protoToName(proto: number, nolookup: boolean): string | undefined {
  if (proto !== 0 && !nolookup) {
    const n = protocolNameByNumber(proto);
    if (n !== undefined) return n;
  }
  for (const [name, num] of CHAIN_PROTOS) if (num === proto) return name;
  return undefined;
}

/** xtables_parse_port(): a C number 0..65535 or a service name of `proto`. */
export function parsePort(port: string, proto: string): number {
  const n = parseUint(port, 0, 65535);
  if (n !== null) return n;
  const s = serviceToPort(port, proto);
  if (s !== undefined) return s;
  throw paramProblem(`invalid port/service \`${port}' specified`);
}

/** `A:B`, `A:` (to 65535), `:B` (from 0) or `A` as libxt_tcp/udp parse_*_ports() read them. */
export function parsePortRange(spec: string, proto: string): [number, number] {
  const colon = spec.indexOf(':');
  if (colon < 0) {
    const p = parsePort(spec, proto);
    return [p, p];
  }
  const lo = colon === 0 ? 0 : parsePort(spec.slice(0, colon), proto);
  const hiText = spec.slice(colon + 1);
  const hi = hiText === '' ? 65535 : parsePort(hiText, proto);
  return [lo, hi];
}

/** The x6 integer message: `EXT: bad value for option "--OPT", or out of range (MIN-MAX).` + newline. */
export function badValue(ext: string, opt: string, min: number | bigint, max: number | bigint): IptablesError {
  return paramProblem(`${ext}: bad value for option "--${opt}", or out of range (${min}-${max}).\n`);
}

/** An x6 XTTYPE_UINT* option: base 0 (hex, octal, decimal) within [min, max]. */
export function parseX6Uint(ext: string, opt: string, value: string, min: number, max: number): number {
  const v = parseUint(value, min, max);
  if (v === null) throw badValue(ext, opt, min, max);
  return v;
}

/** An x6 XTTYPE_UINT64 option. */
export function parseX6Uint64(ext: string, opt: string, value: string, min: bigint, max: bigint): bigint {
  const v = parseUintStrict(value, min, max);
  if (v === null) throw badValue(ext, opt, min, max);
  return v;
}

/**
 * xtables_save_string(): a value of only [_-0-9a-zA-Z] stays bare; anything else goes in double quotes with
 * `"`, `\` and `'` escaped by a backslash. Returns the text with its leading space.
 */
export function saveString(s: string): string {
  if (/^[_\-0-9a-zA-Z]+$/.test(s)) return ` ${s}`;
  return ` "${s.replace(/(["\\'])/g, '\\$1')}"`;
}
