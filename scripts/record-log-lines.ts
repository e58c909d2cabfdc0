/**
 * record-log-lines.ts - record the LOG and TRACE lines the running kernel writes for a list of crafted and
 * locally sent IPv4 packets, with each packet's header fields, into fixtures/traces/log-lines.json (replayed by
 * test/log-format.test.ts through src/eval/log-format.ts).
 *
 * Usage, as root (needs ip netns, veth, iptables-legacy, tcpdump, setpriv and Debian's python3-scapy):
 *
 *   npx tsx scripts/record-log-lines.ts [--out FILE] [--keep-pcap FILE]
 *
 * What it does:
 *  - Two network namespaces tsi-log-<pid>-a and tsi-log-<pid>-b joined by a veth pair tsilog-a / tsilog-b
 *    (198.18.77.1/24 on a; 198.18.77.2/24 and 198.18.77.3/24 on b; fixed MACs, static neighbours, IPv6 off,
 *    ICMP rate limits off). Both namespaces are deleted at the end, also on error or SIGINT/SIGTERM.
 *  - iptables-legacy rules (RULES_A / RULES_B below): -j TRACE first in raw, then -j LOG with several flag
 *    combinations on b's PREROUTING, mangle (MARK for 198.18.77.3) and INPUT, and on a's OUTPUT, PREROUTING and
 *    POSTROUTING. /proc/sys/net/netfilter/nf_log_all_netns is set to 1 (and put back as it was).
 *  - tcpdump on tsilog-b captures every frame; a TCP server runs in b as uid 2001 / gid 2002.
 *  - Two devices that are not Ethernet: a's lo, and a TUN device tsilogt in b (198.18.78.2/24; no link-layer
 *    header at all). Packets are injected into them with a short python program (INJECT): through a root raw
 *    socket to 127.0.0.1 in a (out by a's OUTPUT, back in by lo), or written to the TUN device in b (in by b's
 *    PREROUTING and INPUT as if from 198.18.78.1). The program prints the bytes it injected.
 *  - Each action of ACTIONS runs in turn: crafted frames sent from a with scapy's sendp (so they meet only b's
 *    rules), packets a local process in a sends (socket programs run with setpriv as uid 1234 / gid 5678, or
 *    as root with SO_MARK), or packets injected into lo or the TUN device. After each action the new /dev/kmsg
 *    records are read.
 *  - Every kernel line is tied to the captured (or injected) packet with the same SRC, DST, LEN, IP ID and
 *    fragment flags (fragments are also reassembled, as INPUT and a's OUTPUT see the whole datagram). The
 *    namespace and hook of a line come from its LOG prefix or, for TRACE, from its table:chain and interface; skb
 *    metadata the bytes do not show (mark, the owning socket's uid/gid) comes from what the action set up (see
 *    ownerA, markA, ownerAin, ownerB; and recordRoute).
 *
 * Stored per packet: the Packet fields (src/dst dotted, byte arrays as hex, plus the LogExtras of
 * src/eval/log-format.ts), and each line with where it was printed (namespace, table, chain, LOG prefix and flags
 * or TRACE type and number, IN/OUT, the device's link type when it is not Ethernet or lo, mark, uid/gid) and its
 * exact text (timestamp removed, trailing space kept).
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENV = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const PY = '/usr/bin/python3';

const NS_A = `tsi-log-${process.pid}-a`;
const NS_B = `tsi-log-${process.pid}-b`;
const IF_A = 'tsilog-a';
const IF_B = 'tsilog-b';
/** The TUN device in b, and its address there; injected packets come from IP_T_PEER. */
const IF_T = 'tsilogt';
const IP_T = '198.18.78.2';
const IP_T_PEER = '198.18.78.1';
/** The namespace of each device a line can name. */
const NS_OF_IFACE: Record<string, 'a' | 'b'> = { [IF_A]: 'a', lo: 'a', [IF_B]: 'b', [IF_T]: 'b' };
const MAC_A = '02:00:00:00:00:0a';
const MAC_B = '02:00:00:00:00:0b';
const IP_A = '198.18.77.1';
const IP_B = '198.18.77.2';
const IP_B3 = '198.18.77.3';
const B_MARK = 0x2a;
const UID = 1234;
const GID = 5678;
const SERVER_UID = 2001;
const SERVER_GID = 2002;
const SERVER_PORT = 5001;

// ---------------------------------------------------------------------------------------------------------------
// The rules. LOG prefixes name where a line was printed; the flag bits are xt_LOG's.

interface LogRule {
  ns: 'a' | 'b';
  table: string;
  chain: string;
  prefix: string;
  flags: number;
}
const F = { seq: 0x01, opt: 0x02, ipopt: 0x04, uid: 0x08, mac: 0x20 };
const flagArgs = (f: number): string =>
  [
    f & F.seq ? '--log-tcp-sequence' : '',
    f & F.opt ? '--log-tcp-options' : '',
    f & F.ipopt ? '--log-ip-options' : '',
    f & F.uid ? '--log-uid' : '',
    f & F.mac ? '--log-macdecode' : '',
  ]
    .filter(Boolean)
    .join(' ');

const LOG_RULES: LogRule[] = [
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR0 ', flags: 0 },
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR1 ', flags: F.seq },
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR2 ', flags: F.opt },
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR4 ', flags: F.ipopt },
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR8 ', flags: F.uid },
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR32 ', flags: F.mac },
  { ns: 'b', table: 'raw', chain: 'PREROUTING', prefix: 'bR47:', flags: F.seq | F.opt | F.ipopt | F.uid | F.mac },
  { ns: 'b', table: 'mangle', chain: 'PREROUTING', prefix: 'bM ', flags: 0 },
  { ns: 'b', table: 'filter', chain: 'INPUT', prefix: 'bI9 ', flags: F.uid | F.seq },
  { ns: 'b', table: 'filter', chain: 'INPUT', prefix: 'bI32 ', flags: F.mac },
  { ns: 'a', table: 'raw', chain: 'OUTPUT', prefix: 'aO0 ', flags: 0 },
  { ns: 'a', table: 'raw', chain: 'OUTPUT', prefix: 'aO8 ', flags: F.uid },
  { ns: 'a', table: 'raw', chain: 'OUTPUT', prefix: 'aO47 ', flags: F.seq | F.opt | F.ipopt | F.uid | F.mac },
  { ns: 'a', table: 'raw', chain: 'PREROUTING', prefix: 'aP0 ', flags: 0 },
  { ns: 'a', table: 'raw', chain: 'PREROUTING', prefix: 'aP15 ', flags: F.seq | F.opt | F.ipopt | F.uid },
  { ns: 'a', table: 'mangle', chain: 'POSTROUTING', prefix: 'aQ8 ', flags: F.uid },
];
const logRule = (r: LogRule, match: string): string =>
  `-A ${r.chain} ${match}-j LOG --log-prefix "${r.prefix}" ${flagArgs(r.flags)}`.trimEnd();
const rulesOf = (ns: 'a' | 'b', table: string, chain: string): LogRule[] =>
  LOG_RULES.filter((r) => r.ns === ns && r.table === table && r.chain === chain);

const RULES_B = [
  '*raw',
  ':PREROUTING ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  '-A PREROUTING -j TRACE',
  ...rulesOf('b', 'raw', 'PREROUTING').map((r) => logRule(r, '')),
  'COMMIT',
  '*mangle',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  `-A PREROUTING -d ${IP_B3}/32 -j MARK --set-xmark 0x${B_MARK.toString(16)}/0xffffffff`,
  ...rulesOf('b', 'mangle', 'PREROUTING').map((r) => logRule(r, `-d ${IP_B3}/32 `)),
  'COMMIT',
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ...rulesOf('b', 'filter', 'INPUT').map((r) => logRule(r, '')),
  'COMMIT',
  '',
].join('\n');

const RULES_A = [
  '*raw',
  ':PREROUTING ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  `-A PREROUTING -i ${IF_A} -j TRACE`,
  ...rulesOf('a', 'raw', 'PREROUTING').map((r) => logRule(r, '')),
  '-A OUTPUT -j TRACE',
  ...rulesOf('a', 'raw', 'OUTPUT').map((r) => logRule(r, '')),
  'COMMIT',
  '*mangle',
  ':PREROUTING ACCEPT [0:0]',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD ACCEPT [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':POSTROUTING ACCEPT [0:0]',
  ...rulesOf('a', 'mangle', 'POSTROUTING').map((r) => logRule(r, `-o ${IF_A} `)),
  'COMMIT',
  '',
].join('\n');

// ---------------------------------------------------------------------------------------------------------------
// The actions.

/** A captured packet as the owner rules see it. */
interface Cap {
  index: number;
  pkt: PacketJson;
  /** 'ab': from a to b; 'ba': from b to a. */
  dir: 'ab' | 'ba';
}

interface Action {
  name: string;
  why: string;
  /** Python run in a's scapy server (crafted frames; helpers tx(), frags(), ether()). */
  craft?: string;
  /** Python program run in namespace a as its own process (a local sender). */
  local?: string;
  /** setpriv to this uid/gid for `local`. */
  asUser?: boolean;
  /**
   * Packets (a python expression giving a scapy packet or a list of them) injected by INJECT: `lo`, sent by root
   * through a raw socket in a (their destination is local); `tun`, written to the TUN device in b.
   */
  inject?: { via: 'lo' | 'tun'; packets: string };
  /** SO_MARK the local program sets (only to know what the lines show). */
  soMark?: number;
  /**
   * Which a->b packets leave a with the local process's socket still holding its file (UID=/GID= in a's OUTPUT
   * and POSTROUTING; nf_log_dump_sk_uid_gid wants a full socket whose file is open).
   */
  ownerA?: (c: Cap, all: Cap[]) => boolean;
  /** Which a->b packets carry the socket's SO_MARK (default: ownerA). A TIME_WAIT ACK keeps the mark, not the uid. */
  markA?: (c: Cap, all: Cap[]) => boolean;
  /**
   * Which b->a packets reach a's INPUT already tied to that socket with its file open: early demux
   * (ip_rcv_finish, before INPUT) sets skb->sk for packets of a connected TCP socket, so INPUT logs its UID.
   */
  ownerAin?: (c: Cap, all: Cap[]) => boolean;
  /** The same in b's INPUT for b's server socket (uid 2001 gid 2002). */
  ownerB?: (c: Cap, all: Cap[]) => boolean;
  /** Seconds to wait after the action for late packets and lines. */
  settle?: number;
}

const craft = (name: string, why: string, code: string): Action => ({ name, why, craft: code });

/**
 * A TCP session between a's client (bound to `sport`) and b's server; see tcpClient and SERVER_B for the order of
 * events. `close`: the client close()s after the answer, so its FIN is its last packet with the file open, b's
 * ACK of that FIN (delayed: b is in CLOSE_WAIT, pingpong mode) finds an orphaned socket, and a's final ACK goes out
 * from the TIME_WAIT socket (no uid, but tw_mark). `shutdown`: the client shuts down its sending side, waits for
 * b's FIN and only then closes, so every packet of the session meets the open socket.
 */
function tcpSession(sport: number, mode: 'close' | 'shutdown'): Pick<Action, 'ownerA' | 'markA' | 'ownerAin' | 'ownerB'> {
  const isAB = (c: Cap): boolean => c.dir === 'ab' && c.pkt.proto === 6 && c.pkt.sport === sport;
  const isBA = (c: Cap): boolean => c.dir === 'ba' && c.pkt.proto === 6 && c.pkt.dport === sport;
  const finOf = (all: Cap[], f: (c: Cap) => boolean): Cap | undefined => all.find((x) => f(x) && (x.pkt.tcpFlags & 1) !== 0);
  return {
    ownerA: (c, all) => {
      if (!isAB(c)) return false;
      const bFin = finOf(all, isBA);
      return mode === 'shutdown' || bFin === undefined || c.index < bFin.index;
    },
    markA: (c) => isAB(c),
    ownerAin: (c, all) => {
      if (!isBA(c)) return false;
      const aFin = finOf(all, isAB);
      return mode === 'shutdown' || aFin === undefined || c.index < aFin.index;
    },
    // b's accepted socket: not for the SYN (listener) nor the handshake's ACK (request socket), then every packet:
    // b shuts down first and closes only after a's last ACK (see SERVER_B).
    ownerB: (c, all) => isAB(c) && all.filter(isAB).indexOf(c) >= 2,
  };
}
const udpOwnerA =
  (sport: number) =>
  (c: Cap): boolean =>
    c.dir === 'ab' && c.pkt.proto === 17 && c.pkt.sport === sport;
const echoOwnerA = (c: Cap): boolean => c.dir === 'ab' && c.pkt.proto === 1 && c.pkt.icmpType === 8;
const idOwnerA =
  (...ids: number[]) =>
  (c: Cap): boolean =>
    c.dir === 'ab' && ids.includes(c.pkt.id);

const tcpClient = (sport: number, mode: 'close' | 'shutdown', mark?: number): string => `
import socket, time
s = socket.socket()
${mark !== undefined ? `s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, ${mark})` : ''}
s.bind(('${IP_A}', ${sport}))
s.connect(('${IP_B}', ${SERVER_PORT}))
time.sleep(0.3)       # b's server has accept()ed: its socket has a file before the data comes
s.sendall(b'hello')
s.recv(100)
time.sleep(0.2)
${
  mode === 'close'
    ? 's.close()\ntime.sleep(1.0)'
    : 's.shutdown(socket.SHUT_WR)\nwhile s.recv(100):\n    pass\ntime.sleep(0.3)\ns.close()'
}
`;

const ACTIONS: Action[] = [
  // ---- TCP header variants (crafted; b answers with RST or SYN-ACK, a with RST)
  craft('tcp-syn-options', 'SYN with MSS, SACK-permitted, timestamps, NOP, window scale',
    `tx(IP(src=A, dst=B, id=1001)/TCP(sport=40001, dport=5009, seq=1000, window=64240, flags='S', options=[('MSS',1460),('SAckOK',b''),('Timestamp',(12345,0)),('NOP',None),('WScale',7)]))`),
  craft('tcp-syn-plain', 'SYN without options, sequence 0', `tx(IP(src=A, dst=B, id=1002)/TCP(sport=40002, dport=5009, seq=0, window=1024, flags='S'))`),
  craft('tcp-synack', 'SYN-ACK nobody asked for', `tx(IP(src=A, dst=B, id=1003)/TCP(sport=40003, dport=5009, seq=4294967295, ack=12345, window=29200, flags='SA', options=[('MSS',1400),('NOP',None),('NOP',None),('SAckOK',b''),('NOP',None),('WScale',10)]))`),
  craft('tcp-psh-ack', 'PSH ACK with data', `tx(IP(src=A, dst=B, id=1004)/TCP(sport=40004, dport=5009, seq=77, ack=88, window=501, flags='PA', options=[('NOP',None),('NOP',None),('Timestamp',(1,2))])/Raw(b'0123456789'))`),
  craft('tcp-fin-ack', 'FIN ACK', `tx(IP(src=A, dst=B, id=1005)/TCP(sport=40005, dport=5009, seq=5, ack=6, flags='FA'))`),
  craft('tcp-rst', 'bare RST', `tx(IP(src=A, dst=B, id=1006)/TCP(sport=40006, dport=5009, seq=7, ack=0, window=0, flags='R'))`),
  craft('tcp-rst-ack', 'RST ACK', `tx(IP(src=A, dst=B, id=1007)/TCP(sport=40007, dport=5009, seq=0, ack=9, window=0, flags='RA'))`),
  craft('tcp-urg', 'URG ACK with an urgent pointer', `tx(IP(src=A, dst=B, id=1008)/TCP(sport=40008, dport=5009, seq=10, ack=11, flags='UA', urgptr=3)/Raw(b'abcdef'))`),
  craft('tcp-xmas', 'FIN PSH URG', `tx(IP(src=A, dst=B, id=1009)/TCP(sport=40009, dport=5009, flags='FPU', urgptr=65535))`),
  craft('tcp-null', 'no flags', `tx(IP(src=A, dst=B, id=1010)/TCP(sport=40010, dport=5009, flags=0))`),
  craft('tcp-all-flags', 'all nine flags (AE/NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN)', `tx(IP(src=A, dst=B, id=1011)/TCP(sport=40011, dport=5009, flags=0x1ff, urgptr=1))`),
  craft('tcp-ecn-syn', 'ECN setup SYN (ECE CWR)', `tx(IP(src=A, dst=B, id=1012)/TCP(sport=40012, dport=5009, flags='SEC'))`),
  craft('tcp-reserved', 'SYN with the reserved bits 101 set', `tx(IP(src=A, dst=B, id=1013)/TCP(sport=40013, dport=5009, flags='S', reserved=5))`),
  craft('tcp-reserved-all', 'ACK with all reserved bits and AE', `tx(IP(src=A, dst=B, id=1014)/TCP(sport=40014, dport=5009, flags=0x110, reserved=7))`),
  craft('tcp-odd-options', 'options not a multiple of 4 (padded with EOL)', `tx(IP(src=A, dst=B, id=1015)/TCP(sport=40015, dport=5009, flags='S', options=[('MSS',536),('NOP',None),('WScale',2)]))`),
  craft('tcp-max-options', '40 bytes of options', `tx(IP(src=A, dst=B, id=1016)/TCP(sport=40016, dport=5009, flags='S', options=[('MSS',1460),('SAckOK',b''),('Timestamp',(4294967295,1)),('NOP',None),('WScale',14),('SAck',(1,2,3,4)),('NOP',None),('NOP',None)]))`),
  // ---- IP header variants
  craft('tos-ef', 'DSCP EF (TOS byte 0xb8)', `tx(IP(src=A, dst=B, id=1101, tos=0xb8)/TCP(sport=40101, dport=5009, flags='S'))`),
  craft('tos-ecn-ce', 'TOS byte 0x03 (ECN CE only)', `tx(IP(src=A, dst=B, id=1102, tos=0x03)/UDP(sport=40102, dport=5002)/Raw(b'x'))`),
  craft('tos-ff', 'TOS byte 0xff, TTL 1', `tx(IP(src=A, dst=B, id=1103, tos=0xff, ttl=1)/UDP(sport=40103, dport=5002))`),
  craft('tos-low', 'TOS byte 0x1d (the low TOS bits and the MBZ bit)', `tx(IP(src=A, dst=B, id=1104, tos=0x1d, ttl=255)/UDP(sport=40104, dport=5002))`),
  craft('ip-evil-df', 'the reserved IP flag (printed CE) with DF', `tx(IP(src=A, dst=B, id=1105, flags='DF+evil')/TCP(sport=40105, dport=5009, flags='S'))`),
  craft('ip-df-id0', 'DF with IP ID 0', `tx(IP(src=A, dst=B, id=0, flags='DF', ttl=63)/ICMP(type=8, id=0x4d2, seq=0xffff))`),
  craft('ip-opt-ra', 'router alert option', `tx(IP(src=A, dst=B, id=1107, options=[IPOption_Router_Alert()])/UDP(sport=40107, dport=5002)/Raw(b'ra'))`),
  craft('ip-opt-rr', 'record route option with two free slots', `tx(IP(src=A, dst=B, id=1108, options=[IPOption_RR(pointer=4, routers=['0.0.0.0','0.0.0.0'])])/TCP(sport=40108, dport=5009, flags='S', options=[('MSS',1460)]))`),
  craft('ip-opt-nop-ra', 'NOP then router alert, padded', `tx(IP(src=A, dst=B, id=1109, options=[IPOption_NOP(), IPOption_Router_Alert(), IPOption_EOL()])/ICMP(type=8, id=1, seq=2))`),
  craft('ip-opt-ts-bad', 'a timestamp option whose length (12) overruns the header: b drops it after PREROUTING', `tx(IP(src=A, dst=B, id=1110, options=[IPOption_Timestamp(flg=0, pointer=5, length=12, timestamp=0)])/UDP(sport=40110, dport=5002))`),
  // ---- fragments (nothing in these namespaces loads conntrack, so PREROUTING sees each fragment)
  craft('frag-tcp-short-first', 'TCP split 16+16+12: the first fragment holds 16 bytes of the TCP header',
    `tx(*frags(IP(src=A, dst=B, id=1201)/TCP(sport=40201, dport=5009, seq=1, flags='S')/Raw(b'z'*24), 16))`),
  craft('frag-udp', 'UDP split 64+44', `tx(*frags(IP(src=A, dst=B, id=1202)/UDP(sport=40202, dport=5002)/Raw(b'u'*100), 64))`),
  craft('frag-icmp', 'echo request split 48+60', `tx(*frags(IP(src=A, dst=B, id=1203)/ICMP(type=8, id=7, seq=8)/Raw(b'p'*100), 48))`),
  craft('frag-udp-tiny-first', 'UDP whose first fragment holds 8 bytes: the whole UDP header', `tx(*frags(IP(src=A, dst=B, id=1204)/UDP(sport=40204, dport=5002)/Raw(b'q'*16), 8))`),
  craft('frag-lone-ah', 'a lone later fragment of AH (offset 5)', `tx(IP(src=A, dst=B, id=1205, proto=51, frag=5)/Raw(b'a'*16))`),
  craft('frag-lone-esp', 'a lone later fragment of ESP with MF', `tx(IP(src=A, dst=B, id=1206, proto=50, frag=3, flags='MF')/Raw(b'e'*16))`),
  craft('frag-lone-gre', 'a lone later fragment of GRE (47)', `tx(IP(src=A, dst=B, id=1207, proto=47, frag=100)/Raw(b'g'*8))`),
  craft('frag-lone-tcp', 'a lone later fragment of TCP', `tx(IP(src=A, dst=B, id=1208, proto=6, frag=1)/Raw(b't'*8))`),
  craft('frag-first-icmp-short', 'a lone first fragment with 4 bytes of ICMP', `tx(IP(src=A, dst=B, id=1209, proto=1, flags='MF')/Raw(b'\\x08\\x00\\x00\\x00'))`),
  craft('frag-first-tcp-opt-cut', 'a lone first fragment whose TCP options are cut off', `tx(IP(src=A, dst=B, id=1210, proto=6, flags='MF')/Raw(bytes(TCP(sport=40210, dport=5009, flags='S', options=[('MSS',1460),('SAckOK',b''),('Timestamp',(1,0))]))[:24]))`),
  // ---- other protocols
  craft('udp', 'UDP to a closed port (b answers port unreachable)', `tx(IP(src=A, dst=B, id=1301)/UDP(sport=5353, dport=5002)/Raw(b'x'*20))`),
  craft('udp-len-field', 'UDP whose length field says 8', `tx(IP(src=A, dst=B, id=1302)/UDP(sport=40302, dport=5002, len=8)/Raw(b'y'*12))`),
  craft('udplite', 'UDP-Lite (136)', `tx(IP(src=A, dst=B, id=1303, proto=136)/Raw(struct.pack('!HHHH', 1111, 2222, 8, 0) + b'L'*4))`),
  craft('gre', 'GRE (47)', `tx(IP(src=A, dst=B, id=1304, proto=47)/Raw(b'\\x00\\x00\\x08\\x00' + b'G'*20))`),
  craft('esp', 'ESP with SPI 0xdeadbeef', `tx(IP(src=A, dst=B, id=1305, proto=50)/Raw(struct.pack('!II', 0xdeadbeef, 1) + b'E'*16))`),
  craft('ah', 'AH with SPI 0x100', `tx(IP(src=A, dst=B, id=1306, proto=51)/Raw(struct.pack('!BBHII', 6, 4, 0, 0x100, 1) + b'H'*12))`),
  craft('ah-short', 'AH with 6 bytes only', `tx(IP(src=A, dst=B, id=1307, proto=51)/Raw(b'\\x06\\x04\\x00\\x00\\x00\\x01'))`),
  craft('sctp', 'SCTP (132)', `tx(IP(src=A, dst=B, id=1308, proto=132)/Raw(b'S'*16))`),
  craft('proto-0', 'IP protocol 0 (b answers protocol unreachable)', `tx(IP(src=A, dst=B, id=1311)/Raw(b'\\x00'*8))`),
  craft('udp-short', 'UDP with 4 bytes (header cut)', `tx(IP(src=A, dst=B, id=1309, proto=17)/Raw(b'\\x13\\x88\\x13\\x89'))`),
  craft('tcp-short', 'TCP with 12 bytes (header cut)', `tx(IP(src=A, dst=B, id=1310, proto=6)/Raw(bytes(TCP(sport=40310, dport=5009))[:12]))`),
  // ---- ICMP
  craft('icmp-echo', 'echo request (b replies)', `tx(IP(src=A, dst=B, id=1401)/ICMP(type=8, id=0x1234, seq=1)/Raw(b'e'*56))`),
  craft('icmp-echo-reply', 'echo reply nobody asked for', `tx(IP(src=A, dst=B, id=1402)/ICMP(type=0, id=7, seq=9))`),
  craft('icmp-timestamp', 'timestamp request (20 bytes)', `tx(IP(src=A, dst=B, id=1403)/ICMP(type=13, id=3, seq=4))`),
  craft('icmp-timestamp-short', 'timestamp request cut to 8 bytes', `tx(IP(src=A, dst=B, id=1404, proto=1)/Raw(icmpraw(13, 0, 3, 4, b'')))`),
  craft('icmp-addrmask-short', 'address mask request cut to 8 bytes', `tx(IP(src=A, dst=B, id=1405, proto=1)/Raw(icmpraw(17, 0, 0, 0, b'')))`),
  craft('icmp-type-200', 'ICMP type 200', `tx(IP(src=A, dst=B, id=1406, proto=1)/Raw(icmpraw(200, 7, 1, 2, b'zz')))`),
  craft('icmp-echo-short', 'echo request of 6 bytes', `tx(IP(src=A, dst=B, id=1407, proto=1)/Raw(bytes([8,0,0,0,0,1])))`),
  craft('icmp-unreach-udp', 'port unreachable quoting UDP',
    `tx(IP(src=A, dst=B, id=1411)/ICMP(type=3, code=3)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=777, ttl=61)/UDP(sport=33000, dport=53)/Raw(b'Q'*12))))`),
  craft('icmp-unreach-tcp-full', 'host unreachable quoting a whole TCP SYN with options',
    `tx(IP(src=A, dst=B, id=1412)/ICMP(type=3, code=1)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=778, flags='DF', tos=0x10)/TCP(sport=33001, dport=443, seq=123456789, ack=0, flags='S', window=64240, options=[('MSS',1460),('SAckOK',b''),('NOP',None),('WScale',7)]))))`),
  craft('icmp-unreach-tcp-8', 'net unreachable quoting 8 bytes of TCP',
    `tx(IP(src=A, dst=B, id=1413)/ICMP(type=3, code=0)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=779, len=60)/TCP(sport=33002, dport=80, seq=42, flags='S'))[:28]))`),
  craft('icmp-frag-needed', 'fragmentation needed, MTU 1400, quoting TCP',
    `tx(IP(src=A, dst=B, id=1414)/ICMP(type=3, code=4, nexthopmtu=1400)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=780, flags='DF', len=1500)/TCP(sport=33003, dport=443, seq=1, ack=2, flags='PA'))[:48]))`),
  craft('icmp-redirect', 'redirect to 198.18.77.254 quoting UDP',
    `tx(IP(src=A, dst=B, id=1415)/ICMP(type=5, code=1, gw='198.18.77.254')/Raw(bytes(IP(src=B, dst='203.0.113.9', id=781)/UDP(sport=33004, dport=123)/Raw(b'n'*48))[:28]))`),
  craft('icmp-time-exceeded', 'TTL exceeded quoting an echo request',
    `tx(IP(src=A, dst=B, id=1416)/ICMP(type=11, code=0)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=782, ttl=1)/ICMP(type=8, id=99, seq=100)/Raw(b'x'*56))[:28]))`),
  craft('icmp-source-quench', 'source quench quoting TCP',
    `tx(IP(src=A, dst=B, id=1417)/ICMP(type=4, code=0)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=783)/TCP(sport=33005, dport=25, seq=9, ack=10, flags='A', window=100))))`),
  craft('icmp-param-problem', 'parameter problem, pointer 20 (not recursed)',
    `tx(IP(src=A, dst=B, id=1418)/ICMP(type=12, code=0, ptr=20)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=784)/UDP(sport=33006, dport=53))))`),
  craft('icmp-unreach-cut', 'unreachable with only 10 bytes quoted', `tx(IP(src=A, dst=B, id=1419)/ICMP(type=3, code=3)/Raw(bytes(IP(src=B, dst='203.0.113.9'))[:10]))`),
  craft('icmp-unreach-ipopt', 'unreachable quoting a UDP packet with router alert',
    `tx(IP(src=A, dst=B, id=1420)/ICMP(type=3, code=2)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=785, options=[IPOption_Router_Alert()])/UDP(sport=33007, dport=9)/Raw(b'r'*8))))`),
  craft('icmp-unreach-frag', 'unreachable quoting a later fragment',
    `tx(IP(src=A, dst=B, id=1421)/ICMP(type=3, code=13)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=786, proto=6, flags='MF', frag=185)/Raw(b'f'*8))))`),
  craft('icmp-unreach-icmp-err', 'unreachable quoting a frag-needed error (no second recursion)',
    `tx(IP(src=A, dst=B, id=1422)/ICMP(type=3, code=3)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=787)/ICMP(type=3, code=4, nexthopmtu=576)/Raw(b'w'*28))))`),
  craft('icmp-unreach-udp-short', 'unreachable quoting 4 bytes of UDP',
    `tx(IP(src=A, dst=B, id=1423)/ICMP(type=3, code=3)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=788)/UDP(sport=33008, dport=53))[:24]))`),
  craft('icmp-unreach-ah', 'unreachable quoting AH and ESP-less payload',
    `tx(IP(src=A, dst=B, id=1424)/ICMP(type=3, code=2)/Raw(bytes(IP(src=B, dst='203.0.113.9', id=789, proto=51)/Raw(struct.pack('!BBHII', 6, 4, 0, 0xabc, 1)))))`),
  // ---- mark (b's mangle PREROUTING marks what goes to 198.18.77.3)
  craft('mark-b', 'SYN to 198.18.77.3: MARK 0x2a from mangle PREROUTING on', `tx(IP(src=A, dst=B3, id=1501)/TCP(sport=40501, dport=5009, flags='S', options=[('MSS',1460)]))`),
  craft('mark-b-icmp', 'echo to 198.18.77.3 (marked; b replies)', `tx(IP(src=A, dst=B3, id=1502)/ICMP(type=8, id=5, seq=6))`),
  craft('big', 'a 1500-byte DF TCP segment', `tx(IP(src=A, dst=B, id=1503, flags='DF')/TCP(sport=40503, dport=5009, flags='A', seq=1, ack=1, window=65535)/Raw(b'B'*1460))`),
  // ---- local senders in a: through a's OUTPUT and POSTROUTING with their socket
  {
    name: 'local-tcp-uid',
    why: 'TCP session to b:5001 from a process running as uid 1234 gid 5678 (b serves as uid 2001); the client shuts down, waits for b, then closes',
    local: tcpClient(41001, 'shutdown'),
    asUser: true,
    ...tcpSession(41001, 'shutdown'),
    settle: 1,
  },
  {
    name: 'local-tcp-mark',
    why: 'TCP session from root with SO_MARK 0x1234; the client close()s first (its final ACK leaves from TIME_WAIT)',
    local: tcpClient(41002, 'close', 0x1234),
    soMark: 0x1234,
    ...tcpSession(41002, 'close'),
    settle: 1,
  },
  {
    name: 'local-tcp-closed',
    why: 'connect() as uid 1234 to a closed port (b answers RST)',
    local: `
import socket, struct
s = socket.socket()
s.bind(('${IP_A}', 41003))
try:
    s.connect(('${IP_B}', 5009))
except OSError:
    pass
`,
    asUser: true,
    ownerA: (c) => c.dir === 'ab' && c.pkt.proto === 6 && c.pkt.sport === 41003,
    // b's RST finds the SYN_SENT socket while connect() still waits.
    ownerAin: (c) => c.dir === 'ba' && c.pkt.proto === 6 && c.pkt.dport === 41003,
  },
  {
    name: 'local-udp-uid',
    why: 'UDP datagram from uid 1234 to a closed port (b answers port unreachable, quoting it)',
    local: `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('${IP_A}', 41004))
s.sendto(b'hello udp', ('${IP_B}', 5002))
`,
    asUser: true,
    ownerA: udpOwnerA(41004),
  },
  {
    name: 'local-udp-mark',
    why: 'UDP datagram from root with SO_MARK 0xdeadbeef',
    local: `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, struct.pack('I', 0xdeadbeef))
s.bind(('${IP_A}', 41005))
s.sendto(b'marked', ('${IP_B}', 5002))
`,
    soMark: 0xdeadbeef,
    ownerA: udpOwnerA(41005),
  },
  {
    name: 'local-udp-big',
    why: 'a 3000-byte UDP datagram from uid 1234: whole in a, fragments in b PREROUTING, reassembled in b INPUT',
    local: `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT: no DF, let the kernel fragment
s.bind(('${IP_A}', 41006))
s.sendto(b'F' * 3000, ('${IP_B}', 5002))
`,
    asUser: true,
    ownerA: udpOwnerA(41006),
  },
  {
    name: 'local-ping-socket',
    why: 'ICMP echo from an unprivileged ping socket (uid 1234)',
    local: `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP)
s.sendto(struct.pack('!BBHHH', 8, 0, 0, 0, 1) + b'ping', ('${IP_B}', 0))
s.settimeout(1)
try:
    s.recv(100)
except OSError:
    pass
`,
    asUser: true,
    ownerA: echoOwnerA,
  },
  {
    name: 'local-raw-icmp',
    why: 'ICMP echo from a root raw socket',
    local: `
import socket, struct
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
h = struct.pack('!BBHHH', 8, 0, 0, 0x777, 3) + b'rawping!'
h = h[:2] + struct.pack('!H', csum(h)) + h[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(h, ('${IP_B}', 0))
`,
    ownerA: echoOwnerA,
  },
  {
    name: 'local-scapy-l3',
    why: 'scapy L3RawSocket (a raw IP socket with IP_HDRINCL, root): record-route option, TOS 0x28, through a OUTPUT',
    craft: `L3RawSocket().send(IP(src=A, dst=B, id=1601, tos=0x28, options=[IPOption_RR(pointer=4, routers=['0.0.0.0'])])/TCP(sport=40601, dport=5009, flags='S', seq=3, options=[('MSS',1200),('NOP',None),('WScale',3)]))`,
    ownerA: idOwnerA(1601),
  },
  // ---- devices that are not Ethernet: a's lo (an all-zero MAC header) and b's TUN device (no link-layer header)
  {
    name: 'lo-echo-reply',
    why: 'an echo reply to 127.0.0.1 (what ping 127.0.0.1 gets back) from a root raw socket in a: OUT=lo, then IN=lo',
    inject: { via: 'lo', packets: `IP(src='127.0.0.1', dst='127.0.0.1', id=1701)/ICMP(type=0, id=3399, seq=1)/Raw(b'p'*56)` },
    ownerA: () => true,
  },
  {
    name: 'lo-tcp-rst',
    why: 'a TCP RST ACK with options to a closed port of 127.0.0.1 (nothing answers it), from a root raw socket in a',
    inject: {
      via: 'lo',
      packets: `IP(src='127.0.0.1', dst='127.0.0.1', id=1702, flags='DF')/TCP(sport=40701, dport=5009, seq=7, ack=8, window=0, flags='RA', options=[('NOP',None),('NOP',None),('Timestamp',(5,6))])`,
    },
    ownerA: () => true,
  },
  {
    name: 'tun-echo-reply',
    why: 'an echo reply arriving on a TUN device: no link-layer header, MAC= stays empty (with --log-macdecode too)',
    inject: { via: 'tun', packets: `IP(src=TP, dst=T, id=1801)/ICMP(type=0, id=3399, seq=1)/Raw(b'p'*56)` },
  },
  {
    name: 'tun-tcp-syn',
    why: 'a SYN with options arriving on a TUN device',
    inject: { via: 'tun', packets: `IP(src=TP, dst=T, id=1802, tos=0x10)/TCP(sport=40801, dport=5009, seq=9, flags='S', options=[('MSS',1400),('SAckOK',b''),('WScale',5)])` },
  },
];

// ---------------------------------------------------------------------------------------------------------------
// The stored format.

/** Packet fields (src/eval/packet.ts) plus the LogExtras of src/eval/log-format.ts, as JSON. */
export interface PacketJson {
  src: string;
  dst: string;
  proto: number;
  tos: number;
  ttl: number;
  id: number;
  df: boolean;
  len: number;
  ipOptions: string;
  sport: number;
  dport: number;
  tcpFlags: number;
  seq: number;
  ackSeq: number;
  window: number;
  urgPtr: number;
  tcpOptions: string;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
  quoted?: QuotedJson;
  macSrc: string;
  macDst: string;
  fragOffset?: number;
  mf?: boolean;
  ce?: boolean;
  tcpRes?: number;
  udpLen?: number;
  spi?: number;
}

export interface QuotedJson {
  src: string;
  dst: string;
  proto: number;
  tos: number;
  ttl: number;
  id: number;
  df: boolean;
  len: number;
  sport: number;
  dport: number;
  seq: number;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
  ipOptions?: string;
  fragOffset?: number;
  mf?: boolean;
  ce?: boolean;
  ackSeq?: number;
  tcpFlags?: number;
  window?: number;
  urgPtr?: number;
  tcpOptions?: string;
  tcpRes?: number;
  udpLen?: number;
  spi?: number;
}

export interface LineJson {
  ns: 'a' | 'b';
  table: string;
  chain: string;
  kind: 'log' | 'trace';
  /** LOG: the prefix and xt_LOG flags. */
  prefix?: string;
  flags?: number;
  /** TRACE: rule / return / policy and its number. */
  type?: 'rule' | 'return' | 'policy';
  n?: number;
  inIface: string | null;
  outIface: string | null;
  mark: number;
  uid?: number;
  gid?: number;
  /** The IP options as this hook saw them, when the kernel changed them on the way (Record Route on delivery). */
  ipOptions?: string;
  /**
   * 'none': IN= is a device without a link-layer header (the TUN device). Absent: Ethernet, or for `lo` its
   * all-zero header.
   */
  linkType?: 'none';
  text: string;
}

export interface LogCase {
  name: string;
  why: string;
  packet: PacketJson;
  lines: LineJson[];
}

export interface LogLinesFile {
  recorded: {
    by: string;
    command: string;
    iptables: string;
    kernel: string;
    scapy: string;
    date: string;
    how: string;
  };
  rules: { a: string; b: string };
  cases: LogCase[];
}

/** JSON with one packet and one line a row, so the file reads (and diffs) a line of dmesg at a time. */
function serialize(f: LogLinesFile): string {
  const j = (v: unknown): string => JSON.stringify(v);
  const cases = f.cases.map(
    (c) =>
      `  {"name": ${j(c.name)}, "why": ${j(c.why)},\n   "packet": ${j(c.packet)},\n   "lines": [\n` +
      c.lines.map((l) => `    ${j(l)}`).join(',\n') +
      '\n  ]}',
  );
  return `{"recorded": ${JSON.stringify(f.recorded, null, 1)},\n"rules": ${JSON.stringify(f.rules, null, 1)},\n"cases": [\n${cases.join(',\n')}\n]}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Shell helpers and cleanup.

function run(argv: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0], argv.slice(1), { input, encoding: 'utf8', env: ENV, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}
function must(argv: string[], input = ''): string {
  const r = run(argv, input);
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}
const inNs = (ns: string, argv: string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
const namespaces: string[] = [];
let nfLogAllNetnsBefore: string | null = null;

function cleanup(): void {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
  for (const ns of namespaces.splice(0)) {
    // Whatever still runs inside (by its pid in the namespace) goes first, then the namespace.
    const pids = run(['ip', 'netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean);
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    const r = run(['ip', 'netns', 'del', ns]);
    if (r.status !== 0) process.stderr.write(`warning: ip netns del ${ns}: ${r.stderr.trim()}\n`);
  }
  if (nfLogAllNetnsBefore !== null && nfLogAllNetnsBefore !== '1') {
    try {
      fs.writeFileSync('/proc/sys/net/netfilter/nf_log_all_netns', nfLogAllNetnsBefore);
    } catch {
      /* leave it */
    }
    nfLogAllNetnsBefore = null;
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// /dev/kmsg: every record since the last read.

class Kmsg {
  private fd: number;
  private buf = Buffer.alloc(64 * 1024);
  constructor() {
    this.fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    this.drain();
  }
  drain(): string[] {
    const out: string[] = [];
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // records overwritten before we read them
        throw e;
      }
      const rec = this.buf.subarray(0, n).toString('latin1');
      const semi = rec.indexOf(';');
      const nl = rec.indexOf('\n', semi);
      out.push(unescapeKmsg(rec.slice(semi + 1, nl < 0 ? undefined : nl)));
    }
    return out;
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}
const unescapeKmsg = (s: string): string => s.replace(/\\x([0-9a-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));

// ---------------------------------------------------------------------------------------------------------------
// pcap -> packets.

interface Frame {
  offset: number;
  bytes: Buffer;
}
function readPcap(file: string): Frame[] {
  const b = fs.readFileSync(file);
  if (b.length < 24) return [];
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  if (u32(20) !== 1) throw new Error(`pcap link type ${u32(20)}, expected Ethernet`);
  const frames: Frame[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const incl = u32(o + 8);
    if (o + 16 + incl > b.length) break;
    frames.push({ offset: o, bytes: b.subarray(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return frames;
}

const dotted = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const macAt = (b: Buffer, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
const hex = (b: Buffer): string => b.toString('hex');

interface IpParsed {
  hdr: Buffer;
  payload: Buffer;
  src: string;
  dst: string;
  proto: number;
  tos: number;
  ttl: number;
  id: number;
  df: boolean;
  mf: boolean;
  ce: boolean;
  fragOffset: number;
  len: number;
  ipOptions: Buffer;
}
function parseIp(b: Buffer): IpParsed | null {
  if (b.length < 20 || b[0] >> 4 !== 4) return null;
  const ihl = (b[0] & 15) * 4;
  const len = b.readUInt16BE(2);
  const fo = b.readUInt16BE(6);
  return {
    hdr: b.subarray(0, ihl),
    payload: b.subarray(ihl, Math.min(len, b.length)),
    src: dotted(b, 12),
    dst: dotted(b, 16),
    proto: b[9],
    tos: b[1],
    ttl: b[8],
    id: b.readUInt16BE(4),
    df: (fo & 0x4000) !== 0,
    mf: (fo & 0x2000) !== 0,
    ce: (fo & 0x8000) !== 0,
    fragOffset: fo & 0x1fff,
    len,
    ipOptions: b.subarray(20, Math.min(ihl, b.length)),
  };
}

interface L4 {
  sport: number;
  dport: number;
  seq: number;
  ackSeq: number;
  tcpFlags: number;
  tcpRes: number;
  window: number;
  urgPtr: number;
  tcpOptions: Buffer;
  udpLen?: number;
  spi?: number;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
}
function parseL4(proto: number, p: Buffer, fragment: boolean): L4 {
  const l: L4 = {
    sport: 0,
    dport: 0,
    seq: 0,
    ackSeq: 0,
    tcpFlags: 0,
    tcpRes: 0,
    window: 0,
    urgPtr: 0,
    tcpOptions: Buffer.alloc(0),
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    icmpSeq: 0,
  };
  if (fragment) return l;
  const u16 = (o: number): number => (p.length >= o + 2 ? p.readUInt16BE(o) : 0);
  const u32 = (o: number): number => (p.length >= o + 4 ? p.readUInt32BE(o) : 0);
  if (proto === 6 || proto === 17 || proto === 136) {
    l.sport = u16(0);
    l.dport = u16(2);
  }
  if (proto === 6) {
    l.seq = u32(4);
    l.ackSeq = u32(8);
    if (p.length >= 14) {
      l.tcpRes = (p[12] >> 1) & 7;
      l.tcpFlags = p[13] | ((p[12] & 1) << 8);
    }
    l.window = u16(14);
    l.urgPtr = u16(18);
    if (p.length >= 13 && p[12] >> 4 > 5) {
      // The declared option length (doff); bytes the packet does not have are zeros (the kernel then prints
      // OPT (TRUNCATED)).
      l.tcpOptions = Buffer.alloc((p[12] >> 4) * 4 - 20);
      p.subarray(20, Math.min(p.length, (p[12] >> 4) * 4)).copy(l.tcpOptions);
    }
  } else if (proto === 17 || proto === 136) {
    if (p.length >= 6) l.udpLen = u16(4);
  } else if (proto === 1) {
    l.icmpType = p[0] ?? 0;
    l.icmpCode = p[1] ?? 0;
    l.icmpId = u16(4);
    l.icmpSeq = u16(6);
  } else if (proto === 51) {
    if (p.length >= 8) l.spi = u32(4);
  } else if (proto === 50) {
    if (p.length >= 4) l.spi = u32(0);
  }
  return l;
}

type L4Json = Pick<
  PacketJson,
  'sport' | 'dport' | 'tcpFlags' | 'seq' | 'ackSeq' | 'window' | 'urgPtr' | 'tcpOptions' | 'icmpType' | 'icmpCode' | 'icmpId' | 'icmpSeq' | 'tcpRes' | 'udpLen' | 'spi'
>;
function l4Json(l: L4, proto: number): L4Json {
  const j: L4Json = {
    sport: l.sport,
    dport: l.dport,
    tcpFlags: l.tcpFlags,
    seq: l.seq,
    ackSeq: l.ackSeq,
    window: l.window,
    urgPtr: l.urgPtr,
    tcpOptions: hex(l.tcpOptions),
    icmpType: l.icmpType,
    icmpCode: l.icmpCode,
    icmpId: l.icmpId,
    icmpSeq: l.icmpSeq,
  };
  if (proto === 6 && l.tcpRes) j.tcpRes = l.tcpRes;
  if (l.udpLen !== undefined) j.udpLen = l.udpLen;
  if (l.spi !== undefined) j.spi = l.spi;
  return j;
}

function packetJson(ip: IpParsed, macSrc: string, macDst: string): PacketJson {
  const l = parseL4(ip.proto, ip.payload, ip.fragOffset !== 0);
  const j: PacketJson = {
    src: ip.src,
    dst: ip.dst,
    proto: ip.proto,
    tos: ip.tos,
    ttl: ip.ttl,
    id: ip.id,
    df: ip.df,
    len: ip.len,
    ipOptions: hex(ip.ipOptions),
    ...l4Json(l, ip.proto),
    macSrc,
    macDst,
  };
  if (ip.fragOffset) j.fragOffset = ip.fragOffset;
  if (ip.mf) j.mf = true;
  if (ip.ce) j.ce = true;
  if (ip.proto === 1 && ip.fragOffset === 0 && [3, 4, 5, 11, 12].includes(l.icmpType) && ip.payload.length >= 28) {
    const inner = parseIp(ip.payload.subarray(8));
    if (inner) {
      // The quoted header's transport part: whatever bytes the error carries after the quoted IP header.
      const ihl = inner.hdr.length;
      const tp = ip.payload.subarray(8 + ihl);
      const il = parseL4(inner.proto, tp, inner.fragOffset !== 0);
      const q: QuotedJson = {
        src: inner.src,
        dst: inner.dst,
        proto: inner.proto,
        tos: inner.tos,
        ttl: inner.ttl,
        id: inner.id,
        df: inner.df,
        len: inner.len,
        sport: il.sport,
        dport: il.dport,
        seq: il.seq,
        icmpType: il.icmpType,
        icmpCode: il.icmpCode,
        icmpId: il.icmpId,
        icmpSeq: il.icmpSeq,
      };
      if (inner.ipOptions.length) q.ipOptions = hex(inner.ipOptions);
      if (inner.fragOffset) q.fragOffset = inner.fragOffset;
      if (inner.mf) q.mf = true;
      if (inner.ce) q.ce = true;
      if (inner.proto === 6 && tp.length >= 20) {
        q.ackSeq = il.ackSeq;
        q.tcpFlags = il.tcpFlags;
        q.window = il.window;
        q.urgPtr = il.urgPtr;
        if (il.tcpOptions.length) q.tcpOptions = hex(il.tcpOptions);
        if (il.tcpRes) q.tcpRes = il.tcpRes;
      }
      if (il.udpLen !== undefined) q.udpLen = il.udpLen;
      if (il.spi !== undefined) q.spi = il.spi;
      j.quoted = q;
    }
  }
  return j;
}

interface CapPacket {
  /** Order of capture (reassembled datagrams take their last fragment's place). */
  index: number;
  /** pcap file offset, to tie it to the action during which it was captured. */
  offset: number;
  json: PacketJson;
  reassembled: boolean;
  /** Injected into lo or the TUN device (not captured on the veth). */
  via?: 'lo' | 'tun';
}

function packetsOf(frames: Frame[]): CapPacket[] {
  const out: CapPacket[] = [];
  const pending = new Map<string, { first?: IpParsed; macSrc: string; macDst: string; parts: Map<number, Buffer>; lastEnd?: number }>();
  for (const f of frames) {
    const b = f.bytes;
    if (b.length < 14 || b.readUInt16BE(12) !== 0x0800) continue;
    const ip = parseIp(b.subarray(14));
    if (!ip) continue;
    const macDst = macAt(b, 0);
    const macSrc = macAt(b, 6);
    out.push({ index: out.length, offset: f.offset, json: packetJson(ip, macSrc, macDst), reassembled: false });
    if (!ip.mf && !ip.fragOffset) continue;
    // Reassemble as the kernel would for INPUT (and as a's OUTPUT saw the datagram before fragmenting it).
    const key = `${ip.src} ${ip.dst} ${ip.proto} ${ip.id}`;
    let q = pending.get(key);
    if (!q) pending.set(key, (q = { macSrc, macDst, parts: new Map() }));
    q.parts.set(ip.fragOffset * 8, Buffer.from(ip.payload));
    if (ip.fragOffset === 0) q.first = ip;
    if (!ip.mf) q.lastEnd = ip.fragOffset * 8 + ip.payload.length;
    if (q.first && q.lastEnd !== undefined) {
      const data = Buffer.alloc(q.lastEnd);
      let covered = 0;
      for (const [off, part] of [...q.parts].sort((x, y) => x[0] - y[0])) {
        if (off > covered) break;
        part.copy(data, off);
        covered = Math.max(covered, off + part.length);
      }
      if (covered < q.lastEnd) continue;
      pending.delete(key);
      const hdr = Buffer.from(q.first.hdr);
      const whole = Buffer.concat([hdr, data]);
      whole.writeUInt16BE(whole.length, 2);
      whole.writeUInt16BE(q.first.df ? 0x4000 : 0, 6);
      const rip = parseIp(whole);
      if (rip) out.push({ index: out.length, offset: f.offset, json: packetJson(rip, q.macSrc, q.macDst), reassembled: true });
    }
  }
  return out;
}

/**
 * What ip_options_compile does to a Record Route option of a packet delivered locally: the receiving address
 * (the destination) goes into the next free slot and the pointer moves on. Returns the input when nothing changes.
 */
function recordRoute(optsHex: string, dst: string): string {
  const o = Buffer.from(optsHex, 'hex');
  let i = 0;
  let changed = false;
  while (i < o.length) {
    const t = o[i];
    if (t === 0) break;
    if (t === 1) {
      i++;
      continue;
    }
    const len = o[i + 1];
    if (len === undefined || len < 2 || i + len > o.length) break;
    if (t === 7 && o[i + 2] + 3 <= len) {
      const ptr = o[i + 2];
      Buffer.from(dst.split('.').map(Number)).copy(o, i + ptr - 1);
      o[i + 2] = ptr + 4;
      changed = true;
    }
    i += len;
  }
  return changed ? o.toString('hex') : optsHex;
}

// ---------------------------------------------------------------------------------------------------------------
// Lines -> where they were printed and which packet they show.

interface ParsedLine extends Pick<LineJson, 'text' | 'ns' | 'inIface' | 'outIface' | 'table' | 'chain' | 'kind' | 'prefix' | 'flags' | 'type' | 'n'> {
  /** lineKey. */
  key: string;
}

/** SRC DST LEN ID and the fragment flags of the line's own (outer) header. */
function lineKey(text: string): string | null {
  const m = / SRC=(\S+) DST=(\S+) LEN=(\d+) TOS=0x[0-9A-F]{2} PREC=0x[0-9A-F]{2} TTL=\d+ ID=(\d+) ((?:CE )?(?:DF )?(MF )?)(?:FRAG:(\d+) )?/.exec(text);
  if (!m) return null;
  return `${m[1]} ${m[2]} ${m[3]} ${m[4]} ${m[6] ? 'MF' : '-'} ${m[7] ?? 0}`;
}
const packetKey = (p: PacketJson): string => `${p.src} ${p.dst} ${p.len} ${p.id} ${p.mf ? 'MF' : '-'} ${p.fragOffset ?? 0}`;

function parseLine(text: string): ParsedLine | null {
  const key = lineKey(text);
  if (!key) return null;
  // The namespace: the one of the device(s) IN= and OUT= name (lines of other namespaces name other devices).
  const io = /IN=(\S*) OUT=(\S*) /.exec(text);
  if (!io) return null;
  const inIface = io[1] || null;
  const outIface = io[2] || null;
  const nss = [inIface, outIface].filter((i) => i !== null).map((i) => NS_OF_IFACE[i]);
  const ns = nss[0];
  if (ns === undefined || nss.some((x) => x !== ns)) return null;
  const where = { text, ns, inIface, outIface, key };
  const t = /^TRACE: (\w+):(\w+):(rule|return|policy):(\d+) IN=/.exec(text);
  if (t) {
    return { ...where, table: t[1], chain: t[2], kind: 'trace', type: t[3] as 'rule', n: Number(t[4]) };
  }
  const prefix = text.slice(0, io.index);
  const r = LOG_RULES.find((x) => x.prefix === prefix && x.ns === ns);
  if (!r) return null;
  return { ...where, table: r.table, chain: r.chain, kind: 'log', prefix, flags: r.flags };
}

// ---------------------------------------------------------------------------------------------------------------
// The python side.

const SCAPY_SERVER = `
import sys, json, struct
from scapy.all import *
conf.verb = 0
A, B, B3, MA, MB, IFACE = ${JSON.stringify([IP_A, IP_B, IP_B3, MAC_A, MAC_B, IF_A])}
def tx(*pkts):
    sendp([Ether(src=MA, dst=MB)/p for p in pkts], iface=IFACE, verbose=0)
def frags(p, size):
    raw = bytes(p)
    ihl = (raw[0] & 15) * 4
    h = IP(raw[:ihl])
    data = raw[ihl:]
    out = []
    for off in range(0, len(data), size):
        last = off + size >= len(data)
        out.append(IP(src=h.src, dst=h.dst, id=h.id, ttl=h.ttl, tos=h.tos, proto=h.proto,
                      flags=0 if last else 'MF', frag=off // 8)/Raw(data[off:off + size]))
    return out
def icmpraw(t, c, i, s, rest):
    b = struct.pack('!BBHHH', t, c, 0, i, s) + rest
    if len(b) % 2: b += b'\\0'
    x = sum(struct.unpack('!%dH' % (len(b) // 2), b)); x = (x >> 16) + (x & 0xffff); x += x >> 16
    return (struct.pack('!BBHHH', t, c, ~x & 0xffff, i, s) + rest)
print('ready', flush=True)
for line in sys.stdin:
    try:
        exec(json.loads(line), globals())
        print('ok', flush=True)
    except Exception as e:
        print('err ' + repr(e).replace('\\n', ' '), flush=True)
`;

/**
 * Injects packets into a device that is not Ethernet (argv: lo|tun, a python expression giving a scapy packet or a
 * list of them) and prints each packet's bytes as hex, a line each. lo: sent through a root raw socket
 * (IP_HDRINCL, the bytes as given), run in a; tun: written to the TUN device, run in b.
 */
const INJECT = `
import sys, os, fcntl, struct, time
from scapy.all import *
conf.verb = 0
T, TP, TUN = ${JSON.stringify([IP_T, IP_T_PEER, IF_T])}
via, expr = sys.argv[1], sys.argv[2]
pkts = eval(expr)
if not isinstance(pkts, list):
    pkts = [pkts]
if via == 'lo':
    s = L3RawSocket()
    for p in pkts:
        s.send(p)
else:
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, 0x400454ca, struct.pack('16sH', TUN.encode(), 0x0001 | 0x1000))  # TUNSETIFF: IFF_TUN | IFF_NO_PI
    for p in pkts:
        os.write(fd, bytes(p))
    time.sleep(0.3)  # attached (carrier on) until the kernel has taken them in
for p in pkts:
    print(bytes(p).hex())
`;

const SERVER_B = `
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('${IP_B}', ${SERVER_PORT}))
s.listen(8)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    c.recv(100)
    c.sendall(b'ok')
    while c.recv(100):
        pass
    time.sleep(0.3)
    c.shutdown(socket.SHUT_WR)
    time.sleep(0.5)
    c.close()
`;

/** A long-running child that answers one line per request; waits for its first line ("ready"). */
class LineChild {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  private err = '';
  constructor(readonly proc: ChildProcess) {
    children.push(proc);
    let buf = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(l);
        else this.lines.push(l);
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => (this.err += d));
  }
  next(timeoutMs = 30000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer from child; stderr: ${this.err}`)), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
  send(s: string): void {
    this.proc.stdin!.write(s + '\n');
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let out = path.join(ROOT, 'fixtures', 'traces', 'log-lines.json');
  let keepPcap: string | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = path.resolve(args[++i]);
    else if (args[i] === '--keep-pcap') keepPcap = path.resolve(args[++i]);
    else throw new Error(`unknown argument ${args[i]}`);
  }
  if (process.getuid?.() !== 0) throw new Error('must run as root');
  const scapyVersion = must([PY, '-c', 'import scapy; print(scapy.__version__)']).trim();

  nfLogAllNetnsBefore = fs.readFileSync('/proc/sys/net/netfilter/nf_log_all_netns', 'utf8').trim();
  fs.writeFileSync('/proc/sys/net/netfilter/nf_log_all_netns', '1');

  for (const ns of [NS_A, NS_B]) {
    must(['ip', 'netns', 'add', ns]);
    namespaces.push(ns);
  }
  must(['ip', '-n', NS_A, 'link', 'add', IF_A, 'type', 'veth', 'peer', 'name', IF_B, 'netns', NS_B]);
  const setup: [string, string, string, string, string[]][] = [
    [NS_A, IF_A, MAC_A, `${IP_A}/24`, []],
    [NS_B, IF_B, MAC_B, `${IP_B}/24`, [`${IP_B3}/24`]],
  ];
  for (const [ns, ifn, mac, addr, more] of setup) {
    for (const s of ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.icmp_ratelimit=0', 'net.ipv4.ping_group_range=0 2147483647'])
      must(inNs(ns, ['sysctl', '-q', '-w', s]));
    must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    must(['ip', '-n', ns, 'link', 'set', ifn, 'address', mac]);
    must(['ip', '-n', ns, 'addr', 'add', addr, 'dev', ifn]);
    for (const a of more) must(['ip', '-n', ns, 'addr', 'add', a, 'dev', ifn]);
    must(['ip', '-n', ns, 'link', 'set', ifn, 'up']);
  }
  must(['ip', '-n', NS_B, 'tuntap', 'add', 'dev', IF_T, 'mode', 'tun']);
  must(['ip', '-n', NS_B, 'addr', 'add', `${IP_T}/24`, 'dev', IF_T]);
  must(['ip', '-n', NS_B, 'link', 'set', IF_T, 'up']);
  for (const ip of [IP_B, IP_B3]) must(['ip', '-n', NS_A, 'neigh', 'replace', ip, 'lladdr', MAC_B, 'dev', IF_A, 'nud', 'permanent']);
  must(['ip', '-n', NS_B, 'neigh', 'replace', IP_A, 'lladdr', MAC_A, 'dev', IF_B, 'nud', 'permanent']);
  must(inNs(NS_A, ['iptables-legacy-restore']), RULES_A);
  must(inNs(NS_B, ['iptables-legacy-restore']), RULES_B);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsi-log-'));
  const pcap = path.join(tmp, 'b.pcap');
  try {
    const dump = spawn('ip', inNs(NS_B, ['tcpdump', '-i', IF_B, '-n', '-U', '-s', '0', '--immediate-mode', '-w', pcap]).slice(1), { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(dump);
    await new Promise<void>((resolve, reject) => {
      let e = '';
      const t = setTimeout(() => reject(new Error(`tcpdump did not start: ${e}`)), 10000);
      dump.stderr!.on('data', (d: Buffer) => {
        e += d.toString();
        if (e.includes('listening on')) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const server = new LineChild(
      spawn('ip', inNs(NS_B, ['setpriv', `--reuid=${SERVER_UID}`, `--regid=${SERVER_GID}`, '--clear-groups', PY, '-u', '-c', SERVER_B]).slice(1), { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] }),
    );
    if ((await server.next()) !== 'ready') throw new Error('server in b did not start');
    const scapy = new LineChild(spawn('ip', inNs(NS_A, [PY, '-u', '-c', SCAPY_SERVER]).slice(1), { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] }));
    if ((await scapy.next(120000)) !== 'ready') throw new Error('scapy in a did not start');

    const kmsg = new Kmsg();
    interface Window {
      action: Action;
      lines: string[];
      endOffset: number;
      /** The packets INJECT injected, as hex. */
      injected: string[];
    }
    const windows: Window[] = [];
    for (const action of ACTIONS) {
      process.stderr.write(`${action.name}\n`);
      let injected: string[] = [];
      if (action.inject) {
        const { via, packets } = action.inject;
        injected = must(inNs(via === 'lo' ? NS_A : NS_B, [PY, '-c', INJECT, via, packets])).split('\n').filter(Boolean);
      } else if (action.craft) {
        scapy.send(JSON.stringify(action.craft));
        const r = await scapy.next();
        if (r !== 'ok') throw new Error(`${action.name}: ${r}`);
      } else if (action.local) {
        const argv = action.asUser ? ['setpriv', `--reuid=${UID}`, `--regid=${GID}`, '--clear-groups', PY, '-c', action.local] : [PY, '-c', action.local];
        must(inNs(NS_A, argv));
      }
      await sleep(400 + (action.settle ?? 0) * 1000);
      windows.push({ action, lines: kmsg.drain(), endOffset: fs.statSync(pcap).size, injected });
    }
    kmsg.close();
    dump.kill('SIGINT');
    await new Promise((r) => dump.once('exit', r));
    if (keepPcap) fs.copyFileSync(pcap, keepPcap);

    const caps = packetsOf(readPcap(pcap));
    const windowOf = (offset: number): number => windows.findIndex((w) => offset < w.endOffset);
    // Injected packets: each in its action's window (numbered after the captured ones); lo's header is all zeros.
    let next = caps.length;
    const injectedIn = windows.map((w) =>
      w.injected.map((h): CapPacket => {
        const via = w.action.inject!.via;
        const ip = parseIp(Buffer.from(h, 'hex'));
        if (!ip) throw new Error(`${w.action.name}: injected a packet that is not IPv4: ${h}`);
        const mac = via === 'lo' ? '00:00:00:00:00:00' : '';
        return { index: next++, offset: -1, json: packetJson(ip, mac, mac), reassembled: false, via };
      }),
    );
    const all = [...caps, ...injectedIn.flat()];
    const cases: LogCase[] = [];
    const problems: string[] = [];
    windows.forEach((w, wi) => {
      const inWindow = [...caps.filter((c) => windowOf(c.offset) === wi), ...injectedIn[wi]!];
      const aToB = (p: PacketJson): boolean => p.src === IP_A;
      const owned: Cap[] = inWindow.map((c) => ({ index: c.index, pkt: c.json, dir: aToB(c.json) ? 'ab' : 'ba' }));
      const byPacket = new Map<CapPacket, LineJson[]>();
      for (const text of w.lines) {
        const pl = parseLine(text);
        if (!pl) continue;
        // The packet: the one captured in this window with this key, else anywhere.
        let cands = inWindow.filter((c) => packetKey(c.json) === pl.key);
        if (cands.length === 0) cands = all.filter((c) => packetKey(c.json) === pl.key);
        const distinct = new Map(cands.map((c) => [JSON.stringify(c.json), c]));
        if (distinct.size !== 1) {
          problems.push(`${w.action.name}: ${distinct.size} packets for ${pl.key}: ${text}`);
          continue;
        }
        const cap = [...distinct.values()][0];
        const p = cap.json;
        const c = owned.find((x) => x.index === cap.index) ?? { index: cap.index, pkt: p, dir: aToB(p) ? 'ab' : 'ba' };
        const incoming = pl.chain === 'PREROUTING' || pl.chain === 'INPUT';
        const line: LineJson = {
          ns: pl.ns,
          table: pl.table,
          chain: pl.chain,
          kind: pl.kind,
          ...(pl.kind === 'log' ? { prefix: pl.prefix, flags: pl.flags } : { type: pl.type, n: pl.n }),
          inIface: pl.inIface,
          outIface: pl.outIface,
          ...(pl.inIface === IF_T ? { linkType: 'none' as const } : {}),
          mark: 0,
          text,
        };
        // What the bytes do not show: skb->mark and the socket, as the action set them up.
        const act = w.action;
        if (pl.ns === 'a' && !incoming) {
          if (act.soMark && (act.markA ?? act.ownerA)?.(c, owned)) line.mark = act.soMark;
          if (act.ownerA?.(c, owned)) {
            line.uid = act.asUser ? UID : 0;
            line.gid = act.asUser ? GID : 0;
          }
        }
        if (pl.ns === 'a' && pl.chain === 'INPUT' && act.ownerAin?.(c, owned)) {
          line.uid = act.asUser ? UID : 0;
          line.gid = act.asUser ? GID : 0;
        }
        // Local delivery fills a Record Route option (ip_options_compile once the route is known, before INPUT).
        if (pl.chain === 'INPUT') {
          const rr = recordRoute(p.ipOptions, p.dst);
          if (rr !== p.ipOptions) line.ipOptions = rr;
        }
        if (pl.ns === 'b' && p.dst === IP_B3) {
          const afterMark =
            pl.chain === 'INPUT' || (pl.table === 'mangle' && pl.chain === 'PREROUTING' && (pl.kind === 'log' || pl.type !== 'rule' || (pl.n ?? 0) >= 2));
          if (afterMark) line.mark = B_MARK;
        }
        if (pl.ns === 'b' && pl.chain === 'INPUT' && act.ownerB?.(c, owned)) {
          line.uid = SERVER_UID;
          line.gid = SERVER_GID;
        }
        if (!byPacket.has(cap)) byPacket.set(cap, []);
        byPacket.get(cap)!.push(line);
      }
      const ordered = [...byPacket].sort((x, y) => x[0].index - y[0].index);
      ordered.forEach(([cap, lines], k) => {
        const p = cap.json;
        const from = p.src === IP_A ? 'a' : 'b';
        const where = cap.via ?? `${from}>${from === 'a' ? 'b' : 'a'}`;
        const what = p.proto === 6 ? `tcp ${p.sport}>${p.dport} flags 0x${p.tcpFlags.toString(16)}` : p.proto === 1 ? `icmp ${p.icmpType}/${p.icmpCode}` : p.proto === 17 ? `udp ${p.sport}>${p.dport}` : `proto ${p.proto}`;
        cases.push({
          name: `${w.action.name} #${k + 1} ${where} ${what} id ${p.id}${p.mf || p.fragOffset ? ` frag ${p.fragOffset ?? 0}${p.mf ? '+' : ''}` : ''}${cap.reassembled ? ' reassembled' : ''}`,
          why: w.action.why,
          packet: p,
          lines,
        });
      });
    });
    if (problems.length) process.stderr.write(`lines left out:\n${problems.join('\n')}\n`);

    const file: LogLinesFile = {
      recorded: {
        by: 'scripts/record-log-lines.ts',
        command: 'sudo npx tsx scripts/record-log-lines.ts',
        iptables: must(['iptables-legacy', '-V']).trim(),
        kernel: must(['uname', '-r']).trim(),
        scapy: scapyVersion,
        date: new Date().toISOString(),
        how:
          'Two network namespaces joined by a veth pair (a: 198.18.77.1, b: 198.18.77.2 and .3), iptables-legacy ' +
          'rules below, nf_log_all_netns=1; crafted frames sent from a with scapy sendp, local packets from ' +
          'socket programs in a (setpriv uid 1234 gid 5678, or root with SO_MARK); frames captured with tcpdump on ' +
          "b's veth; packets injected into a's lo (root raw socket to 127.0.0.1) and into a TUN device in b " +
          '(198.18.78.2) as they were written; lines read from /dev/kmsg and tied to packets by SRC, DST, LEN, ID ' +
          'and fragment flags.',
      },
      rules: { a: RULES_A, b: RULES_B },
      cases,
    };
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, serialize(file));
    const nLines = cases.reduce((s, c) => s + c.lines.length, 0);
    process.stderr.write(`wrote ${out}: ${cases.length} packets, ${nLines} lines\n`);
  } finally {
    cleanup();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    cleanup();
    process.stderr.write(`record-log-lines: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
