/**
 * `ip` (iproute2) as lab scripts use it: netns add/del/list, link add ... type veth peer name P [netns NS],
 * link set DEV netns NS | up | down, link del, addr add/del, route add/del (default, via, dev, src). Messages and
 * exit statuses are iproute2's (recorded by hand-run checks in tsi- namespaces, see fixtures/labs/).
 * `ip netns exec` is run by the interpreter (run.ts), which owns command dispatch.
 */
import { RTN } from '../eval/context';
import { interfaceMac } from '../eval/mac';
import { addrToString, cidrToMask, numericToAddr } from '../model/ip';
import type { Netns, World } from './world';
import { addBridge, addressSet, bridgeNamed, deviceGone, releasePort, setMaster } from './bridge';

export interface CmdResult {
  stdout: string;
  stderr: string;
  status: number;
}

const ok = (stdout = ''): CmdResult => ({ stdout, stderr: '', status: 0 });
const fail = (msg: string, status = 2): CmdResult => ({ stdout: '', stderr: msg + '\n', status });

/** Does `word` abbreviate `full` as iproute2's matches() allows (a prefix of at least `min` letters)? */
function is(word: string | undefined, full: string, min = 1): boolean {
  return word !== undefined && word.length >= min && full.startsWith(word);
}

function parseAddr(s: string | undefined): number | undefined {
  if (s === undefined || s.split('.').length !== 4) return undefined;
  return numericToAddr(s, false) ?? undefined;
}

/** `ip [-n NS] OBJECT COMMAND ...` in namespace `ns` (the one the shell is in). */
export function runIp(world: World, ns: Netns, argv: readonly string[]): CmdResult {
  const a = [...argv];
  let target = ns;
  while (a[0]?.startsWith('-')) {
    const o = a.shift()!;
    if (o === '-n' || o === '-netns' || o === '--netns') {
      const name = a.shift();
      const t = world.get(name);
      if (!t || name === undefined) return fail(`Cannot open network namespace "${name ?? ''}": No such file or directory`, 255);
      target = t;
    } else if (o === '-4' || o === '-br' || o === '-brief' || o === '-c' || o === '-color') continue;
    else return fail(`Option "${o}" is unknown, try "ip -help".`, 255);
  }
  const obj = a.shift();
  if (obj === undefined) return fail('Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }', 255);
  if (is(obj, 'netns')) return netns(world, a);
  if (is(obj, 'link')) return link(world, target, a);
  if (is(obj, 'address')) return addr(target, a);
  if (is(obj, 'route')) return route(target, a);
  return fail(`Object "${obj}" is unknown, try "ip help".`, 1);
}

function netns(world: World, a: string[]): CmdResult {
  const cmd = a.shift();
  if (cmd === undefined || is(cmd, 'list') || cmd === 'show') {
    return ok(
      [...world.namespaces.keys()]
        .reverse()
        .map((n) => n + '\n')
        .join(''),
    );
  }
  if (cmd === 'add') {
    const name = a[0];
    if (name === undefined) return fail('No netns name specified', 255);
    if (world.namespaces.has(name)) return fail(`Cannot create namespace file "/run/netns/${name}": File exists`, 1);
    world.add(name);
    return ok();
  }
  if (is(cmd, 'delete', 3)) {
    const name = a[0];
    if (name === undefined) return fail('No netns name specified', 255);
    if (!world.delete(name)) return fail(`Cannot remove namespace file "/run/netns/${name}": No such file or directory`, 1);
    return ok();
  }
  return fail(`Command "${cmd}" is unknown, try "ip netns help".`, 255);
}

/**
 * Bridge options (`type bridge OPTION VALUE ...`) the simulation can take without changing what it does: the
 * multicast and timer settings (no IGMP, no STP, no FDB ageing simulated), STP off, VLAN filtering off. Undefined,
 * or the message for an option it cannot honour.
 */
function bridgeOptionsUnsimulated(words: readonly string[]): string | undefined {
  const harmless = new Set(['mcast_snooping', 'mcast_router', 'mcast_querier', 'mcast_igmp_version', 'forward_delay', 'hello_time', 'max_age', 'ageing_time', 'priority', 'group_fwd_mask']);
  for (let i = 0; i < words.length; i += 2) {
    const opt = words[i]!;
    const value = words[i + 1];
    if (harmless.has(opt)) continue;
    if ((opt === 'stp_state' || opt === 'vlan_filtering') && value === '0') continue;
    return `tsiptables lab: bridge option "${opt}${value !== undefined ? ` ${value}` : ''}" is not simulated`;
  }
  return undefined;
}

function link(world: World, ns: Netns, a: string[]): CmdResult {
  const cmd = a.shift();
  if (cmd === 'add') {
    // ip link add [name] NAME [netns NS] type veth peer [name] PEER [netns NS]
    let name: string | undefined;
    let nsOf: Netns = ns;
    let i = 0;
    for (; i < a.length && a[i] !== 'type'; i++) {
      if (a[i] === 'name' || a[i] === 'dev') name = a[++i];
      else if (a[i] === 'netns') {
        const t = world.get(a[++i]);
        if (!t) return fail(`Cannot find netns "${a[i] ?? ''}"`, 1);
        nsOf = t;
      } else name ??= a[i];
    }
    // ip link add NAME type bridge (src/lab/bridge.ts): a device of its own, down, with a MAC.
    if (a[i] === 'type' && a[i + 1] === 'bridge' && name !== undefined) {
      const unsimulated = bridgeOptionsUnsimulated(a.slice(i + 2));
      if (unsimulated !== undefined) return fail(unsimulated, 2);
      if (nsOf.host.ifaces.has(name)) return fail('RTNETLINK answers: File exists', 2);
      nsOf.host.iface(name).mac = interfaceMac(`${nsOf.name}/${name}`);
      nsOf.host.down.add(name);
      addBridge(nsOf, name);
      return ok();
    }
    if (a[i] !== 'type' || a[i + 1] !== 'veth') return fail('tsiptables lab: only "ip link add NAME type veth peer name PEER" is simulated', 2);
    i += 2;
    let peer: string | undefined;
    let peerNs: Netns = ns;
    if (a[i] === 'peer') {
      for (i++; i < a.length; i++) {
        if (a[i] === 'name') peer = a[++i];
        else if (a[i] === 'netns') {
          const t = world.get(a[++i]);
          if (!t) return fail(`Cannot find netns "${a[i] ?? ''}"`, 1);
          peerNs = t;
        } else peer ??= a[i];
      }
    }
    if (name === undefined) return fail('Not enough information: "dev" argument is required.', 255);
    peer ??= `veth${world.all().reduce((n, x) => n + x.host.ifaces.size, 0)}`;
    if (nsOf.host.ifaces.has(name) || (peerNs === nsOf && name === peer)) return fail('RTNETLINK answers: File exists', 2);
    if (peerNs.host.ifaces.has(peer)) return fail('RTNETLINK answers: File exists', 2);
    // Each end gets its own MAC (the kernel picks random ones; derived here from namespace and name).
    nsOf.host.iface(name).mac = interfaceMac(`${nsOf.name}/${name}`);
    nsOf.host.down.add(name);
    peerNs.host.iface(peer).mac = interfaceMac(`${peerNs.name}/${peer}`);
    peerNs.host.down.add(peer);
    nsOf.peers.set(name, { ns: peerNs, dev: peer });
    peerNs.peers.set(peer, { ns: nsOf, dev: name });
    return ok();
  }
  if (is(cmd, 'delete', 3)) {
    const dev = a[0] === 'dev' ? a[1] : a[0];
    if (dev === undefined || !ns.host.ifaces.has(dev)) return fail(`Cannot find device "${dev ?? ''}"`, 1);
    const p = ns.peers.get(dev);
    if (p) {
      deviceGone(p.ns, p.dev); // bridges: out of its bridge
      p.ns.host.removeIface(p.dev);
      p.ns.peers.delete(p.dev);
      ns.peers.delete(dev);
    }
    deviceGone(ns, dev); // bridges: a bridge goes, a port leaves its bridge
    ns.host.removeIface(dev);
    return ok();
  }
  if (cmd === 'set') {
    let dev: string | undefined;
    const rest: string[] = [];
    for (let i = 0; i < a.length; i++) {
      if (a[i] === 'dev') dev = a[++i];
      else if (dev === undefined && !['up', 'down', 'netns', 'address', 'mtu', 'name', 'master', 'nomaster'].includes(a[i]!)) dev = a[i];
      else rest.push(a[i]!);
    }
    if (dev === undefined || !ns.host.ifaces.has(dev)) return fail(`Cannot find device "${dev ?? ''}"`, 1);
    // ip link set BR type bridge OPTION VALUE...: the options that change nothing the lab simulates.
    if (rest[0] === 'type' && rest[1] === 'bridge' && bridgeNamed(ns, dev) !== undefined) {
      const unsimulated = bridgeOptionsUnsimulated(rest.slice(2));
      return unsimulated === undefined ? ok() : fail(unsimulated, 2);
    }
    for (let i = 0; i < rest.length; i++) {
      const w = rest[i]!;
      if (w === 'up') {
        ns.host.down.delete(dev);
      } else if (w === 'down') {
        ns.host.down.add(dev);
        for (const c of ns.conntrack.entries()) if (c.masq === dev) ns.conntrack.remove(c);
        ns.neighbours.forget(dev);
        // NETDEV_DOWN: the kernel deletes every route through the device; connected routes return with `up`.
        for (let j = ns.host.routes.length - 1; j >= 0; j--) {
          const r = ns.host.routes[j]!;
          if (r.dev === dev && !r.connected) ns.host.routes.splice(j, 1);
        }
      } else if (w === 'netns') {
        const name = rest[++i];
        const t = world.get(name);
        if (!t || name === undefined) return fail(`Cannot find netns "${name ?? ''}"`, 2);
        if (t === ns) continue;
        if (t.host.ifaces.has(dev)) return fail('RTNETLINK answers: File exists', 2);
        // Moving a device takes it down and drops its addresses.
        const mac = ns.host.ifaces.get(dev)!.mac;
        deviceGone(ns, dev); // bridges: a port moved away leaves its bridge
        ns.host.removeIface(dev);
        t.host.iface(dev).mac = mac;
        t.host.down.add(dev);
        const p = ns.peers.get(dev);
        ns.peers.delete(dev);
        if (p) {
          t.peers.set(dev, p);
          p.ns.peers.set(p.dev, { ns: t, dev });
        }
      } else if (w === 'address') {
        const mac = rest[++i];
        if (mac === undefined || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) return fail(`"${mac ?? ''}" is invalid lladdr.`, 255);
        ns.host.ifaces.get(dev)!.mac = mac.toLowerCase();
        addressSet(ns, dev); // a bridge keeps a MAC it was given (src/lab/bridge.ts)
      } else if (w === 'mtu') i++;
      // Bridge ports (src/lab/bridge.ts).
      else if (w === 'master') {
        const e = setMaster(ns, dev, rest[++i] ?? '');
        if (e !== undefined) return fail(e.message, e.status);
      } else if (w === 'nomaster') releasePort(ns, dev);
      else return fail(`tsiptables lab: "ip link set ... ${w}" is not simulated`, 2);
    }
    return ok();
  }
  return fail(`tsiptables lab: "ip link ${cmd ?? ''}" is not simulated (add, set, del are)`, 2);
}

function addr(ns: Netns, a: string[]): CmdResult {
  const cmd = a.shift();
  if (cmd === 'add' || is(cmd, 'delete', 3)) {
    let local: string | undefined;
    let dev: string | undefined;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === 'dev') dev = a[++i];
      else if (a[i] === 'local') local = a[++i];
      else if (a[i] === 'brd' || a[i] === 'broadcast' || a[i] === 'label' || a[i] === 'scope') i++;
      else local ??= a[i];
    }
    if (dev === undefined) return fail('Not enough information: "dev" argument is required.', 1);
    const [ip, p] = (local ?? '').split('/');
    const address = parseAddr(ip);
    const prefix = p === undefined ? 32 : Number(p);
    if (address === undefined || !/^\d+$/.test(p ?? '32') || prefix > 32) return fail(`Error: any valid prefix is expected rather than "${local ?? ''}".`, 1);
    if (!ns.host.ifaces.has(dev)) return fail(`Cannot find device "${dev}"`, 1);
    if (cmd === 'add') {
      if (ns.host.ifaces.get(dev)!.addrs.some((x) => x.addr === address && x.prefix === prefix)) return fail('Error: ipv4: Address already assigned.', 2);
      ns.host.addAddress(dev, address, prefix);
      return ok();
    }
    if (!ns.host.removeAddress(dev, address, prefix)) return fail('Error: ipv4: Address not found.', 2);
    // Connections masqueraded to the address go with it (recorded: snat-vs-masquerade).
    for (const c of ns.conntrack.entries()) if (c.masq !== undefined && c.reply.dst === address) ns.conntrack.remove(c);
    return ok();
  }
  if (cmd === 'flush') {
    const dev = a[0] === 'dev' ? a[1] : a[0];
    const i = dev === undefined ? undefined : ns.host.ifaces.get(dev);
    if (!i || dev === undefined) return fail(`Device "${dev ?? ''}" does not exist.`, 1);
    for (const x of [...i.addrs]) ns.host.removeAddress(dev, x.addr, x.prefix);
    return ok();
  }
  return fail(`tsiptables lab: "ip addr ${cmd ?? 'show'}" is not simulated (add, del, flush are)`, 2);
}

/** A device without carrier: down itself, or its veth partner down (iproute2 prints `linkdown`). */
function noCarrier(ns: Netns, dev: string): boolean {
  if (ns.host.down.has(dev)) return true;
  const p = ns.peers.get(dev);
  return p !== undefined && p.ns.host.down.has(p.dev);
}

const TYPE_WORD: Readonly<Record<number, string>> = { [RTN.BLACKHOLE]: 'blackhole', [RTN.UNREACHABLE]: 'unreachable', [RTN.PROHIBIT]: 'prohibit' };

/** `ip route [show]`: the main table in the fib's order (by destination, then prefix), as iproute2 prints it. */
function showRoutes(ns: Netns): string {
  const net = (dst: number, prefix: number): string => (prefix === 0 ? 'default' : prefix === 32 ? addrToString(dst) : `${addrToString(dst)}/${prefix}`);
  const routes = ns.host.routes.filter((r) => !(r.connected && ns.host.down.has(r.dev)) && (r.connected || r.type !== RTN.UNICAST || !ns.host.down.has(r.dev)));
  const sorted = [...routes].sort((x, y) => x.dst - y.dst || x.prefix - y.prefix);
  return sorted
    .map((r) => {
      const type = TYPE_WORD[r.type];
      if (type !== undefined) return `${type} ${net(r.dst, r.prefix)} \n`;
      let s = net(r.dst, r.prefix);
      if (r.gateway !== undefined) s += ` via ${addrToString(r.gateway)}`;
      s += ` dev ${r.dev}`;
      if (r.connected) s += ' proto kernel';
      if (r.gateway === undefined) s += ' scope link';
      if (r.prefsrc !== undefined) s += ` src ${addrToString(r.prefsrc)}`;
      if (noCarrier(ns, r.dev)) s += ' linkdown';
      return s + ' \n';
    })
    .join('');
}

/** `ip route get ADDR`. */
function routeGet(ns: Netns, a: string[]): CmdResult {
  const target = a.find((w) => w !== 'to');
  const dst = parseAddr(target);
  if (dst === undefined || target === undefined) return fail(`Error: inet prefix is expected rather than "${target ?? ''}".`, 1);
  const r = ns.host.route(dst);
  if (!r || r.type === RTN.UNREACHABLE || r.type === RTN.BLACKHOLE || r.type === RTN.PROHIBIT) {
    const why = r?.type === RTN.BLACKHOLE ? 'Invalid argument' : r?.type === RTN.PROHIBIT ? 'Permission denied' : r?.type === RTN.UNREACHABLE ? 'No route to host' : 'Network is unreachable';
    return fail(`RTNETLINK answers: ${why}`, 2);
  }
  const src = r.prefsrc !== undefined ? ` src ${addrToString(r.prefsrc)}` : '';
  if (r.type === RTN.LOCAL) return ok(`local ${target} dev lo${src} uid 0 \n    cache <local> \n`);
  if (r.type === RTN.BROADCAST) return ok(`broadcast ${target} dev ${r.dev}${src} uid 0 \n    cache <local,brd> \n`);
  return ok(`${target}${r.gateway !== undefined ? ` via ${addrToString(r.gateway)}` : ''} dev ${r.dev}${src} uid 0 \n    cache \n`);
}

function route(ns: Netns, a: string[]): CmdResult {
  const cmd = a.shift();
  if (cmd === undefined || is(cmd, 'show') || is(cmd, 'list')) {
    if (a.length > 0 && !(a[0] === 'table' && a[1] === 'main')) return fail(`tsiptables lab: "ip route show ${a.join(' ')}" is not simulated (the main table is)`, 2);
    return ok(showRoutes(ns));
  }
  if (cmd === 'get') return routeGet(ns, a);
  if (cmd !== 'add' && !is(cmd, 'delete', 3) && cmd !== 'replace') return fail(`tsiptables lab: "ip route ${cmd ?? 'show'}" is not simulated (add, del, replace are)`, 2);
  let type: number = RTN.UNICAST;
  const types: Record<string, number> = { unicast: RTN.UNICAST, blackhole: RTN.BLACKHOLE, unreachable: RTN.UNREACHABLE, prohibit: RTN.PROHIBIT };
  let dstText: string | undefined;
  let via: number | undefined;
  let dev: string | undefined;
  let src: number | undefined;
  for (let i = 0; i < a.length; i++) {
    const w = a[i]!;
    if (w === 'via') {
      via = parseAddr(a[++i]);
      if (via === undefined) return fail(`Error: inet prefix is expected rather than "${a[i] ?? ''}".`, 1);
    } else if (w === 'dev' || w === 'oif') dev = a[++i];
    else if (w === 'src') src = parseAddr(a[++i]);
    else if (w === 'metric' || w === 'proto' || w === 'scope' || w === 'table') i++;
    else if (types[w] !== undefined && dstText === undefined) type = types[w]!;
    else dstText ??= w;
  }
  let dst = 0;
  let prefix = 0;
  if (dstText !== 'default' && dstText !== '0/0' && dstText !== undefined) {
    const [ip, p] = dstText.split('/');
    const d = parseAddr(ip);
    prefix = p === undefined ? 32 : Number(p);
    if (d === undefined || !/^\d+$/.test(p ?? '32') || prefix > 32) return fail(`Error: any valid prefix is expected rather than "${dstText}".`, 1);
    dst = (d & cidrToMask(prefix)) >>> 0;
  }
  if (dev !== undefined && !ns.host.ifaces.has(dev)) return fail(`Cannot find device "${dev}"`, 1);
  const routes = ns.host.routes;
  if (cmd !== 'add' && cmd !== 'replace') {
    const k = routes.findIndex((r) => r.dst === dst && r.prefix === prefix && (dev === undefined || r.dev === dev) && (via === undefined || r.gateway === via));
    if (k < 0) return fail('RTNETLINK answers: No such process', 2);
    routes.splice(k, 1);
    return ok();
  }
  if (via !== undefined && dev === undefined) {
    // The gateway must be on a connected subnet of an up device.
    const r = ns.host.mainLookup(via);
    if (!r || r.gateway !== undefined) return fail('Error: Nexthop has invalid gateway.', 2);
    dev = r.dev;
  } else if (via !== undefined && dev !== undefined) {
    const r = ns.host.mainLookup(via, dev);
    if (!r || r.gateway !== undefined) return fail('Error: Nexthop has invalid gateway.', 2);
  }
  if (dev === undefined && type === RTN.UNICAST) return fail('Error: Device for nexthop is not up.', 2);
  if (dev !== undefined && ns.host.down.has(dev) && type === RTN.UNICAST) return fail('Error: Device for nexthop is not up.', 2);
  const same = routes.findIndex((r) => r.dst === dst && r.prefix === prefix && !r.connected);
  if (same >= 0) {
    if (cmd === 'add') return fail('RTNETLINK answers: File exists', 2);
    routes.splice(same, 1);
  }
  routes.push({ dst, prefix, gateway: via, dev: dev ?? 'lo', prefsrc: src, type, connected: false });
  return ok();
}
