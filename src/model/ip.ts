/**
 * IPv4 addresses as iptables parses and prints them (libxtables: xtables_ipparse_multiple,
 * __numeric_to_ipaddr, parse_ipmask, mask_to_str). Addresses are uint32 numbers in host order.
 * iptables' own rules (per-byte strtoul in base 0, "10.1" completing to 10.1.0.0, masks in CIDR or dotted
 * form, host names through the resolver) match no IP library, so the handful of lines live here.
 */
import { HOSTS, NETWORKS } from '../data/netdb';
import { parseUint } from './cnum';
import { paramProblem } from '../messages';

export interface AddrMask {
  addr: number;
  mask: number;
}

export const ANY: AddrMask = { addr: 0, mask: 0 };

/** __numeric_to_ipaddr(): up to four bytes, each a C number 0..255; a network address may be shortened. */
export function numericToAddr(dotted: string, isMask: boolean): number | null {
  const buf = dotted.slice(0, 19);
  const parts = buf.split('.');
  if (parts.length > 4) {
    // The fourth byte would have to swallow "x.y": strtoui of "4.5" fails.
    return null;
  }
  if (parts.length < 4 && isMask) return null;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    let byte = 0;
    if (p !== undefined) {
      const b = parseUint(p, 0, 255);
      if (b === null) return null;
      byte = b;
    }
    v = v * 256 + byte;
  }
  return v >>> 0;
}

export function addrToString(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}

/** Prefix length of a contiguous mask, or -1 (xtables_ipmask_to_cidr). */
export function maskToCidr(mask: number): number {
  const m = mask >>> 0;
  if (m === 0xffffffff) return 32;
  for (let bits = 31; bits >= 0; bits--) {
    const want = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if (m === want) return bits;
  }
  return -1;
}

export function cidrToMask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** mask_to_str() of save_ipv4_addr: "32", "24" or the dotted mask when not contiguous. */
export function maskToSaveString(mask: number): string {
  const c = maskToCidr(mask);
  return c >= 0 ? String(c) : addrToString(mask);
}

/** xtables_ipmask_to_numeric(): "" for /32, "/24", or "/255.0.255.0". */
export function maskToListString(mask: number): string {
  const c = maskToCidr(mask);
  if (c === 32) return '';
  return c >= 0 ? `/${c}` : `/${addrToString(mask)}`;
}

function parseMask(mask: string | undefined): number {
  if (mask === undefined) return 0xffffffff;
  const dotted = numericToAddr(mask, true);
  if (dotted !== null) return dotted;
  const bits = parseUint(mask, 0, 32);
  if (bits === null) throw paramProblem(`invalid mask \`${mask}' specified`);
  return cidrToMask(bits);
}

/** getaddrinfo(name) for IPv4 without DNS: every /etc/hosts line naming it (bundled netdb). */
function hostToAddrs(name: string): number[] {
  const n = numericToAddr(name, false);
  if (n !== null) return [n];
  const net = NETWORKS.find(([nn]) => nn === name);
  if (net) return [net[1]];
  const found: number[] = [];
  for (const [addr, ...names] of HOSTS) if (names.includes(name) && !found.includes(addr)) found.push(addr);
  if (found.length > 0) return found;
  throw paramProblem(`host/network \`${name}' not found`);
}

/** xtables_ipaddr_to_anyname(): a host name (gethostbyaddr), else a network name (getnetbyaddr), else dotted. */
export function addrToAnyName(a: number): string {
  const host = HOSTS.find(([addr]) => addr === a);
  if (host) return host[1];
  const net = NETWORKS.find(([, addr]) => addr === a);
  if (net) return net[0];
  return addrToString(a);
}

/** xtables_ipparse_multiple(): "a[/m][,b[/m]...]" into address/mask pairs, addresses already masked. */
export function parseAddressList(spec: string): AddrMask[] {
  const out: AddrMask[] = [];
  for (const rawItem of spec.split(',')) {
    const item = rawItem.replace(/^\s+/, '');
    if (item.length > 255) throw paramProblem('Hostname too long');
    const slash = item.lastIndexOf('/');
    const host = slash >= 0 ? item.slice(0, slash) : item;
    const mask = parseMask(slash >= 0 ? item.slice(slash + 1) : undefined);
    const addrs = mask === 0 ? [0] : hostToAddrs(host);
    for (const a of addrs) out.push({ addr: (a & mask) >>> 0, mask });
  }
  return out;
}
