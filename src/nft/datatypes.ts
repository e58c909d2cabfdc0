/**
 * nft's datatypes (src/datatype.c, src/proto.c, src/ct.c, src/meta.c of nftables 1.0.6): how a value is read
 * and how `nft list ruleset` prints it, with the key the kernel sorts set elements by.
 */

export class NftValueError extends Error {}

/** A value once read: its canonical text and its sort key (a range or prefix sorts by its start). */
export interface Value {
  text: string;
  key: bigint;
  /** A range (`a-b`) or a prefix: what an interval set holds. */
  interval?: { lo: bigint; hi: bigint };
}

type Reader = (text: string) => Value;

function num(text: string): bigint {
  if (/^0x[0-9a-f]+$/i.test(text)) return BigInt(text);
  if (/^\d+$/.test(text)) return BigInt(text);
  throw new NftValueError(text);
}

function symbolic(names: Record<string, number>, fallback: (n: bigint) => string = (n) => n.toString()): Reader {
  const byValue = new Map<number, string>();
  for (const [k, v] of Object.entries(names)) if (!byValue.has(v)) byValue.set(v, k);
  return (text) => {
    const v = names[text];
    const n = v !== undefined ? BigInt(v) : num(text);
    return { text: byValue.get(Number(n)) ?? fallback(n), key: n };
  };
}

/** A bitmask type printed as a comma list in the symbol table's order. */
function bitmask(names: [string, number][]): Reader {
  return (text) => {
    let n = 0n;
    for (const part of text.split(',')) {
      const hit = names.find(([k]) => k === part);
      n |= hit ? BigInt(hit[1]) : num(part);
    }
    const parts = names.filter(([, v]) => (n & BigInt(v)) !== 0n && v !== 0).map(([k]) => k);
    return { text: parts.length > 0 ? parts.join(',') : `0x${n.toString(16)}`, key: n };
  };
}

function parseIpv4(text: string): bigint {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!m) throw new NftValueError(text);
  let n = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) throw new NftValueError(text);
    n = (n << 8n) | BigInt(o);
  }
  return n;
}

function ipv4Text(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((n >> s) & 255n).toString()).join('.');
}

/** The prefix length of [lo, hi] when it is exactly one prefix of `bits` bits, or undefined. */
function prefixOf(lo: bigint, hi: bigint, bits: number): number | undefined {
  for (let len = 0; len <= bits; len++) {
    const size = 1n << BigInt(bits - len);
    if ((lo & (size - 1n)) === 0n && hi === lo + size - 1n) return len;
  }
  return undefined;
}

const ipv4: Reader = (text) => {
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseIpv4(text.slice(0, slash));
    const len = Number(text.slice(slash + 1));
    if (!Number.isInteger(len) || len < 0 || len > 32) throw new NftValueError(text);
    const size = 1n << BigInt(32 - len);
    const lo = addr & ~(size - 1n) & 0xffffffffn;
    if (len === 32) return { text: ipv4Text(lo), key: lo };
    return { text: `${ipv4Text(lo)}/${len}`, key: lo, interval: { lo, hi: lo + size - 1n } };
  }
  const dash = text.indexOf('-');
  if (dash >= 0) {
    const lo = parseIpv4(text.slice(0, dash));
    const hi = parseIpv4(text.slice(dash + 1));
    return { text: `${ipv4Text(lo)}-${ipv4Text(hi)}`, key: lo, interval: { lo, hi } };
  }
  const n = parseIpv4(text);
  return { text: ipv4Text(n), key: n };
};

const SERVICES: Record<string, number> = {
  ftp: 21, ssh: 22, telnet: 23, smtp: 25, domain: 53, http: 80, pop3: 110, ntp: 123, imap: 143, snmp: 161, bgp: 179,
  https: 443, submission: 587, imaps: 993, pop3s: 995, 'ftp-data': 20, bootps: 67, bootpc: 68, tftp: 69, ldap: 389,
};

function rangeOf(single: (t: string) => bigint, print: (n: bigint) => string): Reader {
  return (text) => {
    const dash = text.indexOf('-', 1);
    if (dash > 0) {
      const lo = single(text.slice(0, dash));
      const hi = single(text.slice(dash + 1));
      return { text: `${print(lo)}-${print(hi)}`, key: lo, interval: { lo, hi } };
    }
    const n = single(text);
    return { text: print(n), key: n };
  };
}

const inetService = rangeOf(
  (t) => {
    const v = SERVICES[t] !== undefined ? BigInt(SERVICES[t]!) : num(t);
    if (v > 65535n) throw new NftValueError(t);
    return v;
  },
  (n) => n.toString(),
);

const integer = rangeOf(num, (n) => n.toString());

const PROTOCOLS: Record<string, number> = {
  ip: 0, icmp: 1, igmp: 2, ggp: 3, ipencap: 4, st: 5, tcp: 6, egp: 8, igp: 9, pup: 12, udp: 17, hmp: 20,
  'xns-idp': 22, rdp: 27, 'iso-tp4': 29, dccp: 33, xtp: 36, ddp: 37, 'idpr-cmtp': 38, ipv6: 41, 'ipv6-route': 43,
  'ipv6-frag': 44, idrp: 45, rsvp: 46, gre: 47, esp: 50, ah: 51, skip: 57, 'ipv6-icmp': 58, 'ipv6-nonxt': 59,
  'ipv6-opts': 60, rspf: 73, vmtp: 81, eigrp: 88, ospf: 89, 'ax.25': 93, ipip: 94, etherip: 97, encap: 98,
  pim: 103, ipcomp: 108, vrrp: 112, l2tp: 115, isis: 124, sctp: 132, fc: 133, 'mobility-header': 135,
  udplite: 136, 'mpls-in-ip': 137, manet: 138, hip: 139, shim6: 140, wesp: 141, rohc: 142, ethernet: 143,
};
const PROTO_NAMES: Record<string, number> = { ...PROTOCOLS, icmpv6: 58 };
const inetProto: Reader = (text) => {
  const v = PROTO_NAMES[text];
  const n = v !== undefined ? BigInt(v) : num(text);
  const name = Object.entries(PROTOCOLS).find(([, x]) => BigInt(x) === n)?.[0];
  return { text: name === 'ipv6-icmp' ? 'ipv6-icmp' : (name ?? n.toString()), key: n };
};

const mark: Reader = (text) => {
  const n = num(text);
  return { text: `0x${n.toString(16).padStart(8, '0')}`, key: n };
};

const etherAddr: Reader = (text) => {
  const parts = text.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) throw new NftValueError(text);
  const t = parts.map((p) => p.toLowerCase().padStart(2, '0')).join(':');
  return { text: t, key: BigInt(`0x${t.replace(/:/g, '')}`) };
};

function parseIpv6(text: string): bigint {
  let s = text;
  let tail: bigint[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const n = parseIpv4(v4[1]!);
    tail = [n >> 16n, n & 0xffffn];
    s = s.slice(0, -v4[1]!.length);
    if (s.endsWith(':') && !s.endsWith('::')) s = s.slice(0, -1);
  }
  const parseGroups = (part: string): bigint[] => (part === '' ? [] : part.split(':').map((g) => {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) throw new NftValueError(text);
    return BigInt(`0x${g}`);
  }));
  let groups: bigint[];
  const dbl = s.indexOf('::');
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl));
    const rest = parseGroups(s.slice(dbl + 2));
    const fill = 8 - head.length - rest.length - tail.length;
    if (fill < 1) throw new NftValueError(text);
    groups = [...head, ...Array<bigint>(fill).fill(0n), ...rest, ...tail];
  } else groups = [...parseGroups(s), ...tail];
  if (groups.length !== 8) throw new NftValueError(text);
  return groups.reduce((acc, g) => (acc << 16n) | g, 0n);
}

/** inet_ntop(AF_INET6): the first longest run of two or more zero groups as `::`, IPv4-mapped as a dotted quad. */
function ipv6Text(n: bigint): string {
  const g = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${ipv4Text(n & 0xffffffffn)}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const ipv6: Reader = (text) => {
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const addr = parseIpv6(text.slice(0, slash));
    const len = Number(text.slice(slash + 1));
    if (!Number.isInteger(len) || len < 0 || len > 128) throw new NftValueError(text);
    const size = 1n << BigInt(128 - len);
    const lo = addr & ~(size - 1n) & ((1n << 128n) - 1n);
    if (len === 128) return { text: ipv6Text(lo), key: lo };
    return { text: `${ipv6Text(lo)}/${len}`, key: lo, interval: { lo, hi: lo + size - 1n } };
  }
  const n = parseIpv6(text);
  return { text: ipv6Text(n), key: n };
};

const ifname: Reader = (text) => ({ text: `"${text}"`, key: BigInt(`0x${Buffer.from(text).toString('hex') || '0'}`) });

/**
 * The interfaces `iif`/`oif`/`fwd to` resolve against, name -> ifindex: by default a fresh namespace's loopback
 * only; `tsiptables nft --host FILE` gives the host file's; reading a stored listing accepts any name (the kernel
 * resolved it when the rule was added). Set for the duration of one run (withInterfaces).
 */
let interfaceIndex: (name: string) => number | undefined = (name) => (name === 'lo' ? 1 : undefined);

export function withInterfaces<T>(lookup: (name: string) => number | undefined, fn: () => T): T {
  const saved = interfaceIndex;
  interfaceIndex = lookup;
  try {
    return fn();
  } finally {
    interfaceIndex = saved;
  }
}

export class NoSuchInterface extends Error {}
const ifindex: Reader = (text) => {
  const idx = interfaceIndex(text);
  if (idx === undefined) throw new NoSuchInterface(text);
  return { text: `"${text}"`, key: BigInt(idx) };
};

const ICMP_TYPES: Record<string, number> = {
  'echo-reply': 0, 'destination-unreachable': 3, 'source-quench': 4, redirect: 5, 'echo-request': 8,
  'router-advertisement': 9, 'router-solicitation': 10, 'time-exceeded': 11, 'parameter-problem': 12,
  'timestamp-request': 13, 'timestamp-reply': 14, 'info-request': 15, 'info-reply': 16,
  'address-mask-request': 17, 'address-mask-reply': 18,
};

const ICMPV6_TYPES: Record<string, number> = {
  'destination-unreachable': 1, 'packet-too-big': 2, 'time-exceeded': 3, 'parameter-problem': 4, 'echo-request': 128,
  'echo-reply': 129, 'mld-listener-query': 130, 'mld-listener-report': 131, 'mld-listener-done': 132,
  'mld-listener-reduction': 132, 'nd-router-solicit': 133, 'nd-router-advert': 134, 'nd-neighbor-solicit': 135,
  'nd-neighbor-advert': 136, 'nd-redirect': 137, 'router-renumbering': 138, 'ind-neighbor-solicit': 141,
  'ind-neighbor-advert': 142, 'mld2-listener-report': 143,
};

const ETHER_TYPES: Record<string, number> = { ip: 0x0800, arp: 0x0806, ip6: 0x86dd, vlan: 0x8100, '8021ad': 0x88a8 };

const CT_STATES: [string, number][] = [['invalid', 1], ['established', 2], ['related', 4], ['new', 8], ['untracked', 64]];
const CT_STATUS: [string, number][] = [['expected', 1], ['seen-reply', 2], ['assured', 4], ['confirmed', 8], ['snat', 16], ['dnat', 32], ['dying', 512]];
const TCP_FLAGS: [string, number][] = [['fin', 1], ['syn', 2], ['rst', 4], ['psh', 8], ['ack', 16], ['urg', 32], ['ecn', 64], ['cwr', 128]];

const ARP_OPS: Record<string, number> = { request: 1, reply: 2, rrequest: 3, rreply: 4, inrequest: 8, inreply: 9, nak: 10 };
const PKTTYPES: Record<string, number> = { host: 0, unicast: 0, broadcast: 1, multicast: 2, other: 3 };
const DSCP: Record<string, number> = {
  cs0: 0, cs1: 8, cs2: 16, cs3: 24, cs4: 32, cs5: 40, cs6: 48, cs7: 56, be: 0, lephb: 1, af11: 10, af12: 12,
  af13: 14, af21: 18, af22: 20, af23: 22, af31: 26, af32: 28, af33: 30, af41: 34, af42: 36, af43: 38, va: 44, ef: 46,
};
const NFPROTO: Record<string, number> = { ipv4: 2, ipv6: 10 };
const CT_DIR: Record<string, number> = { original: 0, reply: 1 };
const VERDICTS = new Set(['accept', 'drop', 'continue', 'return']);

const verdict: Reader = (text) => {
  if (VERDICTS.has(text)) return { text, key: 0n };
  throw new NftValueError(text);
};

const uid: Reader = (text) => {
  const n = text === 'root' ? 0n : num(text);
  return { text: n.toString(), key: n };
};

/** tc class ids: `MAJOR:MINOR` in hex (a bare number is the minor). */
const classid: Reader = (text) => {
  const m = /^([0-9a-f]*):([0-9a-f]*)$/i.exec(text);
  const n = m ? (BigInt(`0x${m[1] || '0'}`) << 16n) | BigInt(`0x${m[2] || '0'}`) : num(text);
  return { text: `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`, key: n };
};

export const DATATYPES: Record<string, Reader> = {
  classid,
  ipv4_addr: ipv4,
  ipv6_addr: ipv6,
  inet_service: inetService,
  inet_proto: inetProto,
  mark,
  integer,
  ether_addr: etherAddr,
  ether_type: symbolic(ETHER_TYPES, (n) => `0x${n.toString(16).padStart(4, '0')}`),
  ifname,
  iface_index: ifindex,
  icmp_type: symbolic(ICMP_TYPES),
  icmp_code: integer,
  icmpv6_type: symbolic(ICMPV6_TYPES),
  ct_state: bitmask(CT_STATES),
  ct_status: bitmask(CT_STATUS),
  ct_dir: symbolic(CT_DIR),
  tcp_flag: bitmask(TCP_FLAGS),
  arp_op: symbolic(ARP_OPS),
  pkt_type: symbolic(PKTTYPES),
  dscp: symbolic(DSCP, (n) => `0x${n.toString(16).padStart(2, '0')}`),
  nf_proto: symbolic(NFPROTO),
  uid,
  gid: uid,
  verdict,
};

/** Bytes a value of `type` takes in a concatenation, and whether it is in host byte order (else network). */
const LAYOUT: Record<string, [number, boolean]> = {
  ipv4_addr: [4, false], ipv6_addr: [16, false], inet_service: [2, false], inet_proto: [1, true], mark: [4, true],
  ether_addr: [6, false], ether_type: [2, false], ifname: [16, false], iface_index: [4, true], icmp_type: [1, false],
  icmpv6_type: [1, false], ct_state: [4, true], ct_status: [4, true], ct_dir: [1, true], tcp_flag: [1, false],
  arp_op: [2, false], pkt_type: [1, true], dscp: [1, false], nf_proto: [1, true], uid: [4, true], gid: [4, true],
  integer: [4, true], verdict: [4, true],
};

/**
 * The key nft sorts a concatenated element by (concat_expr_msort_value): the fields' bytes one after the other,
 * read as one host-endian (little-endian) number.
 */
export function concatKey(types: readonly string[], keys: readonly bigint[]): bigint {
  const bytes: number[] = [];
  types.forEach((t, i) => {
    const [width, host] = LAYOUT[t] ?? [4, true];
    const v = keys[i] ?? 0n;
    const be = Array.from({ length: width }, (_, k) => Number((v >> BigInt(8 * (width - 1 - k))) & 0xffn));
    bytes.push(...(host ? be.reverse() : be));
  });
  return bytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** Reads `text` as a value of `type`. */
export function readValue(type: string, text: string): Value {
  const r = DATATYPES[type];
  if (!r) throw new NftValueError(`unknown datatype ${type}`);
  return r(text);
}

/** The interval a value covers in an interval set (a single value is [v, v]). */
export function intervalOf(v: Value): { lo: bigint; hi: bigint } {
  return v.interval ?? { lo: v.key, hi: v.key };
}

/** An interval as nft prints it in an interval set: a single value, a prefix, or a range. */
export function intervalText(type: string, lo: bigint, hi: bigint): string {
  const print = (n: bigint): string => (type === 'ipv4_addr' ? ipv4Text(n) : type === 'ipv6_addr' ? ipv6Text(n) : n.toString());
  if (lo === hi) return print(lo);
  if (type === 'ipv4_addr' || type === 'ipv6_addr') {
    const len = prefixOf(lo, hi, type === 'ipv4_addr' ? 32 : 128);
    if (len !== undefined) return `${print(lo)}/${len}`;
  }
  return `${print(lo)}-${print(hi)}`;
}

/** Types after which a named set's element list breaks every 5 (integers) or 2 (addresses) elements. */
export function lineBreakEvery(type: string | undefined): number {
  switch (type) {
    case 'integer': case 'arp_op': case 'inet_proto': case 'inet_service': case 'tcp_flag': case 'mark': case 'iface_index':
    case 'uid': case 'gid': case 'ct_dir': case 'nf_proto':
      return 5;
    case 'ipv4_addr': case 'ct_state': case 'ct_status': case 'pkt_type':
      return 2;
    default:
      return 1;
  }
}
