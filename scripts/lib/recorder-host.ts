/**
 * recorder-host.ts - what the two kernel trace recorders share: scripts/record-traces.ts (iptables-legacy, TRACE
 * and LOG lines from dmesg) and scripts/record-monitor.ts (iptables-nft, `xtables-monitor --trace` lines).
 *
 *  - PACKET lines (parsePacketLine) and the defaults tsiptables gives them (src/eval/packet-line.ts): IP ids, TCP
 *    flags and sequence numbers from the earlier packets of the batch, the packet an ICMP error quotes.
 *  - The scenario's host (NetnsHost): a host and a peer network namespace, one veth pair per interface with the MACs
 *    tsiptables gives them, the HOSTFILE lines, permanent neighbours so that the host never ARPs.
 *  - The packet engine scripts/trace-inject.py (Helper) and the loop over a scenario's packets (runScenario): what
 *    became of each packet (fate, out interface, the packet as it left or was delivered, conntrack), around what the
 *    recorder itself observes (its Observer).
 *  - The command line (runRecorder): options, the lock both recorders take, signals, merging into existing output.
 *
 * How the recorders work and their file formats: fixtures/traces/README.md.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import { pidLock } from './pid-lock';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { parseIcmpType } from '../../src/extensions/matches/icmp';
import type { KernelOutcome, TraceScenario, WirePacket } from '../trace-fixture-format';
// The MACs tsiptables derives, given to the veths so recorded MAC= fields compare byte for byte.
import { fnvBytes, interfaceMac as hostMac, multicastMac, peerMac } from '../../src/eval/mac';

/** Both recorders build hosts with the same interface names and IP ids (and dmesg is the machine's): one at a time. */
const LOCK = '/run/lock/tsi-record-traces.lock';
const PY = '/usr/bin/python3';
const HELPER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'trace-inject.py');
const EMPTY_RAW = '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
const SETTLE_MS = 120;

// ---------------------------------------------------------------------------------------------------------------
// small helpers

export class UsageError extends Error {}

export function run(argv: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: input ?? '', encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, timeout: 30_000 });
  return { status: r.status ?? 128, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

export function must(argv: string[], input?: string): string {
  const r = run(argv, input);
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

function ipToNum(s: string): number {
  const p = s.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d+$/.test(x) || Number(x) > 255)) throw new Error(`bad IPv4 address "${s}"`);
  return p.reduce((a, x) => a * 256 + Number(x), 0);
}
const numToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

function peerName(iface: string): string {
  const n = `p-${iface}`;
  return n.length <= 15 ? n : `p-${fnvBytes(iface).map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** The first line of an error's message. */
const firstLine = (e: unknown): string => (e as Error).message.split('\n')[0]!;
/** A scenario's `why` with the note of the recorder error that left it without outcomes. */
const failedWhy = (why: string, msg: string): string => `${why} [recorder error: ${msg}]`;

// ---------------------------------------------------------------------------------------------------------------
// the python helper

export class Helper {
  private proc: ChildProcessWithoutNullStreams;
  private waiting: Array<(line: string) => void> = [];
  private lines: string[] = [];
  private closed = false;

  constructor() {
    this.proc = spawn(PY, [HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const rl = createInterface({ input: this.proc.stdout });
    rl.on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    this.proc.stderr.on('data', (d: Buffer) => process.stderr.write(`trace-inject.py: ${d.toString()}`));
    this.proc.on('exit', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w(JSON.stringify({ ok: false, error: 'trace-inject.py exited' }));
    });
  }

  private next(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.closed) return Promise.resolve(JSON.stringify({ ok: false, error: 'trace-inject.py exited' }));
    return new Promise((res) => this.waiting.push(res));
  }

  async ready(): Promise<void> {
    const r = JSON.parse(await this.next()) as { ok: boolean; error?: string };
    if (!r.ok) throw new Error(`trace-inject.py: ${r.error ?? 'did not start'}`);
  }

  async call<T>(req: object): Promise<T> {
    this.proc.stdin.write(`${JSON.stringify(req)}\n`);
    const r = JSON.parse(await this.next()) as { ok: boolean; error?: string };
    if (!r.ok) throw new Error(`trace-inject.py: ${r.error ?? 'failed'}`);
    return r as T;
  }

  close(): void {
    if (!this.closed) this.proc.stdin.end();
  }
}

/** trace-inject.py's answer to `send`. */
export interface SendResult {
  sent: string;
  error: string | null;
  notes: string[];
  kmsg: string[];
  captured: Array<{ peer: string; ip: string; macDst: string; macSrc: string }>;
  delivered: string[];
  arp: Array<{ peer: string; who: string }>;
}

// ---------------------------------------------------------------------------------------------------------------
// PACKET lines

interface Spec {
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
  tcpFlags: string;
  seq: number;
  ackSeq: number;
  window: number;
  icmpType: number;
  icmpCode: number;
  icmpId: number;
  icmpSeq: number;
  quote: string | null;
  uid: number;
  gid: number;
  mark: number;
  /** Arriving packets: the peer end it is sent from, and its Ethernet addresses. */
  peer: string | null;
  macSrc: string;
  macDst: string;
}

interface ParsedLine {
  proto: number;
  /** Without -s: the source address the host's route to dst would use (resolved at send time). */
  src?: string;
  dst: string;
  sport?: number;
  dport?: number;
  flags?: string;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
  icmpSeq?: number;
  iface?: string;
  uid?: number;
  gid?: number;
  mark?: number;
  len?: number;
  ttl?: number;
  tos?: number;
  ipId?: number;
  noDf: boolean;
  seq?: number;
  ackSeq?: number;
  window?: number;
  macSource?: string;
}

const PROTO_NAMES: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, sctp: 132, udplite: 136, all: 0 };
const FLAG_LETTERS: Record<string, string> = { FIN: 'F', SYN: 'S', RST: 'R', PSH: 'P', ACK: 'A', URG: 'U' };
const ICMP_ERRORS = new Set([3, 4, 5, 11, 12]);

function num(s: string | undefined, what: string, max = 0xffffffff): number {
  if (s === undefined || !/^(0x[0-9a-fA-F]+|\d+)$/.test(s)) throw new Error(`${what}: expected a number, got "${s ?? ''}"`);
  const v = Number(s);
  if (v > max) throw new Error(`${what}: ${s} is out of range`);
  return v;
}

function parsePacketLine(line: string): ParsedLine {
  const w = line.trim().split(/\s+/);
  const p: Partial<ParsedLine> & { noDf: boolean } = { noDf: false };
  for (let i = 0; i < w.length; i++) {
    const o = w[i]!;
    const arg = (): string => {
      const v = w[++i];
      if (v === undefined) throw new Error(`option ${o} needs an argument`);
      return v;
    };
    switch (o) {
      case '-p':
      case '--protocol': {
        const v = arg().toLowerCase();
        p.proto = PROTO_NAMES[v] ?? num(v, o, 255);
        break;
      }
      case '-s':
      case '--source':
        p.src = numToIp(ipToNum(arg()));
        break;
      case '-d':
      case '--destination':
        p.dst = numToIp(ipToNum(arg()));
        break;
      case '--sport':
      case '--source-port':
        p.sport = num(arg(), o, 65535);
        break;
      case '--dport':
      case '--destination-port':
        p.dport = num(arg(), o, 65535);
        break;
      case '--syn':
        p.flags = 'S';
        break;
      case '--tcp-flags': {
        arg();
        const comp = arg().toUpperCase();
        const names = comp === 'NONE' ? [] : comp === 'ALL' ? Object.keys(FLAG_LETTERS) : comp.split(',');
        p.flags = names
          .map((n) => {
            const l = FLAG_LETTERS[n];
            if (!l) throw new Error(`--tcp-flags: unknown flag "${n}"`);
            return l;
          })
          .join('');
        break;
      }
      case '--icmp-type': {
        const t = parseIcmpType(arg());
        if (t.type === 0xff) throw new Error('--icmp-type any is not a packet');
        p.icmpType = t.type;
        p.icmpCode = t.codeMin;
        break;
      }
      case '--icmp-id':
        p.icmpId = num(arg(), o, 65535);
        break;
      case '--icmp-seq':
        p.icmpSeq = num(arg(), o, 65535);
        break;
      case '-i':
      case '--in-interface':
        p.iface = arg();
        break;
      case '--uid':
      case '--uid-owner':
        p.uid = num(arg(), o);
        break;
      case '--gid':
      case '--gid-owner':
        p.gid = num(arg(), o);
        break;
      case '--mark':
        p.mark = num(arg(), o);
        break;
      case '--len':
        p.len = num(arg(), o, 65535);
        break;
      case '--ttl':
        p.ttl = num(arg(), o, 255);
        break;
      case '--tos':
        p.tos = num(arg(), o, 255);
        break;
      case '--ip-id':
        p.ipId = num(arg(), o, 65535);
        break;
      case '--no-df':
        p.noDf = true;
        break;
      case '--seq':
        p.seq = num(arg(), o);
        break;
      case '--ack-seq':
        p.ackSeq = num(arg(), o);
        break;
      case '--window':
        p.window = num(arg(), o, 65535);
        break;
      case '--mac-source': {
        const m = arg().toLowerCase();
        if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(m)) throw new Error(`--mac-source: bad MAC "${m}"`);
        p.macSource = m;
        break;
      }
      default:
        throw new Error(`unknown PACKET option "${o}"`);
    }
  }
  if (p.proto === undefined) throw new Error('PACKET needs -p');
  if (p.dst === undefined) throw new Error('PACKET needs -d');
  return p as ParsedLine;
}

/** The transport view of an IPv4 packet given as hex, with its header length. */
function wireOf(hex: string): WirePacket & { ihl: number } {
  const b = Buffer.from(hex, 'hex');
  const ihl = (b[0]! & 15) * 4;
  const proto = b[9]!;
  const w: WirePacket & { ihl: number } = {
    proto: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 ? 'icmp' : String(proto),
    src: numToIp(b.readUInt32BE(12)),
    dst: numToIp(b.readUInt32BE(16)),
    ihl,
  };
  if ((proto === 6 || proto === 17) && b.length >= ihl + 4) {
    w.sport = b.readUInt16BE(ihl);
    w.dport = b.readUInt16BE(ihl + 2);
  } else if (proto === 1 && b.length >= ihl + 2) {
    w.type = b[ihl]!;
    w.code = b[ihl + 1]!;
  }
  return w;
}

function publicWire(w: WirePacket): WirePacket {
  const out: WirePacket = { proto: w.proto, src: w.src, dst: w.dst };
  if (w.sport !== undefined) out.sport = w.sport;
  if (w.dport !== undefined) out.dport = w.dport;
  if (w.type !== undefined) out.type = w.type;
  if (w.code !== undefined) out.code = w.code;
  return out;
}

/** An earlier packet of the batch: for ICMP errors to quote and for TCP defaults (as src/eval/packet-line.ts). */
interface History {
  /** As sent (the PACKET line with its defaults). */
  given: Spec;
  /** As captured leaving, or as delivered; as sent when dropped (hex IPv4 packets, in that order). */
  wire: string[];
  sent: string;
}

interface Flow {
  proto: number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
}

const protoNum = (w: WirePacket): number => (w.proto === 'tcp' ? 6 : w.proto === 'udp' ? 17 : w.proto === 'icmp' ? 1 : Number(w.proto));

/** Same flow (same direction), or (reverse) the other direction of it. */
function sameFlow(a: Flow, b: Flow, reverse = false): boolean {
  if (a.proto !== b.proto) return false;
  if (!reverse) return a.src === b.src && a.dst === b.dst && a.sport === b.sport && a.dport === b.dport;
  return a.src === b.dst && a.dst === b.src && a.sport === b.dport && a.dport === b.sport;
}

const flowOfHex = (hex: string): Flow => {
  const w = wireOf(hex);
  return { proto: protoNum(w), src: w.src, dst: w.dst, sport: w.sport, dport: w.dport };
};

/** Whether the tcp tuple is either direction of an entry of (normalised) `conntrack -L` lines. */
function inConntrack(lines: string[], f: Flow): boolean {
  for (const l of lines) {
    if (!l.startsWith('tcp ')) continue;
    const t = [...l.matchAll(/src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/g)];
    for (const m of t) if (m[1] === f.src && m[2] === f.dst && Number(m[3]) === f.sport && Number(m[4]) === f.dport) return true;
  }
  return false;
}

/** tcp 40, udp 28, icmp errors 56 (the quoted 28 bytes), other icmp 84 (an echo), other protocols 20. */
function defaultLen(proto: number, icmpError: boolean): number {
  if (proto === 6) return 40;
  if (proto === 17) return 28;
  if (proto === 1) return icmpError ? 56 : 84;
  return 20;
}

// ---------------------------------------------------------------------------------------------------------------
// the host

export interface HostInfo {
  ifaces: string[];
  macs: Map<string, string>;
  addrs: Array<{ iface: string; addr: number; prefix: number }>;
}

function hostLines(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter((l) => l !== '')
    .map((l) => l.split(/\s+/));
}

function ifacesOf(lines: string[][]): string[] {
  const set = new Set<string>();
  for (const w of lines) {
    if (w[0] === 'ip') {
      w.forEach((x, i) => {
        if (x === 'dev' && w[i + 1]) set.add(w[i + 1]!);
      });
      if (w[1] === 'link' && w[2] === 'set' && w[3] && w[3] !== 'dev') set.add(w[3]);
    } else if (w[0] === 'sysctl') {
      const m = /net[./]ipv4[./]conf[./]([^./=]+)[./]/.exec(w.join(' '));
      if (m && m[1] !== 'all' && m[1] !== 'default') set.add(m[1]!);
    }
  }
  set.delete('lo');
  return [...set];
}

function macFor(dst: number, iface: string, h: HostInfo): string {
  if (dst === 0xffffffff) return 'ff:ff:ff:ff:ff:ff';
  if (dst >>> 28 === 14) return multicastMac(dst);
  for (const a of h.addrs) {
    if (a.iface !== iface || a.prefix >= 31) continue;
    if (((a.addr & maskOf(a.prefix)) | ~maskOf(a.prefix)) >>> 0 === dst) return 'ff:ff:ff:ff:ff:ff';
  }
  return h.macs.get(iface)!;
}

function normaliseConntrack(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const t = l.trim().split(/\s+/);
      t.splice(2, 1); // the timeout
      return t.filter((x) => !x.startsWith('use=')).join(' ');
    })
    .sort();
}

/** A scenario's host: the host namespace and the peer namespace that holds the far end of each of its veths. */
export class NetnsHost {
  constructor(
    readonly hostNs: string,
    readonly peerNs: string,
  ) {}

  /** argv run inside the host namespace. */
  inHost(...argv: string[]): string[] {
    return ['ip', 'netns', 'exec', this.hostNs, ...argv];
  }

  deleteNamespaces(): void {
    const list = run(['ip', 'netns', 'list']).stdout;
    for (const ns of [this.hostNs, this.peerNs]) if (new RegExp(`^${ns}( |$)`, 'm').test(list)) run(['ip', 'netns', 'del', ns]);
  }

  private applyHostLine(w: string[]): void {
    if (w[0] === 'ip') {
      const okSub =
        (['addr', 'address', 'a'].includes(w[1]!) && w[2] === 'add') ||
        (['route', 'r', 'ro'].includes(w[1]!) && w[2] === 'add') ||
        (w[1] === 'link' && w[2] === 'set');
      if (!okSub) throw new Error(`HOSTFILE: unsupported command "${w.join(' ')}"`);
      must(['ip', '-n', this.hostNs, ...w.slice(1)]);
    } else if (w[0] === 'sysctl') {
      const kv = w.slice(1).filter((x) => x !== '-w' && x !== '-q');
      if (kv.length !== 1 || !/^net[./]ipv4[./][\w./-]+=\S+$/.test(kv[0]!)) throw new Error(`HOSTFILE: unsupported sysctl "${w.join(' ')}"`);
      must(this.inHost('sysctl', '-qw', kv[0]!));
    } else throw new Error(`HOSTFILE: unsupported command "${w.join(' ')}"`);
  }

  private build(sc: TraceScenario, packets: ParsedLine[]): HostInfo {
    const { hostNs, peerNs } = this;
    // An empty HOSTFILE is a host with nothing but lo (tsiptables' own default host applies only without --host).
    const lines = hostLines(sc.host);
    const ifaces = ifacesOf(lines);
    for (const p of packets) if (p.iface && p.iface !== 'lo' && !ifaces.includes(p.iface)) ifaces.push(p.iface);
    must(['ip', 'netns', 'add', hostNs]);
    must(['ip', 'netns', 'add', peerNs]);
    // A new namespace inherits init_net's IPv4 conf/all and conf/default (devconf_inherit_init_net=0): set the
    // values of a fresh machine before any interface exists, so that the HOSTFILE alone decides.
    for (const ns of [hostNs, peerNs]) {
      must([
        'ip', 'netns', 'exec', ns, 'sysctl', '-qw',
        'net.ipv4.ip_forward=0',
        'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0',
        'net.ipv4.conf.all.log_martians=0', 'net.ipv4.conf.default.log_martians=0',
        'net.ipv4.conf.all.accept_local=0', 'net.ipv4.conf.default.accept_local=0',
        'net.ipv4.conf.all.route_localnet=0', 'net.ipv4.conf.default.route_localnet=0',
        'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1',
      ]);
      must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // MACs the HOSTFILE sets are given at creation too (the HOSTFILE line then runs again: veth takes it while up).
    const wanted = new Map<string, string>();
    for (const w of lines) {
      if (w[0] === 'ip' && w[1] === 'link' && w[2] === 'set' && w.includes('address')) {
        const dev = w[3] === 'dev' ? w[4] : w[3];
        if (dev) wanted.set(dev, w[w.indexOf('address') + 1]!.toLowerCase());
      }
    }
    for (const i of ifaces) {
      must(['ip', '-n', hostNs, 'link', 'add', i, 'address', wanted.get(i) ?? hostMac(i), 'type', 'veth', 'peer', 'name', peerName(i), 'address', peerMac(i), 'netns', peerNs]);
      must(['ip', '-n', hostNs, 'link', 'set', i, 'up']);
      must(['ip', '-n', peerNs, 'link', 'set', peerName(i), 'up']);
    }
    for (const w of lines) this.applyHostLine(w);

    const links = JSON.parse(must(['ip', '-n', hostNs, '-j', 'link', 'show'])) as Array<{ ifname: string; address: string }>;
    const macs = new Map(links.map((l) => [l.ifname, l.address]));
    const addrJson = JSON.parse(must(['ip', '-n', hostNs, '-j', '-4', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
    const addrs = addrJson.flatMap((l) => l.addr_info.map((a) => ({ iface: l.ifname, addr: ipToNum(a.local), prefix: a.prefixlen })));
    return { ifaces, macs, addrs };
  }

  /** Permanent neighbour entries so that the host never ARPs (the peer namespace has no address to answer with). */
  private addNeighbours(h: HostInfo, sc: TraceScenario, packets: ParsedLine[]): void {
    const cand = new Set<number>();
    for (const p of packets) {
      if (p.src !== undefined) cand.add(ipToNum(p.src));
      cand.add(ipToNum(p.dst));
    }
    for (const m of sc.rules.matchAll(/--to(?:-destination|-source)?[ =]([\d.]+)(?:-([\d.]+))?/g)) {
      const a = ipToNum(m[1]!);
      const b = m[2] ? ipToNum(m[2]) : a;
      for (let x = a; x <= b && x - a < 256; x++) cand.add(x);
    }
    const routes = JSON.parse(must(['ip', '-n', this.hostNs, '-j', '-4', 'route', 'show', 'table', 'all'])) as Array<{ gateway?: string; dev?: string }>;
    const own = new Set(h.addrs.map((a) => a.addr));
    const lines: string[] = [];
    const added = new Set<string>();
    const add = (addr: number, iface: string): void => {
      const k = `${addr} ${iface}`;
      if (own.has(addr) || added.has(k) || iface === 'lo' || !h.macs.has(iface)) return;
      added.add(k);
      lines.push(`neigh replace ${numToIp(addr)} lladdr ${peerMac(iface)} dev ${iface} nud permanent`);
    };
    for (const r of routes) if (r.gateway && r.dev) add(ipToNum(r.gateway), r.dev);
    for (const a of h.addrs) {
      if (a.iface === 'lo' || a.prefix >= 31) continue;
      const mask = maskOf(a.prefix);
      const net = (a.addr & mask) >>> 0;
      const bcast = (net | ~mask) >>> 0;
      const inSubnet = (x: number): boolean => x > net && x < bcast;
      if (a.prefix >= 24) for (let x = net + 1; x < bcast; x++) add(x, a.iface);
      for (const x of cand) if (inSubnet(x)) add(x, a.iface);
    }
    if (lines.length) must(['ip', '-n', this.hostNs, '-batch', '-'], lines.join('\n') + '\n');
  }

  /** Builds sc's host (namespaces, veths, HOSTFILE, neighbours) and loads `rules` with `restore` (an iptables-restore). */
  setUp(sc: TraceScenario, packets: ParsedLine[], restore: string, rules: string): HostInfo {
    const h = this.build(sc, packets);
    this.addNeighbours(h, sc, packets);
    const r = run(this.inHost(restore), rules);
    if (r.status !== 0) throw new Error(`${restore}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
    return h;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

/** A scenario's rules with a *raw table (the recorder's TRACE rules go there). */
export const withRawTable = (rules: string): string => (/^\*raw\s*$/m.test(rules) ? rules : EMPTY_RAW + rules);

/** What a recorder stores for one packet: fate, out interface and packet, what it observed (X), conntrack after it. */
export type Outcome<X> = Pick<KernelOutcome, 'fate' | 'out' | 'packet'> & X & { conntrack: string[]; notes?: string[] };

/** What a recorder sees of each packet, besides what happened to it. */
export interface Observer<X> {
  /** Right before packet k is sent. */
  beforeSend?(): void;
  /**
   * After packet k (IP id `id`; arriving from the peer end `peer`, or sent by the host when null) settled; `notes`
   * takes what is worth saying. Throws when the recorder saw nothing where it must have seen something.
   */
  observe(k: number, id: number, peer: string | null, res: SendResult, notes: string[]): X | Promise<X>;
}

/** How a recorder runs a scenario on top of the host. */
export interface ScenarioSetup<X> {
  /** The iptables-restore that loads the rules. */
  restore: string;
  /** Once the rules are in: the recorder's TRACE rules and what it observes with. */
  prepare(h: HostInfo): Observer<X> | Promise<Observer<X>>;
  /** After the scenario, also after an error (before the namespaces go). */
  cleanup?(): void;
}

interface ScenarioOut {
  why: string;
  rules: string;
  packets: Array<{ packet: string }>;
}

/**
 * Records scenario `sc` into `out` (its `rules` are the ones loaded): builds the host, loads the rules, sends every
 * packet with the defaults tsiptables gives it and stores what became of it. A host that cannot be set up gives
 * `out` without outcomes and the error; errors later on are thrown.
 */
export async function runScenario<S extends ScenarioOut, X extends object>(
  helper: Helper,
  host: NetnsHost,
  sc: TraceScenario,
  out: S,
  setup: ScenarioSetup<X>,
): Promise<{ scenario: S; error?: string }> {
  const parsed = sc.packets.map((pc) => parsePacketLine(pc.packet));
  host.deleteNamespaces();
  try {
    let h: HostInfo;
    let observer: Observer<X>;
    try {
      h = host.setUp(sc, parsed, setup.restore, out.rules);
      observer = await setup.prepare(h);
    } catch (e) {
      const msg = firstLine(e);
      out.why = failedWhy(sc.why, msg);
      out.packets = sc.packets.map((pc) => ({ packet: pc.packet }));
      return { scenario: out, error: msg };
    }
    out.packets = await sendPackets(helper, host, sc, parsed, h, observer);
    return { scenario: out };
  } finally {
    setup.cleanup?.();
    host.deleteNamespaces();
  }
}

async function sendPackets<X extends object>(
  helper: Helper,
  host: NetnsHost,
  sc: TraceScenario,
  parsed: ParsedLine[],
  h: HostInfo,
  observer: Observer<X>,
): Promise<Array<{ packet: string; kernel: Outcome<X> }>> {
  const protos = new Set([1, 6, 17]);
  for (const p of parsed) if (p.proto !== 0 && p.proto !== 255) protos.add(p.proto);
  const peers = h.ifaces.map(peerName);
  const peerToIface = new Map(h.ifaces.map((i) => [peerName(i), i]));
  await helper.call({ op: 'setup', host: host.hostNs, peer: host.peerNs, peers, protos: [...protos] });
  const history: History[] = [];
  const packets: Array<{ packet: string; kernel: Outcome<X> }> = [];
  let lastConntrack: string[] = [];
  for (let k = 0; k < parsed.length; k++) {
    const p = parsed[k]!;
    const notes: string[] = [];
    // Defaults as tsiptables documents them (src/eval/packet-line.ts).
    const id = p.ipId ?? ((0x1000 + k) & 0xffff);
    let src = p.src;
    if (src === undefined) {
      const r = JSON.parse(run(['ip', '-n', host.hostNs, '-j', 'route', 'get', p.dst]).stdout || '[]') as Array<{ prefsrc?: string }>;
      src = r[0]?.prefsrc;
      if (src === undefined) throw new Error(`packet ${k + 1}: no -s and no route to ${p.dst} to take a source address from`);
    }
    const sport = p.proto === 6 || p.proto === 17 ? (p.sport ?? 40000) : 0;
    const dport = p.proto === 6 || p.proto === 17 ? (p.dport ?? (p.proto === 6 ? 80 : 53)) : 0;
    const me: Flow = { proto: p.proto, src, dst: p.dst, sport: p.proto === 6 || p.proto === 17 ? sport : undefined, dport: p.proto === 6 || p.proto === 17 ? dport : undefined };
    let flags = p.flags ?? '';
    let seq = p.seq ?? 0;
    let ackSeq = p.ackSeq ?? 0;
    if (p.proto === 6) {
      // No flags: SYN when it opens a connection, ACK when conntrack knows the flow already.
      if (p.flags === undefined) flags = inConntrack(lastConntrack, me) ? 'A' : 'S';
      const synOrFin = (f: string): number => (/[SF]/.test(f) ? 1 : 0);
      const given = (x: History): Flow => ({ proto: x.given.proto, src: x.given.src, dst: x.given.dst, sport: x.given.sport, dport: x.given.dport });
      const mine = [...history].reverse().find((x) => sameFlow(given(x), me));
      const theirs = [...history].reverse().find((x) => x.wire.some((w) => sameFlow(flowOfHex(w), me, true)) || sameFlow(given(x), me, true));
      if (p.seq === undefined) seq = mine ? (mine.given.seq + synOrFin(mine.given.tcpFlags)) >>> 0 : theirs ? 5000 : 1000;
      if (p.ackSeq === undefined) ackSeq = flags.includes('A') && theirs ? (theirs.given.seq + synOrFin(theirs.given.tcpFlags)) >>> 0 : 0;
    }
    const icmpType = p.icmpType ?? 8;
    let quote: string | null = null;
    if (p.proto === 1 && ICMP_ERRORS.has(icmpType)) {
      // The latest earlier packet whose addresses it reverses, as it was on the wire (else as sent).
      for (let j = history.length - 1; j >= 0 && quote === null; j--) {
        for (const f of [...history[j]!.wire, history[j]!.sent]) {
          const w = wireOf(f);
          if (w.src === p.dst && w.dst === src) {
            quote = f.slice(0, (w.ihl + 8) * 2);
            break;
          }
        }
      }
      if (quote === null) {
        quote = '00'.repeat(28);
        notes.push('ICMP error quoting no earlier packet: 28 zero bytes quoted');
      }
    }
    let peer: string | null = null;
    let macDst = '';
    let macSrc = '';
    if (p.iface !== undefined && p.iface !== 'lo') {
      peer = peerName(p.iface);
      macDst = macFor(ipToNum(p.dst), p.iface, h);
      macSrc = p.macSource ?? peerMac(p.iface);
      if (p.mark !== undefined) notes.push('--mark ignored: a packet arriving from the wire carries no mark');
      if (p.uid !== undefined || p.gid !== undefined) notes.push('--uid/--gid ignored: an arriving packet has no socket');
    } else if (p.iface === 'lo') {
      throw new Error(`packet ${k + 1}: -i lo is not supported by the recorder (send it without -i to a local address)`);
    }
    const spec: Spec = {
      src,
      dst: p.dst,
      proto: p.proto,
      tos: p.tos ?? 0,
      ttl: p.ttl ?? 64,
      id,
      df: !p.noDf,
      len: p.len ?? defaultLen(p.proto, p.proto === 1 && ICMP_ERRORS.has(icmpType)),
      sport,
      dport,
      tcpFlags: flags,
      seq,
      ackSeq,
      window: p.window ?? 64240,
      icmpType,
      icmpCode: p.icmpCode ?? 0,
      icmpId: p.icmpId ?? 0x1234,
      icmpSeq: p.icmpSeq ?? 1,
      quote,
      uid: peer ? 0 : (p.uid ?? 0),
      gid: peer ? 0 : (p.gid ?? p.uid ?? 0),
      mark: peer ? 0 : (p.mark ?? 0),
      peer,
      macSrc,
      macDst,
    };
    observer.beforeSend?.();
    const res = await helper.call<SendResult>({ op: 'send', spec, settle_ms: SETTLE_MS, max_ms: 2000 });
    notes.push(...res.notes);
    if (res.error) notes.push(res.error);
    const seen = await observer.observe(k, id, peer, res, notes);
    let outcome: Outcome<X>;
    if (res.captured.length > 0) {
      const c = res.captured[0]!;
      if (res.captured.length > 1) notes.push(`also seen leaving by ${res.captured.slice(1).map((x) => peerToIface.get(x.peer)).join(', ')}`);
      if (res.delivered.length > 0) notes.push('also delivered locally');
      outcome = { fate: peer ? 'forwarded' : 'sent', out: peerToIface.get(c.peer)!, packet: publicWire(wireOf(c.ip)), ...seen, conntrack: [] };
    } else if (res.delivered.length > 0) {
      outcome = { fate: 'delivered', out: null, packet: publicWire(wireOf(res.delivered[0]!)), ...seen, conntrack: [] };
    } else {
      outcome = { fate: 'dropped', out: null, packet: null, ...seen, conntrack: [] };
      if (!protos.has(p.proto)) notes.push(`protocol ${p.proto}: no raw socket can see it delivered; recorded as dropped`);
    }
    for (const a of res.arp) notes.push(`the host sent an ARP request for ${a.who} on ${peerToIface.get(a.peer)}: a packet may have waited for it`);
    outcome.conntrack = normaliseConntrack(run(host.inHost('conntrack', '-L')).stdout);
    lastConntrack = outcome.conntrack;
    if (notes.length) outcome.notes = notes;
    const wire = [...res.captured.map((c) => c.ip), ...res.delivered];
    history.push({ given: spec, wire: wire.length ? wire : [res.sent], sent: res.sent });
    packets.push({ packet: sc.packets[k]!.packet, kernel: outcome });
  }
  await helper.call({ op: 'teardown' });
  return packets;
}

// ---------------------------------------------------------------------------------------------------------------
// the command line

/** A recorder's part of the command line. */
export interface Recorder<S extends { name: string; packets: Array<{ kernel?: { fate: string } }> }> {
  /** `record-traces`: the script's name, the prefix of its messages. */
  name: string;
  defaultOut: string;
  /** The scenario files recorded when none is given. */
  defaultFiles(): string[];
  host: NetnsHost;
  /** What it needs of the machine, checked before anything runs. */
  needs: Needs;
  /** After the namespaces of an earlier run are gone, before the packet engine starts. */
  start?(): void;
  /** The `recorded` header between `by` and `kernel`. */
  header(): Record<string, string>;
  /** The scenario to record from one of a file (default: itself). */
  scenario?(sc: TraceScenario): TraceScenario;
  record(helper: Helper, sc: TraceScenario): Promise<{ scenario: S; error?: string }>;
  /** The scenario as written when recording it threw (no outcomes; `why` says why). */
  failed(sc: TraceScenario, why: string): S;
  /** Added to the per-scenario summary after the fates. */
  summaryExtra?(sc: S): string;
  /** On SIGINT/SIGTERM, before the namespaces go. */
  interrupt?(): void;
}

/** What a recorder needs of the machine (Recorder.needs). */
export interface Needs {
  /** Why it must be root: `it builds network namespaces`. */
  why: string;
  commands: string[];
  /** Files that must exist: [path, what is missing without it]. */
  files: Array<[string, string]>;
  /** The Debian packages that bring them. */
  apt: string;
  /** A command whose output must match `re` (the iptables variant). */
  version: { argv: string[]; re: RegExp };
}

/** Root, the tools (and python3 with scapy), their version: a UsageError saying what is missing. */
function preflight(name: string, n: Needs): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new UsageError(`${name}: must run as root on Linux (${n.why}); try sudo`);
  }
  const missing: string[] = [];
  for (const tool of n.commands) {
    if (run(['sh', '-c', `command -v ${tool}`]).status !== 0) missing.push(tool);
  }
  if (run([PY, '-c', 'import scapy.layers.inet']).status !== 0) missing.push(`${PY} with scapy (python3-scapy)`);
  for (const [file, what] of n.files) if (!fs.existsSync(file)) missing.push(what);
  if (missing.length) throw new UsageError(`${name}: missing ${missing.join(', ')}\n  apt-get install -y ${n.apt}`);
  const v = run(n.version.argv).stdout.trim();
  if (!n.version.re.test(v)) throw new UsageError(`${name}: ${n.version.argv.join(' ')} says "${v}"`);
}

function lock(): () => void {
  return pidLock(LOCK, 30, 'recorder');
}

/**
 * The recorder's main: `[--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]`. Writes DIR/<basename> for each
 * file; with --only, the other scenarios of an existing DIR/<basename> are kept. Returns the exit status: 0 all
 * recorded, 1 some scenario failed (written with a recorder note in `why` and no outcomes); bad usage, not root or a
 * tool missing throw a UsageError.
 */
async function recorderMain<S extends { name: string; packets: Array<{ kernel?: { fate: string } }> }>(r: Recorder<S>): Promise<number> {
  const args = process.argv.slice(2);
  let outDir = r.defaultOut;
  const only: string[] = [];
  let quiet = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') outDir = args[++i] ?? '';
    else if (a === '--only') only.push(args[++i] ?? '');
    else if (a === '--quiet') quiet = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(`usage: npx tsx scripts/${r.name}.ts [--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]\n`);
      return 0;
    } else if (a.startsWith('-')) throw new UsageError(`${r.name}: unknown option ${a}`);
    else files.push(a);
  }
  if (outDir === '' || only.includes('')) throw new UsageError(`${r.name}: --out and --only need an argument`);
  if (files.length === 0) files.push(...r.defaultFiles());
  const inputs = files.map((f) => {
    try {
      return { file: f, data: JSON.parse(fs.readFileSync(f, 'utf8')) as { scenarios: TraceScenario[] } };
    } catch (e) {
      throw new UsageError(`${r.name}: ${f}: ${(e as Error).message}`);
    }
  });
  preflight(r.name, r.needs);
  const unlock = lock();
  let helper: Helper | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    r.interrupt?.();
    r.host.deleteNamespaces();
    helper?.close();
    unlock();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let failures = 0;
  const t0 = Date.now();
  let packets = 0;
  try {
    r.host.deleteNamespaces();
    r.start?.();
    helper = new Helper();
    await helper.ready();
    const recorded = {
      by: `scripts/${r.name}.ts (npx tsx scripts/${r.name}.ts ${args.join(' ')})`.replace(/ \)$/, ')'),
      ...r.header(),
      kernel: run(['uname', '-r']).stdout.trim(),
      date: new Date().toISOString(),
    };
    fs.mkdirSync(outDir, { recursive: true });
    for (const { file, data } of inputs) {
      const target = path.join(outDir, path.basename(file));
      const chosen = data.scenarios.filter((s) => only.length === 0 || only.includes(s.name));
      if (chosen.length === 0) continue;
      if (!quiet) process.stdout.write(`${file} -> ${target}\n`);
      const done = new Map<string, S>();
      for (const given of chosen) {
        const sc = r.scenario?.(given) ?? given;
        const s0 = Date.now();
        let res: { scenario: S; error?: string };
        try {
          res = await r.record(helper, sc);
        } catch (e) {
          const msg = firstLine(e);
          res = { scenario: r.failed(sc, failedWhy(sc.why, msg)), error: msg };
        }
        if (res.error) {
          failures++;
          process.stderr.write(`${r.name}: ${file}: scenario ${sc.name}: ${res.error}\n`);
        }
        packets += sc.packets.length;
        done.set(sc.name, res.scenario);
        if (!quiet) process.stdout.write(`${summary(res.scenario, Date.now() - s0, r.summaryExtra?.(res.scenario) ?? '')}\n`);
      }
      let scenarios: S[];
      if (only.length && fs.existsSync(target)) {
        const prev = JSON.parse(fs.readFileSync(target, 'utf8')) as { scenarios: S[] };
        scenarios = prev.scenarios.map((s) => done.get(s.name) ?? s);
        for (const s of done.values()) if (!prev.scenarios.some((x) => x.name === s.name)) scenarios.push(s);
      } else scenarios = data.scenarios.filter((s) => done.has(s.name)).map((s) => done.get(s.name)!);
      fs.writeFileSync(target, `${JSON.stringify({ recorded, scenarios }, null, 2)}\n`);
    }
  } finally {
    helper?.close();
    r.host.deleteNamespaces();
    unlock();
  }
  if (!quiet) process.stdout.write(`${packets} packets in ${((Date.now() - t0) / 1000).toFixed(1)} s${failures ? `, ${failures} scenario(s) failed` : ''}\n`);
  return failures ? 1 : 0;
}

function summary(sc: { name: string; packets: Array<{ kernel?: { fate: string } }> }, ms: number, extra: string): string {
  const count = new Map<string, number>();
  for (const p of sc.packets) if (p.kernel) count.set(p.kernel.fate, (count.get(p.kernel.fate) ?? 0) + 1);
  const fates = [...count].map(([f, n]) => `${f} ${n}`).join(', ');
  return `  ${sc.name}: ${sc.packets.length} packets${fates ? `: ${fates}` : ''}${extra} (${(ms / 1000).toFixed(1)} s)`;
}

/** Whether the module at `moduleUrl` is the script node was started with (not only imported). */
function isMain(moduleUrl: string): boolean {
  const real = (f: string): string => {
    try {
      return fs.realpathSync(f);
    } catch {
      return path.resolve(f);
    }
  };
  const script = process.argv[1];
  return script !== undefined && real(script) === real(fileURLToPath(moduleUrl));
}

/**
 * Runs the recorder when `moduleUrl` (the caller's import.meta.url) is the script node was started with, and exits
 * with its status; does nothing when the module is only imported.
 */
export function runRecorder<S extends { name: string; packets: Array<{ kernel?: { fate: string } }> }>(moduleUrl: string, r: Recorder<S>): void {
  if (!isMain(moduleUrl)) return;
  recorderMain(r).then(
    (code) => process.exit(code),
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${e.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`${r.name}: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
