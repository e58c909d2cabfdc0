/**
 * The routing decisions around the hooks, as ip_route_input_slow() and ip_route_output_key() make them:
 * local delivery, forwarding or a drop (martian source/destination, rp_filter, forwarding off, no route) for
 * an arriving packet; the output device and source for a local one.
 */
import { addrToString } from '../model/ip';
import { RTN } from './context';
import type { Host } from './host';

export type DropReason = 'no-route' | 'forwarding-off' | 'rp-filter' | 'martian-source' | 'martian-destination' | 'not-joined';

export type InputDecision =
  | { kind: 'local'; broadcast: boolean }
  | { kind: 'forward'; dev: string; gateway: number | undefined }
  | { kind: 'drop'; reason: DropReason; detail: string };

const isLoopback = (a: number): boolean => a >>> 24 === 127;
const isMulticast = (a: number): boolean => a >>> 28 === 0xe;
const isZeronet = (a: number): boolean => a >>> 24 === 0;
const LBCAST = 0xffffffff;

/**
 * fib_validate_source(): 0 when the source is acceptable on `dev`, else the reason. With rp_filter off only
 * a source that is one of the host's own addresses is refused (a martian); strict mode (1) wants the route
 * back to the source to leave by `dev`; loose mode (2) wants any unicast route back.
 */
function validateSource(host: Host, src: number, dst: number, dev: string): DropReason | undefined {
  const rpf = host.rpFilterOf(dev);
  if (dev === 'lo') return undefined;
  if (rpf === 0) return host.isLocalAddress(src) ? 'martian-source' : undefined;
  const back = host.route(src, { src: dst, iif: dev });
  if (!back) return 'rp-filter';
  if (back.type !== RTN.UNICAST) return back.type === RTN.LOCAL ? 'martian-source' : 'rp-filter';
  if (back.dev === dev) return undefined;
  return rpf === 1 ? 'rp-filter' : undefined;
}

/** ip_route_input_slow() for a packet (already through PREROUTING, DNAT applied) that arrived on `dev`. */
export function routeInput(host: Host, src: number, dst: number, dev: string): InputDecision {
  const drop = (reason: DropReason, detail: string): InputDecision => ({ kind: 'drop', reason, detail });
  if (isMulticast(src) || src === LBCAST) return drop('martian-source', `source ${addrToString(src)} is multicast or broadcast`);
  if (dst === LBCAST || (src === 0 && dst === 0)) return broadcastInput(host, src, dst, dev);
  if (isZeronet(src)) return drop('martian-source', `source ${addrToString(src)} is in 0.0.0.0/8`);
  if (isZeronet(dst)) return drop('martian-destination', `destination ${addrToString(dst)} is in 0.0.0.0/8`);
  if (dev !== 'lo') {
    if (isLoopback(dst)) return drop('martian-destination', `destination ${addrToString(dst)} is a loopback address arriving on ${dev}`);
    if (isLoopback(src)) return drop('martian-source', `source ${addrToString(src)} is a loopback address arriving on ${dev}`);
  }
  // ip_check_mc_rcu(): only groups the host has joined are delivered; a fresh host has joined 224.0.0.1 alone.
  if (isMulticast(dst)) return dst === 0xe0000001 ? { kind: 'local', broadcast: true } : drop('not-joined', `this host is not a member of multicast group ${addrToString(dst)}`);
  const r = host.route(dst, { src, iif: dev });
  if (!r) {
    if (!host.ipForward) return drop('forwarding-off', `no route to ${addrToString(dst)} and forwarding is off`);
    return drop('no-route', `no route to ${addrToString(dst)}`);
  }
  if (r.type === RTN.BROADCAST) return broadcastInput(host, src, dst, dev);
  if (r.type === RTN.LOCAL) {
    const bad = validateSource(host, src, dst, dev);
    if (bad) return drop(bad, sourceDetail(bad, src, dev));
    return { kind: 'local', broadcast: false };
  }
  if (!host.ipForward) return drop('forwarding-off', `${addrToString(dst)} is not local and net.ipv4.ip_forward is 0`);
  if (r.type !== RTN.UNICAST) return drop('no-route', `route to ${addrToString(dst)} is ${rtnName(r.type)}`);
  const bad = validateSource(host, src, dst, dev);
  if (bad) return drop(bad, sourceDetail(bad, src, dev));
  return { kind: 'forward', dev: r.dev, gateway: r.gateway };
}

function broadcastInput(host: Host, src: number, dst: number, dev: string): InputDecision {
  if (!isZeronet(src)) {
    const bad = validateSource(host, src, dst, dev);
    if (bad) return { kind: 'drop', reason: bad, detail: sourceDetail(bad, src, dev) };
  }
  return { kind: 'local', broadcast: true };
}

function sourceDetail(reason: DropReason, src: number, dev: string): string {
  if (reason === 'martian-source') return `source ${addrToString(src)} is one of this host's own addresses (martian)`;
  return `rp_filter ${dev}: the route back to ${addrToString(src)} does not leave by ${dev}`;
}

function rtnName(t: number): string {
  return Object.entries(RTN).find(([, v]) => v === t)?.[0].toLowerCase() ?? String(t);
}

export type OutputDecision = { kind: 'out'; dev: string; gateway: number | undefined; local: boolean } | { kind: 'drop'; reason: DropReason; detail: string };

/** ip_route_output_key() for a locally generated packet to dst (optionally bound to a device). */
export function routeOutput(host: Host, dst: number, oif?: string): OutputDecision {
  const r = host.route(dst, { oif });
  if (!r) return { kind: 'drop', reason: 'no-route', detail: `connect: Network is unreachable (no route to ${addrToString(dst)})` };
  if (r.type === RTN.LOCAL) return { kind: 'out', dev: 'lo', gateway: undefined, local: true };
  if (r.type !== RTN.UNICAST && r.type !== RTN.BROADCAST) return { kind: 'drop', reason: 'no-route', detail: `route to ${addrToString(dst)} is ${rtnName(r.type)}` };
  return { kind: 'out', dev: r.dev, gateway: r.gateway, local: false };
}
