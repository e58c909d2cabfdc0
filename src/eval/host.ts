/**
 * The simulated host: interfaces with their addresses and MACs, the local and main routing tables, and the
 * sysctls that decide a packet's fate (ip_forward, rp_filter). Read from a HOSTFILE written in the commands
 * people type (`ip addr add`, `ip route add`, `ip link set dev X address M`, `sysctl -w`), and answering
 * routing questions as the kernel's fib does: the local table first (local and broadcast addresses), then the
 * main table by longest prefix.
 */
import { cidrToMask, numericToAddr } from '../model/ip';
import { RTN, type HostView, type RouteResult } from './context';
import { interfaceMac } from './mac';

export interface IfaceAddress {
  addr: number;
  prefix: number;
  /** The subnet broadcast address (`brd +`), unless /31 or /32. */
  broadcast: number | undefined;
}

export interface Iface {
  name: string;
  mac: string;
  addrs: IfaceAddress[];
}

export interface Route {
  dst: number;
  prefix: number;
  gateway: number | undefined;
  dev: string;
  /** proto kernel routes of connected subnets carry the interface address as preferred source. */
  prefsrc: number | undefined;
  type: number;
  /** Added with the address (`proto kernel scope link`). */
  connected: boolean;
}

/** A HOSTFILE error: the line number and what was wrong, for a clear message. */
export class HostFileError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`host file line ${line}: ${message}`);
    this.name = 'HostFileError';
  }
}

const maskOf = (prefix: number): number => cidrToMask(prefix);

export class Host implements HostView {
  readonly ifaces = new Map<string, Iface>();
  readonly routes: Route[] = [];
  ipForward = false;
  /** rp_filter per interface name, and 'all'. */
  readonly rpFilter = new Map<string, number>();
  /** net.ipv4.conf.*.route_localnet, accept_local: off (fresh namespace values). */
  /**
   * Devices that are administratively down (labs: a new veth, a fresh namespace's lo): their addresses are not
   * local and no route leaves by them, as the kernel removes their routes on NETDEV_DOWN.
   */
  readonly down = new Set<string>();
  /**
   * Host files only (labs keep their bridges in src/lab/bridge.ts): bridges by name, with their ports in the order
   * they joined (`ip link add br0 type bridge`, `ip link set eth1 master br0`).
   */
  readonly bridges = new Map<string, string[]>();
  /** net.bridge.bridge-nf-call-iptables: 1 in a new namespace once br_netfilter is loaded (fixtures/labs/bridge-hooks.sh). */
  bridgeNfCallIptables = true;

  constructor() {
    this.addAddress('lo', numericToAddr('127.0.0.1', false)!, 8);
  }

  /** The host a fresh namespace would be with `eth0` 192.168.1.10/24 and a default route via 192.168.1.1. */
  static defaultHost(): Host {
    return Host.parse('ip addr add 192.168.1.10/24 dev eth0\nip route add default via 192.168.1.1\n');
  }

  iface(name: string): Iface {
    let i = this.ifaces.get(name);
    if (!i) {
      i = { name, mac: interfaceMac(name), addrs: [] };
      this.ifaces.set(name, i);
    }
    return i;
  }

  addAddress(dev: string, addr: number, prefix: number): void {
    const mask = maskOf(prefix);
    const broadcast = prefix < 31 ? ((addr & mask) | ~mask) >>> 0 : undefined;
    const i = this.iface(dev);
    i.addrs.push({ addr, prefix, broadcast });
    // The connected route (main table), as the kernel adds with the address.
    const net = (addr & mask) >>> 0;
    if (dev !== 'lo' && prefix < 32 && !this.routes.some((r) => r.connected && r.dst === net && r.prefix === prefix && r.dev === dev)) {
      this.routes.push({ dst: net, prefix, gateway: undefined, dev, prefsrc: addr, type: RTN.UNICAST, connected: true });
    }
  }

  /** `ip addr del`: the address and the connected route it brought. */
  removeAddress(dev: string, addr: number, prefix: number): boolean {
    const i = this.ifaces.get(dev);
    const k = i ? i.addrs.findIndex((a) => a.addr === addr && a.prefix === prefix) : -1;
    if (!i || k < 0) return false;
    i.addrs.splice(k, 1);
    const net = (addr & maskOf(prefix)) >>> 0;
    if (!i.addrs.some((a) => a.prefix === prefix && ((a.addr & maskOf(prefix)) >>> 0) === net)) {
      const r = this.routes.findIndex((x) => x.connected && x.dev === dev && x.dst === net && x.prefix === prefix);
      if (r >= 0) this.routes.splice(r, 1);
    }
    // Routes whose preferred source was that address go with it (fib_del_ifaddr).
    for (let j = this.routes.length - 1; j >= 0; j--) if (this.routes[j]!.prefsrc === addr && this.routes[j]!.dev === dev) this.routes.splice(j, 1);
    return true;
  }

  /** A device leaves the host (moved to another namespace, deleted): its addresses and routes go with it. */
  removeIface(dev: string): void {
    this.ifaces.delete(dev);
    this.down.delete(dev);
    for (let j = this.routes.length - 1; j >= 0; j--) if (this.routes[j]!.dev === dev) this.routes.splice(j, 1);
  }

  /** The bridge `dev` is a port of (host files). */
  bridgeOf(dev: string): string | undefined {
    for (const [b, ports] of this.bridges) if (ports.includes(dev)) return b;
    return undefined;
  }

  /** A bridge takes the lowest MAC of its ports, as br_stp_recalculate_bridge_id() picks it. */
  private bridgeMac(br: string): void {
    const macs = (this.bridges.get(br) ?? []).map((p) => this.iface(p).mac).sort();
    if (macs[0] !== undefined) this.iface(br).mac = macs[0];
  }

  rpFilterOf(dev: string): number {
    // The effective value is the maximum of conf/all and conf/DEV (IN_DEV_RPFILTER).
    return Math.max(this.rpFilter.get('all') ?? 0, this.rpFilter.get(dev) ?? 0);
  }

  /** Parses HOSTFILE text; throws HostFileError naming the line. */
  static parse(text: string): Host {
    const h = new Host();
    text.split('\n').forEach((raw, idx) => {
      const lineNo = idx + 1;
      const line = raw.replace(/#.*/, '').trim();
      if (line === '') return;
      const w = line.split(/\s+/);
      const fail = (msg: string): never => {
        throw new HostFileError(lineNo, `${msg}: ${raw.trim()}`);
      };
      const addrOf = (s: string | undefined, what: string): number => {
        const a = s === undefined ? null : numericToAddr(s, false);
        if (a === null || s === undefined || s.split('.').length !== 4) return fail(`bad ${what} address "${s ?? ''}"`);
        return a;
      };
      const cidrOf = (s: string | undefined): [number, number] => {
        if (s === 'default') return [0, 0];
        const [a, p] = (s ?? '').split('/');
        const prefix = p === undefined ? 32 : Number(p);
        if (!/^\d+$/.test(p ?? '32') || prefix > 32) fail(`bad prefix "${s ?? ''}"`);
        return [addrOf(a, 'destination'), prefix];
      };
      const opt = (name: string): string | undefined => {
        const k = w.indexOf(name);
        return k >= 0 ? w[k + 1] : undefined;
      };
      if (w[0] === 'ip' && w[1] === 'addr' && w[2] === 'add') {
        const [a, prefix] = cidrOf(w[3]);
        const dev = opt('dev') ?? fail('missing "dev IFACE"');
        h.addAddress(dev, a, prefix);
      } else if (w[0] === 'ip' && w[1] === 'route' && w[2] === 'add') {
        let k = 3;
        let type: number = RTN.UNICAST;
        const types: Record<string, number> = { unicast: RTN.UNICAST, blackhole: RTN.BLACKHOLE, unreachable: RTN.UNREACHABLE, prohibit: RTN.PROHIBIT };
        if (w[k] !== undefined && types[w[k]!] !== undefined) type = types[w[k++]!]!;
        const [dst, prefix] = cidrOf(w[k]);
        const via = opt('via');
        const gateway = via === undefined ? undefined : addrOf(via, 'gateway');
        let dev = opt('dev');
        if (dev !== undefined && !h.ifaces.has(dev)) fail(`Cannot find device "${dev}"`);
        if (dev === undefined && gateway !== undefined) dev = h.connectedDevFor(gateway);
        if (dev === undefined && type === RTN.UNICAST) fail(gateway !== undefined ? 'Nexthop has invalid gateway' : 'missing "dev IFACE" or "via GW"');
        const srcOpt = opt('src');
        h.routes.push({ dst: (dst & maskOf(prefix)) >>> 0, prefix, gateway, dev: dev ?? 'lo', prefsrc: srcOpt === undefined ? undefined : addrOf(srcOpt, 'source'), type, connected: false });
      } else if (w[0] === 'ip' && w[1] === 'link' && w[2] === 'add' && opt('type') === 'bridge') {
        const name = w[3] === 'name' ? w[4] : w[3];
        if (name === undefined || name === 'type') return fail('missing bridge name');
        if (h.ifaces.has(name)) return fail(`device "${name}" exists already`);
        h.iface(name);
        h.bridges.set(name, []);
      } else if (w[0] === 'ip' && w[1] === 'link' && w[2] === 'set' && (w.includes('master') || w.includes('nomaster'))) {
        const dev = opt('dev') ?? w[3] ?? fail('missing device');
        const was = h.bridgeOf(dev);
        if (was !== undefined) h.bridges.set(was, h.bridges.get(was)!.filter((p) => p !== dev));
        if (w.includes('master')) {
          const br = opt('master') ?? fail('missing bridge after "master"');
          if (!h.bridges.has(br)) fail(`"${br}" is no bridge (add it with "ip link add ${br} type bridge" first)`);
          if (h.bridges.has(dev)) fail('Can not enslave a bridge to a bridge');
          h.iface(dev);
          h.bridges.get(br)!.push(dev);
          h.bridgeMac(br);
        } else if (was !== undefined) h.bridgeMac(was);
      } else if (w[0] === 'ip' && w[1] === 'link' && w[2] === 'set') {
        const dev = opt('dev') ?? w[3] ?? fail('missing device');
        const mac = opt('address');
        if (mac !== undefined) {
          if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) fail(`bad MAC address "${mac}"`);
          h.iface(dev).mac = mac.toLowerCase();
        } else if (w.includes('up') || w.includes('down')) {
          h.iface(dev);
        } else fail('only "ip link set dev IFACE address MAC" (or up) is understood');
      } else if (w[0] === 'sysctl') {
        const kv = w.slice(1).filter((x) => x !== '-w' && x !== '-q');
        const joined = kv.join('');
        const m = /^([\w./-]+)=(\S+)$/.exec(joined);
        if (!m) return fail('expected "sysctl -w KEY=VALUE"');
        const key = m[1]!.replace(/\//g, '.');
        const value = Number(m[2]);
        if (!Number.isInteger(value)) fail(`bad value "${m[2]!}"`);
        const rp = /^net\.ipv4\.conf\.([^.]+)\.rp_filter$/.exec(key);
        if (key === 'net.ipv4.ip_forward' || key === 'net.ipv4.conf.all.forwarding') h.ipForward = value !== 0;
        else if (rp) h.rpFilter.set(rp[1]!, value);
        else if (key === 'net.bridge.bridge-nf-call-iptables') h.bridgeNfCallIptables = value !== 0;
        else if (key === 'net.bridge.bridge-nf-call-arptables' || key === 'net.bridge.bridge-nf-call-ip6tables') return;
        else fail(`unsupported sysctl "${key}"`);
      } else {
        fail('unknown command (expected ip addr add, ip route add, ip link set, ip link add NAME type bridge, sysctl -w)');
      }
    });
    return h;
  }

  /** The device whose connected subnet holds addr (for `via GW` without `dev`). */
  private connectedDevFor(addr: number): string | undefined {
    for (const r of this.routes) if (r.connected && ((addr & maskOf(r.prefix)) >>> 0) === r.dst) return r.dev;
    return undefined;
  }

  /** Local table lookup: LOCAL for the host's addresses and 127/8, BROADCAST for subnet broadcasts. */
  private localType(addr: number, dev?: string): { type: number; dev: string } | undefined {
    for (const i of this.ifaces.values()) {
      if (this.down.has(i.name)) continue;
      for (const a of i.addrs) {
        if (a.addr === addr) return { type: RTN.LOCAL, dev: i.name };
        if (i.name === 'lo' && ((addr & maskOf(a.prefix)) >>> 0) === ((a.addr & maskOf(a.prefix)) >>> 0)) return { type: RTN.LOCAL, dev: 'lo' };
      }
    }
    for (const i of this.ifaces.values()) {
      if ((dev !== undefined && i.name !== dev) || this.down.has(i.name)) continue;
      for (const a of i.addrs) if (a.broadcast === addr && i.name !== 'lo') return { type: RTN.BROADCAST, dev: i.name };
    }
    return undefined;
  }

  isLocalAddress(addr: number): boolean {
    return this.localType(addr)?.type === RTN.LOCAL;
  }

  /** inet_dev_addr_type() against the local table, as the addrtype match asks. */
  addrType(addr: number, dev?: string): number {
    if (addr === 0 || addr === 0xffffffff) return RTN.BROADCAST;
    if (addr >>> 28 === 0xe) return RTN.MULTICAST;
    const l = this.localType(addr);
    if (l && (dev === undefined || l.dev === dev || l.type === RTN.BROADCAST)) return l.type;
    return RTN.UNICAST;
  }

  /** Main-table longest-prefix match (optionally limited to routes out of `oif`). */
  mainLookup(dst: number, oif?: string): Route | undefined {
    let best: Route | undefined;
    for (const r of this.routes) {
      // blackhole/unreachable/prohibit routes have no device that could be down.
      if ((oif !== undefined && r.dev !== oif) || (r.type === RTN.UNICAST && this.down.has(r.dev))) continue;
      if (((dst & maskOf(r.prefix)) >>> 0) !== r.dst) continue;
      if (!best || r.prefix > best.prefix) best = r;
    }
    return best;
  }

  route(dst: number, opts?: { src?: number; iif?: string; oif?: string }): RouteResult | undefined {
    if (dst === 0xffffffff) {
      // The limited broadcast leaves by the device the main table would use (the default route's, usually).
      const dev = opts?.oif ?? opts?.iif ?? this.mainLookup(dst)?.dev;
      if (dev === undefined) return undefined;
      return { type: RTN.BROADCAST, dev, gateway: undefined, prefsrc: this.primaryAddress(dev) };
    }
    const l = this.localType(dst);
    if (l) return { type: l.type, dev: l.type === RTN.LOCAL ? 'lo' : l.dev, gateway: undefined, prefsrc: l.type === RTN.LOCAL ? dst : this.primaryAddress(l.dev) };
    const r = this.mainLookup(dst, opts?.oif);
    if (!r) return undefined;
    return { type: r.type, dev: r.dev, gateway: r.gateway, prefsrc: r.prefsrc ?? this.primaryAddress(r.dev, r.gateway ?? dst) };
  }

  /** inet_select_addr(): the first address of the device in the subnet of `towards`, else its first address. */
  primaryAddress(dev: string, towards?: number): number | undefined {
    const i = this.ifaces.get(dev);
    if (!i || i.addrs.length === 0) return undefined;
    if (towards !== undefined) {
      const inNet = i.addrs.find((a) => ((a.addr ^ towards) & maskOf(a.prefix)) >>> 0 === 0);
      if (inNet) return inNet.addr;
    }
    return i.addrs[0]!.addr;
  }

  macOf(dev: string): string | undefined {
    return this.ifaces.get(dev)?.mac;
  }
}
