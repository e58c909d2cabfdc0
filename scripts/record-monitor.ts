/**
 * record-monitor.ts - the truth for `tsiptables trace --monitor`: builds each scenario's host in network
 * namespaces with the nf_tables variant of iptables (iptables-nft-restore, never legacy), inserts `-j TRACE` first
 * in raw PREROUTING and raw OUTPUT, runs `xtables-monitor --trace` in the host namespace while it injects the
 * scenario's packets, and stores, per packet, the lines xtables-monitor printed for it, with the fate, the packet
 * as it left or was delivered and conntrack. How it works and the file format: fixtures/traces/README.md
 * ("xtables-monitor --trace recordings"); the formatter it checks is src/cli/trace-monitor.ts.
 *
 * Host building, PACKET defaults and packet injection are those of scripts/record-traces.ts (this file repeats
 * its host and PACKET code: that script exports nothing and runs when imported) and its packet engine
 * scripts/trace-inject.py, which is used as it is.
 *
 * Usage (root, Linux with iptables 1.8.9 nf_tables, xtables-monitor, nft, conntrack, setpriv, python3-scapy):
 *
 *   npx tsx scripts/record-monitor.ts [--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]
 *
 *   SCENARIO_FILE   TraceFixtureFile JSON (scenarios/ or recorded/: outcomes are ignored); default: the
 *                   hand-written fixtures/traces/scenarios/{router-lab,conntrack-states,nat,routing,matches-targets}.json
 *   --out DIR       write DIR/<basename> (default fixtures/traces/monitor)
 *   --only NAME     record only the scenario(s) NAME (repeatable); other scenarios of an existing output are kept
 *   --quiet         no per-scenario summary
 *
 * Exit status: 0 all recorded, 1 some scenario could not be set up (written with a recorder note in `why` and no
 * outcomes), 2 bad usage, not root or a tool missing.
 */
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

import { parseIcmpType } from '../src/extensions/matches/icmp';
import type { TraceScenario, WirePacket } from './trace-fixture-format';

const HOST_NS = 'tsi-mon-h';
const PEER_NS = 'tsi-mon-p';
/** The lock of scripts/record-traces.ts: both recorders build hosts with the same interface names and IP ids. */
const LOCK = '/run/lock/tsi-record-traces.lock';
const PY = '/usr/bin/python3';
const HELPER = path.join(path.dirname(new URL(import.meta.url).pathname), 'trace-inject.py');
const DEFAULT_SCENARIOS = ['router-lab', 'conntrack-states', 'nat', 'routing', 'matches-targets'].map((n) => `fixtures/traces/scenarios/${n}.json`);
const DEFAULT_OUT = 'fixtures/traces/monitor';
const EMPTY_RAW = '*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';
const SETTLE_MS = 120;
/** After the packet settled: xtables-monitor lines stop arriving for this long. */
const MONITOR_QUIET_MS = 150;
/** NFNLGRP_NFTRACE (9) as a bit of /proc/net/netlink's Groups column. */
const NFTRACE_GROUP_BIT = 1 << 8;

/** What the kernel did with one packet, as xtables-monitor --trace showed it. */
export interface MonitorOutcome {
  fate: 'delivered' | 'forwarded' | 'sent' | 'dropped';
  out: string | null;
  packet: WirePacket | null;
  /**
   * Every line xtables-monitor --trace printed for the packet, byte for byte without the newline (the trace ids
   * are the kernel's random ones; the recorder's own TRACE rule lines are included), in order: the lines of
   * every trace id whose PACKET lines show the packet's IP id.
   */
  monitor: string[];
  /** `conntrack -L` after the packet, normalised as in scripts/record-traces.ts. */
  conntrack: string[];
  notes?: string[];
}

export interface MonitorScenario extends Omit<TraceScenario, 'packets'> {
  /** `nft -a list ruleset` right after iptables-nft-restore (before the TRACE rules), warnings left out. */
  nftRuleset: string;
  /** The handles of the recorder's `-j TRACE` rules (raw PREROUTING and raw OUTPUT). */
  traceRules: { PREROUTING: number; OUTPUT: number };
  packets: Array<{ packet: string; kernel?: MonitorOutcome }>;
}

export interface MonitorFixtureFile {
  recorded: { by: string; how: string; iptables: string; xtablesMonitor: string; nft: string; kernel: string; date: string };
  scenarios: MonitorScenario[];
}

// ---------------------------------------------------------------------------------------------------------------
// small helpers

class UsageError extends Error {}

function run(argv: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: input ?? '', encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, timeout: 30_000 });
  return { status: r.status ?? 128, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function must(argv: string[], input?: string): string {
  const r = run(argv, input);
  if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

const inHost = (...argv: string[]): string[] => ['ip', 'netns', 'exec', HOST_NS, ...argv];

function ipToNum(s: string): number {
  const p = s.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d+$/.test(x) || Number(x) > 255)) throw new Error(`bad IPv4 address "${s}"`);
  return p.reduce((a, x) => a * 256 + Number(x), 0);
}
const numToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);

/** The MAC tsiptables gives an interface the HOSTFILE names no MAC for (src/eval/host.ts defaultMac). */
function fnvBytes(name: string): number[] {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return [(h >>> 16) & 255, (h >>> 8) & 255, h & 255];
}
const macOf = (bytes: number[]): string => bytes.map((x) => x.toString(16).padStart(2, '0')).join(':');
const hostMac = (name: string): string => macOf([2, 0, 0, ...fnvBytes(name)]);
/** The neighbour's MAC, as tsiptables gives it (src/eval/packet-line.ts peerMac). */
const peerMac = (name: string): string => macOf([2, 0, 1, ...fnvBytes(`peer-${name}`)]);
function peerName(iface: string): string {
  const n = `p-${iface}`;
  return n.length <= 15 ? n : `p-${fnvBytes(iface).map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// the python helper

class Helper {
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

interface SendResult {
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

/** The transport view of an IPv4 packet given as hex. */
function wireOf(hex: string): WirePacket & { id: number; ihl: number } {
  const b = Buffer.from(hex, 'hex');
  const ihl = (b[0]! & 15) * 4;
  const proto = b[9]!;
  const w: WirePacket & { id: number; ihl: number } = {
    proto: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 ? 'icmp' : String(proto),
    src: numToIp(b.readUInt32BE(12)),
    dst: numToIp(b.readUInt32BE(16)),
    id: b.readUInt16BE(4),
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

// ---------------------------------------------------------------------------------------------------------------
// the host

interface HostInfo {
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

function applyHostLine(w: string[]): void {
  if (w[0] === 'ip') {
    const okSub =
      (['addr', 'address', 'a'].includes(w[1]!) && w[2] === 'add') ||
      (['route', 'r', 'ro'].includes(w[1]!) && w[2] === 'add') ||
      (w[1] === 'link' && w[2] === 'set');
    if (!okSub) throw new Error(`HOSTFILE: unsupported command "${w.join(' ')}"`);
    must(['ip', '-n', HOST_NS, ...w.slice(1)]);
  } else if (w[0] === 'sysctl') {
    const kv = w.slice(1).filter((x) => x !== '-w' && x !== '-q');
    if (kv.length !== 1 || !/^net[./]ipv4[./][\w./-]+=\S+$/.test(kv[0]!)) throw new Error(`HOSTFILE: unsupported sysctl "${w.join(' ')}"`);
    must(inHost('sysctl', '-qw', kv[0]!));
  } else throw new Error(`HOSTFILE: unsupported command "${w.join(' ')}"`);
}

function deleteNamespaces(): void {
  const list = run(['ip', 'netns', 'list']).stdout;
  for (const ns of [HOST_NS, PEER_NS]) if (new RegExp(`^${ns}( |$)`, 'm').test(list)) run(['ip', 'netns', 'del', ns]);
}

function buildHost(sc: TraceScenario, packets: ParsedLine[]): HostInfo {
  // An empty HOSTFILE is a host with nothing but lo (tsiptables' own default host applies only without --host).
  const lines = hostLines(sc.host);
  const ifaces = ifacesOf(lines);
  for (const p of packets) if (p.iface && p.iface !== 'lo' && !ifaces.includes(p.iface)) ifaces.push(p.iface);
  must(['ip', 'netns', 'add', HOST_NS]);
  must(['ip', 'netns', 'add', PEER_NS]);
  // A new namespace inherits init_net's IPv4 conf/all and conf/default (devconf_inherit_init_net=0): set the
  // values of a fresh machine before any interface exists, so that the HOSTFILE alone decides.
  for (const ns of [HOST_NS, PEER_NS]) {
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
    must(['ip', '-n', HOST_NS, 'link', 'add', i, 'address', wanted.get(i) ?? hostMac(i), 'type', 'veth', 'peer', 'name', peerName(i), 'address', peerMac(i), 'netns', PEER_NS]);
    must(['ip', '-n', HOST_NS, 'link', 'set', i, 'up']);
    must(['ip', '-n', PEER_NS, 'link', 'set', peerName(i), 'up']);
  }
  for (const w of lines) applyHostLine(w);

  const links = JSON.parse(must(['ip', '-n', HOST_NS, '-j', 'link', 'show'])) as Array<{ ifname: string; address: string }>;
  const macs = new Map(links.map((l) => [l.ifname, l.address]));
  const addrJson = JSON.parse(must(['ip', '-n', HOST_NS, '-j', '-4', 'addr', 'show'])) as Array<{ ifname: string; addr_info: Array<{ local: string; prefixlen: number }> }>;
  const addrs = addrJson.flatMap((l) => l.addr_info.map((a) => ({ iface: l.ifname, addr: ipToNum(a.local), prefix: a.prefixlen })));
  return { ifaces, macs, addrs };
}

/** Permanent neighbour entries so that the host never ARPs (the peer namespace has no address to answer with). */
function addNeighbours(h: HostInfo, sc: TraceScenario, packets: ParsedLine[]): void {
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
  const routes = JSON.parse(must(['ip', '-n', HOST_NS, '-j', '-4', 'route', 'show', 'table', 'all'])) as Array<{ gateway?: string; dev?: string }>;
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
  if (lines.length) must(['ip', '-n', HOST_NS, '-batch', '-'], lines.join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

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

function macFor(dst: number, iface: string, h: HostInfo): string {
  if (dst === 0xffffffff) return 'ff:ff:ff:ff:ff:ff';
  if (dst >>> 28 === 14) return macOf([1, 0, 0x5e, (dst >>> 16) & 0x7f, (dst >>> 8) & 255, dst & 255]);
  for (const a of h.addrs) {
    if (a.iface !== iface || a.prefix >= 31) continue;
    if (((a.addr & maskOf(a.prefix)) | ~maskOf(a.prefix)) >>> 0 === dst) return 'ff:ff:ff:ff:ff:ff';
  }
  return h.macs.get(iface)!;
}

// ---------------------------------------------------------------------------------------------------------------
// xtables-monitor

class Monitor {
  private proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  lastAt = Date.now();
  private exited = false;
  stderr = '';

  constructor() {
    this.proc = spawn('ip', ['netns', 'exec', HOST_NS, 'xtables-monitor', '--trace'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      this.lines.push(l);
      this.lastAt = Date.now();
    });
    this.proc.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.on('exit', () => (this.exited = true));
  }

  /** Until the monitor's netlink socket has joined the trace group in the host namespace. */
  async ready(): Promise<void> {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`xtables-monitor exited: ${this.stderr.trim()}`);
      const table = run(inHost('cat', '/proc/net/netlink')).stdout.split('\n').slice(1);
      // sk Eth Pid Groups ...: NETLINK_NETFILTER is protocol 12.
      if (table.some((l) => {
        const w = l.trim().split(/\s+/);
        return w[1] === '12' && (parseInt(w[3] ?? '0', 16) & NFTRACE_GROUP_BIT) !== 0;
      })) return;
      await sleep(20);
    }
    throw new Error('xtables-monitor did not subscribe to the trace group');
  }

  /** Until no line came for `quietMs` (at most `maxMs`). */
  async quiet(quietMs: number, maxMs: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < maxMs && Date.now() - Math.max(this.lastAt, t0) < quietMs) await sleep(10);
  }

  stop(): void {
    if (!this.exited) this.proc.kill('SIGTERM');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The running xtables-monitor, stopped on errors and signals too. */
let currentMonitor: Monitor | undefined;

const TRACE_ID = /^(?:PACKET| TRACE): \d+ ([0-9a-f]{8}) /;

/** The lines of every trace id whose PACKET lines show IP id `id`, in order. */
function ownMonitorLines(lines: string[], id: number): { mine: string[]; others: number } {
  const ids = new Set<string>();
  const tag = ` ID=${id} `;
  for (const l of lines) {
    const m = TRACE_ID.exec(l);
    if (m && l.startsWith('PACKET: ') && l.includes(tag)) ids.add(m[1]!);
  }
  const mine: string[] = [];
  const other = new Set<string>();
  for (const l of lines) {
    const m = TRACE_ID.exec(l);
    if (m && ids.has(m[1]!)) mine.push(l);
    else if (m) other.add(m[1]!);
  }
  return { mine, others: other.size };
}

function nftRuleset(): string {
  return run(inHost('nft', '-a', 'list', 'ruleset'))
    .stdout.split('\n')
    .filter((l) => !l.startsWith('# Warning:'))
    .join('\n');
}

/** The handle of the `meta nftrace set 1` rule of raw `chain`. */
function traceRuleHandle(text: string, chain: string): number {
  const m = new RegExp(`chain ${chain} \\{[^}]*?meta nftrace set 1 # handle (\\d+)`).exec(text.slice(text.indexOf('table ip raw')));
  if (!m) throw new Error(`no TRACE rule found in raw ${chain}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------------------------
// one scenario

async function recordScenario(helper: Helper, sc: TraceScenario): Promise<{ scenario: MonitorScenario; error?: string }> {
  const parsed = sc.packets.map((pc) => parsePacketLine(pc.packet));
  let rules = sc.rules;
  if (!/^\*raw\s*$/m.test(rules)) rules = EMPTY_RAW + rules;
  const out: MonitorScenario = { name: sc.name, why: sc.why, host: sc.host, rules, nftRuleset: '', traceRules: { PREROUTING: 0, OUTPUT: 0 }, packets: [] };
  deleteNamespaces();
  let monitor: Monitor | undefined;
  try {
    let h: HostInfo;
    try {
      h = buildHost(sc, parsed);
      addNeighbours(h, sc, parsed);
      const r = run(inHost('iptables-nft-restore'), rules);
      if (r.status !== 0) throw new Error(`iptables-nft-restore: exit ${r.status}: ${(r.stderr || r.stdout).trim()}`);
      out.nftRuleset = nftRuleset();
      must(inHost('iptables-nft', '-t', 'raw', '-I', 'PREROUTING', '1', '-j', 'TRACE'));
      must(inHost('iptables-nft', '-t', 'raw', '-I', 'OUTPUT', '1', '-j', 'TRACE'));
      const withTrace = nftRuleset();
      out.traceRules = { PREROUTING: traceRuleHandle(withTrace, 'PREROUTING'), OUTPUT: traceRuleHandle(withTrace, 'OUTPUT') };
      monitor = new Monitor();
      currentMonitor = monitor;
      await monitor.ready();
    } catch (e) {
      const msg = (e as Error).message.split('\n')[0]!;
      out.why = `${sc.why} [recorder error: ${msg}]`;
      out.packets = sc.packets.map((pc) => ({ packet: pc.packet }));
      return { scenario: out, error: msg };
    }
    const protos = new Set([1, 6, 17]);
    for (const p of parsed) if (p.proto !== 0 && p.proto !== 255) protos.add(p.proto);
    const peers = h.ifaces.map(peerName);
    const peerToIface = new Map(h.ifaces.map((i) => [peerName(i), i]));
    await helper.call({ op: 'setup', host: HOST_NS, peer: PEER_NS, peers, protos: [...protos] });
    const history: History[] = [];
    let lastConntrack: string[] = [];
    for (let k = 0; k < parsed.length; k++) {
      const p = parsed[k]!;
      const notes: string[] = [];
      // Defaults as tsiptables documents them (src/eval/packet-line.ts), as scripts/record-traces.ts builds them.
      const id = p.ipId ?? ((0x1000 + k) & 0xffff);
      let src = p.src;
      if (src === undefined) {
        const r = JSON.parse(run(['ip', '-n', HOST_NS, '-j', 'route', 'get', p.dst]).stdout || '[]') as Array<{ prefsrc?: string }>;
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
      const from = monitor.lines.length;
      const res = await helper.call<SendResult>({ op: 'send', spec, settle_ms: SETTLE_MS, max_ms: 2000 });
      await monitor.quiet(MONITOR_QUIET_MS, 2000);
      notes.push(...res.notes);
      if (res.error) notes.push(res.error);
      const { mine, others } = ownMonitorLines(monitor.lines.slice(from), id);
      if (others > 0) notes.push(`xtables-monitor also traced ${others} other packet(s) meanwhile (the host's answers), left out`);
      // raw PREROUTING always has the recorder's TRACE rule: an arriving packet without lines means trouble.
      if (peer && mine.length === 0) throw new Error(`packet ${k + 1}: xtables-monitor printed nothing for IP id ${id}`);
      let outcome: MonitorOutcome;
      if (res.captured.length > 0) {
        const c = res.captured[0]!;
        if (res.captured.length > 1) notes.push(`also seen leaving by ${res.captured.slice(1).map((x) => peerToIface.get(x.peer)).join(', ')}`);
        if (res.delivered.length > 0) notes.push('also delivered locally');
        outcome = { fate: peer ? 'forwarded' : 'sent', out: peerToIface.get(c.peer)!, packet: publicWire(wireOf(c.ip)), monitor: mine, conntrack: [] };
      } else if (res.delivered.length > 0) {
        outcome = { fate: 'delivered', out: null, packet: publicWire(wireOf(res.delivered[0]!)), monitor: mine, conntrack: [] };
      } else {
        outcome = { fate: 'dropped', out: null, packet: null, monitor: mine, conntrack: [] };
        if (!protos.has(p.proto)) notes.push(`protocol ${p.proto}: no raw socket can see it delivered; recorded as dropped`);
      }
      for (const a of res.arp) notes.push(`the host sent an ARP request for ${a.who} on ${peerToIface.get(a.peer)}: a packet may have waited for it`);
      outcome.conntrack = normaliseConntrack(run(inHost('conntrack', '-L')).stdout);
      lastConntrack = outcome.conntrack;
      if (notes.length) outcome.notes = notes;
      const wire = [...res.captured.map((c) => c.ip), ...res.delivered];
      history.push({ given: spec, wire: wire.length ? wire : [res.sent], sent: res.sent });
      out.packets.push({ packet: sc.packets[k]!.packet, kernel: outcome });
    }
    await helper.call({ op: 'teardown' });
    return { scenario: out };
  } finally {
    monitor?.stop();
    currentMonitor = undefined;
    deleteNamespaces();
  }
}

/** tcp 40, udp 28, icmp errors 56 (the quoted 28 bytes), other icmp 84 (an echo), other protocols 20. */
function defaultLen(proto: number, icmpError: boolean): number {
  if (proto === 6) return 40;
  if (proto === 17) return 28;
  if (proto === 1) return icmpError ? 56 : 84;
  return 20;
}

// ---------------------------------------------------------------------------------------------------------------
// main

function preflight(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new UsageError('record-monitor: must run as root on Linux (it builds network namespaces); try sudo');
  }
  const missing: string[] = [];
  for (const tool of ['ip', 'iptables-nft', 'iptables-nft-restore', 'xtables-monitor', 'nft', 'conntrack', 'setpriv', 'sysctl']) {
    if (run(['sh', '-c', `command -v ${tool}`]).status !== 0) missing.push(tool);
  }
  if (run([PY, '-c', 'import scapy.layers.inet']).status !== 0) missing.push(`${PY} with scapy (python3-scapy)`);
  if (missing.length) {
    throw new UsageError(`record-monitor: missing ${missing.join(', ')}\n  apt-get install -y iptables nftables conntrack util-linux iproute2 procps python3-scapy`);
  }
  const v = run(['iptables-nft', '-V']).stdout.trim();
  if (!/nf_tables/.test(v)) throw new UsageError(`record-monitor: iptables-nft -V says "${v}"`);
}

function lock(): () => void {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    try {
      fs.writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(LOCK, { force: true });
    } catch {
      const pid = Number(fs.readFileSync(LOCK, 'utf8').trim());
      let alive = false;
      try {
        process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (!alive) fs.rmSync(LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`another recorder (pid ${pid}) holds ${LOCK}`);
      else execFileSync('sleep', ['1']);
    }
  }
}

function summary(sc: MonitorScenario, ms: number): string {
  const count = new Map<string, number>();
  for (const p of sc.packets) if (p.kernel) count.set(p.kernel.fate, (count.get(p.kernel.fate) ?? 0) + 1);
  const fates = [...count].map(([f, n]) => `${f} ${n}`).join(', ');
  const lines = sc.packets.reduce((a, p) => a + (p.kernel?.monitor.length ?? 0), 0);
  return `  ${sc.name}: ${sc.packets.length} packets${fates ? `: ${fates}` : ''}, ${lines} monitor lines (${(ms / 1000).toFixed(1)} s)`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  let outDir = DEFAULT_OUT;
  const only: string[] = [];
  let quiet = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--out') outDir = args[++i] ?? '';
    else if (a === '--only') only.push(args[++i] ?? '');
    else if (a === '--quiet') quiet = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write('usage: npx tsx scripts/record-monitor.ts [--out DIR] [--only NAME]... [--quiet] [SCENARIO_FILE...]\n');
      return 0;
    } else if (a.startsWith('-')) throw new UsageError(`record-monitor: unknown option ${a}`);
    else files.push(a);
  }
  if (outDir === '' || only.includes('')) throw new UsageError('record-monitor: --out and --only need an argument');
  if (files.length === 0) files.push(...DEFAULT_SCENARIOS);
  const inputs = files.map((f) => {
    try {
      return { file: f, data: JSON.parse(fs.readFileSync(f, 'utf8')) as { scenarios: TraceScenario[] } };
    } catch (e) {
      throw new UsageError(`record-monitor: ${f}: ${(e as Error).message}`);
    }
  });
  preflight();
  const unlock = lock();
  let helper: Helper | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    currentMonitor?.stop();
    deleteNamespaces();
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
    deleteNamespaces();
    helper = new Helper();
    await helper.ready();
    const recorded: MonitorFixtureFile['recorded'] = {
      by: `scripts/record-monitor.ts (npx tsx scripts/record-monitor.ts ${args.join(' ')})`.replace(/ \)$/, ')'),
      how:
        'iptables-nft-restore of `rules` in a fresh tsi-mon-h namespace, then iptables-nft -t raw -I PREROUTING 1 -j TRACE and ' +
        '-I OUTPUT 1 -j TRACE; `ip netns exec tsi-mon-h xtables-monitor --trace` running while each packet is injected ' +
        '(scripts/trace-inject.py: an Ethernet frame from the peer end of -i IFACE, else a raw IP socket in the host)',
      iptables: run(['iptables-nft', '-V']).stdout.trim(),
      xtablesMonitor: run(['xtables-monitor', '-V']).stdout.trim(),
      nft: run(['nft', '-v']).stdout.trim(),
      kernel: run(['uname', '-r']).stdout.trim(),
      date: new Date().toISOString(),
    };
    fs.mkdirSync(outDir, { recursive: true });
    for (const { file, data } of inputs) {
      const target = path.join(outDir, path.basename(file));
      const chosen = data.scenarios.filter((s) => only.length === 0 || only.includes(s.name));
      if (chosen.length === 0) continue;
      if (!quiet) process.stdout.write(`${file} -> ${target}\n`);
      const done = new Map<string, MonitorScenario>();
      for (const sc0 of chosen) {
        const sc: TraceScenario = { name: sc0.name, why: sc0.why.replace(/ \[recorder error: .*\]$/, ''), host: sc0.host, rules: sc0.rules, packets: sc0.packets.map((p) => ({ packet: p.packet })) };
        const s0 = Date.now();
        let res: { scenario: MonitorScenario; error?: string };
        try {
          res = await recordScenario(helper, sc);
        } catch (e) {
          const msg = (e as Error).message.split('\n')[0]!;
          res = { scenario: { ...sc, nftRuleset: '', traceRules: { PREROUTING: 0, OUTPUT: 0 }, why: `${sc.why} [recorder error: ${msg}]`, packets: sc.packets.map((p) => ({ packet: p.packet })) }, error: msg };
        }
        if (res.error) {
          failures++;
          process.stderr.write(`record-monitor: ${file}: scenario ${sc.name}: ${res.error}\n`);
        }
        packets += sc.packets.length;
        done.set(sc.name, res.scenario);
        if (!quiet) process.stdout.write(`${summary(res.scenario, Date.now() - s0)}\n`);
      }
      let scenarios: MonitorScenario[];
      if (only.length && fs.existsSync(target)) {
        const prev = JSON.parse(fs.readFileSync(target, 'utf8')) as MonitorFixtureFile;
        scenarios = prev.scenarios.map((s) => done.get(s.name) ?? s);
        for (const s of done.values()) if (!prev.scenarios.some((x) => x.name === s.name)) scenarios.push(s);
      } else scenarios = data.scenarios.filter((s) => done.has(s.name)).map((s) => done.get(s.name)!);
      const file_: MonitorFixtureFile = { recorded, scenarios };
      fs.writeFileSync(target, `${JSON.stringify(file_, null, 2)}\n`);
    }
  } finally {
    helper?.close();
    deleteNamespaces();
    unlock();
  }
  if (!quiet) process.stdout.write(`${packets} packets in ${((Date.now() - t0) / 1000).toFixed(1)} s${failures ? `, ${failures} scenario(s) failed` : ''}\n`);
  return failures ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`record-monitor: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
