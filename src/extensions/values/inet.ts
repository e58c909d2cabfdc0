/**
 * The C library calls libxtables' x6 parsers lean on, as glibc answers them on the recording host:
 * getaddrinfo() for an IPv4 host (inet_aton_exact, then /etc/hosts, then a DNS that never answers in a fresh
 * namespace), getaddrinfo() for a service (xtables_getportbyname).
 */
import { HOSTS } from '../../data/netdb';
import { paramProblem } from '../../messages';
import { serviceToPort } from '../option-types';
import { cStrtoul } from './cstrtoul';

/**
 * glibc's __inet_aton_exact(): "a", "a.b", "a.b.c" or "a.b.c.d", each part a C number (0x hex, leading-0 octal)
 * starting with a digit; the last part fills the remaining bytes. Nothing may follow. Host-order uint32 or null.
 */
export function inetAtonExact(s: string): number | null {
  const parts: number[] = [];
  let i = 0;
  for (;;) {
    if (!/[0-9]/.test(s[i] ?? '')) return null;
    const r = cStrtoul(s, i, 0);
    if (r.overflow || r.value > 0xffffffffn) return null;
    const val = Number(r.value);
    i = r.end;
    if (s[i] === '.') {
      if (parts.length > 2 || val > 0xff) return null;
      parts.push(val);
      i++;
      continue;
    }
    if (i !== s.length) return null;
    const max = [0xffffffff, 0xffffff, 0xffff, 0xff][parts.length]!;
    if (val > max) return null;
    let v = val;
    for (let k = 0; k < parts.length; k++) v += parts[k]! * 2 ** (8 * (3 - k));
    return v >>> 0;
  }
}

/** getaddrinfo(name, NULL, {AF_INET}) as xtopt_parse_host() uses it: the addresses found, or the gai error text. */
export function getaddrinfoV4(name: string): number[] | string {
  const n = inetAtonExact(name);
  if (n !== null) return [n];
  const found: number[] = [];
  const lower = name.toLowerCase();
  for (const [addr, ...names] of HOSTS) {
    if (names.some((h) => h.toLowerCase() === lower) && !found.includes(addr)) found.push(addr);
  }
  if (found.length > 0) return found;
  if (isIpv6Literal(name)) return 'Address family for hostname not supported';
  // No network in the namespace: a name glibc sends to DNS fails as "temporary failure"; one it refuses to send
  // (not a valid host name, or only digits and dots) is "unknown name".
  return dnsEligible(name) ? 'Temporary failure in name resolution' : 'Name or service not known';
}

/**
 * Would glibc's nss_dns ask a name server for `name`? res_hnok(): printable ASCII, labels of [0-9A-Za-z_-] (at
 * most 63 bytes, none empty except a final dot), the first not starting with '-'; and not only digits and dots
 * without a final dot (gethostbyname's "all-numeric" rule).
 */
export function dnsEligible(name: string): boolean {
  if (name === '' || !/^[\x21-\x7e]+$/.test(name)) return false;
  if (/^[0-9][0-9.]*$/.test(name) && !name.endsWith('.')) return false;
  if (name === '.') return true;
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  if (name.length > 254 || labels[0]!.startsWith('-')) return false;
  return labels.every((l) => l.length > 0 && l.length <= 63 && /^[0-9A-Za-z_-]+$/.test(l));
}

/** inet_pton(AF_INET6) would take it: getaddrinfo(AF_INET) then answers EAI_ADDRFAMILY. */
function isIpv6Literal(s: string): boolean {
  if (!s.includes(':')) return false;
  let head = s;
  let groupsLeft = 8;
  const v4 = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(s);
  if (v4) {
    if (v4[2]!.split('.').some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith('0')))) return false;
    head = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
    groupsLeft = 6;
  }
  const halves = head.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string): string[] => (h === '' ? [] : h.split(':'));
  const all = halves.flatMap(groups);
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? all.length < groupsLeft : all.length === groupsLeft;
}

/** xtopt_parse_host(): one IPv4 address from a name or dotted quad (XTTYPE_HOST). */
export function parseX6Host(arg: string): number {
  const r = getaddrinfoV4(arg);
  if (typeof r === 'string') throw paramProblem(`getaddrinfo: ${r}\n`);
  if (r.length > 1) throw paramProblem(`${arg} resolves to more than one address\n`);
  return r[0]!;
}

/**
 * xtables_getportbyname(): getaddrinfo(NULL, service) takes a decimal number (strtoul base 10, truncated to 16
 * bits by htons; the empty string is 0) or a service name of tcp, udp, dccp, udplite or sctp, in that order. -1 when
 * nothing resolves.
 */
export function getPortByName(name: string): number {
  // glibc: strtoul("") leaves its end at the terminating NUL, so the empty service is port 0.
  if (name === '') return 0;
  const r = cStrtoul(name, 0, 10);
  if (r.end === name.length && r.end > 0) {
    // glibc keeps the number in an int: a value that reads as negative is looked up as a name (and fails).
    const asInt = Number(BigInt.asIntN(32, r.value));
    if (asInt < 0) return -1;
    return asInt & 0xffff;
  }
  for (const proto of ['tcp', 'udp', 'dccp', 'udplite', 'sctp']) {
    const p = serviceToPort(name, proto);
    if (p !== undefined) return p;
  }
  return -1;
}
