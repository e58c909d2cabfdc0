/**
 * Seeded random scenarios for `tsiptables trace`, in the format of scripts/trace-fixture-format.ts, WITHOUT the
 * kernel's outcome: scripts/record-traces.ts records that.
 *
 *   npx tsx scripts/gen-trace-scenarios.ts [--seed N] [--count M] [--out FILE] [--stats]
 *
 * Default: seed 1, 60 scenarios, fixtures/traces/scenarios/generated-<seed>.json. Deterministic for a seed (own
 * mulberry32 PRNG), and scenario i depends only on (seed, i): `--count 5` gives the first five of `--count 60`.
 * --stats prints what was generated (kinds, flows, expected paths and conntrack states, extensions) to stderr.
 *
 * A scenario is a router (2-3 interfaces: LAN, WAN with the default route, sometimes a DMZ; SNAT/MASQUERADE out
 * of the WAN, DNAT of ports of the WAN address, REDIRECT on the LAN) or a plain host (one interface, ip_forward
 * 0, sometimes DNAT in OUTPUT or REDIRECT), an iptables-save ruleset (raw always; mangle, nat, filter; 0-4 user
 * chains with jumps, gotos and RETURN, never loops) and 2-8 packets of request/reply sequences (tcp handshakes,
 * udp, ping, icmp errors, odd tcp flags, other protocols, spoofed and martian sources). Rules are built from the
 * packets' addresses, ports and states: about two thirds aimed at one packet (the others near misses: one
 * criterion off), verdicts towards the end of chains and no more rules in a chain than packets cross it, so that
 * some 40% of the rules see a packet match (tsiptables' own trace says so for seed 1). Replies go to the address the request most likely leaves with (a guess
 * of the NAT: a wrong one gives a NEW or INVALID packet, which is truth too).
 *
 * Only extensions that tsiptables has (src/extensions) and whose outcome does not depend on time or randomness.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TraceFixtureFile, TraceScenario } from './trace-fixture-format';

// ---------------------------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast 32-bit PRNG; floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of scenario `index` of a run: a hash of (seed, index), so scenarios do not depend on the count. */
function scenarioSeed(seed: number, index: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = (h + Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private readonly f: () => number;
  constructor(seed: number) {
    this.f = mulberry32(seed);
  }
  float(): number {
    return this.f();
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.f() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.f() < p;
  }
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new Error('pick from an empty list');
    return arr[Math.floor(this.f() * arr.length)]!;
  }
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    const total = items.reduce((s, [, w]) => s + w, 0);
    let r = this.f() * total;
    for (const [v, w] of items) {
      if (r < w) return v;
      r -= w;
    }
    return items[items.length - 1]![0];
  }
  shuffle<T>(arr: readonly T[]): T[] {
    const a = [...arr];
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.f() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
  sample<T>(arr: readonly T[], n: number): T[] {
    return this.shuffle(arr).slice(0, n);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Addresses

const ip2n = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0) >>> 0;
const n2ip = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const maskOf = (p: number): number => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0);
const netOf = (addr: string, prefix: number): string => n2ip((ip2n(addr) & maskOf(prefix)) >>> 0);
const inNet = (addr: string, net: string, prefix: number): boolean => ((ip2n(addr) & maskOf(prefix)) >>> 0) === ip2n(net);
const broadcastOf = (addr: string, prefix: number): string => n2ip((ip2n(addr) | ~maskOf(prefix)) >>> 0);
const hex = (n: number, w = 2): string => n.toString(16).padStart(w, '0');

/** Hosts beyond the default route (documentation ranges and a few well-known public addresses). */
const FAR_POOL = ['198.51.100', '203.0.113', '192.0.2'];
const FAR_FIXED = ['8.8.8.8', '1.1.1.1', '9.9.9.9', '93.184.216.34', '151.101.1.69', '140.82.121.4'];

// ---------------------------------------------------------------------------------------------------------------
// Model

type Hook = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';
type Table = 'raw' | 'mangle' | 'nat' | 'filter';
type CtState = 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID';
type Proto = 'tcp' | 'udp' | 'icmp' | number;

const TABLES: Table[] = ['raw', 'mangle', 'nat', 'filter'];
const BUILTINS: Record<Table, Hook[]> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};
const IN_HOOKS: Hook[] = ['PREROUTING', 'INPUT', 'FORWARD'];
const OUT_HOOKS: Hook[] = ['FORWARD', 'OUTPUT', 'POSTROUTING'];

interface Neighbor {
  addr: string;
  mac: string;
}

interface Iface {
  name: string;
  addr: string;
  prefix: number;
  role: 'lan' | 'wan' | 'dmz' | 'host';
  mac: string;
  /** Gateway on this link (WAN upstream, LAN's internal router). */
  gw: Neighbor | undefined;
  neighbors: Neighbor[];
}

interface Route {
  dest: string; // "default" or CIDR
  via: string | undefined;
  dev: string;
}

interface HostModel {
  kind: 'router' | 'host';
  ifaces: Iface[];
  routes: Route[];
  forward: boolean;
  rpAll: number;
  rpIf: Array<[string, number]>;
  /** Hosts beyond the gateways. */
  far: string[];
  /** Networks behind an internal router (extra routes), with a few hosts. */
  behind: Array<{ net: string; prefix: number; hosts: string[] }>;
}

/** One end of a flow: a local address of the host (iface null) or a remote one arriving on `iface` from `mac`. */
interface End {
  addr: string;
  iface: string | null;
  mac: string | null;
}

interface OutNat {
  kind: 'MASQUERADE' | 'SNAT';
  out: string;
  srcNet: [string, number] | undefined;
  proto: 'tcp' | 'udp' | undefined;
  to: string;
  ports: string | undefined;
}
interface Dnat {
  /** null: nat OUTPUT (locally generated). */
  inIface: string | null;
  proto: 'tcp' | 'udp';
  dst: string;
  dport: number;
  to: string;
  toPort: number | undefined;
  /** Match the destination with `-m addrtype --dst-type LOCAL` instead of -d. */
  byAddrtype: boolean;
}
interface Redirect {
  inIface: string;
  proto: 'tcp' | 'udp';
  dport: number;
  toPort: number;
}
interface NatPlan {
  outNat: OutNat | undefined;
  dnats: Dnat[];
  redirect: Redirect | undefined;
  inputSnat: { proto: 'udp'; dport: number; inIface: string; to: string } | undefined;
}

interface Pkt {
  proto: Proto;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** TCP flags (iptables names, comma-separated, "NONE"); SYN alone is written --syn. */
  flags?: string;
  icmpType?: string;
  icmpId?: number;
  icmpSeq?: number;
  iface: string | null;
  mac: string | null;
  uid?: number;
  gid?: number;
  len?: number;
  ttl: number;
  tos?: number;
  id: number;
  noDf?: boolean;
  seq?: number;
  ack?: number;
  window?: number;
  // What the generator expects (guesses used to aim rules; the kernel decides).
  state: CtState;
  dstPost: string;
  dportPost: number | undefined;
  out: string | null;
  delivered: boolean;
  /** Dropped by routing before INPUT/FORWARD (no forwarding, no route, martian). */
  dropsEarly: boolean;
  orig: { src: string; dst: string; sport: number | undefined; dport: number | undefined };
  isReply: boolean;
  /** The first packet of this packet's connection (undefined for a first packet). */
  first: Pkt | undefined;
  dnat: boolean;
  snat: boolean;
  broadcast: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Scenario context

class Ctx {
  readonly pkts: Pkt[] = [];
  readonly flowNames: string[] = [];
  /** The TTL each remote address sends with (the same for all its packets). */
  readonly ttls = new Map<string, number>();
  private nextId: number;
  private nextPort: number;
  private nextIcmpId: number;
  private readonly macs = new Set<string>();
  constructor(
    readonly rng: Rng,
    readonly host: HostModel,
    readonly plan: NatPlan,
  ) {
    this.nextId = rng.int(1000, 50000);
    this.nextPort = rng.int(33000, 58000);
    this.nextIcmpId = rng.int(0x100, 0xf000);
  }
  ipId(): number {
    const id = this.nextId;
    this.nextId += this.rng.int(1, 97);
    return id;
  }
  port(): number {
    const p = this.nextPort;
    this.nextPort += this.rng.int(1, 400);
    return p;
  }
  icmpId(): number {
    const i = this.nextIcmpId;
    this.nextIcmpId += this.rng.int(1, 50);
    return i;
  }
  seqNo(): number {
    return this.rng.int(1, 0xfffffff0);
  }
  mac(): string {
    for (;;) {
      const m = ['02', ...Array.from({ length: 5 }, () => hex(this.rng.int(0, 255)))].join(':');
      if (!this.macs.has(m)) {
        this.macs.add(m);
        return m;
      }
    }
  }
  iface(name: string): Iface {
    const f = this.host.ifaces.find((i) => i.name === name);
    if (!f) throw new Error(`no iface ${name}`);
    return f;
  }
  role(r: Iface['role']): Iface | undefined {
    return this.host.ifaces.find((i) => i.role === r);
  }
  isLocal(addr: string): boolean {
    if (addr.startsWith('127.')) return true;
    return this.host.ifaces.some((i) => i.addr === addr || broadcastOf(i.addr, i.prefix) === addr);
  }
  isBroadcast(addr: string): boolean {
    return this.host.ifaces.some((i) => broadcastOf(i.addr, i.prefix) === addr);
  }
  /** The interface a packet to `dst` leaves by (longest prefix), or null. */
  routeOf(dst: string): string | null {
    let best: { dev: string; prefix: number } | null = null;
    const consider = (dev: string, net: string, prefix: number): void => {
      if (inNet(dst, net, prefix) && (!best || prefix > best.prefix)) best = { dev, prefix };
    };
    for (const i of this.host.ifaces) consider(i.name, netOf(i.addr, i.prefix), i.prefix);
    for (const r of this.host.routes) {
      if (r.dest === 'default') consider(r.dev, '0.0.0.0', 0);
      else {
        const [n, p] = r.dest.split('/');
        consider(r.dev, n!, Number(p));
      }
    }
    return best ? (best as { dev: string }).dev : null;
  }
  /** The MAC a frame from `addr` arriving on `iface` carries: the neighbor's own, or the gateway's. */
  macFrom(addr: string, iface: string): string {
    const f = this.iface(iface);
    const n = f.neighbors.find((x) => x.addr === addr) ?? (f.gw?.addr === addr ? f.gw : undefined);
    if (n) return n.mac;
    for (const r of this.host.routes) {
      if (r.dev !== iface || !r.via) continue;
      const g = f.gw?.addr === r.via ? f.gw : f.neighbors.find((x) => x.addr === r.via);
      if (g && (r.dest === 'default' || inNet(addr, r.dest.split('/')[0]!, Number(r.dest.split('/')[1])))) return g.mac;
    }
    return f.gw?.mac ?? f.neighbors[0]?.mac ?? this.mac();
  }
  /** An End for a remote address, arriving where the routes say (or on `iface`). */
  remote(addr: string, iface?: string): End {
    const dev = iface ?? this.routeOf(addr) ?? this.host.ifaces.find((i) => i.role === 'wan')?.name ?? this.host.ifaces[0]!.name;
    return { addr, iface: dev, mac: this.macFrom(addr, dev) };
  }
  /** The host itself, sending from the address of the interface towards `dst`. */
  self(dst: string): End {
    const dev = this.routeOf(dst);
    const f = dev ? this.iface(dev) : this.host.ifaces[0]!;
    return { addr: f.addr, iface: null, mac: null };
  }
  lanHost(): End | undefined {
    const f = this.role('lan') ?? this.role('host');
    if (!f || f.neighbors.length === 0) return undefined;
    const n = this.rng.pick(f.neighbors);
    return { addr: n.addr, iface: f.name, mac: n.mac };
  }
  dmzHost(): End | undefined {
    const f = this.role('dmz');
    if (!f || f.neighbors.length === 0) return undefined;
    const n = this.rng.pick(f.neighbors);
    return { addr: n.addr, iface: f.name, mac: n.mac };
  }
  farHost(): End {
    return this.remote(this.rng.pick(this.host.far));
  }
  /** Addresses of the scenario, for rules that should not match. */
  pool(): string[] {
    const s = new Set<string>();
    for (const i of this.host.ifaces) {
      s.add(i.addr);
      for (const n of i.neighbors) s.add(n.addr);
      if (i.gw) s.add(i.gw.addr);
    }
    for (const f of this.host.far) s.add(f);
    for (const b of this.host.behind) for (const h of b.hosts) s.add(h);
    return [...s];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hosts

function makeSubnets(rng: Rng, n: number): Array<[string, number]> {
  const used10 = new Set<number>();
  const used192 = new Set<number>();
  const out: Array<[string, number]> = [];
  while (out.length < n) {
    if (rng.chance(0.55)) {
      const b = rng.int(0, 254);
      if (used10.has(b)) continue;
      used10.add(b);
      out.push([`10.${b}.${rng.int(0, 254)}.0`, 24]);
    } else {
      const c = rng.int(0, 254);
      if (used192.has(c)) continue;
      used192.add(c);
      out.push([`192.168.${c}.0`, 24]);
    }
  }
  return out;
}

function neighborsOn(ctx: Ctx, net: string, taken: Set<number>, count: number): Neighbor[] {
  const out: Neighbor[] = [];
  while (out.length < count) {
    const h = ctx.rng.int(2, 250);
    if (taken.has(h)) continue;
    taken.add(h);
    out.push({ addr: n2ip(ip2n(net) + h), mac: ctx.mac() });
  }
  return out;
}

function farHosts(rng: Rng): string[] {
  const out = new Set<string>();
  while (out.size < 4) {
    if (rng.chance(0.3)) out.add(rng.pick(FAR_FIXED));
    else out.add(`${rng.pick(FAR_POOL)}.${rng.int(1, 254)}`);
  }
  return [...out];
}

function buildRouter(ctx: Ctx): void {
  const { rng, host } = ctx;
  host.kind = 'router';
  const three = rng.chance(0.4);
  const [lanNet, dmzNet, otherNet] = makeSubnets(rng, 3);
  const wanNet = `172.${rng.int(16, 31)}.${rng.int(0, 254)}.0`;
  const names = rng.chance(0.15) ? ['eth1', 'eth0', 'eth2'] : ['eth0', 'eth1', 'eth2'];
  const lanTaken = new Set<number>();
  const lanSelf = rng.chance(0.7) ? 1 : rng.int(2, 254);
  lanTaken.add(lanSelf);
  const lan: Iface = {
    name: names[0]!,
    addr: n2ip(ip2n(lanNet![0]) + lanSelf),
    prefix: 24,
    role: 'lan',
    mac: ctx.mac(),
    gw: undefined,
    neighbors: [],
  };
  lan.neighbors = neighborsOn(ctx, lanNet![0], lanTaken, rng.int(2, 4));
  const wanTaken = new Set<number>([1]);
  const wanSelf = rng.chance(0.6) ? 2 : rng.int(3, 250);
  wanTaken.add(wanSelf);
  const wan: Iface = {
    name: names[1]!,
    addr: n2ip(ip2n(wanNet) + wanSelf),
    prefix: 24,
    role: 'wan',
    mac: ctx.mac(),
    gw: { addr: n2ip(ip2n(wanNet) + 1), mac: ctx.mac() },
    neighbors: [],
  };
  wan.neighbors = neighborsOn(ctx, wanNet, wanTaken, 1);
  host.ifaces.push(lan, wan);
  if (three) {
    const dmzTaken = new Set<number>([1]);
    const dmz: Iface = {
      name: names[2]!,
      addr: n2ip(ip2n(dmzNet![0]) + 1),
      prefix: 24,
      role: 'dmz',
      mac: ctx.mac(),
      gw: undefined,
      neighbors: [],
    };
    dmz.neighbors = neighborsOn(ctx, dmzNet![0], dmzTaken, rng.int(1, 3));
    host.ifaces.push(dmz);
  }
  if (rng.chance(0.9)) host.routes.push({ dest: 'default', via: wan.gw!.addr, dev: wan.name });
  if (rng.chance(0.25)) {
    // A network behind an internal router on the LAN.
    const inner = lan.neighbors[0]!;
    const b = Number(otherNet![0].split('.')[1]);
    const net = otherNet![0].startsWith('10.') ? `10.${b}.0.0` : otherNet![0];
    const prefix = otherNet![0].startsWith('10.') ? 16 : 24;
    host.routes.push({ dest: `${net}/${prefix}`, via: inner.addr, dev: lan.name });
    host.behind.push({ net, prefix, hosts: [n2ip(ip2n(net) + rng.int(2, 200)), n2ip(ip2n(net) + rng.int(201, 250))] });
    lan.gw = inner;
  }
  host.forward = rng.chance(0.93);
  const rp = rng.float();
  if (rp < 0.2) host.rpAll = 1;
  else if (rp < 0.32) host.rpAll = 2;
  else if (rp < 0.42) host.rpIf.push([rng.pick(host.ifaces).name, rng.pick([1, 2])]);
  host.far = farHosts(rng);
}

function buildPlainHost(ctx: Ctx): void {
  const { rng, host } = ctx;
  host.kind = 'host';
  const [net] = makeSubnets(rng, 1);
  const taken = new Set<number>([1]);
  const self = rng.int(10, 250);
  taken.add(self);
  const f: Iface = {
    name: 'eth0',
    addr: n2ip(ip2n(net![0]) + self),
    prefix: 24,
    role: 'host',
    mac: ctx.mac(),
    gw: { addr: n2ip(ip2n(net![0]) + 1), mac: ctx.mac() },
    neighbors: [],
  };
  f.neighbors = neighborsOn(ctx, net![0], taken, rng.int(1, 3));
  host.ifaces.push(f);
  if (rng.chance(0.95)) host.routes.push({ dest: 'default', via: f.gw!.addr, dev: f.name });
  host.forward = false;
  if (rng.chance(0.2)) host.rpAll = rng.pick([1, 2]);
  host.far = farHosts(rng);
}

function hostText(ctx: Ctx): string {
  const h = ctx.host;
  const lines: string[] = [];
  const roles = h.ifaces.map((i) => `${i.name} ${i.role}`).join(', ');
  lines.push(h.kind === 'router' ? `# router: ${roles}` : `# host: ${roles}`);
  for (const i of h.ifaces) {
    lines.push(`ip link set dev ${i.name} address ${i.mac}`);
    lines.push(`ip addr add ${i.addr}/${i.prefix} dev ${i.name}`);
  }
  for (const r of h.routes) lines.push(`ip route add ${r.dest}${r.via ? ` via ${r.via}` : ''} dev ${r.dev}`);
  lines.push(`sysctl -w net.ipv4.ip_forward=${h.forward ? 1 : 0}`);
  if (h.rpAll) lines.push(`sysctl -w net.ipv4.conf.all.rp_filter=${h.rpAll}`);
  for (const [i, v] of h.rpIf) lines.push(`sysctl -w net.ipv4.conf.${i}.rp_filter=${v}`);
  // The link-layer addresses of the neighbors and gateways the packets come from (comments: the recorder's
  // --mac-source values are in the PACKET lines).
  for (const i of h.ifaces) {
    const ns = [...(i.gw ? [{ ...i.gw, what: 'gw' }] : []), ...i.neighbors.filter((n) => n.addr !== i.gw?.addr).map((n) => ({ ...n, what: 'host' }))];
    if (ns.length) lines.push(`# ${i.name} neighbors: ${ns.map((n) => `${n.addr} ${n.mac}${n.what === 'gw' ? ' (gw)' : ''}`).join(', ')}`);
  }
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// NAT plans

function planRouter(ctx: Ctx): void {
  const { rng, plan } = ctx;
  const lan = ctx.role('lan')!;
  const wan = ctx.role('wan')!;
  const dmz = ctx.role('dmz');
  if (rng.chance(0.72)) {
    const masq = rng.chance(0.55);
    const proto = !masq && rng.chance(0.15) ? rng.pick(['tcp', 'udp'] as const) : undefined;
    let to = wan.addr;
    if (!masq && rng.chance(0.4)) to = n2ip(ip2n(netOf(wan.addr, 24)) + rng.int(200, 250));
    plan.outNat = {
      kind: masq ? 'MASQUERADE' : 'SNAT',
      out: wan.name,
      srcNet: rng.chance(0.6) ? [netOf(lan.addr, 24), 24] : undefined,
      proto,
      to,
      ports: proto ? rng.pick(['1024-65535', '30000-61000']) : undefined,
    };
  }
  const nd = rng.weighted([
    [0, 3],
    [1, 5],
    [2, 2],
  ] as const);
  const usedPorts = new Set<string>();
  for (let k = 0; k < nd; k++) {
    const server = dmz && rng.chance(0.7) ? rng.pick(dmz.neighbors) : rng.pick(lan.neighbors);
    const proto = rng.chance(0.75) ? 'tcp' : 'udp';
    const [dport, toPort] =
      proto === 'tcp'
        ? rng.pick([
            [8080, 80],
            [2222, 22],
            [8443, 443],
            [80, 80],
            [443, 443],
            [25565, 25565],
            [3389, 3389],
          ] as const)
        : rng.pick([
            [5353, 53],
            [1194, 1194],
            [51820, 51820],
            [27015, 27015],
          ] as const);
    if (usedPorts.has(`${proto}/${dport}`)) continue;
    usedPorts.add(`${proto}/${dport}`);
    plan.dnats.push({
      inIface: wan.name,
      proto,
      dst: wan.addr,
      dport,
      to: server.addr,
      toPort: rng.chance(0.2) && dport === toPort ? undefined : toPort,
      byAddrtype: rng.chance(0.2),
    });
  }
  if (rng.chance(0.2)) {
    plan.redirect = { inIface: lan.name, proto: 'tcp', dport: rng.pick([80, 8080]), toPort: rng.pick([3128, 3129, 8888]) };
  }
  if (rng.chance(0.05)) {
    plan.inputSnat = { proto: 'udp', dport: 53, inIface: wan.name, to: lan.addr };
  }
}

function planPlainHost(ctx: Ctx): void {
  const { rng, plan } = ctx;
  const f = ctx.host.ifaces[0]!;
  if (rng.chance(0.3) && ctx.host.routes.length) {
    const udp = rng.chance(0.5);
    let vip = udp ? `10.96.${rng.int(0, 255)}.10` : `172.30.${rng.int(0, 255)}.${rng.int(2, 250)}`;
    if (inNet(vip, netOf(f.addr, f.prefix), f.prefix)) vip = `172.30.${rng.int(0, 255)}.10`;
    const server = rng.pick(f.neighbors);
    plan.dnats.push({
      inIface: null,
      proto: udp ? 'udp' : 'tcp',
      dst: vip,
      dport: udp ? 53 : 80,
      to: server.addr,
      toPort: udp ? 53 : rng.pick([8080, 80, 30080]),
      byAddrtype: false,
    });
  }
  if (rng.chance(0.25)) {
    plan.redirect = { inIface: f.name, proto: 'tcp', dport: rng.pick([80, 443, 25]), toPort: rng.pick([8080, 8443, 2525]) };
  }
  if (rng.chance(0.1)) {
    plan.outNat = { kind: 'MASQUERADE', out: f.name, srcNet: undefined, proto: undefined, to: f.addr, ports: undefined };
  }
}

/** The source a new connection leaves with (SNAT/MASQUERADE guess), or the same. */
function snatGuess(ctx: Ctx, src: string, proto: Proto, out: string | null, local: boolean): string {
  const o = ctx.plan.outNat;
  if (!o || out !== o.out) return src;
  if (o.proto && o.proto !== proto) return src;
  if (o.srcNet && !inNet(src, o.srcNet[0], o.srcNet[1])) return src;
  if (local && o.kind === 'MASQUERADE') return ctx.iface(o.out).addr;
  return o.kind === 'MASQUERADE' ? ctx.iface(o.out).addr : o.to;
}

// ---------------------------------------------------------------------------------------------------------------
// Packets

interface PktInit {
  proto: Proto;
  from: End;
  dst: string;
  sport?: number;
  dport?: number;
  flags?: string;
  icmpType?: string;
  icmpId?: number;
  icmpSeq?: number;
  seq?: number;
  ack?: number;
  window?: number;
  ttl?: number;
  len?: number;
  tos?: number;
  noDf?: boolean;
  uid?: number;
  state: CtState;
  /** The flow's first packet (for orig tuple and NAT); undefined: this packet is the first. */
  flowFirst?: Pkt;
  isReply?: boolean;
}

/** Default TTL for a packet from an End: local 64, remote near 64 or 128 less a few hops. */
function ttlFor(ctx: Ctx, e: End): number {
  if (e.iface === null) return 64;
  const known = ctx.ttls.get(e.addr);
  if (known !== undefined) return known;
  const onLink = ctx.host.ifaces.some((i) => inNet(e.addr, netOf(i.addr, i.prefix), i.prefix));
  const base = ctx.rng.chance(0.8) ? 64 : 128;
  const ttl = onLink ? base : base - ctx.rng.int(3, 14);
  ctx.ttls.set(e.addr, ttl);
  return ttl;
}

function mkPkt(ctx: Ctx, init: PktInit): Pkt {
  const first = init.flowFirst;
  let dstPost = init.dst;
  let dportPost = init.dport;
  let dnat = first?.dnat ?? false;
  const snat = first?.snat ?? false;
  const local = init.from.iface === null;
  if (!first && init.state === 'NEW') {
    // Apply the DNAT/REDIRECT plan to a new connection.
    for (const d of ctx.plan.dnats) {
      if (d.proto !== init.proto || d.dport !== init.dport) continue;
      if (d.inIface === null ? !local : init.from.iface !== d.inIface) continue;
      if (d.byAddrtype ? !ctx.isLocal(init.dst) || ctx.isBroadcast(init.dst) : d.dst !== init.dst) continue;
      dstPost = d.to;
      dportPost = d.toPort ?? init.dport;
      dnat = true;
      break;
    }
    const r = ctx.plan.redirect;
    if (!dnat && r && !local && r.inIface === init.from.iface && r.proto === init.proto && r.dport === init.dport) {
      dstPost = ctx.iface(r.inIface).addr;
      dportPost = r.toPort;
      dnat = true;
    }
  } else if (first && init.isReply) {
    // A reply to a NATed connection: de-SNAT in PREROUTING (its destination becomes the original source).
    if (first.snat && init.dst !== first.src) {
      dstPost = first.src;
      dportPost = first.sport;
    }
  } else if (first && !init.isReply) {
    dstPost = first.dstPost;
    dportPost = first.dportPost;
  }
  const delivered = ctx.isLocal(dstPost);
  const out = delivered ? null : ctx.routeOf(dstPost);
  const martian = !local && (ctx.isLocal(init.from.addr) || init.from.addr.startsWith('127.'));
  const dropsEarly = !local && !delivered && (!ctx.host.forward || out === null);
  const p: Pkt = {
    proto: init.proto,
    src: init.from.addr,
    dst: init.dst,
    iface: init.from.iface,
    mac: init.from.mac,
    ttl: init.ttl ?? ttlFor(ctx, init.from),
    id: ctx.ipId(),
    state: init.state,
    dstPost,
    dportPost,
    out,
    delivered,
    dropsEarly: dropsEarly || martian,
    orig: first ? first.orig : { src: init.from.addr, dst: init.dst, sport: init.sport, dport: init.dport },
    isReply: init.isReply ?? false,
    first,
    dnat,
    snat,
    broadcast: ctx.isBroadcast(init.dst),
  };
  if (init.sport !== undefined) p.sport = init.sport;
  if (init.dport !== undefined) p.dport = init.dport;
  if (init.flags !== undefined) p.flags = init.flags;
  if (init.icmpType !== undefined) p.icmpType = init.icmpType;
  if (init.icmpId !== undefined) p.icmpId = init.icmpId;
  if (init.icmpSeq !== undefined) p.icmpSeq = init.icmpSeq;
  if (init.seq !== undefined) p.seq = init.seq;
  if (init.ack !== undefined) p.ack = init.ack;
  if (init.window !== undefined) p.window = init.window;
  if (init.len !== undefined) p.len = init.len;
  if (init.tos !== undefined) p.tos = init.tos;
  if (init.noDf) p.noDf = true;
  if (local && init.uid !== undefined) {
    p.uid = init.uid;
    p.gid = init.uid;
  }
  if (!first && init.state === 'NEW' && !delivered) {
    const newSrc = snatGuess(ctx, p.src, p.proto, out, local);
    if (newSrc !== p.src) p.snat = true;
  }
  return p;
}

/** Where replies to the first packet `p` go: the (guessed) NATed source. */
function replyTo(ctx: Ctx, p: Pkt): string {
  if (!p.snat) return p.src;
  return snatGuess(ctx, p.src, p.proto, p.out, p.iface === null);
}

/** Who answers the first packet `p`: its (DNATed) destination, as an End arriving at the host. */
function answerer(ctx: Ctx, p: Pkt): End {
  if (p.delivered) return { addr: p.dstPost, iface: null, mac: null };
  const dev = p.out ?? ctx.routeOf(p.dstPost);
  return ctx.remote(p.dstPost, dev ?? undefined);
}

function packetLine(p: Pkt): string {
  const a: string[] = ['-p', typeof p.proto === 'number' ? String(p.proto) : p.proto, '-s', p.src, '-d', p.dst];
  if (p.sport !== undefined) a.push('--sport', String(p.sport));
  if (p.dport !== undefined) a.push('--dport', String(p.dport));
  if (p.flags !== undefined) {
    if (p.flags === 'SYN') a.push('--syn');
    else a.push('--tcp-flags', 'ALL', p.flags);
  }
  if (p.icmpType !== undefined) a.push('--icmp-type', p.icmpType);
  if (p.icmpId !== undefined) a.push('--icmp-id', String(p.icmpId));
  if (p.icmpSeq !== undefined) a.push('--icmp-seq', String(p.icmpSeq));
  if (p.iface !== null) a.push('-i', p.iface);
  if (p.uid !== undefined) a.push('--uid', String(p.uid));
  if (p.gid !== undefined) a.push('--gid', String(p.gid));
  if (p.len !== undefined) a.push('--len', String(p.len));
  a.push('--ttl', String(p.ttl));
  if (p.tos !== undefined) a.push('--tos', `0x${hex(p.tos)}`);
  a.push('--ip-id', String(p.id));
  if (p.noDf) a.push('--no-df');
  if (p.seq !== undefined) a.push('--seq', String(p.seq));
  if (p.ack !== undefined) a.push('--ack-seq', String(p.ack));
  if (p.window !== undefined) a.push('--window', String(p.window));
  if (p.mac !== null) a.push('--mac-source', p.mac);
  return a.join(' ');
}

// ---------------------------------------------------------------------------------------------------------------
// Flows: each returns its packets (the caller truncates to the scenario's remaining budget).

const u32 = (n: number): number => n >>> 0;
const SYN_WIN = [64240, 29200, 65535, 14600];
const SYNACK_WIN = [65160, 28960, 65535, 14480];

function maybeTos(ctx: Ctx): number | undefined {
  return ctx.rng.chance(0.1) ? ctx.rng.pick([0x10, 0x08, 0x04, 0x20, 0xb8]) : undefined;
}

function tcpFlow(ctx: Ctx, client: End, dst: string, dport: number, opts: { uid?: number } = {}): Pkt[] {
  const { rng } = ctx;
  const sport = ctx.port();
  const S = ctx.seqNo();
  const R = ctx.seqNo();
  const tos = maybeTos(ctx);
  const syn = mkPkt(ctx, {
    proto: 'tcp',
    from: client,
    dst,
    sport,
    dport,
    flags: 'SYN',
    seq: S,
    ack: 0,
    window: rng.pick(SYN_WIN),
    state: 'NEW',
    ...(tos !== undefined ? { tos } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
  });
  const out = [syn];
  if (rng.chance(0.12)) {
    // A retransmitted SYN: still NEW, and nat is not consulted again.
    out.push(mkPkt(ctx, { proto: 'tcp', from: client, dst, sport, dport, flags: 'SYN', seq: S, ack: 0, window: syn.window!, ttl: syn.ttl, state: 'NEW', flowFirst: syn }));
  }
  if (syn.delivered) return out;
  const server = answerer(ctx, syn);
  const rdst = replyTo(ctx, syn);
  if (rng.chance(0.12)) {
    // The far side answers with an ICMP error quoting the SYN (RELATED).
    out.push(icmpError(ctx, server, rdst, syn));
    return out;
  }
  const synack = mkPkt(ctx, {
    proto: 'tcp',
    from: server,
    dst: rdst,
    sport: syn.dportPost!,
    dport: sport,
    flags: 'SYN,ACK',
    seq: R,
    ack: u32(S + 1),
    window: rng.pick(SYNACK_WIN),
    state: 'ESTABLISHED',
    flowFirst: syn,
    isReply: true,
  });
  const ackWin = rng.pick([502, 229, 64240, 1026]);
  const ack = mkPkt(ctx, {
    proto: 'tcp',
    from: client,
    dst,
    sport,
    dport,
    flags: 'ACK',
    seq: u32(S + 1),
    ack: u32(R + 1),
    window: ackWin,
    ttl: syn.ttl,
    state: 'ESTABLISHED',
    flowFirst: syn,
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
  });
  out.push(synack, ack);
  const tail = rng.weighted([
    ['none', 6],
    ['fin', 2],
    ['rst', 1],
    ['finrev', 1],
  ] as const);
  if (tail === 'fin')
    out.push(mkPkt(ctx, { proto: 'tcp', from: client, dst, sport, dport, flags: 'FIN,ACK', seq: u32(S + 1), ack: u32(R + 1), window: ackWin, ttl: syn.ttl, state: 'ESTABLISHED', flowFirst: syn }));
  else if (tail === 'rst')
    out.push(mkPkt(ctx, { proto: 'tcp', from: server, dst: rdst, sport: syn.dportPost!, dport: sport, flags: 'RST', seq: u32(R + 1), ack: 0, window: 0, state: 'ESTABLISHED', flowFirst: syn, isReply: true }));
  else if (tail === 'finrev')
    out.push(mkPkt(ctx, { proto: 'tcp', from: server, dst: rdst, sport: syn.dportPost!, dport: sport, flags: 'FIN,ACK', seq: u32(R + 1), ack: u32(S + 1), window: synack.window!, state: 'ESTABLISHED', flowFirst: syn, isReply: true }));
  return out;
}

function udpFlow(ctx: Ctx, client: End, dst: string, dport: number, opts: { uid?: number; error?: boolean } = {}): Pkt[] {
  const { rng } = ctx;
  const sport = rng.chance(0.15) ? dport : ctx.port();
  const len = rng.chance(0.35) ? rng.pick([40, 60, 76, 128, 512, 1200]) : undefined;
  const tos = maybeTos(ctx);
  const req = mkPkt(ctx, {
    proto: 'udp',
    from: client,
    dst,
    sport,
    dport,
    state: 'NEW',
    noDf: rng.chance(0.1),
    ...(len !== undefined ? { len } : {}),
    ...(tos !== undefined ? { tos } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
  });
  const out = [req];
  if (req.delivered) {
    if (rng.chance(0.3)) out.push(mkPkt(ctx, { proto: 'udp', from: client, dst, sport, dport, ttl: req.ttl, state: 'NEW', flowFirst: req }));
    return out;
  }
  const server = answerer(ctx, req);
  const rdst = replyTo(ctx, req);
  // An ICMP error quotes "the latest earlier packet whose addresses it reverses" (as it left the host: the
  // server answers the NATed source).
  if (opts.error) {
    out.push(icmpError(ctx, server, rdst, req));
    return out;
  }
  out.push(mkPkt(ctx, { proto: 'udp', from: server, dst: rdst, sport: req.dportPost!, dport: sport, state: 'ESTABLISHED', flowFirst: req, isReply: true, ...(len !== undefined ? { len: len + 16 } : {}) }));
  if (rng.chance(0.3))
    out.push(mkPkt(ctx, { proto: 'udp', from: client, dst, sport, dport, ttl: req.ttl, state: 'ESTABLISHED', flowFirst: req, ...(opts.uid !== undefined ? { uid: opts.uid } : {}) }));
  return out;
}

function icmpError(ctx: Ctx, from: End, to: string, quoted: Pkt | undefined): Pkt {
  const type = quoted
    ? quoted.proto === 'udp'
      ? ctx.rng.weighted([
          ['port-unreachable', 6],
          ['3/3', 1],
          ['host-unreachable', 1],
          ['destination-unreachable', 1],
        ] as const)
      : ctx.rng.pick(['host-unreachable', 'communication-prohibited', 'time-exceeded', 'network-unreachable'] as const)
    : ctx.rng.pick(['port-unreachable', 'host-unreachable', 'time-exceeded'] as const);
  const p = mkPkt(ctx, {
    proto: 'icmp',
    from,
    dst: to,
    icmpType: type,
    state: quoted ? 'RELATED' : 'INVALID',
    ...(quoted ? { flowFirst: quoted, isReply: true } : {}),
  });
  return p;
}

function pingFlow(ctx: Ctx, client: End, dst: string, opts: { uid?: number } = {}): Pkt[] {
  const { rng } = ctx;
  const id = ctx.icmpId();
  const len = rng.chance(0.3) ? 84 : undefined;
  const req = mkPkt(ctx, {
    proto: 'icmp',
    from: client,
    dst,
    icmpType: 'echo-request',
    icmpId: id,
    icmpSeq: 1,
    state: 'NEW',
    ...(len !== undefined ? { len } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
  });
  const out = [req];
  if (req.delivered) return out;
  const server = answerer(ctx, req);
  const rdst = replyTo(ctx, req);
  out.push(mkPkt(ctx, { proto: 'icmp', from: server, dst: rdst, icmpType: 'echo-reply', icmpId: id, icmpSeq: 1, state: 'ESTABLISHED', flowFirst: req, isReply: true, noDf: true, ...(len !== undefined ? { len } : {}) }));
  if (rng.chance(0.25))
    out.push(mkPkt(ctx, { proto: 'icmp', from: client, dst, icmpType: 'echo-request', icmpId: id, icmpSeq: 2, ttl: req.ttl, state: 'ESTABLISHED', flowFirst: req, ...(opts.uid !== undefined ? { uid: opts.uid } : {}) }));
  return out;
}

function oddTcp(ctx: Ctx, client: End, dst: string): Pkt[] {
  const flags = ctx.rng.weighted([
    ['FIN', 3],
    ['NONE', 3],
    ['SYN,ACK', 3],
    ['FIN,SYN', 1],
    ['FIN,PSH,URG', 2],
    ['RST', 2],
    ['ACK', 3],
    ['RST,ACK', 1],
  ] as const);
  const dport = ctx.rng.pick([22, 80, 443, 3306, 8080]);
  const p = mkPkt(ctx, {
    proto: 'tcp',
    from: client,
    dst,
    sport: ctx.port(),
    dport,
    flags,
    seq: ctx.seqNo(),
    ack: flags.includes('ACK') ? ctx.seqNo() : 0,
    window: ctx.rng.pick([0, 1024, 64240]),
    state: flags === 'ACK' ? 'NEW' : 'INVALID',
  });
  return [p];
}

function otherProto(ctx: Ctx, client: End, dst: string): Pkt[] {
  const proto = ctx.rng.weighted([
    [47, 4],
    [50, 1],
    [4, 1],
    [132, 1],
  ] as const);
  const p = mkPkt(ctx, { proto, from: client, dst, state: 'NEW', len: ctx.rng.pick([48, 64, 100]) });
  const out = [p];
  if (!p.delivered && ctx.rng.chance(0.5)) {
    const server = answerer(ctx, p);
    out.push(mkPkt(ctx, { proto, from: server, dst: replyTo(ctx, p), state: 'ESTABLISHED', flowFirst: p, isReply: true, len: p.len! }));
  }
  return out;
}

/** The addresses of a packet as it leaves the host (the NAT guessed), for ICMP error quotes. */
function wireAddrs(ctx: Ctx, p: Pkt): [string, string] {
  const first = p.first ?? p;
  let src = p.src;
  if (!p.isReply && first.snat) src = replyTo(ctx, first);
  if (p.isReply && first.dnat) src = first.dst;
  return [src, p.dstPost];
}

/** No earlier packet of the scenario has these addresses in the other direction (as given or on the wire). */
function noReverse(ctx: Ctx, src: string, dst: string): boolean {
  return !ctx.pkts.some((p) => {
    const [ws, wd] = wireAddrs(ctx, p);
    return (p.src === dst && p.dst === src) || (ws === dst && wd === src);
  });
}

type FlowFn = (ctx: Ctx) => Pkt[] | undefined;

const ROUTER_FLOWS: Array<[string, number, FlowFn]> = [
  ['tcp out', 14, (c) => withClient(c, (cl) => tcpFlow(c, cl, c.farHost().addr, c.rng.pick([80, 443, 22, 25, 8080])))],
  ['udp out', 9, (c) => withClient(c, (cl) => udpFlow(c, cl, c.farHost().addr, c.rng.pick([53, 123, 443, 5060]), { error: c.rng.chance(0.35) }))],
  ['ping out', 8, (c) => withClient(c, (cl) => pingFlow(c, cl, c.farHost().addr))],
  ['tcp DNAT', 18, (c) => dnatFlow(c, 'tcp')],
  ['udp DNAT', 8, (c) => dnatFlow(c, 'udp')],
  ['REDIRECT', 10, (c) => {
    const r = c.plan.redirect;
    const cl = c.lanHost();
    if (!r || !cl) return undefined;
    return tcpFlow(c, cl, c.farHost().addr, r.dport);
  }],
  ['lan to dmz', 8, (c) => {
    const cl = c.lanHost();
    const sv = c.dmzHost();
    if (!cl || !sv) return undefined;
    const k = c.rng.pick(['tcp', 'udp', 'udp-err', 'udp-err', 'ping'] as const);
    if (k === 'tcp') return tcpFlow(c, cl, sv.addr, c.rng.pick([80, 443, 22, 3306]));
    if (k === 'ping') return pingFlow(c, cl, sv.addr);
    return udpFlow(c, cl, sv.addr, c.rng.pick([53, 161, 514]), { error: k === 'udp-err' });
  }],
  ['to router', 8, (c) => {
    const cl = c.rng.chance(0.7) ? c.lanHost() : c.farHost();
    if (!cl) return undefined;
    const f = c.iface(cl.iface!);
    const k = c.rng.pick(['tcp', 'udp', 'ping'] as const);
    if (k === 'tcp') return tcpFlow(c, cl, f.addr, c.rng.pick([22, 80, 443, 53]));
    if (k === 'udp') return udpFlow(c, cl, f.addr, c.rng.pick([53, 67, 123, 161]));
    return pingFlow(c, cl, f.addr);
  }],
  ['router out', 7, (c) => {
    const far = c.rng.chance(0.8) ? c.farHost() : c.lanHost() ?? c.farHost();
    const me = c.self(far.addr);
    const uid = c.rng.chance(0.35) ? c.rng.pick([1000, 1000, 65534]) : undefined;
    const o = uid !== undefined ? { uid } : {};
    const k = c.rng.pick(['tcp', 'udp', 'ping'] as const);
    if (k === 'tcp') return tcpFlow(c, me, far.addr, c.rng.pick([80, 443, 22]), o);
    if (k === 'udp') return udpFlow(c, me, far.addr, c.rng.pick([53, 123]), { ...o, error: c.rng.chance(0.25) });
    return pingFlow(c, me, far.addr, o);
  }],
  ['odd tcp flags', 5, (c) => {
    const cl = c.rng.chance(0.5) ? c.lanHost() : c.farHost();
    if (!cl) return undefined;
    const dst = c.rng.chance(0.6) ? (cl.iface === c.role('lan')?.name ? c.farHost().addr : (c.lanHost() ?? c.farHost()).addr) : c.iface(cl.iface!).addr;
    return oddTcp(c, cl, dst);
  }],
  ['other protocol', 3, (c) => withClient(c, (cl) => otherProto(c, cl, c.rng.chance(0.7) ? c.farHost().addr : c.iface(cl.iface!).addr))],
  ['spoofed source', 3, (c) => {
    const wan = c.role('wan')!;
    const lan = c.role('lan')!;
    if (c.rng.chance(0.5)) {
      // A LAN source arriving on the WAN.
      const src = c.rng.pick(lan.neighbors).addr;
      return pingFlow(c, { addr: src, iface: wan.name, mac: wan.gw!.mac }, (c.dmzHost() ?? c.lanHost()!).addr).slice(0, 1);
    }
    // An outside source arriving on the LAN (strict rp_filter drops it).
    const src = c.farHost().addr;
    return tcpFlow(c, { addr: src, iface: lan.name, mac: c.rng.pick(lan.neighbors).mac }, c.farHost().addr, 80).slice(0, 1);
  }],
  ['martian source', 2, (c) => {
    const wan = c.role('wan')!;
    const src = c.rng.chance(0.5) ? '127.0.0.1' : c.role('lan')!.addr;
    return udpFlow(c, { addr: src, iface: wan.name, mac: wan.gw!.mac }, wan.addr, 53).slice(0, 1);
  }],
  ['ttl 1 forwarded', 2, (c) => {
    const cl = c.lanHost();
    if (!cl) return undefined;
    const p = mkPkt(c, { proto: 'udp', from: cl, dst: c.farHost().addr, sport: c.port(), dport: 33434, ttl: 1, state: 'NEW' });
    return [p];
  }],
  ['broadcast', 2, (c) => {
    const cl = c.lanHost();
    if (!cl) return undefined;
    const f = c.iface(cl.iface!);
    return [mkPkt(c, { proto: 'udp', from: cl, dst: broadcastOf(f.addr, f.prefix), sport: c.rng.pick([137, 68, 5353]), dport: c.rng.pick([137, 67, 5353]), state: 'NEW' })];
  }],
  ['orphan icmp error', 3, (c) => {
    const far = c.farHost();
    const cl = c.lanHost();
    if (!cl) return undefined;
    const to = c.rng.chance(0.5) ? cl.addr : c.role('wan')!.addr;
    if (!noReverse(c, far.addr, to)) return undefined;
    return [icmpError(c, far, to, undefined)];
  }],
  ['unsolicited echo reply', 2, (c) => {
    const far = c.farHost();
    const p = mkPkt(c, { proto: 'icmp', from: far, dst: c.rng.chance(0.5) ? c.role('wan')!.addr : c.lanHost()!.addr, icmpType: 'echo-reply', icmpId: c.icmpId(), icmpSeq: 7, state: 'INVALID' });
    return [p];
  }],
  ['wan to lan', 4, (c) => {
    const sv = c.lanHost();
    if (!sv) return undefined;
    const far = c.farHost();
    return c.rng.chance(0.6) ? tcpFlow(c, far, sv.addr, c.rng.pick([22, 80, 445])) : pingFlow(c, far, sv.addr);
  }],
  ['behind internal router', 3, (c) => {
    const b = c.host.behind[0];
    if (!b) return undefined;
    const src = c.remote(c.rng.pick(b.hosts));
    return c.rng.chance(0.5) ? tcpFlow(c, src, c.farHost().addr, 443) : pingFlow(c, src, (c.dmzHost() ?? c.farHost()).addr);
  }],
];

function withClient(c: Ctx, f: (cl: End) => Pkt[]): Pkt[] | undefined {
  const cl = c.lanHost();
  return cl ? f(cl) : undefined;
}

function dnatFlow(c: Ctx, proto: 'tcp' | 'udp'): Pkt[] | undefined {
  const ds = c.plan.dnats.filter((d) => d.proto === proto && d.inIface !== null);
  if (!ds.length) return undefined;
  const d = c.rng.pick(ds);
  const client = c.farHost();
  const from = { ...client, iface: d.inIface!, mac: c.macFrom(client.addr, d.inIface!) };
  if (proto === 'tcp') return tcpFlow(c, from, d.dst, d.dport);
  return udpFlow(c, from, d.dst, d.dport, { error: c.rng.chance(0.3) });
}

const HOST_FLOWS: Array<[string, number, FlowFn]> = [
  ['tcp in', 12, (c) => {
    const f = c.host.ifaces[0]!;
    const cl = c.rng.chance(0.5) ? c.lanHost()! : c.farHost();
    return tcpFlow(c, cl, f.addr, c.rng.pick([22, 80, 443, 8080, 25]));
  }],
  ['udp in', 7, (c) => {
    const f = c.host.ifaces[0]!;
    const cl = c.rng.chance(0.5) ? c.lanHost()! : c.farHost();
    return udpFlow(c, cl, f.addr, c.rng.pick([53, 123, 161, 514, 5353]));
  }],
  ['ping in', 7, (c) => {
    const f = c.host.ifaces[0]!;
    const cl = c.rng.chance(0.5) ? c.lanHost()! : c.farHost();
    return pingFlow(c, cl, f.addr);
  }],
  ['tcp out', 14, (c) => {
    const far = c.rng.chance(0.7) ? c.farHost() : c.lanHost()!;
    const uid = c.rng.chance(0.35) ? 1000 : undefined;
    return tcpFlow(c, c.self(far.addr), far.addr, c.rng.pick([80, 443, 22, 5432]), uid !== undefined ? { uid } : {});
  }],
  ['udp out', 9, (c) => {
    const far = c.rng.chance(0.6) ? c.farHost() : c.lanHost()!;
    const uid = c.rng.chance(0.35) ? 1000 : undefined;
    return udpFlow(c, c.self(far.addr), far.addr, c.rng.pick([53, 123, 514]), { ...(uid !== undefined ? { uid } : {}), error: c.rng.chance(0.3) });
  }],
  ['ping out', 7, (c) => {
    const far = c.rng.chance(0.6) ? c.farHost() : c.lanHost()!;
    const uid = c.rng.chance(0.3) ? 1000 : undefined;
    return pingFlow(c, c.self(far.addr), far.addr, uid !== undefined ? { uid } : {});
  }],
  ['DNAT in OUTPUT', 14, (c) => {
    const d = c.plan.dnats.find((x) => x.inIface === null);
    if (!d) return undefined;
    const me = c.self(d.dst);
    const uid = c.rng.chance(0.3) ? 1000 : undefined;
    const o = uid !== undefined ? { uid } : {};
    return d.proto === 'tcp' ? tcpFlow(c, me, d.dst, d.dport, o) : udpFlow(c, me, d.dst, d.dport, o);
  }],
  ['REDIRECT', 10, (c) => {
    const r = c.plan.redirect;
    if (!r) return undefined;
    const cl = c.rng.chance(0.5) ? c.lanHost()! : c.farHost();
    return tcpFlow(c, cl, c.host.ifaces[0]!.addr, r.dport);
  }],
  ['not for this host', 4, (c) => {
    const cl = c.lanHost()!;
    return pingFlow(c, cl, c.farHost().addr).slice(0, 1);
  }],
  ['odd tcp flags', 5, (c) => oddTcp(c, c.rng.chance(0.5) ? c.lanHost()! : c.farHost(), c.host.ifaces[0]!.addr)],
  ['orphan icmp error', 3, (c) => {
    const far = c.farHost();
    const me = c.host.ifaces[0]!.addr;
    if (!noReverse(c, far.addr, me)) return undefined;
    return [icmpError(c, far, me, undefined)];
  }],
  ['unsolicited echo reply', 2, (c) => [
    mkPkt(c, { proto: 'icmp', from: c.farHost(), dst: c.host.ifaces[0]!.addr, icmpType: 'echo-reply', icmpId: c.icmpId(), icmpSeq: 3, state: 'INVALID' }),
  ]],
  ['martian source', 3, (c) => {
    const f = c.host.ifaces[0]!;
    const src = c.rng.chance(0.5) ? f.addr : '127.0.0.1';
    return tcpFlow(c, { addr: src, iface: f.name, mac: f.gw!.mac }, f.addr, 22).slice(0, 1);
  }],
  ['other protocol', 3, (c) => otherProto(c, c.rng.chance(0.5) ? c.lanHost()! : c.farHost(), c.host.ifaces[0]!.addr)],
  ['broadcast', 2, (c) => {
    const cl = c.lanHost()!;
    const f = c.host.ifaces[0]!;
    return [mkPkt(c, { proto: 'udp', from: cl, dst: broadcastOf(f.addr, f.prefix), sport: 137, dport: 137, state: 'NEW' })];
  }],
];

function buildPackets(ctx: Ctx): void {
  const { rng } = ctx;
  const target = rng.weighted([
    [2, 1],
    [3, 2],
    [4, 3],
    [5, 3],
    [6, 3],
    [7, 2],
    [8, 2],
  ] as const);
  const flows = ctx.host.kind === 'router' ? ROUTER_FLOWS : HOST_FLOWS;
  let attempts = 0;
  while (ctx.pkts.length < target && attempts++ < 60) {
    const [name, , fn] = rng.weighted(flows.map((f) => [f, f[1]] as const));
    const got = fn(ctx);
    if (!got || got.length === 0) continue;
    const room = target - ctx.pkts.length;
    ctx.pkts.push(...got.slice(0, room));
    ctx.flowNames.push(name);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Rules

interface ChainDef {
  table: Table;
  name: string;
  builtin: boolean;
  /** Built-in hooks that reach this chain. */
  hooks: Hook[];
  policy: 'ACCEPT' | 'DROP' | '-';
  rules: string[];
}

/** What a rule in (table, hook) sees of a packet. */
interface View {
  p: Pkt;
  table: Table;
  hook: Hook;
  src: string;
  dst: string;
  sport: number | undefined;
  dport: number | undefined;
  in: string | null;
  out: string | null;
  ttl: number;
  state: string;
}

function pathOf(p: Pkt): Hook[] {
  if (p.iface === null) return p.out ? ['OUTPUT', 'POSTROUTING'] : p.delivered ? ['OUTPUT'] : [];
  if (p.delivered) return ['PREROUTING', 'INPUT'];
  if (p.dropsEarly) return ['PREROUTING'];
  return ['PREROUTING', 'FORWARD', 'POSTROUTING'];
}

function viewOf(p: Pkt, table: Table, hook: Hook): View {
  const pre = hook === 'PREROUTING' || (hook === 'OUTPUT' && table !== 'filter');
  const forwarded = p.iface !== null && (hook === 'FORWARD' || hook === 'POSTROUTING');
  return {
    p,
    table,
    hook,
    src: p.src,
    dst: pre ? p.dst : p.dstPost,
    sport: p.sport,
    dport: pre ? p.dport : p.dportPost,
    in: IN_HOOKS.includes(hook) ? p.iface : null,
    out: OUT_HOOKS.includes(hook) ? p.out : null,
    ttl: forwarded ? Math.max(0, p.ttl - 1) : p.ttl,
    state: table === 'raw' ? 'INVALID' : p.state,
  };
}

function viewsFor(ctx: Ctx, chain: ChainDef): View[] {
  const out: View[] = [];
  for (const p of ctx.pkts) {
    if (chain.table === 'nat' && p.state !== 'NEW') continue;
    for (const h of pathOf(p)) if (chain.hooks.includes(h)) out.push(viewOf(p, chain.table, h));
  }
  return out;
}

const allIn = (hooks: Hook[], set: Hook[]): boolean => hooks.every((h) => set.includes(h));

class RuleGen {
  private logN = 0;
  /** The chain the rule being built goes into. */
  private cur: ChainDef | undefined;
  readonly marks: number[] = [];
  readonly used = new Set<string>();
  constructor(private readonly ctx: Ctx) {}

  private get rng(): Rng {
    return this.ctx.rng;
  }

  private otherAddr(not: string): string {
    const pool = this.ctx.pool().filter((a) => a !== not);
    return pool.length && this.rng.chance(0.8) ? this.rng.pick(pool) : `${this.rng.pick(FAR_POOL)}.${this.rng.int(1, 254)}`;
  }

  private otherIface(not: string | null): string {
    const names = this.ctx.host.ifaces.map((i) => i.name).filter((n) => n !== not);
    return names.length && this.rng.chance(0.85) ? this.rng.pick(names) : this.rng.pick(['eth9', 'lo', 'wg0']);
  }

  private addr(flag: '-s' | '-d', a: string, m: boolean): string {
    const r = this.rng;
    if (m) {
      const k = r.weighted([
        ['exact', 5],
        ['net24', 3],
        ['net16', 1],
        ['notother', 1],
      ] as const);
      if (k === 'exact') return `${flag} ${a}/32`;
      if (k === 'net24') return `${flag} ${netOf(a, 24)}/24`;
      if (k === 'net16') return `${flag} ${netOf(a, 16)}/16`;
      return `! ${flag} ${this.otherAddr(a)}/32`;
    }
    const k = r.weighted([
      ['other', 5],
      ['not', 2],
    ] as const);
    if (k === 'not') return `! ${flag} ${a}/32`;
    const o = this.otherAddr(a);
    return r.chance(0.3) && netOf(o, 24) !== netOf(a, 24) ? `${flag} ${netOf(o, 24)}/24` : `${flag} ${o}/32`;
  }

  private iface(flag: '-i' | '-o', name: string, m: boolean): string {
    if (m) {
      const k = this.rng.weighted([
        ['exact', 6],
        ['wild', 1],
        ['notother', 1],
      ] as const);
      if (k === 'exact') return `${flag} ${name}`;
      if (k === 'wild') return `${flag} ${name.replace(/\d+$/, '')}+`;
      return `! ${flag} ${this.otherIface(name)}`;
    }
    return this.rng.chance(0.75) ? `${flag} ${this.otherIface(name)}` : `! ${flag} ${name}`;
  }

  /** -p and its transport match for the view's packet. Returns [base -p part, module parts, proto or undefined]. */
  private l4(v: View, m: boolean): [string, string[], string | undefined] {
    const r = this.rng;
    const p = v.p;
    if (!m && r.chance(0.3)) {
      // Another protocol.
      const others = ['tcp', 'udp', 'icmp', '47'].filter((x) => x !== String(p.proto));
      const o = r.pick(others);
      return [`-p ${o === '47' ? 'gre' : o}`, [], o];
    }
    if (p.proto === 'tcp' || p.proto === 'udp') {
      const pr = p.proto;
      const dport = v.dport!;
      const sport = v.sport!;
      const flagsOk = pr === 'tcp';
      const kinds: Array<readonly [string, number]> = [
        ['dport', 6],
        ['sport', 2],
        ['range', 2],
        ['multiport', 3],
        ['bare', 2],
        ...(flagsOk ? ([['syn', 2], ['flags', 2]] as const) : []),
      ];
      const k = r.weighted(kinds);
      const otherPort = (x: number): number => r.pick([22, 53, 80, 123, 443, 3306, 8080, 5432, 25].filter((y) => y !== x));
      const mod = `-m ${pr}`;
      switch (k) {
        case 'dport':
          if (m) return [`-p ${pr}`, [mod, r.chance(0.85) ? `--dport ${dport}` : `! --dport ${otherPort(dport)}`], pr];
          return [`-p ${pr}`, [mod, r.chance(0.8) ? `--dport ${otherPort(dport)}` : `! --dport ${dport}`], pr];
        case 'sport': {
          if (m) return [`-p ${pr}`, [mod, sport >= 1024 && r.chance(0.5) ? '--sport 1024:65535' : `--sport ${sport}`], pr];
          return [`-p ${pr}`, [mod, sport >= 1024 ? '--sport 0:1023' : `--sport ${sport + 1}:65535`], pr];
        }
        case 'range': {
          if (m) {
            const lo = Math.max(0, dport - r.int(0, 20));
            const hi = Math.min(65535, dport + r.int(0, 200));
            return [`-p ${pr}`, [mod, `--dport ${lo}:${hi}`], pr];
          }
          const lo = dport + r.int(1, 50);
          return lo > 65000 ? [`-p ${pr}`, [mod, `--dport 1:${dport - 1}`], pr] : [`-p ${pr}`, [mod, `--dport ${lo}:${lo + r.int(0, 100)}`], pr];
        }
        case 'multiport': {
          const extra = r.sample([22, 25, 53, 80, 123, 443, 993, 3306, 8080].filter((y) => y !== dport), r.int(1, 3));
          const list = m ? r.shuffle([...extra, dport]) : extra;
          const which = r.chance(0.8) ? '--dports' : '--ports';
          if (!m && which === '--ports' && list.includes(sport)) return [`-p ${pr}`, ['-m multiport', `--dports ${list.join(',')}`], pr];
          return [`-p ${pr}`, ['-m multiport', `${which} ${list.join(',')}`], pr];
        }
        case 'syn': {
          const isSyn = p.flags === 'SYN';
          return [`-p tcp`, ['-m tcp', isSyn === m ? '--tcp-flags FIN,SYN,RST,ACK SYN' : '! --tcp-flags FIN,SYN,RST,ACK SYN'], 'tcp'];
        }
        case 'flags': {
          const all = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'];
          const set = p.flags === 'NONE' || !p.flags ? [] : p.flags.split(',');
          const maskL = r.chance(0.3) ? all : r.sample(all, r.int(2, 4));
          const mask = all.filter((f) => maskL.includes(f));
          let comp = mask.filter((f) => set.includes(f));
          if (!m) {
            // Flip one flag of the mask.
            const f = r.pick(mask);
            comp = comp.includes(f) ? comp.filter((x) => x !== f) : mask.filter((x) => comp.includes(x) || x === f);
          }
          const ml = mask.length === 6 ? 'FIN,SYN,RST,PSH,ACK,URG' : mask.join(',');
          return [`-p tcp`, ['-m tcp', `--tcp-flags ${ml} ${comp.length ? comp.join(',') : 'NONE'}`], 'tcp'];
        }
        default:
          return [`-p ${pr}`, [], pr];
      }
    }
    if (p.proto === 'icmp') {
      const t = p.icmpType!;
      const generic = t === 'echo-request' || t === 'echo-reply' ? t : ['port-unreachable', '3/3', 'host-unreachable', 'network-unreachable', 'communication-prohibited', 'destination-unreachable'].includes(t) ? 'destination-unreachable' : t;
      const exact = t === '3/3' ? 'port-unreachable' : t === 'destination-unreachable' ? 'network-unreachable' : t;
      if (m) {
        const k = r.weighted([
          ['exact', 4],
          ['generic', 2],
          ['any', 1],
          ['bare', 2],
        ] as const);
        if (k === 'bare') return ['-p icmp', [], 'icmp'];
        if (k === 'any') return ['-p icmp', ['-m icmp', '--icmp-type any'], 'icmp'];
        return ['-p icmp', ['-m icmp', `--icmp-type ${k === 'exact' ? exact : generic}`], 'icmp'];
      }
      const other = r.pick(['echo-request', 'echo-reply', 'time-exceeded', 'destination-unreachable', 'parameter-problem'].filter((x) => x !== generic));
      return ['-p icmp', ['-m icmp', r.chance(0.8) ? `--icmp-type ${other}` : `! --icmp-type ${generic}`], 'icmp'];
    }
    const n = p.proto as number;
    if (m) return [`-p ${n === 47 && r.chance(0.5) ? 'gre' : n}`, [], String(n)];
    return [`-p ${n === 47 ? 50 : 47}`, [], undefined];
  }

  private ctstate(v: View, m: boolean): string[] {
    const r = this.rng;
    const all = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'];
    let st = v.state;
    const natBits: string[] = [];
    if (v.table !== 'raw' && v.p.dnat && (v.p.state !== 'NEW' || v.hook !== 'PREROUTING')) natBits.push('DNAT');
    if (v.table !== 'raw' && v.p.snat && v.p.isReply) natBits.push('SNAT');
    const useState = r.chance(0.3);
    if (m) {
      if (!useState && natBits.length && r.chance(0.4)) return ['-m conntrack', `--ctstate ${r.pick(natBits)}`];
      const set = new Set([st, ...r.sample(all.filter((s) => s !== st), r.int(0, 1))]);
      if (!useState && r.chance(0.15)) return ['-m conntrack', `! --ctstate ${r.pick(all.filter((s) => s !== st))}`];
      const words = all.filter((s) => set.has(s));
      return useState ? ['-m state', `--state ${words.join(',')}`] : ['-m conntrack', `--ctstate ${words.join(',')}`];
    }
    if (st === 'UNTRACKED') st = 'INVALID';
    if (!useState && r.chance(0.15)) return ['-m conntrack', `! --ctstate ${st}`];
    const opts = all.filter((s) => s !== st);
    const words = r.sample(opts, r.int(1, 2));
    const sorted = all.filter((s) => words.includes(s));
    if (!useState && r.chance(0.15)) sorted.push(v.p.dnat ? 'SNAT' : 'DNAT');
    return useState ? ['-m state', `--state ${sorted.filter((s) => s !== 'SNAT' && s !== 'DNAT').join(',')}`] : ['-m conntrack', `--ctstate ${sorted.join(',')}`];
  }

  private ctmisc(v: View, m: boolean): string[] | undefined {
    if (v.table === 'raw' || v.state === 'INVALID') return undefined;
    const r = this.rng;
    const o = v.p.orig;
    const k = r.pick(['origsrc', 'origdst', 'origdstport', 'dir', 'status', 'proto'] as const);
    const neg = (s: string): string => (m ? s : `! ${s}`);
    switch (k) {
      case 'origsrc':
        return ['-m conntrack', neg(`--ctorigsrc ${o.src}`)];
      case 'origdst':
        return ['-m conntrack', neg(`--ctorigdst ${o.dst}`)];
      case 'origdstport':
        if (o.dport === undefined) return undefined;
        return ['-m conntrack', `--ctproto ${v.p.proto}`, neg(`--ctorigdstport ${o.dport}`)];
      case 'dir': {
        const d = v.p.isReply ? 'REPLY' : 'ORIGINAL';
        return ['-m conntrack', `--ctdir ${m ? d : d === 'REPLY' ? 'ORIGINAL' : 'REPLY'}`];
      }
      case 'status': {
        if (v.state === 'NEW') return ['-m conntrack', m ? '! --ctstatus CONFIRMED' : '--ctstatus SEEN_REPLY'];
        return ['-m conntrack', neg(r.pick(['--ctstatus CONFIRMED', '--ctstatus SEEN_REPLY,CONFIRMED']))];
      }
      case 'proto':
        if (typeof v.p.proto === 'number') return undefined;
        return ['-m conntrack', neg(`--ctproto ${v.p.proto}`)];
    }
  }

  private markMatch(v: View, m: boolean, kind: 'mark' | 'connmark'): string[] | undefined {
    if (kind === 'connmark' && v.table === 'raw') return undefined;
    const r = this.rng;
    if (this.marks.length && r.chance(0.7)) {
      const val = r.pick(this.marks);
      return [`-m ${kind}`, `${m ? '' : '! '}--mark 0x${val.toString(16)}`];
    }
    return [`-m ${kind}`, m ? '--mark 0x0' : r.chance(0.5) ? '! --mark 0x0' : `--mark 0x${r.int(0x100, 0xfff).toString(16)}/0xfff`];
  }

  private addrtype(v: View, m: boolean): string[] {
    const r = this.rng;
    if (r.chance(0.6)) {
      const local = this.ctx.isLocal(v.dst) && !v.p.broadcast;
      const t = v.p.broadcast ? 'BROADCAST' : local ? 'LOCAL' : 'UNICAST';
      const other = r.pick(['LOCAL', 'UNICAST', 'BROADCAST', 'MULTICAST'].filter((x) => x !== t && !(t === 'LOCAL' && x === 'UNICAST')));
      // --limit-iface-in: the kernel refuses it in a chain reachable from OUTPUT or POSTROUTING.
      const limIn = v.in && this.cur && allIn(this.cur.hooks, IN_HOOKS) && r.chance(0.1) ? ' --limit-iface-in' : '';
      if (m) return ['-m addrtype', r.chance(0.8) ? `--dst-type ${t}${limIn}` : `! --dst-type ${other}`];
      return ['-m addrtype', r.chance(0.7) ? `--dst-type ${other}` : `! --dst-type ${t}`];
    }
    const local = this.ctx.isLocal(v.src);
    const t = local ? 'LOCAL' : 'UNICAST';
    if (m) return ['-m addrtype', r.chance(0.6) ? `--src-type ${t}` : `! --src-type ${local ? 'UNICAST' : 'LOCAL'}`];
    return ['-m addrtype', `--src-type ${local ? 'BROADCAST' : 'LOCAL'}`];
  }

  private iprange(v: View, m: boolean): string[] {
    const r = this.rng;
    const which = r.chance(0.5) ? 'src' : 'dst';
    const a = ip2n(which === 'src' ? v.src : v.dst);
    if (m) {
      const lo = Math.max(1, a - r.int(0, 10));
      const hi = Math.min(0xfffffffe, a + r.int(0, 30));
      return ['-m iprange', `--${which}-range ${n2ip(lo)}-${n2ip(hi)}`];
    }
    if (r.chance(0.3)) return ['-m iprange', `! --${which}-range ${n2ip(Math.max(1, a - 2))}-${n2ip(a + 2)}`];
    const lo = a + r.int(1, 20);
    return ['-m iprange', `--${which}-range ${n2ip(lo)}-${n2ip(lo + r.int(0, 40))}`];
  }

  private length(v: View, m: boolean): string[] {
    const L = v.p.len;
    if (L !== undefined) {
      if (m) return ['-m length', `--length ${Math.max(0, L - this.rng.int(0, 20))}:${L + this.rng.int(0, 100)}`];
      return ['-m length', L > 200 ? '--length 0:100' : `--length ${L + 1}:65535`];
    }
    if (m) return ['-m length', this.rng.pick(['--length 0:400', '--length 20:300', '! --length 1000:65535'])];
    return ['-m length', this.rng.pick(['--length 1000:65535', '--length 500:1500', '! --length 0:400'])];
  }

  private ttl(v: View, m: boolean): string[] {
    const t = v.ttl;
    const r = this.rng;
    if (m) {
      const k = r.pick(['eq', 'gt', 'lt'] as const);
      if (k === 'eq') return ['-m ttl', `--ttl-eq ${t}`];
      if (k === 'gt' && t > 1) return ['-m ttl', `--ttl-gt ${r.int(0, t - 1)}`];
      return ['-m ttl', `--ttl-lt ${Math.min(255, t + r.int(1, 60))}`];
    }
    if (t < 250 && r.chance(0.5)) return ['-m ttl', `--ttl-gt ${t + r.int(0, 5)}`];
    if (t > 1) return ['-m ttl', `--ttl-lt ${r.int(1, t)}`];
    return ['-m ttl', `--ttl-eq ${t + 1}`];
  }

  private tos(v: View, m: boolean): string[] {
    const t = v.p.tos ?? 0;
    const others = [0x10, 0x08, 0x04, 0x02].filter((x) => x !== t);
    if (m) return ['-m tos', t ? `--tos 0x${hex(t)}/0x3f` : this.rng.chance(0.5) ? '--tos 0x00/0xff' : `! --tos 0x${hex(this.rng.pick(others))}/0x3f`];
    return ['-m tos', this.rng.chance(0.7) ? `--tos 0x${hex(this.rng.pick(others))}/0x3f` : `! --tos 0x${hex(t)}/0x3f`];
  }

  private pkttype(v: View, m: boolean): string[] {
    const t = v.p.broadcast ? 'broadcast' : 'unicast';
    if (m) return ['-m pkttype', this.rng.chance(0.8) ? `--pkt-type ${t}` : '! --pkt-type multicast'];
    return ['-m pkttype', this.rng.chance(0.7) ? `--pkt-type ${t === 'unicast' ? 'broadcast' : 'multicast'}` : `! --pkt-type ${t}`];
  }

  private mac(v: View, m: boolean): string[] | undefined {
    if (!v.p.mac) return undefined;
    const mac = v.p.mac.toUpperCase();
    if (m) return ['-m mac', `--mac-source ${mac}`];
    return ['-m mac', this.rng.chance(0.6) ? `--mac-source ${this.ctx.mac().toUpperCase()}` : `! --mac-source ${mac}`];
  }

  private owner(v: View, m: boolean): string[] {
    const local = v.p.iface === null;
    const uid = v.p.uid ?? 0;
    const gid = v.p.gid ?? 0;
    const r = this.rng;
    if (!local) return ['-m owner', m ? `! --uid-owner ${r.pick([0, 1000])}` : `--uid-owner ${r.pick([0, 1000])}`];
    if (m) return ['-m owner', r.pick([`--uid-owner ${uid}`, `--gid-owner ${gid}`, `! --uid-owner ${uid === 0 ? 1000 : 0}`, `--uid-owner ${uid} --gid-owner ${gid}`])];
    return ['-m owner', r.pick([`--uid-owner ${uid === 0 ? 1000 : 0}`, `! --uid-owner ${uid}`])];
  }

  /**
   * The criteria of one rule in `chain`: aimed at view `v` (all matching when `miss` is false; exactly one
   * criterion not matching when true), or none at all (unconditional).
   */
  criteria(chain: ChainDef, v: View | undefined, miss: boolean): { parts: string[]; proto: string | undefined } {
    const r = this.rng;
    this.cur = chain;
    if (!v) return { parts: [], proto: undefined };
    const canIn = allIn(chain.hooks, IN_HOOKS) && v.in !== null;
    const canOut = allIn(chain.hooks, OUT_HOOKS) && v.out !== null;
    const canMac = allIn(chain.hooks, IN_HOOKS) && v.p.mac !== null && v.in !== null;
    const canOwner = allIn(chain.hooks, ['OUTPUT', 'POSTROUTING']);
    const kinds: Array<readonly [string, number]> = [
      ['src', 5],
      ['dst', 5],
      ['l4', 9],
      ...(canIn ? ([['in', 5]] as const) : []),
      ...(canOut ? ([['out', 4]] as const) : []),
      ['ctstate', chain.table === 'raw' ? 1 : 6],
      ['ctmisc', chain.table === 'raw' ? 0 : 2],
      ['mark', chain.table === 'filter' || this.marks.length ? 2 : 0.5],
      ['connmark', chain.table === 'raw' ? 0 : 1],
      ['addrtype', 2],
      ['iprange', 1.5],
      ['length', 1],
      ['ttl', 1],
      ['tos', 1],
      ['pkttype', 0.7],
      ...(canMac ? ([['mac', 1.5]] as const) : []),
      ...(canOwner ? ([['owner', 2]] as const) : []),
    ];
    const n = r.weighted([
      [1, 4],
      [2, 5],
      [3, 3],
      [4, 1],
    ] as const);
    const chosen: string[] = [];
    let guard = 0;
    while (chosen.length < n && guard++ < 30) {
      const k = r.weighted(kinds);
      if (!chosen.includes(k)) chosen.push(k);
    }
    const flip = miss ? r.pick(chosen) : undefined;
    const base: Record<string, string> = {};
    const mods: string[][] = [];
    let proto: string | undefined;
    for (const k of chosen) {
      const m = k !== flip;
      switch (k) {
        case 'src':
          base.s = this.addr('-s', v.src, m);
          break;
        case 'dst':
          base.d = this.addr('-d', v.dst, m);
          break;
        case 'in':
          base.i = this.iface('-i', v.in!, m);
          break;
        case 'out':
          base.o = this.iface('-o', v.out!, m);
          break;
        case 'l4': {
          const [p, mod, pr] = this.l4(v, m);
          base.p = p;
          proto = pr;
          if (mod.length) mods.push(mod);
          break;
        }
        case 'ctstate':
          mods.push(this.ctstate(v, m));
          break;
        case 'ctmisc': {
          const x = this.ctmisc(v, m);
          if (x) mods.push(x);
          break;
        }
        case 'mark':
        case 'connmark': {
          const x = this.markMatch(v, m, k);
          if (x) mods.push(x);
          break;
        }
        case 'addrtype':
          mods.push(this.addrtype(v, m));
          break;
        case 'iprange':
          mods.push(this.iprange(v, m));
          break;
        case 'length':
          mods.push(this.length(v, m));
          break;
        case 'ttl':
          mods.push(this.ttl(v, m));
          break;
        case 'tos':
          mods.push(this.tos(v, m));
          break;
        case 'pkttype':
          mods.push(this.pkttype(v, m));
          break;
        case 'mac': {
          const x = this.mac(v, m);
          if (x) mods.push(x);
          break;
        }
        case 'owner':
          mods.push(this.owner(v, m));
          break;
      }
    }
    // A multiport/tcp/udp module needs its -p; the conntrack module may appear twice (that is fine for iptables,
    // but merge for readability).
    const merged: string[][] = [];
    for (const mod of mods) {
      const prev = merged.find((x) => x[0] === mod[0] && mod[0] === '-m conntrack');
      if (prev && !mod.slice(1).some((o) => prev.some((q) => q.replace(/^! /, '').split(' ')[0] === o.replace(/^! /, '').split(' ')[0]))) prev.push(...mod.slice(1));
      else if (!merged.some((x) => x[0] === mod[0] && mod[0] !== '-m conntrack')) merged.push(mod);
    }
    const parts: string[] = [];
    for (const key of ['s', 'd', 'i', 'o', 'p']) if (base[key]) parts.push(base[key]!);
    for (const mod of merged) parts.push(...mod);
    if (r.chance(0.12)) {
      this.used.add('comment');
      parts.push('-m comment', `--comment "${r.pick(['allow', 'block', 'audit', 'svc', 'nat', 'lan', 'wan', 'mark'])} ${r.pick(['traffic', 'flow', 'rule', 'hosts', 'ports'])}"`);
    }
    for (const mod of merged) this.used.add(mod[0]!.replace('-m ', ''));
    return { parts, proto };
  }

  logTarget(chain: ChainDef, v: View | undefined): string {
    const r = this.rng;
    this.logN++;
    const tag = chain.builtin ? `${chain.table.slice(0, 3)}-${chain.name.slice(0, 4)}` : chain.name.slice(0, 12);
    const a = [`-j LOG --log-prefix "${tag}-${this.logN}: "`];
    if (r.chance(0.25)) a.push(`--log-level ${r.int(3, 7)}`);
    if (r.chance(0.15)) a.push('--log-tcp-sequence');
    if (r.chance(0.15)) a.push('--log-tcp-options');
    if (r.chance(0.1)) a.push('--log-ip-options');
    if (r.chance(v?.p.iface === null ? 0.4 : 0.1)) a.push('--log-uid');
    this.used.add('LOG');
    return a.join(' ');
  }

  markTarget(): string {
    const r = this.rng;
    const v = r.int(1, 0x3f);
    this.marks.push(v);
    this.used.add('MARK');
    return r.weighted([
      [`-j MARK --set-xmark 0x${v.toString(16)}/0xffffffff`, 4],
      [`-j MARK --set-mark 0x${v.toString(16)}`, 2],
      [`-j MARK --set-xmark 0x${v.toString(16)}/0xff`, 1],
      [`-j MARK --or-mark 0x${v.toString(16)}`, 1],
    ] as const);
  }

  private connmarkTarget(): string {
    const r = this.rng;
    this.used.add('CONNMARK');
    const k = r.weighted([
      ['save', 3],
      ['restore', 3],
      ['set', 2],
    ] as const);
    if (k === 'save') return '-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff';
    if (k === 'restore') return '-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff';
    const v = r.int(1, 0x3f);
    this.marks.push(v);
    return `-j CONNMARK --set-xmark 0x${v.toString(16)}/0xffffffff`;
  }

  /** A target for a rule in `chain` (jumps to user chains are added elsewhere). */
  target(chain: ChainDef, v: View | undefined, proto: string | undefined): string {
    const r = this.rng;
    const user = !chain.builtin;
    const t = chain.table;
    let choices: Array<readonly [string, number]>;
    if (t === 'filter') {
      const dropPolicy = chain.policy === 'DROP';
      choices = [
        ['ACCEPT', dropPolicy ? 30 : 12],
        ['DROP', dropPolicy ? 6 : 14],
        ['REJECT', 10],
        ['LOG', 24],
        ...(user ? ([['RETURN', 10]] as const) : []),
      ];
    } else if (t === 'mangle') {
      choices = [
        ['MARK', 30],
        ['CONNMARK', 14],
        ['LOG', 25],
        ['ACCEPT', 7],
        ['DROP', 2],
        ...(user ? ([['RETURN', 10]] as const) : []),
      ];
    } else if (t === 'raw') {
      choices = [
        ['LOG', 30],
        ['ACCEPT', 14],
        ['CT', 5],
        ['NOTRACK', 2],
        ['MARK', 10],
        ['DROP', 2],
        ...(user ? ([['RETURN', 10]] as const) : []),
      ];
    } else {
      choices = [
        ['LOG', 30],
        ['ACCEPT', 12],
        ...(user ? ([['RETURN', 10]] as const) : []),
      ];
    }
    const k = r.weighted(choices);
    this.used.add(k);
    switch (k) {
      case 'LOG':
        return this.logTarget(chain, v);
      case 'REJECT': {
        const opts = [
          ['', 3],
          ['icmp-port-unreachable', 2],
          ['icmp-host-unreachable', 1],
          ['icmp-net-unreachable', 1],
          ['icmp-proto-unreachable', 1],
          ['icmp-net-prohibited', 1],
          ['icmp-host-prohibited', 2],
          ['icmp-admin-prohibited', 2],
          ...(proto === 'tcp' ? ([['tcp-reset', 5]] as const) : []),
        ] as const;
        const w = r.weighted(opts);
        return w ? `-j REJECT --reject-with ${w}` : '-j REJECT';
      }
      case 'MARK':
        return this.markTarget();
      case 'CONNMARK':
        return this.connmarkTarget();
      case 'CT':
        return '-j CT --notrack';
      default:
        return `-j ${k}`;
    }
  }
}

interface RulesetResult {
  text: string;
  summary: string[];
  used: Set<string>;
  /** Rules written, and those among them meant to match a packet (criteria all aimed at one). */
  stats: { rules: number; aimed: number };
}

const CHAIN_NAMES: Record<Table, string[]> = {
  filter: ['LAN_IN', 'WAN_IN', 'FWD_LAN', 'FWD_WAN', 'SERVICES', 'CHECK', 'LOGDROP', 'ICMP_OK', 'DMZ', 'BLOCKLIST', 'ALLOW_OUT', 'TCP_IN', 'UDP_IN', 'OUT_POLICY'],
  mangle: ['MARKING', 'QOS', 'CLASSIFY', 'CT_RESTORE', 'TAG_WAN'],
  nat: ['PORTFWD', 'NAT_OUT', 'SVC_DNAT', 'MASQ_OUT', 'PRE_NAT', 'NAT_LOG'],
  raw: ['NOTRACK_IN', 'RAW_CHK', 'EARLY', 'RAW_LOG'],
};

function buildRules(ctx: Ctx): RulesetResult {
  const { rng, host, plan } = ctx;
  const gen = new RuleGen(ctx);
  const summary: string[] = [];
  const stats = { rules: 0, aimed: 0 };
  const router = host.kind === 'router';
  const hasNatPlan = !!(plan.outNat || plan.dnats.length || plan.redirect || plan.inputSnat);
  const tables = new Set<Table>(['raw']);
  if (rng.chance(0.45)) tables.add('mangle');
  if (hasNatPlan || rng.chance(0.2)) tables.add('nat');
  if (rng.chance(0.92)) tables.add('filter');

  const chains: ChainDef[] = [];
  for (const t of TABLES) {
    if (!tables.has(t)) continue;
    for (const h of BUILTINS[t]) chains.push({ table: t, name: h, builtin: true, hooks: [h], policy: 'ACCEPT', rules: [] });
  }
  const get = (t: Table, n: string): ChainDef => chains.find((c) => c.table === t && c.name === n)!;

  // Filter policies and the usual rules of a firewall.
  if (tables.has('filter')) {
    const lan = ctx.role('lan');
    const wan = ctx.role('wan');
    const dmz = ctx.role('dmz');
    const est = (): string =>
      rng.chance(0.7) ? '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT' : '-m state --state RELATED,ESTABLISHED -j ACCEPT';
    const input = get('filter', 'INPUT');
    const fwd = get('filter', 'FORWARD');
    const output = get('filter', 'OUTPUT');
    if (router) {
      if (rng.chance(0.55)) {
        fwd.policy = 'DROP';
        if (rng.chance(0.75)) fwd.rules.push(est());
        if (rng.chance(0.65)) fwd.rules.push(`-i ${lan!.name} -o ${wan!.name} -j ACCEPT`);
        if (plan.dnats.length && rng.chance(0.6)) {
          if (rng.chance(0.5)) fwd.rules.push('-m conntrack --ctstate DNAT -j ACCEPT');
          else for (const d of plan.dnats) fwd.rules.push(`-d ${d.to}/32 -p ${d.proto} -m ${d.proto} --dport ${d.toPort ?? d.dport} -j ACCEPT`);
        }
        if (dmz && rng.chance(0.4)) fwd.rules.push(`-i ${lan!.name} -o ${dmz.name} -j ACCEPT`);
      }
      if (rng.chance(0.3)) {
        input.policy = 'DROP';
        if (rng.chance(0.7)) input.rules.push(est());
        if (rng.chance(0.5)) input.rules.push('-i lo -j ACCEPT');
        if (rng.chance(0.5)) input.rules.push(`-i ${lan!.name} -p tcp -m tcp --dport 22 -j ACCEPT`);
        if (rng.chance(0.4)) input.rules.push('-p icmp -m icmp --icmp-type 8 -j ACCEPT');
        if (plan.redirect && rng.chance(0.6)) input.rules.push(`-i ${plan.redirect.inIface} -p tcp -m tcp --dport ${plan.redirect.toPort} -j ACCEPT`);
      }
    } else {
      if (rng.chance(0.45)) {
        input.policy = 'DROP';
        if (rng.chance(0.75)) input.rules.push(est());
        if (rng.chance(0.5)) input.rules.push('-i lo -j ACCEPT');
        if (rng.chance(0.6)) input.rules.push(`-p tcp -m multiport --dports ${rng.sample([22, 80, 443, 8080, 25], 2).join(',')} -j ACCEPT`);
        if (rng.chance(0.4)) input.rules.push('-p icmp -m icmp --icmp-type 8 -j ACCEPT');
      }
      if (rng.chance(0.5)) fwd.policy = 'DROP';
    }
    if (rng.chance(0.08)) {
      output.policy = 'DROP';
      if (rng.chance(0.8)) output.rules.push(est());
      const outIf = (wan ?? host.ifaces[0]!).name;
      if (rng.chance(0.6)) output.rules.push(`-o ${outIf} -j ACCEPT`);
    }
    summary.push(`filter INPUT ${input.policy}, FORWARD ${fwd.policy}${output.policy === 'DROP' ? ', OUTPUT DROP' : ''}`);
  }

  // NAT plan rules.
  if (tables.has('nat')) {
    const pre = get('nat', 'PREROUTING');
    const post = get('nat', 'POSTROUTING');
    const out = get('nat', 'OUTPUT');
    for (const d of plan.dnats) {
      const c = d.inIface === null ? out : pre;
      const parts: string[] = [];
      if (!d.byAddrtype) parts.push(`-d ${d.dst}/32`);
      if (d.inIface) parts.push(`-i ${d.inIface}`);
      parts.push(`-p ${d.proto} -m ${d.proto} --dport ${d.dport}`);
      if (d.byAddrtype) parts.push('-m addrtype --dst-type LOCAL');
      parts.push(`-j DNAT --to-destination ${d.to}${d.toPort !== undefined ? `:${d.toPort}` : ''}`);
      gen.used.add('DNAT');
      c.rules.push(parts.join(' '));
    }
    if (plan.redirect) {
      const r = plan.redirect;
      pre.rules.push(`-i ${r.inIface} -p ${r.proto} -m ${r.proto} --dport ${r.dport} -j REDIRECT --to-ports ${r.toPort}`);
      gen.used.add('REDIRECT');
    }
    if (plan.outNat) {
      const o = plan.outNat;
      const parts: string[] = [];
      if (o.srcNet) parts.push(`-s ${o.srcNet[0]}/${o.srcNet[1]}`);
      parts.push(`-o ${o.out}`);
      if (o.proto) parts.push(`-p ${o.proto}`);
      parts.push(o.kind === 'MASQUERADE' ? '-j MASQUERADE' : `-j SNAT --to-source ${o.to}${o.ports ? `:${o.ports}` : ''}`);
      post.rules.push(parts.join(' '));
      gen.used.add(o.kind);
    }
    if (plan.inputSnat) {
      const s = plan.inputSnat;
      get('nat', 'INPUT').rules.push(`-i ${s.inIface} -p ${s.proto} -m ${s.proto} --dport ${s.dport} -j SNAT --to-source ${s.to}`);
      gen.used.add('SNAT');
    }
    const natDesc = [
      plan.outNat ? `${plan.outNat.kind} -o ${plan.outNat.out}` : '',
      ...plan.dnats.map((d) => `DNAT ${d.proto}/${d.dport}${d.inIface === null ? ' (OUTPUT)' : ''}`),
      plan.redirect ? `REDIRECT ${plan.redirect.dport}->${plan.redirect.toPort}` : '',
      plan.inputSnat ? 'SNAT in INPUT' : '',
    ].filter(Boolean);
    if (natDesc.length) summary.push(natDesc.join(', '));
  }

  // mangle: a mark set early and looked at later, sometimes kept on the connection.
  if (tables.has('mangle')) {
    if (rng.chance(0.6)) {
      const hook = rng.chance(0.75) ? 'PREROUTING' : 'OUTPUT';
      const c = get('mangle', hook);
      const vs = viewsFor(ctx, c);
      if (vs.length) {
        const v = rng.pick(vs);
        const crit = gen.criteria(c, v, false);
        if (rng.chance(0.3)) c.rules.push('-j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff');
        c.rules.push([...crit.parts, gen.markTarget()].join(' '));
        if (rng.chance(0.4)) c.rules.push('-j CONNMARK --save-mark --nfmask 0xffffffff --ctmask 0xffffffff');
        gen.used.add('MARK');
        gen.used.add('CONNMARK');
        summary.push('mangle MARK');
      }
    }
  }

  // User chains: created in order; chain k may be jumped to from its callers (built-ins) or from chain k-1.
  const nUser = rng.weighted([
    [0, 3],
    [1, 3],
    [2, 3],
    [3, 2],
    [4, 1],
  ] as const);
  const users: Array<{ def: ChainDef; from: ChainDef[] }> = [];
  const usedNames = new Set<string>();
  for (let k = 0; k < nUser; k++) {
    const avail = TABLES.filter((t) => tables.has(t));
    const t = rng.weighted(avail.map((x) => [x, x === 'filter' ? 6 : x === 'raw' ? 1 : 1.5] as const));
    const name = rng.pick(CHAIN_NAMES[t].filter((n) => !usedNames.has(n)));
    usedNames.add(name);
    const prev = users.filter((u) => u.def.table === t);
    let hooks: Hook[];
    let from: ChainDef[];
    if (prev.length && rng.chance(0.35)) {
      const parent = rng.pick(prev);
      hooks = [...parent.def.hooks];
      from = [parent.def];
    } else {
      let cand: Hook[][];
      if (t === 'nat') cand = [['PREROUTING'], ['OUTPUT'], ['PREROUTING', 'OUTPUT'], ['POSTROUTING'], ['INPUT'], ['POSTROUTING', 'INPUT']];
      else cand = [...BUILTINS[t].map((h) => [h]), ...(BUILTINS[t].length > 1 ? [rng.sample(BUILTINS[t], 2)] : [])];
      // Prefer chains that some packet crosses.
      const crossed = cand.filter((hs) => ctx.pkts.some((p) => pathOf(p).some((h) => hs.includes(h))));
      hooks = rng.pick(crossed.length ? crossed : cand);
      from = hooks.map((h) => get(t, h));
    }
    const def: ChainDef = { table: t, name, builtin: false, hooks, policy: '-', rules: [] };
    chains.push(def);
    users.push({ def, from });
  }

  // Random rules in every chain, aimed at the packets.
  const counts: Record<Table, [number, number]> = { raw: [0, 2], mangle: [0, 3], nat: [0, 2], filter: [1, 5] };
  for (const c of chains) {
    let [lo, hi] = c.builtin ? counts[c.table] : [1, 4];
    if (c.table === 'filter' && c.builtin && !router && c.name === 'FORWARD') [lo, hi] = [0, 1];
    const vs = viewsFor(ctx, c);
    // A chain no packet is expected to cross gets fewer rules, written as if one did.
    // And no more rules than packets cross it.
    const n = vs.length ? rng.int(Math.min(lo, vs.length), Math.min(hi, vs.length)) : rng.int(0, Math.min(1, hi));
    for (let k = 0; k < n; k++) {
      const v = vs.length ? rng.pick(vs) : ctx.pkts.length ? viewOf(rng.pick(ctx.pkts), c.table, c.hooks[0]!) : undefined;
      const uncond = !c.builtin && k === n - 1 && rng.chance(0.25);
      for (let attempt = 0; attempt < 4; attempt++) {
        const miss = rng.chance(0.3);
        let proto: string | undefined;
        let parts: string[] = [];
        if (!uncond) {
          const crit = gen.criteria(c, v, miss);
          parts = crit.parts;
          proto = crit.proto;
        }
        if (!uncond && parts.length === 0 && attempt < 3) continue;
        const tgt = uncond ? rng.pick(['-j RETURN', '-j RETURN', gen.logTarget(c, v), c.table === 'filter' ? '-j ACCEPT' : '-j RETURN']) : gen.target(c, v, proto);
        const rule = [...parts, tgt].join(' ');
        if (c.rules.includes(rule) && attempt < 3) continue;
        // In nat, mostly after the planned NAT rules (an ACCEPT before a DNAT would undo the scenario's point).
        // Elsewhere, verdicts lean to the end and LOG/MARK to the front, so that more rules see packets.
        const terminal = /-j (ACCEPT|DROP|REJECT)\b/.test(tgt);
        const pos =
          c.table === 'nat' && rng.chance(0.7)
            ? c.rules.length
            : terminal && rng.chance(0.4)
              ? c.rules.length
              : !terminal && rng.chance(0.4)
                ? rng.int(0, Math.floor(c.rules.length / 2))
                : rng.int(0, c.rules.length);
        c.rules.splice(pos, 0, rule);
        stats.rules++;
        if (!uncond && !miss && vs.length) stats.aimed++;
        break;
      }
    }
    // An unconditional standard-target rule at the end of a built-in chain (the kernel's policy:N quirk).
    if (c.builtin && c.table === 'filter' && c.policy === 'DROP' && rng.chance(0.1)) c.rules.push(rng.pick(['-j DROP', '-j ACCEPT']));
  }

  // Jumps and gotos into user chains.
  for (const u of users) {
    const nj = rng.int(1, 2);
    for (let k = 0; k < nj; k++) {
      const from = rng.pick(u.from);
      const vs = viewsFor(ctx, from);
      const v = vs.length ? rng.pick(vs) : undefined;
      const miss = rng.chance(0.2);
      const crit = rng.chance(0.15) ? { parts: [] as string[] } : gen.criteria(from, v, miss);
      stats.rules++;
      if (v && (!miss || crit.parts.length === 0)) stats.aimed++;
      const jump = rng.chance(0.25) ? `-g ${u.def.name}` : `-j ${u.def.name}`;
      gen.used.add(jump.startsWith('-g') ? 'goto' : 'jump');
      from.rules.splice(rng.int(0, from.rules.length), 0, [...crit.parts, jump].join(' '));
    }
  }
  if (users.length) summary.push(`user chains ${users.map((u) => `${u.def.table}/${u.def.name}`).join(' ')}`);

  // Text, as iptables-save prints it: built-in chains, then user chains by name.
  const lines: string[] = [];
  for (const t of TABLES) {
    if (!tables.has(t)) continue;
    const cs = chains.filter((c) => c.table === t);
    const builtins = cs.filter((c) => c.builtin);
    const userCs = cs.filter((c) => !c.builtin).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    lines.push(`*${t}`);
    for (const c of builtins) lines.push(`:${c.name} ${c.policy} [0:0]`);
    for (const c of userCs) lines.push(`:${c.name} - [0:0]`);
    for (const c of [...builtins, ...userCs]) for (const r of c.rules) lines.push(`-A ${c.name} ${r}`);
    lines.push('COMMIT');
  }
  for (const t of tables) gen.used.add(`table:${t}`);
  const planned = chains.reduce((n, c) => n + c.rules.length, 0) - stats.rules;
  stats.rules += planned;
  stats.aimed += planned;
  return { text: lines.join('\n') + '\n', summary, used: gen.used, stats };
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

/** What the generator meant, for the --stats summary (not written to the file). */
export interface ScenarioInfo {
  kind: 'router' | 'host';
  flows: string[];
  /** Per packet: the path the generator expects (delivered, forwarded, sent, dropped-early) and its conntrack state. */
  paths: string[];
  states: string[];
  /** Per packet: the index of its connection's first packet in the scenario (itself for a first packet, -1: not in it). */
  firsts: number[];
  used: string[];
  rules: number;
  aimed: number;
}

export function generateScenario(seed: number, index: number): TraceScenario {
  return buildScenario(seed, index).scenario;
}

export function buildScenario(seed: number, index: number): { scenario: TraceScenario; info: ScenarioInfo } {
  const rng = new Rng(scenarioSeed(seed, index));
  const host: HostModel = { kind: 'router', ifaces: [], routes: [], forward: true, rpAll: 0, rpIf: [], far: [], behind: [] };
  const plan: NatPlan = { outNat: undefined, dnats: [], redirect: undefined, inputSnat: undefined };
  const ctx = new Ctx(rng, host, plan);
  if (rng.chance(0.72)) {
    buildRouter(ctx);
    planRouter(ctx);
  } else {
    buildPlainHost(ctx);
    planPlainHost(ctx);
  }
  buildPackets(ctx);
  const rules = buildRules(ctx);
  const desc = [
    host.kind === 'router' ? `router (${host.ifaces.length} ifaces${host.forward ? '' : ', ip_forward 0'})` : 'host',
    ...(host.rpAll || host.rpIf.length ? [`rp_filter ${host.rpAll || host.rpIf.map(([i, v]) => `${i}=${v}`).join(',')}`] : []),
    ...rules.summary,
    `packets: ${ctx.flowNames.join(' + ')}`,
  ];
  const scenario: TraceScenario = {
    name: `gen-${seed}-${index}`,
    why: `generated: seed ${seed}, index ${index}; ${desc.join('; ')}`,
    host: hostText(ctx),
    rules: rules.text,
    packets: ctx.pkts.map((p) => ({ packet: packetLine(p) })),
  };
  const info: ScenarioInfo = {
    kind: host.kind,
    flows: ctx.flowNames,
    paths: ctx.pkts.map((p) =>
      p.iface === null ? (p.out || p.delivered ? 'sent' : 'no-route') : p.delivered ? 'delivered' : p.dropsEarly ? 'dropped-early' : 'forwarded',
    ),
    states: ctx.pkts.map((p) => p.state),
    firsts: ctx.pkts.map((p) => ctx.pkts.findIndex((q) => q === p.first || (q === p && p.first === undefined))),
    used: [...rules.used].sort(),
    rules: rules.stats.rules,
    aimed: rules.stats.aimed,
  };
  return { scenario, info };
}

export interface GenerateOptions {
  seed: number;
  count: number;
  /** recorded.date; default: now. */
  date?: string;
}

export const DEFAULTS = { seed: 1, count: 60 } as const;

export function generate(opts: GenerateOptions): TraceFixtureFile {
  const scenarios: TraceScenario[] = [];
  for (let i = 0; i < opts.count; i++) scenarios.push(generateScenario(opts.seed, i));
  return {
    recorded: {
      by: `scripts/gen-trace-scenarios.ts --seed ${opts.seed} --count ${opts.count} (inputs only, not recorded)`,
      iptables: '',
      kernel: '',
      date: opts.date ?? new Date().toISOString(),
    },
    scenarios,
  };
}

function parseArgs(argv: string[]): { seed: number; count: number; out: string | undefined; stats: boolean } {
  let stats = false;
  let seed: number = DEFAULTS.seed;
  let count: number = DEFAULTS.count;
  let out: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.includes('=') ? (argv[i]!.split(/=(.*)/s, 2) as [string, string]) : [argv[i]!, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--seed') seed = Number.parseInt(val(), 10);
    else if (flag === '--count') count = Number.parseInt(val(), 10);
    else if (flag === '--out') out = val();
    else if (flag === '--stats') stats = true;
    else if (flag === '-h' || flag === '--help') {
      process.stdout.write('usage: npx tsx scripts/gen-trace-scenarios.ts [--seed N] [--count M] [--out FILE] [--stats]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error('--seed: an integer 0..4294967295');
  if (!Number.isInteger(count) || count < 1) throw new Error('--count: a positive integer');
  return { seed, count, out, stats };
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const file = generate({ seed: o.seed, count: o.count });
  const out = o.out ?? join('fixtures', 'traces', 'scenarios', `generated-${o.seed}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(file, null, 2) + '\n');
  const packets = file.scenarios.reduce((s, x) => s + x.packets.length, 0);
  process.stderr.write(`${out}: ${file.scenarios.length} scenarios, ${packets} packets\n`);
  if (o.stats) process.stderr.write(statsText(o.seed, o.count));
}

/** The distribution of what was generated (kinds, flows, expected paths and states, extensions). */
function statsText(seed: number, count: number): string {
  const tally = (xs: string[]): string => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  };
  const infos = Array.from({ length: count }, (_, i) => buildScenario(seed, i).info);
  const rules = infos.reduce((n, i) => n + i.rules, 0);
  const aimed = infos.reduce((n, i) => n + i.aimed, 0);
  return [
    `kinds: ${tally(infos.map((i) => i.kind))}`,
    `flows: ${tally(infos.flatMap((i) => i.flows))}`,
    `expected paths: ${tally(infos.flatMap((i) => i.paths))}`,
    `expected states: ${tally(infos.flatMap((i) => i.states))}`,
    `rules: ${rules}, aimed at a packet: ${aimed} (${Math.round((100 * aimed) / rules)}%)`,
    `used (scenarios): ${tally(infos.flatMap((i) => i.used))}`,
    '',
  ].join('\n');
}

const invokedDirectly = /gen-trace-scenarios\.[cm]?[jt]s$/.test(process.argv[1] ?? '');
if (invokedDirectly) main();
