/**
 * A simulated IPv4 packet as the kernel's hooks see it: the IP header, the transport header of tcp, udp or
 * icmp (others carry no parsed transport header), the quoted header of an ICMP error, and the skb metadata
 * netfilter reads and writes (mark, interfaces, the owning socket's uid/gid). Addresses are uint32 numbers in
 * host order, as in src/model/ip.ts. NAT and mangle targets change a packet in place; the walker copies it
 * where the trace needs a "before" view.
 */

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

/** TCP header flag bits (tcp_flag_byte, without CWR/ECE). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

/** The header of the packet an ICMP error quotes (its IP header and the first 8 bytes of its transport header). */
export interface QuotedPacket {
  src: number;
  dst: number;
  proto: number;
  tos: number;
  ttl: number;
  id: number;
  df: boolean;
  len: number;
  sport: number;
  dport: number;
  /** tcp: sequence number in the quoted 8 bytes. */
  seq: number;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
}

export interface Packet {
  // IPv4 header
  src: number;
  dst: number;
  /** IP protocol number. */
  proto: number;
  /** The whole TOS byte (DSCP + ECN). */
  tos: number;
  ttl: number;
  /** IP identification. */
  id: number;
  df: boolean;
  /** Total length of the IP datagram in bytes. */
  len: number;
  /** Raw IP option bytes (after the 20-byte header), usually empty. */
  ipOptions: Uint8Array;

  // tcp / udp
  sport: number;
  dport: number;
  // tcp
  tcpFlags: number;
  seq: number;
  ackSeq: number;
  window: number;
  urgPtr: number;
  /** Raw TCP option bytes, usually empty. */
  tcpOptions: Uint8Array;
  // icmp
  icmpType: number;
  icmpCode: number;
  /** Echo request/reply identifier and sequence number. */
  icmpId: number;
  icmpSeq: number;
  /** ICMP errors (types 3, 4, 5, 11, 12): the quoted packet. */
  quoted: QuotedPacket | undefined;

  // skb metadata
  /** skb->mark (nfmark). */
  mark: number;
  /** Interface the packet arrived on (null when locally generated). */
  inIface: string | null;
  /** Interface it leaves by, once routed (null before routing and for local delivery). */
  outIface: string | null;
  /** Link-layer addresses of an arriving frame ("aa:bb:cc:dd:ee:ff"); null for local packets. */
  macSrc: string | null;
  macDst: string | null;
  /** Owner of the sending socket (locally generated packets only). */
  uid: number | undefined;
  gid: number | undefined;
  /** The application data, when a lab's program sent some (tcpdump shows the start of an HTTP request). */
  payload?: string;
  /**
   * br_netfilter (src/lab/bridge.ts): the bridge ports a bridged packet came in and goes out by, while the ip hooks
   * see the bridge device as IN=/OUT= (LOG prints them as PHYSIN=/PHYSOUT=).
   */
  physIn?: string;
  physOut?: string;
  /**
   * An ARP frame (Ethernet/IPv4 ARP) instead of an IPv4 packet: netdev, bridge and arp family chains see those
   * too (src/lab/arp.ts). `len` is then the ARP header's 28 bytes, `proto` 0, `src`/`dst` the sender and target
   * addresses; ip, tcp, udp and icmp fields are absent.
   */
  arp?: ArpHeader;
}

/** The header of an ARP frame for IPv4 over Ethernet (htype 1, ptype 0x0800, hlen 6, plen 4). */
export interface ArpHeader {
  /** 1 request, 2 reply. */
  op: number;
  /** Sender and target hardware (MAC) and protocol (IPv4) addresses. */
  sha: string;
  spa: number;
  tha: string;
  tpa: number;
}

/**
 * An ARP frame as the chains see it: the header, its Ethernet addresses, 28 bytes long, no IP fields (`src` and
 * `dst` hold the sender's and target's addresses).
 */
export function arpFrame(arp: ArpHeader, macSrc: string, macDst: string, inIface: string | null = null, outIface: string | null = null): Packet {
  return newPacket({ src: arp.spa, dst: arp.tpa, proto: 0, len: 28, ttl: 0, df: false, macSrc, macDst, inIface, outIface, arp });
}

/** ARP's 28 bytes: htype, ptype, hlen, plen, operation, then the four addresses. */
export function arpBytes(a: ArpHeader): number[] {
  const mac = (m: string): number[] => m.split(':').map((x) => parseInt(x, 16));
  const ip = (n: number): number[] => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return [0, 1, 8, 0, 6, 4, 0, a.op, ...mac(a.sha), ...ip(a.spa), ...mac(a.tha), ...ip(a.tpa)];
}

/** A packet with every field at a plain sender's value (TTL 64, DF, no options, no marks), `f` on top. */
export function newPacket(f: Partial<Packet> & Pick<Packet, 'src' | 'dst' | 'proto'>): Packet {
  return {
    tos: 0,
    ttl: 64,
    id: 0,
    df: true,
    len: 20,
    ipOptions: new Uint8Array(0),
    sport: 0,
    dport: 0,
    tcpFlags: 0,
    seq: 0,
    ackSeq: 0,
    window: 0,
    urgPtr: 0,
    tcpOptions: new Uint8Array(0),
    icmpType: 0,
    icmpCode: 0,
    icmpId: 0,
    icmpSeq: 0,
    quoted: undefined,
    mark: 0,
    inIface: null,
    outIface: null,
    macSrc: null,
    macDst: null,
    uid: undefined,
    gid: undefined,
    ...f,
  };
}

export function clonePacket(p: Packet): Packet {
  const c = { ...p, quoted: p.quoted ? { ...p.quoted } : undefined };
  if (p.arp) c.arp = { ...p.arp };
  return c;
}

/** ICMP types that are errors and quote the offending packet (icmp_is_err). */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** How the trace names a protocol: tcp, udp, icmp, else its number. */
export function protoName(proto: number): string {
  return proto === PROTO_TCP ? 'tcp' : proto === PROTO_UDP ? 'udp' : proto === PROTO_ICMP ? 'icmp' : String(proto);
}

export function hasPorts(proto: number): boolean {
  return proto === PROTO_TCP || proto === PROTO_UDP;
}
