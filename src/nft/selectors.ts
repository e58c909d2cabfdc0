/**
 * What a rule can match or set: payload fields (`ip saddr`, `tcp dport`, `ether saddr`, `arp operation`),
 * meta keys (`meta mark`, `iif`, `oifname`) and conntrack keys (`ct state`, `ct mark`), each with its datatype and
 * the spelling `nft list ruleset` prints (meta_expr_print prints iif/oif/iifname/oifname without `meta`).
 */

export interface Selector {
  /** Printed spelling. */
  print: string;
  type: string;
}

const PAYLOAD: Record<string, Record<string, string>> = {
  ip: { saddr: 'ipv4_addr', daddr: 'ipv4_addr', protocol: 'inet_proto', ttl: 'integer', length: 'integer', id: 'integer', dscp: 'dscp', version: 'integer', hdrlength: 'integer', checksum: 'integer' },
  ip6: { saddr: 'ipv6_addr', daddr: 'ipv6_addr', nexthdr: 'inet_proto', hoplimit: 'integer', length: 'integer' },
  tcp: { sport: 'inet_service', dport: 'inet_service', flags: 'tcp_flag', sequence: 'integer', window: 'integer' },
  udp: { sport: 'inet_service', dport: 'inet_service', length: 'integer' },
  th: { sport: 'inet_service', dport: 'inet_service' },
  sctp: { sport: 'inet_service', dport: 'inet_service' },
  icmp: { type: 'icmp_type', code: 'icmp_code', id: 'integer', sequence: 'integer' },
  icmpv6: { type: 'icmpv6_type', code: 'icmp_code', id: 'integer', sequence: 'integer' },
  ether: { saddr: 'ether_addr', daddr: 'ether_addr', type: 'ether_type' },
  vlan: { id: 'integer', pcp: 'integer', type: 'ether_type' },
  arp: { operation: 'arp_op', htype: 'integer', ptype: 'ether_type', hlen: 'integer', plen: 'integer' },
};

const META: Record<string, string> = {
  mark: 'mark', iif: 'iface_index', oif: 'iface_index', iifname: 'ifname', oifname: 'ifname', l4proto: 'inet_proto',
  nfproto: 'nf_proto', protocol: 'ether_type', length: 'integer', priority: 'classid', skuid: 'uid', skgid: 'gid',
  pkttype: 'pkt_type', nftrace: 'integer', cpu: 'integer', iiftype: 'integer', oiftype: 'integer',
};
const UNQUALIFIED_META = new Set(['iif', 'oif', 'iifname', 'oifname']);
/** Meta keys that may be written without `meta` (src/parser_bison.y meta_key_unqualified). */
const BARE_META = new Set(['mark', 'iif', 'iifname', 'iiftype', 'oif', 'oifname', 'oiftype', 'skuid', 'skgid', 'nftrace', 'rtclassid', 'ibriport', 'obriport', 'ibrname', 'obrname', 'pkttype', 'cpu', 'iifgroup', 'oifgroup', 'cgroup', 'random', 'ipsec', 'iifkind', 'oifkind', 'priority', 'length', 'protocol', 'l4proto', 'nfproto']);

const CT: Record<string, string> = {
  state: 'ct_state', status: 'ct_status', mark: 'mark', direction: 'ct_dir', zone: 'integer', expiration: 'integer',
  packets: 'integer', bytes: 'integer',
};

/**
 * Reads a selector at words[i] (`ip saddr`, `meta mark`, `mark`, `ct state`, `arp saddr ip`); returns it and
 * how many words it took, or undefined.
 */
export function readSelector(words: readonly (string | undefined)[], i: number): { sel: Selector; used: number } | undefined {
  const w = words[i];
  const n = words[i + 1];
  if (w === undefined) return undefined;
  if (w === 'meta' && n !== undefined && META[n]) {
    return { sel: { print: UNQUALIFIED_META.has(n) ? n : `meta ${n}`, type: META[n]! }, used: 2 };
  }
  if (w === 'ct' && n !== undefined && CT[n]) return { sel: { print: `ct ${n}`, type: CT[n]! }, used: 2 };
  if (w === 'arp' && (n === 'saddr' || n === 'daddr')) {
    const t = words[i + 2];
    if (t === 'ip') return { sel: { print: `arp ${n} ip`, type: 'ipv4_addr' }, used: 3 };
    if (t === 'ether') return { sel: { print: `arp ${n} ether`, type: 'ether_addr' }, used: 3 };
  }
  const fields = PAYLOAD[w];
  if (fields && n !== undefined && fields[n]) return { sel: { print: `${w} ${n}`, type: fields[n]! }, used: 2 };
  if (BARE_META.has(w) && META[w] && !(fields && n !== undefined && fields[n])) {
    return { sel: { print: UNQUALIFIED_META.has(w) ? w : `meta ${w}`, type: META[w]! }, used: 1 };
  }
  return undefined;
}
