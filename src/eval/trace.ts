/**
 * One host's netfilter, run for one packet at a time: the hooks in kernel order (hooks.ts), each table's
 * chain walk (walk.ts), conntrack and NAT (conntrack.ts, nat.ts) and routing (routing.ts). The Tracer keeps
 * conntrack and extension memory across packets (a --batch run); each run() returns what happened as data:
 * the fate, the TRACE steps, LOG lines, NAT done, the route and, when asked, why each rule passed over did
 * not match. Formatting for people, JSON and dmesg lives in src/cli/trace-output.ts.
 */
import type { Hook } from '../extensions/spec';
import type { Ruleset } from '../model/ruleset';
import { addrToString } from '../model/ip';
import { IPS, RTN, type CtState, type EvalContext, type LogRequest, type NatRequest } from './context';
import { ConntrackTable, tupleText, type Conn } from './conntrack';
import { manipOf } from './hooks';
import { buildPipeline, type ArpHook, type BridgeHook, type NatChain, type NftEntry, type Pipeline } from './nft-pipeline';
import { rulesetFromText, storedText } from '../nft/index';
import type { NftRuleset } from '../nft/model';
import { runBaseChain, type NftHook, type NftTraceEvent, type NftEnv } from '../nft/eval/index';
import { multicastMac } from './mac';
import type { Host } from './host';
import { applyNat, rangeOf, setupNat, type Manip } from './nat';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, clonePacket, type Packet } from './packet';
import { routeInput, routeOutput } from './routing';
import { WalkCache, walkTable, type Miss, type Step, type WalkSink } from './walk';

export type Fate = 'delivered' | 'forwarded' | 'sent' | 'dropped';

export interface Assumption {
  ext: string;
  question: string;
  answer: boolean;
  probability: number | undefined;
}

/** The trace, in order, for a person and for the JSON/dmesg views. */
export type TraceEvent =
  | { kind: 'hook'; hook: Hook }
  /** An iptables table's walk of a hook; `registered` false: the nf_tables variant has not made that chain (no trace lines). */
  | { kind: 'chain'; table: string; chain: string; hook: Hook; registered?: boolean }
  | { kind: 'step'; step: Step; packet: Packet; traced?: boolean }
  | { kind: 'miss'; miss: Miss }
  | { kind: 'conntrack'; state: CtState; conn: string | undefined; why: string | undefined }
  | { kind: 'nat'; manip: Manip; before: string; after: string; note: string | undefined }
  | { kind: 'route'; text: string }
  | { kind: 'log'; req: LogRequest; packet: Packet; hook: Hook }
  | { kind: 'reject'; with: string }
  | { kind: 'note'; text: string }
  | { kind: 'assume'; assumption: Assumption }
  | { kind: 'unsimulated'; what: string }
  /** One nft base chain's walk: what `nft monitor trace` reports of it (when traced) and the rules passed over. */
  | { kind: 'nft'; family: string; hook: NftHook; table: string; chain: string; events: NftTraceEvent[]; dev?: string };

export interface TraceResult {
  fate: Fate;
  in: string | null;
  out: string | null;
  /** Short code: policy, rule, reject, no-route, rp-filter, forwarding-off, martian-source, ttl-exceeded... */
  reason: string;
  /** A sentence: what decided. */
  verdict: string;
  /** The packet after all NAT, as delivered or as it leaves (undefined when dropped: as it was last seen). */
  packet: Packet;
  /** The packet as it entered. */
  original: Packet;
  ctState: CtState;
  steps: Step[];
  events: TraceEvent[];
  /** The deciding step (rule or policy), when one decided. */
  decidedBy: Step | undefined;
  assumptions: Assumption[];
  rejectWith: string | undefined;
  /** Conntrack entry after the packet. */
  conn: Conn | undefined;
}

export interface TraceOptions {
  /** Collect why each rule passed over did not match (the default view). */
  explain: boolean;
  /** `--assume EXT=yes|no`: answers for decide(). */
  assume: ReadonlyMap<string, boolean>;
  /** The clock for `-m time`. */
  now: Date;
  /**
   * Answers for the first probabilistic decisions of a run, in order (branch exploration, branches.ts); a
   * decision beyond them takes its default.
   */
  forced?: readonly boolean[];
  /** Leave rule and policy counters alone (branch exploration runs a packet more than once). */
  noCounters?: boolean;
  /**
   * Keep a copy of the packet at every step (the --dmesg, --monitor and explained views print it); the JSON
   * view needs none, and a batch of 100,000 packets runs faster without.
   */
  stepPackets?: boolean;
  /**
   * 'json': keep only the events the JSON view reads (nat, route, note, unsimulated, log); the steps,
   * assumptions and REJECT answer are in the result anyway. A --json batch spares the others. Default 'all'.
   */
  events?: 'all' | 'json';
  /**
   * Add packets to the rule and policy counters in plain numbers and write them to the ruleset only in
   * Tracer.flushCounters(): for a caller that reads the counters only after its last packet (a --batch run).
   */
  deferCounters?: boolean;
  /**
   * The host answers what is delivered to it (a RST, an echo reply) inside the trace, as conntrack sees it.
   * Default true; a lab (src/lab) sends the answers itself as real packets, so it turns this off.
   */
  selfAnswer?: boolean;
  /** skb->nf_trace set from the start (`trace --monitor` on a host with nft chains: every chain reports). */
  nfTraceFromStart?: boolean;
}

export class TraceInputError extends Error {}

/** A frame that reached a bridge device from one of its ports (src/lab/bridge.ts): Tracer.run's `via`. */
export interface BridgedArrival {
  bridge: string;
  port: string;
  /** net.bridge.bridge-nf-call-iptables of the bridge's namespace. */
  callIptables: boolean;
}

interface HookOutcome {
  verdict: 'ACCEPT' | 'DROP' | 'QUEUE' | 'STOLEN';
  step: Step | undefined;
  table: string;
}

/** One packet's run: the state that lives while it crosses the host. */
/** Where an address lives behind a bridge: its MAC and the port it was learnt on (undefined: nobody answers ARP). */
export type BridgeNeighbour = (addr: number) => { mac: string; port: string } | undefined;

/** Where a frame that is no IPv4 packet meets chains (Tracer.runFrame). */
export type FrameStep =
  | { at: 'ingress' | 'egress'; dev: string }
  | { at: 'arp'; hook: ArpHook; dev: string }
  | { at: 'bridge'; hook: BridgeHook; iif: string | null; oif: string | null };

/**
 * The legs of a frame that is no IPv4 packet (an ARP frame), as steps of Tracer.runFrame: what a host does
 * sending or receiving it, and what a bridge does taking it in, forwarding it, sending it, passing it up.
 */
export const FRAME_LEGS = {
  /** A host sends the frame out of `dev` (arp_xmit: arp output, then the device's egress). */
  send: (dev: string): FrameStep[] => [
    { at: 'arp', hook: 'output', dev },
    { at: 'egress', dev },
  ],
  /** A host receives it on `dev` (the device's ingress, then arp_rcv: arp input). */
  receive: (dev: string): FrameStep[] => [
    { at: 'ingress', dev },
    { at: 'arp', hook: 'input', dev },
  ],
  /** A bridge takes it in by `port` (the port's ingress, bridge prerouting). */
  bridgeIn: (port: string): FrameStep[] => [
    { at: 'ingress', dev: port },
    { at: 'bridge', hook: 'prerouting', iif: port, oif: null },
  ],
  /** A bridge forwards it from `inPort` out of `outPort` (forward, postrouting, the port's egress). */
  bridgeOut: (inPort: string, outPort: string): FrameStep[] => [
    { at: 'bridge', hook: 'forward', iif: inPort, oif: outPort },
    { at: 'bridge', hook: 'postrouting', iif: null, oif: outPort },
    { at: 'egress', dev: outPort },
  ],
  /** The bridge device sends it out of `outPort` (bridge output, postrouting, the port's egress). */
  bridgeLocalOut: (outPort: string): FrameStep[] => [
    { at: 'bridge', hook: 'output', iif: null, oif: outPort },
    { at: 'bridge', hook: 'postrouting', iif: null, oif: outPort },
    { at: 'egress', dev: outPort },
  ],
  /** A bridge passes it up to its own device from `port` (bridge input; the device then receives it). */
  bridgeUp: (port: string): FrameStep[] => [{ at: 'bridge', hook: 'input', iif: port, oif: null }],
};

class Run {
  events: TraceEvent[] = [];
  steps: Step[] = [];
  assumptions: Assumption[] = [];
  ctState: CtState = 'INVALID';
  conn: Conn | undefined;
  ctReply = false;
  ctFresh = false;
  untracked = false;
  rejectWith: string | undefined;
  natRequest: NatRequest | undefined;
  /** Loopback: the packet already has its conntrack entry from OUTPUT. */
  looped = false;
  /** Why a NAT target could not map the packet (MASQUERADE on a device without an address): the kernel drops it. */
  natFailed: string | undefined;
  /** Where the walks of this run report (made once per run). */
  sink: WalkSink | undefined;
  /** The extensions' view of the run, made on its first walk. */
  ctx: RunContext | undefined;
  /** The device a re-route in OUTPUT chose, applied when OUTPUT is done. */
  rerouted: string | undefined;
  /** skb->nf_trace: set by TRACE (iptables) or `meta nftrace set 1` (nft); nft monitor trace reports while set. */
  nfTrace = false;
  /** A netdev `fwd to DEV` took the packet (it leaves by DEV, the rest of the stack never sees it). */
  fwdTo: string | undefined;
  constructor(readonly pkt: Packet) {}
}

export class Tracer {
  readonly conntrack: ConntrackTable;
  private readonly memoryStore = new WeakMap<object, unknown>();
  /** The ruleset's chains compiled for the walk, as they are first entered. */
  private readonly walkCache: WalkCache;
  /** Record every event (not only those of the JSON view). */
  readonly allEvents: boolean;
  /**
   * Conntrack runs in a namespace only while some rule needs it (nf_ct_netns_get from a conntrack-using
   * match or target); otherwise packets carry no entry and the nat chains are never walked.
   */
  readonly conntrackActive: boolean;
  /** The host's nftables side, parsed (undefined: none). */
  readonly nft: NftRuleset | undefined;
  /** Every base chain of every hook in the order the kernel runs them. */
  readonly pipeline: Pipeline;
  /** The host as nft expressions see it: with interface indexes (iif/oif), in the host's device order. */
  readonly nftHost: NftEnv['host'];

  constructor(
    readonly ruleset: Ruleset,
    readonly host: Host,
    readonly opts: TraceOptions,
    /** The namespace's connection table, kept when a lab swaps rulesets between packets. */
    conntrack?: ConntrackTable,
  ) {
    this.conntrack = conntrack ?? new ConntrackTable();
    this.allEvents = opts.events !== 'json';
    // Only the JSON view's events: no step event keeps a step, so steps that say the same can be one object.
    this.walkCache = new WalkCache({ deferCounters: opts.deferCounters === true, shareSteps: !this.allEvents });
    this.nft = ruleset.nft === undefined ? undefined : rulesetFromText(ruleset.nft);
    this.pipeline = buildPipeline(ruleset, this.nft);
    this.nftHost = Object.assign(Object.create(host) as Host, { ifIndex: (name: string): number | undefined => {
      const i = [...host.ifaces.keys()].indexOf(name);
      return i < 0 ? undefined : i + 1;
    } });
    this.conntrackActive =
      this.pipeline.nftNeedsConntrack || [...ruleset.tables.values()].some((t) => [...t.chains.values()].some((c) => c.rules.some((r) => r.facts.defs.some((d) => d.needsConntrack === true))));
  }

  /**
   * With deferCounters: adds the packets counted so far to the ruleset's rule and policy counters. The nft rules'
   * counters (kept in the parsed nft ruleset as packets go) go back into the ruleset's nft text.
   */
  flushCounters(): void {
    this.walkCache.flushCounters();
    if (this.nft !== undefined && this.ruleset.nft !== undefined) this.ruleset.nft = storedText(this.nft);
  }

  /**
   * Sends one packet through the host. The packet object is not changed; the result holds copies (with
   * `handOver` the caller gives the packet up, and it is the result's `original`). `via`: the packet is a frame a
   * bridge passed up to its device `input.inIface` from a port (bridge prerouting and input chains, bridgeUp).
   */
  run(input: Packet, handOver = false, via?: BridgedArrival): TraceResult {
    const original = handOver ? input : clonePacket(input);
    const pkt = clonePacket(input);
    const run = new Run(pkt);
    run.nfTrace = this.opts.nfTraceFromStart === true;
    let decided: Step | undefined;
    const finish = (f: Fate, r: string, v: string, d?: Step): TraceResult =>
      traceResult(run, original, f, r, v, d, original.inIface, f === 'dropped' || f === 'delivered' ? null : pkt.outIface);
    const dropped = (o: HookOutcome): TraceResult => finish('dropped', ...dropOf(run, o), o.step);

    if (pkt.inIface !== null) {
      if (!this.host.ifaces.has(pkt.inIface)) throw new TraceInputError(`-i ${pkt.inIface}: the host has no such interface (it has ${[...this.host.ifaces.keys()].join(', ')})`);
      pkt.outIface = null;
      pkt.macDst ??= frameDestination(this.host, pkt.dst, pkt.inIface);
      // (A frame a bridge passes up meets its device's ingress chains in bridgeUp, after the bridge's chains.)
      const ingress = via !== undefined ? undefined : this.deviceHook(run, 'ingress', pkt.inIface);
      if (ingress !== undefined && ingress.verdict !== 'ACCEPT') return dropped(ingress);
      if (run.fwdTo !== undefined) return this.forwardedAtIngress(run, finish);
      const pre = via !== undefined ? this.bridgeUp(run, via) : this.hook(run, 'PREROUTING');
      if (pre.verdict !== 'ACCEPT') return dropped(pre);
      const route = routeInput(this.host, pkt.src, pkt.dst, pkt.inIface);
      if (route.kind === 'drop') {
        run.events.push({ kind: 'route', text: `routing: dropped, ${route.detail}` });
        return finish('dropped', route.reason, `dropped by routing: ${route.detail}`);
      }
      if (route.kind === 'local') {
        run.events.push({ kind: 'route', text: `routing: ${addrToString(pkt.dst)} is ${route.broadcast ? 'a broadcast address' : 'local'}: deliver (INPUT)` });
        const inp = this.hook(run, 'INPUT');
        if (inp.verdict !== 'ACCEPT') return dropped(inp);
        decided = inp.step;
        this.answerDelivered(run, route.broadcast);
        return finish('delivered', 'accepted', `delivered to a local socket${decided ? ` (last: ${describeStep(decided)})` : ''}`, decided);
      }
      if (pkt.ttl <= 1) {
        run.events.push({ kind: 'route', text: `routing: forward via ${route.dev}, but TTL ${pkt.ttl} is exhausted (time exceeded)` });
        return finish('dropped', 'ttl-exceeded', 'dropped by ip_forward: TTL exceeded');
      }
      pkt.ttl -= 1;
      pkt.outIface = route.dev;
      run.events.push({ kind: 'route', text: forwardText(route.dev, route.gateway, pkt.ttl) });
      const fwd = this.hook(run, 'FORWARD');
      if (fwd.verdict !== 'ACCEPT') return dropped(fwd);
      const post = this.hook(run, 'POSTROUTING');
      if (post.verdict !== 'ACCEPT') return dropped(post);
      const egress = this.deviceHook(run, 'egress', pkt.outIface);
      if (egress !== undefined && egress.verdict !== 'ACCEPT') return dropped(egress);
      decided = fwd.step;
      return finish('forwarded', 'accepted', forwardedVerdict(pkt.outIface, decided), decided);
    }

    // Sent by a local process: routing first, then OUTPUT and POSTROUTING.
    pkt.macSrc = null;
    pkt.macDst = null;
    const out = routeOutput(this.host, pkt.dst);
    if (out.kind === 'drop') {
      run.events.push({ kind: 'route', text: `routing: ${out.detail}` });
      return finish('dropped', out.reason, `not sent: ${out.detail}`);
    }
    pkt.outIface = out.dev;
    run.events.push({ kind: 'route', text: `routing: out ${out.dev}${out.gateway !== undefined ? ` via ${addrToString(out.gateway)}` : ''}${out.local ? ' (a local address: loopback)' : ''}` });
    const o = this.hook(run, 'OUTPUT');
    if (o.verdict !== 'ACCEPT') {
      const r = dropped(o);
      if (run.rejectWith !== undefined) r.verdict += '; the sending program gets EPERM';
      return r;
    }
    // A re-route in OUTPUT (mangle, nat DNAT) takes effect after the hook: OUTPUT's rules still see the old device.
    if (run.rerouted !== undefined) pkt.outIface = run.rerouted;
    if (pkt.outIface !== 'lo' && loopsBack(this.host, pkt.dst)) {
      // ip_mc_output(): a broadcast, or a multicast to a group the host has joined, is also looped back to the
      // host: the copy (no socket, no link-layer header) walks POSTROUTING, then PREROUTING and INPUT on the out
      // device, before the original walks POSTROUTING (recorded: broadcast-multicast).
      run.events.push({ kind: 'route', text: `${pkt.dst >>> 28 === 0xe ? 'multicast' : 'broadcast'}: a copy comes back in on ${pkt.outIface} for local delivery` });
      const copy = clonePacket(pkt);
      copy.uid = undefined;
      copy.gid = undefined;
      const r2 = new Run(copy);
      Object.assign(r2, { ctState: run.ctState, conn: run.conn, ctReply: run.ctReply, untracked: run.untracked, looped: true, events: run.events, steps: run.steps, assumptions: run.assumptions });
      if (this.hook(r2, 'POSTROUTING').verdict === 'ACCEPT') {
        copy.inIface = pkt.outIface;
        copy.outIface = null;
        copy.macSrc = null;
        copy.macDst = null;
        if (this.hook(r2, 'PREROUTING').verdict === 'ACCEPT') this.hook(r2, 'INPUT');
      }
    }
    const post = this.hook(run, 'POSTROUTING');
    if (post.verdict !== 'ACCEPT') return dropped(post);
    const egress = this.deviceHook(run, 'egress', pkt.outIface);
    if (egress !== undefined && egress.verdict !== 'ACCEPT') return dropped(egress);
    if (pkt.outIface !== 'lo') return finish('sent', 'accepted', `sent out ${pkt.outIface}`, o.step);
    // Loopback: the packet comes back in on lo, keeping its conntrack entry and its route, but not its socket.
    run.events.push({ kind: 'route', text: 'loopback: the packet comes back in on lo' });
    run.looped = true;
    pkt.inIface = 'lo';
    pkt.outIface = null;
    pkt.macSrc = '00:00:00:00:00:00';
    pkt.macDst = '00:00:00:00:00:00';
    pkt.uid = undefined;
    pkt.gid = undefined;
    const pre = this.hook(run, 'PREROUTING');
    if (pre.verdict !== 'ACCEPT') return dropped(pre);
    const inp = this.hook(run, 'INPUT');
    if (inp.verdict !== 'ACCEPT') return dropped(inp);
    this.answerDelivered(run, false);
    return finish('delivered', 'accepted', 'delivered locally over loopback', inp.step);
  }

  /** Runs every base chain of a hook in priority order. */
  private hook(run: Run, hook: Hook): HookOutcome {
    if (this.allEvents) run.events.push({ kind: 'hook', hook });
    let last: Step | undefined;
    for (const entry of this.pipeline.hooks[hook]) {
      if (entry.kind === 'nft') {
        const o = this.nftWalk(run, entry, NFT_HOOK[hook]);
        if (o.verdict !== 'ACCEPT') return o;
        last = o.step ?? last;
        continue;
      }
      if (entry.kind === 'nat') {
        const o = this.natHook(run, hook, entry.chains);
        if (o) {
          if (o.verdict !== 'ACCEPT') return o;
          last = o.step ?? last;
        }
        continue;
      }
      if (entry.kind === 'conntrack') {
        this.conntrackIn(run);
        continue;
      }
      if (entry.kind === 'confirm') {
        if (run.conn && !run.untracked) this.conntrack.confirm(run.conn);
        continue;
      }
      const before = entry.table === 'mangle' && hook === 'OUTPUT' ? clonePacket(run.pkt) : undefined;
      const o = this.walk(run, entry.table, hook);
      if (o.verdict !== 'ACCEPT') return o;
      last = o.step ?? last;
      if (before) this.rerouteIfChanged(run, before, 'mangle OUTPUT');
    }
    return { verdict: 'ACCEPT', step: last, table: '' };
  }

  /** One nft base chain (and the regular chains it jumps to), src/nft/eval. */
  private nftWalk(run: Run, e: NftEntry, hook: NftHook, dev?: string): HookOutcome {
    const family = e.table.family;
    const label = `${family} ${e.table.name}`;
    // The walk's event goes first: LOG lines and assumptions of its rules follow it, as they happen inside it.
    const ev: Extract<TraceEvent, { kind: 'nft' }> = { kind: 'nft', family, hook, table: e.table.name, chain: e.chain.name, events: [], ...(dev !== undefined ? { dev } : {}) };
    if (this.allEvents) run.events.push(ev);
    const r = runBaseChain(this.nft!, e.table, e.chain, new NftRunEnv(run, this, family, hook, e.priority));
    ev.events = r.events;
    const verdict = r.verdict === 'accept' ? 'ACCEPT' : r.verdict === 'drop' ? 'DROP' : r.verdict === 'queue' ? 'QUEUE' : 'STOLEN';
    let step: Step | undefined;
    const d = r.decidedBy;
    if (d !== undefined) {
      const chain = e.table.chains.get(d.chain);
      const num = d.policy ? (chain?.rules.length ?? 0) + 1 : (chain?.rules.findIndex((x) => x.handle === d.handle) ?? -1) + 1;
      step = { table: label, chain: d.chain, type: d.policy ? 'policy' : 'rule', num, rule: undefined, verdict, path: d.chain === e.chain.name ? [d.chain] : [e.chain.name, d.chain] };
      run.steps.push(step);
    }
    return { verdict, step, table: label };
  }

  /** The netdev ingress / egress chains of a device (none: undefined). */
  private deviceHook(run: Run, which: 'ingress' | 'egress', dev: string | null): HookOutcome | undefined {
    const entries = dev === null ? undefined : (which === 'ingress' ? this.pipeline.ingress : this.pipeline.egress).get(dev);
    if (entries === undefined || entries.length === 0) return undefined;
    let last: Step | undefined;
    for (const e of entries) {
      const o = this.nftWalk(run, e, which, dev ?? undefined);
      if (o.verdict !== 'ACCEPT' || run.fwdTo !== undefined) return o.verdict === 'STOLEN' ? { ...o, verdict: 'ACCEPT' } : o;
      last = o.step ?? last;
    }
    return { verdict: 'ACCEPT', step: last, table: '' };
  }

  /** `fwd to DEV` at ingress: the frame is sent out of DEV as it is (egress chains of DEV still run). */
  private forwardedAtIngress(run: Run, finish: (f: Fate, r: string, v: string, d?: Step) => TraceResult): TraceResult {
    const pkt = run.pkt;
    const dev = run.fwdTo!;
    run.events.push({ kind: 'route', text: `fwd to ${dev} at ingress: the frame leaves by ${dev}, bypassing the IP stack` });
    pkt.outIface = dev;
    const egress = this.deviceHook(run, 'egress', dev);
    if (egress !== undefined && egress.verdict !== 'ACCEPT') return finish('dropped', 'rule', `dropped by ${describeStep(egress.step)}`, egress.step);
    return finish('forwarded', 'fwd', `forwarded out ${dev} by fwd at ingress`, run.steps[run.steps.length - 1]);
  }

  private walk(run: Run, tableName: string, hook: Hook): HookOutcome {
    const table = this.ruleset.tables.get(tableName as never)!;
    if (this.allEvents) run.events.push({ kind: 'chain', table: tableName, chain: hook, hook, registered: table.chains.get(hook)?.registered !== false });
    // One context per packet run, set to each walk's table and hook (a walk's extensions use it only while it runs).
    let ctx = run.ctx;
    if (ctx === undefined) ctx = run.ctx = new RunContext(run, this, this.memoryStore, tableName, hook);
    else ctx.enter(tableName, hook);
    const res = walkTable(table, hook, run.pkt, this.opts.noCounters !== true, ctx.forChain, (run.sink ??= this.sinkFor(run)), this.walkCache);
    return { verdict: res.verdict, step: res.decidedBy, table: tableName };
  }

  /** Where a walk reports its steps: one object per packet run, made on its first walk. */
  private sinkFor(run: Run): WalkSink {
    const keepPackets = this.opts.stepPackets !== false;
    return this.opts.explain ? new ExplainingSink(run, this.allEvents, keepPackets) : new RunSink(run, this.allEvents, keepPackets);
  }

  /**
   * The host's own answer to a delivered packet, as a host with no listening sockets gives it: a RST to TCP
   * (which ends a connection that never saw a reply), an echo reply to a ping. The answer is not shown as a
   * packet of the trace, but conntrack sees it (recorded: a SYN delivered to the router leaves no entry).
   */
  private answerDelivered(run: Run, broadcast: boolean): void {
    const p = run.pkt;
    if (!this.conntrackActive || broadcast || this.opts.selfAnswer === false) return;
    let answer: Packet | undefined;
    if (p.proto === PROTO_TCP && !(p.tcpFlags & TCP_RST)) {
      answer = { ...clonePacket(p), src: p.dst, dst: p.src, sport: p.dport, dport: p.sport, tcpFlags: p.tcpFlags & TCP_ACK ? TCP_RST : TCP_RST | TCP_ACK, inIface: null, uid: undefined, gid: undefined };
      run.events.push({ kind: 'note', text: 'no socket listens here (assumed): the host answers with a TCP RST, which conntrack sees' });
    } else if (p.proto === PROTO_ICMP && p.icmpType === 8) {
      answer = { ...clonePacket(p), src: p.dst, dst: p.src, icmpType: 0, inIface: null, uid: undefined, gid: undefined };
      run.events.push({ kind: 'note', text: 'the host answers the echo request with an echo reply, which conntrack sees' });
    }
    if (!answer) return;
    // The answer leaves through raw OUTPUT (which may NOTRACK or drop it) before conntrack sees it; its steps
    // are not part of this packet's trace.
    const out = routeOutput(this.host, answer.dst);
    if (out.kind !== 'out') return;
    answer.outIface = out.dev;
    const sub = new Run(answer);
    if (this.ruleset.tables.has('raw') && this.walk(sub, 'raw', 'OUTPUT').verdict !== 'ACCEPT') return;
    if (sub.untracked) return;
    const r = this.conntrack.classify(answer);
    if (r.conn && !r.fresh) this.conntrack.confirm(r.conn);
  }

  /** nf_conntrack_in() at PREROUTING / OUTPUT. */
  private conntrackIn(run: Run): void {
    if (run.untracked) {
      run.ctState = 'UNTRACKED';
      if (this.allEvents) run.events.push({ kind: 'conntrack', state: 'UNTRACKED', conn: undefined, why: 'NOTRACK in raw' });
      return;
    }
    if (run.looped) return; // the entry from OUTPUT stays attached
    if (!this.conntrackActive) {
      if (this.allEvents) run.events.push({ kind: 'conntrack', state: 'INVALID', conn: undefined, why: 'conntrack is not running: no rule uses a conntrack match or target (nor NAT)' });
      return;
    }
    const r = this.conntrack.classify(run.pkt);
    run.ctState = r.state;
    run.conn = r.conn;
    run.ctReply = r.reply;
    run.ctFresh = r.fresh;
    if (!this.allEvents) return;
    const desc = r.conn ? `${tupleText(r.conn.orig)}${r.reply ? ' (reply direction)' : ''}` : undefined;
    run.events.push({ kind: 'conntrack', state: r.state, conn: desc, why: r.why ?? (r.fresh ? 'first packet of a new connection' : undefined) });
  }

  /** The nat hook function (nf_nat_inet_fn): the nat chain for a connection's first packet, then the rewrite. */
  private natHook(run: Run, hook: Hook, chains: readonly NatChain[]): HookOutcome | undefined {
    const conn = run.conn;
    const manip = manipOf(hook);
    if (!conn || run.untracked) return undefined;
    const pkt = run.pkt;
    if (pkt.proto === PROTO_ICMP && run.ctState === 'RELATED') {
      const before = describePacket(pkt);
      if (applyNat(conn, manip, run.ctReply, pkt)) run.events.push({ kind: 'nat', manip, before, after: describePacket(pkt), note: 'ICMP error about a NATed connection: outer and quoted headers rewritten' });
      return undefined;
    }
    let outcome: HookOutcome | undefined;
    if (run.ctState === 'NEW' && !conn.natInit[manip]) {
      run.natRequest = undefined;
      // Each nat chain in priority order until one of them asks for a mapping (nf_nat_inet_fn).
      for (const c of chains) {
        outcome = c.kind === 'ipt' ? this.walk(run, 'nat', hook) : this.nftWalk(run, c, NFT_HOOK[hook]);
        if (outcome.verdict !== 'ACCEPT') return outcome;
        if (run.natRequest !== undefined) break;
      }
      const req = run.natRequest as NatRequest | undefined;
      let note: string | undefined;
      if (req) {
        const resolved = this.resolveNat(run, req, hook);
        if (!resolved) return { verdict: 'DROP', step: outcome?.step, table: 'nat' };
        note = setupNat(this.conntrack, conn, manip, rangeOf(resolved));
        if (req.kind === 'MASQUERADE') conn.masq = pkt.outIface ?? undefined;
      } else {
        note = setupNat(this.conntrack, conn, manip, null);
      }
      if (note) run.events.push({ kind: 'note', text: note });
    } else if (run.ctState === 'NEW') {
      run.events.push({ kind: 'note', text: `nat ${hook} skipped: this connection's ${manip === 'src' ? 'source' : 'destination'} NAT was set up by an earlier packet` });
    }
    const before = describePacket(pkt);
    const beforeDst = pkt.dst;
    if (applyNat(conn, manip, run.ctReply, pkt)) {
      run.events.push({ kind: 'nat', manip, before, after: describePacket(pkt), note: run.ctState === 'NEW' ? undefined : 'reverse/existing NAT of the connection' });
      if (hook === 'OUTPUT' && pkt.dst !== beforeDst) this.reroute(run, 'nat OUTPUT');
    }
    return outcome;
  }

  /** MASQUERADE and REDIRECT name no address: the kernel takes the out/in interface's. */
  private resolveNat(run: Run, req: NatRequest, hook: Hook): NatRequest | undefined {
    const pkt = run.pkt;
    if (req.kind === 'MASQUERADE') {
      const route = pkt.outIface ? this.host.route(pkt.dst, { oif: pkt.outIface }) : undefined;
      const a = this.host.primaryAddress(pkt.outIface ?? '', route?.gateway ?? pkt.dst);
      if (a === undefined) {
        run.natFailed = `MASQUERADE: ${pkt.outIface ?? '?'} has no address, so the kernel drops the packet`;
        return undefined;
      }
      return { ...req, minAddr: a, maxAddr: a };
    }
    if (req.kind === 'REDIRECT') {
      // In PREROUTING: the first address of the arrival interface (none: the kernel drops); locally generated: 127.0.0.1.
      const a = hook === 'PREROUTING' && pkt.inIface ? this.host.primaryAddress(pkt.inIface) : 0x7f000001;
      if (a === undefined) {
        run.natFailed = `REDIRECT: ${pkt.inIface ?? '?'} has no address, so the kernel drops the packet`;
        return undefined;
      }
      return { ...req, minAddr: a, maxAddr: a };
    }
    return req;
  }

  private rerouteIfChanged(run: Run, before: Packet, by: string): void {
    const p = run.pkt;
    if (p.src !== before.src || p.dst !== before.dst || p.mark !== before.mark || p.tos !== before.tos) this.reroute(run, by);
  }

  /** ip_route_me_harder(): a local packet whose destination or mark changed is routed again. */
  private reroute(run: Run, by: string): void {
    const out = routeOutput(this.host, run.pkt.dst);
    if (out.kind === 'out' && out.dev !== (run.rerouted ?? run.pkt.outIface)) {
      run.events.push({ kind: 'route', text: `re-routed after ${by}: now out ${out.dev} (from POSTROUTING on)` });
      run.rerouted = out.dev;
    }
  }

  /**
   * A frame the bridge `bridge` forwards from its port `physIn` to its port `physOut` (labs: src/lab/bridge.ts):
   * the bridge hooks prerouting, forward and postrouting with their nft bridge chains (iif/oif the ports), and,
   * with br_netfilter's net.bridge.bridge-nf-call-iptables=1 (`callIptables`), the ip chains br_netfilter calls
   * from them (nft-pipeline.ts): PREROUTING (IN=bridge, PHYSIN=physIn), FORWARD (IN=OUT=bridge, PHYSOUT=physOut
   * too) and POSTROUTING (no in device: br_nf_post_routing passes NULL). No routing decision, no ip_forward, no
   * TTL change: the bridge decided where the frame goes. `neighbour` finds where an address lives behind the
   * bridge (its MAC and port, resolving it if need be) for a DNAT that sends the frame to another host there.
   */
  runBridged(input: Packet, physIn: string, outPort: string, bridge: string, callIptables = true, neighbour?: BridgeNeighbour): TraceResult {
    let physOut = outPort;
    const original = clonePacket(input);
    original.inIface = bridge;
    original.outIface = null;
    original.physIn = physIn;
    const pkt = clonePacket(original);
    const run = new Run(pkt);
    run.nfTrace = this.opts.nfTraceFromStart === true;
    const finish = (fate: Fate, reason: string, verdict: string, d: Step | undefined): TraceResult =>
      traceResult(run, original, fate, reason, verdict, d, bridge, fate === 'dropped' || fate === 'delivered' ? null : bridge);
    const dropped = (o: HookOutcome): TraceResult => finish('dropped', ...dropOf(run, o), o.step);
    const ip = (hook: Hook): (() => HookOutcome) | undefined => (callIptables ? () => this.hook(run, hook) : undefined);
    const ingress = this.portHook(run, 'ingress', physIn);
    if (ingress !== undefined && ingress.verdict !== 'ACCEPT') return dropped(ingress);
    // The destination as br_netfilter's PREROUTING got it (a bridge chain before it may have rewritten it already).
    let dstAtBrnf: number | undefined;
    const pre = this.bridgeHook(run, 'prerouting', physIn, null, callIptables ? () => {
      dstAtBrnf = pkt.dst;
      return this.hook(run, 'PREROUTING');
    } : undefined);
    if (pre.verdict !== 'ACCEPT') return dropped(pre);
    if (dstAtBrnf !== undefined && pkt.dst !== dstAtBrnf) {
      const taken = this.bridgedDnat(run, bridge, physIn, neighbour, finish, dropped);
      if (typeof taken === 'string') physOut = taken;
      else if (taken) return taken;
    }
    pkt.outIface = bridge;
    pkt.physOut = physOut;
    run.events.push({ kind: 'route', text: `bridged by ${bridge} from ${physIn} to ${physOut}${callIptables ? ' (bridge-nf-call-iptables=1: FORWARD)' : ''}` });
    const fwd = this.bridgeHook(run, 'forward', physIn, physOut, ip('FORWARD'));
    if (fwd.verdict !== 'ACCEPT') return dropped(fwd);
    const post = this.bridgeHook(run, 'postrouting', null, physOut, callIptables ? () => {
      const inDev = pkt.inIface;
      pkt.inIface = null;
      const o = this.hook(run, 'POSTROUTING');
      pkt.inIface = inDev;
      return o;
    } : undefined);
    if (post.verdict !== 'ACCEPT') return dropped(post);
    const egress = this.portHook(run, 'egress', physOut);
    if (egress !== undefined && egress.verdict !== 'ACCEPT') return dropped(egress);
    return finish('forwarded', 'accepted', `bridged out ${physOut}${fwd.step ? ` (${describeStep(fwd.step)})` : ''}`, fwd.step);
  }

  /**
   * br_nf_pre_routing_finish(): a DNAT in the PREROUTING chain br_netfilter called changed the frame's destination,
   * and the switch routes the new one (recorded: fixtures/labs/bridge-dnat.sh). An address of its own: the frame
   * is for it now (its destination MAC becomes the bridge's) and goes up the bridge device, through the bridge
   * input chains, the device's ingress and INPUT (PREROUTING is not walked again, ip_sabotage_in) to a local
   * socket: a transparent proxy on a bridge. Not local and ip_forward 0: the IP stack drops it without a word.
   * Routed back out of the same bridge (ip_forward 1): the frame stays bridged, now to the new destination's MAC
   * (bridged_dnat; the switch asks for it with ARP when it does not know it): the port it leaves by is returned.
   * Otherwise undefined: the frame stays bridged as it was (routing it out of another device is not simulated).
   */
  private bridgedDnat(
    run: Run,
    bridge: string,
    physIn: string,
    neighbour: BridgeNeighbour | undefined,
    finish: (fate: Fate, reason: string, verdict: string, d: Step | undefined) => TraceResult,
    dropped: (o: HookOutcome) => TraceResult,
  ): TraceResult | string | undefined {
    const pkt = run.pkt;
    const route = routeInput(this.host, pkt.src, pkt.dst, bridge);
    if (route.kind === 'forward' && route.dev === bridge && neighbour) {
      const hop = route.gateway ?? pkt.dst;
      const n = neighbour(hop);
      if (n === undefined) {
        run.events.push({ kind: 'route', text: `DNAT in bridged PREROUTING: no neighbour answers ARP for ${addrToString(hop)} on ${bridge}; dropped` });
        return finish('dropped', 'no-neighbour', `dropped after the DNAT in bridged PREROUTING: no neighbour answers ARP for ${addrToString(hop)}`, undefined);
      }
      run.events.push({ kind: 'route', text: `DNAT in bridged PREROUTING: ${addrToString(pkt.dst)} is behind ${bridge} too, the frame is bridged to ${n.mac} (port ${n.port})` });
      pkt.macDst = n.mac;
      return n.port;
    }
    if (route.kind === 'forward') return undefined;
    // Local, or nowhere: the frame goes up the bridge device (bridge input, its ingress), then the IP stack.
    run.events.push({ kind: 'route', text: `DNAT in bridged PREROUTING: ${addrToString(pkt.dst)} ${route.kind === 'local' ? 'is local' : 'is not forwarded'}, the frame goes up ${bridge}` });
    pkt.macDst = this.host.macOf(bridge) ?? pkt.macDst;
    const inp = this.bridgeHook(run, 'input', physIn, null, undefined);
    if (inp.verdict !== 'ACCEPT') return dropped(inp);
    const devIn = this.deviceHook(run, 'ingress', bridge);
    if (devIn !== undefined && devIn.verdict !== 'ACCEPT') return dropped(devIn);
    if (route.kind === 'drop') {
      run.events.push({ kind: 'route', text: `routing: dropped, ${route.detail}` });
      return finish('dropped', route.reason, `dropped by routing after the DNAT in bridged PREROUTING: ${route.detail}`, undefined);
    }
    const local = this.hook(run, 'INPUT');
    if (local.verdict !== 'ACCEPT') return dropped(local);
    this.answerDelivered(run, false);
    return finish('delivered', 'accepted', `delivered to a local socket of the switch after the DNAT in bridged PREROUTING${local.step ? ` (last: ${describeStep(local.step)})` : ''}`, local.step);
  }

  /**
   * A frame the bridge device `bridge` sends itself (br_dev_xmit: the host's own packets out of the bridge, ARP
   * aside) out of its port `physOut`: the bridge output and postrouting chains. br_netfilter calls no ip chain
   * here (br_nf_post_routing passes frames it did not see come in): the ip stack walked OUTPUT and POSTROUTING
   * before the frame reached the bridge.
   */
  runBridgeLocalOut(input: Packet, bridge: string, physOut: string): TraceResult {
    const original = clonePacket(input);
    original.inIface = null;
    original.outIface = bridge;
    const pkt = clonePacket(original);
    const run = new Run(pkt);
    run.nfTrace = this.opts.nfTraceFromStart === true;
    run.events.push({ kind: 'route', text: `sent by ${bridge} out of its port ${physOut}` });
    for (const hook of ['output', 'postrouting', 'egress'] as const) {
      const o = hook === 'egress' ? this.portHook(run, 'egress', physOut) : this.bridgeHook(run, hook, null, physOut, undefined);
      if (o !== undefined && o.verdict !== 'ACCEPT') return traceResult(run, original, 'dropped', ...dropOf(run, o), o.step, null, null);
    }
    return traceResult(run, original, 'sent', 'accepted', `sent out ${physOut}`, undefined, null, bridge);
  }

  /**
   * One bridge hook: its nft bridge chains in priority order, which see the bridge ports as iif and oif (null:
   * none at this hook), and br_netfilter's place among them, where `brnf` runs the ip hook's chains (undefined:
   * bridge-nf-call-iptables is 0, nothing runs there).
   */
  private bridgeHook(run: Run, hook: BridgeHook, iif: string | null, oif: string | null, brnf: (() => HookOutcome) | undefined): HookOutcome {
    let last: Step | undefined;
    const pkt = run.pkt;
    for (const e of this.pipeline.bridge[hook]) {
      let o: HookOutcome | undefined;
      if (e.kind === 'brnf') o = brnf?.();
      else {
        const inDev = pkt.inIface;
        const outDev = pkt.outIface;
        pkt.inIface = iif;
        pkt.outIface = oif;
        o = this.nftWalk(run, e, hook);
        pkt.inIface = inDev;
        pkt.outIface = outDev;
      }
      if (o === undefined) continue;
      if (o.verdict !== 'ACCEPT') return o.verdict === 'STOLEN' ? { ...o, verdict: 'DROP' } : o;
      last = o.step ?? last;
    }
    return { verdict: 'ACCEPT', step: last, table: '' };
  }

  /**
   * A frame a bridge passes up to its own device (its MAC, a broadcast) from the port `via.port`: bridge
   * prerouting (br_netfilter's ip PREROUTING in its place there, with bridge-nf-call-iptables=1; ip_rcv() then
   * skips PREROUTING, ip_sabotage_in) and bridge input, then, with bridge-nf-call-iptables=0, ip PREROUTING as
   * for any device.
   */
  private bridgeUp(run: Run, via: BridgedArrival): HookOutcome {
    const ip = (): HookOutcome => this.hook(run, 'PREROUTING');
    const portIn = this.portHook(run, 'ingress', via.port);
    if (portIn !== undefined && portIn.verdict !== 'ACCEPT') return portIn;
    const pre = this.bridgeHook(run, 'prerouting', via.port, null, via.callIptables ? ip : undefined);
    if (pre.verdict !== 'ACCEPT') return pre;
    const inp = this.bridgeHook(run, 'input', via.port, null, undefined);
    if (inp.verdict !== 'ACCEPT') return inp;
    // Passed up: the frame is received again, on the bridge device (its ingress chains), then ip_rcv().
    const devIn = this.deviceHook(run, 'ingress', via.bridge);
    run.fwdTo = undefined;
    if (devIn !== undefined && devIn.verdict !== 'ACCEPT') return devIn;
    if (!via.callIptables) return ip();
    return pre;
  }

  /**
   * The netdev ingress or egress chains of a bridge port (the frame enters the port before the bridge sees it,
   * and leaves by it after the bridge's postrouting), with the port as iif or oif (fixtures/labs/bridge-netdev.sh).
   * `fwd to` there is not simulated.
   */
  private portHook(run: Run, which: 'ingress' | 'egress', port: string): HookOutcome | undefined {
    const pkt = run.pkt;
    const inDev = pkt.inIface;
    const outDev = pkt.outIface;
    pkt.inIface = which === 'ingress' ? port : null;
    pkt.outIface = which === 'egress' ? port : null;
    const o = this.deviceHook(run, which, port);
    pkt.inIface = inDev;
    pkt.outIface = outDev;
    run.fwdTo = undefined;
    return o;
  }

  /**
   * A frame that is no IPv4 packet (an ARP frame, src/lab/arp.ts) through the chains of this host that see it,
   * in the order `steps` gives (one leg of its way: what a host does sending or receiving it, or a bridge taking
   * it in, forwarding it, sending it or passing it up). Never the ip hooks: br_netfilter gives ARP to arptables,
   * not to iptables. `traced` is skb->nf_trace as the frame comes (a flooded copy keeps it; a veth crossing to
   * another namespace clears it); the result says what it is after the leg.
   */
  runFrame(input: Packet, steps: readonly FrameStep[], traced = false, accepted: Fate = 'sent'): { result: TraceResult; traced: boolean } {
    const original = clonePacket(input);
    const pkt = clonePacket(original);
    const run = new Run(pkt);
    run.nfTrace = traced || this.opts.nfTraceFromStart === true;
    for (const s of steps) {
      const o = s.at === 'bridge' ? this.bridgeHook(run, s.hook, s.iif, s.oif, undefined) : s.at === 'arp' ? this.arpHook(run, s.hook, s.dev) : this.portHook(run, s.at, s.dev);
      if (o !== undefined && o.verdict !== 'ACCEPT') return { result: traceResult(run, original, 'dropped', ...dropOf(run, o), o.step, pkt.inIface, null), traced: run.nfTrace };
    }
    const last = run.steps[run.steps.length - 1];
    return { result: traceResult(run, original, accepted, 'accepted', `accepted by every chain on its way${last ? ` (last: ${describeStep(last)})` : ''}`, last, pkt.inIface, pkt.outIface), traced: run.nfTrace };
  }

  /** Does any of these steps meet a chain? (Without one, a frame's leg needs no run.) */
  frameChainsFor(steps: readonly FrameStep[]): boolean {
    const p = this.pipeline;
    return steps.some((s) =>
      s.at === 'bridge' ? p.bridge[s.hook].some((e) => e.kind === 'nft') : s.at === 'arp' ? p.arp[s.hook].length > 0 : (s.at === 'ingress' ? p.ingress : p.egress).has(s.dev),
    );
  }

  /** The arp family's input or output chains, with `dev` as iif or oif. */
  private arpHook(run: Run, hook: ArpHook, dev: string): HookOutcome | undefined {
    const entries = this.pipeline.arp[hook];
    if (entries.length === 0) return undefined;
    const pkt = run.pkt;
    const inDev = pkt.inIface;
    const outDev = pkt.outIface;
    pkt.inIface = hook === 'input' ? dev : null;
    pkt.outIface = hook === 'output' ? dev : null;
    let last: Step | undefined;
    try {
      for (const e of entries) {
        const o = this.nftWalk(run, e, hook);
        if (o.verdict !== 'ACCEPT') return o.verdict === 'STOLEN' ? { ...o, verdict: 'DROP' } : o;
        last = o.step ?? last;
      }
    } finally {
      pkt.inIface = inDev;
      pkt.outIface = outDev;
    }
    return { verdict: 'ACCEPT', step: last, table: '' };
  }

  /** Does a frame between these bridge ports meet any chain besides br_netfilter's (bridge family, netdev on the ports)? */
  bridgeChainsFor(...ports: string[]): boolean {
    return this.pipeline.hasBridgeChains || ports.some((p) => this.pipeline.ingress.has(p) || this.pipeline.egress.has(p));
  }
}

/**
 * The EvalContext of one table walk: a small object whose methods live on the prototype, so that a walk
 * allocates five fields and no closures (a batch makes millions of them).
 */
class RunContext implements EvalContext {
  chain: string;
  /** The walker's makeCtx: the context, set to the rule's chain. */
  readonly forChain: (chain: string) => EvalContext;
  constructor(
    private readonly run: Run,
    private readonly tracer: Tracer,
    private readonly memoryStore: WeakMap<object, unknown>,
    public table: string,
    public hook: Hook,
  ) {
    this.chain = hook;
    this.forChain = (chain) => {
      this.chain = chain;
      return this;
    };
  }
  /** The next walk of the run: its table and hook. */
  enter(table: string, hook: Hook): void {
    this.table = table;
    this.hook = hook;
    this.chain = hook;
  }
  get pkt(): Packet {
    return this.run.pkt;
  }
  /** In raw, conntrack has not run yet: no entry, INVALID (a looped-back packet keeps the one it had). */
  get ctState(): CtState {
    return this.table === 'raw' && !this.run.looped ? 'INVALID' : this.run.ctState;
  }
  get ct(): Conn | undefined {
    return this.table === 'raw' && !this.run.looped ? undefined : this.run.conn;
  }
  get ctReply(): boolean {
    return this.run.ctReply;
  }
  get host(): Host {
    return this.tracer.host;
  }
  get now(): Date {
    return this.tracer.opts.now;
  }
  decide(ext: string, question: string, assumed: boolean, probability?: number): boolean {
    const opts = this.tracer.opts;
    const run = this.run;
    const branching = probability !== undefined && probability > 0 && probability < 1;
    let k = 0;
    for (const x of run.assumptions) if (x.probability !== undefined && x.probability > 0 && x.probability < 1) k++;
    const forced = branching && opts.forced !== undefined && k < opts.forced.length ? opts.forced[k] : opts.assume.get(ext);
    const answer = forced ?? assumed;
    const a: Assumption = { ext, question, answer, probability };
    run.assumptions.push(a);
    if (this.tracer.allEvents) run.events.push({ kind: 'assume', assumption: a });
    return answer;
  }
  memory<T>(key: object, init: () => T): T {
    if (!this.memoryStore.has(key)) this.memoryStore.set(key, init());
    return this.memoryStore.get(key) as T;
  }
  log(req: LogRequest): void {
    this.run.events.push({ kind: 'log', req, packet: clonePacket(this.run.pkt), hook: this.hook });
  }
  nat(req: NatRequest): void {
    this.run.natRequest = req;
  }
  reject(what: string): void {
    this.run.rejectWith = what;
    if (this.tracer.allEvents) this.run.events.push({ kind: 'reject', with: what });
  }
  notrack(): void {
    this.run.untracked = true;
  }
  startTrace(): void {
    // Every step is in the trace anyway; nft monitor reports from here on (skb->nf_trace).
    this.run.nfTrace = true;
  }
  note(text: string): void {
    this.run.events.push({ kind: 'note', text });
  }
}

/** The result of a packet run that ended as `fate`; `reason` 'accepted' becomes what decided (rule or policy). */
function traceResult(run: Run, original: Packet, fate: Fate, reason: string, verdict: string, d: Step | undefined, inDev: string | null, outDev: string | null): TraceResult {
  return {
    fate,
    in: inDev,
    out: outDev,
    reason: reason === 'accepted' && d ? (d.type === 'policy' && d.rule === undefined ? 'policy' : 'rule') : reason,
    verdict,
    packet: run.pkt,
    original,
    ctState: run.ctState,
    steps: run.steps,
    events: run.events,
    decidedBy: d,
    assumptions: run.assumptions,
    rejectWith: run.rejectWith,
    conn: run.conn,
  };
}

/** The reason code and sentence of a run a hook did not accept. */
function dropOf(run: Run, o: HookOutcome): [string, string] {
  if (run.natFailed !== undefined) return ['nat-no-address', `dropped by ${describeStep(o.step)}: ${run.natFailed}`];
  if (run.rejectWith !== undefined) return ['reject', `rejected by ${describeStep(o.step)} with ${run.rejectWith}`];
  if (o.verdict === 'QUEUE') return ['queue', `queued by ${describeStep(o.step)}: no userspace program listens, so the kernel drops it`];
  return [o.step?.type === 'policy' && o.step.rule === undefined ? 'policy' : 'rule', `dropped by ${describeStep(o.step)}`];
}

/** The nft hook name of an ip hook. */
const NFT_HOOK: Readonly<Record<Hook, NftHook>> = { PREROUTING: 'prerouting', INPUT: 'input', FORWARD: 'forward', OUTPUT: 'output', POSTROUTING: 'postrouting' };
const IP_HOOK: Readonly<Record<NftHook, Hook>> = { ingress: 'PREROUTING', prerouting: 'PREROUTING', input: 'INPUT', forward: 'FORWARD', output: 'OUTPUT', postrouting: 'POSTROUTING', egress: 'POSTROUTING' };

/** What an nft chain's walk sees of the packet run and asks of it (src/nft/eval NftEnv). */
class NftRunEnv implements NftEnv {
  readonly countRules: boolean;
  readonly host: NftEnv['host'];
  constructor(
    private readonly run: Run,
    private readonly tracer: Tracer,
    readonly family: NftEnv['family'],
    readonly hook: NftHook,
    private readonly priority: number,
  ) {
    this.countRules = tracer.opts.noCounters !== true;
    this.host = tracer.nftHost;
  }
  get pkt(): Packet {
    return this.run.pkt;
  }
  /** Before conntrack has run (ingress, or a chain of priority below -200 on prerouting/output) the packet has no entry. */
  private get beforeConntrack(): boolean {
    if (this.run.looped) return false;
    return this.hook === 'ingress' || ((this.hook === 'prerouting' || this.hook === 'output') && this.priority < -200);
  }
  get ctState(): CtState {
    // No conntrack for ARP: `ct state` reads invalid (nft_ct_get_eval without an entry).
    if (this.run.pkt.arp) return 'INVALID';
    if (this.run.untracked) return 'UNTRACKED';
    return this.beforeConntrack ? 'INVALID' : this.run.ctState;
  }
  get ct(): Conn | undefined {
    if (this.run.pkt.arp) return undefined;
    return this.beforeConntrack || this.run.untracked ? undefined : this.run.conn;
  }
  get ctReply(): boolean {
    return this.run.ctReply;
  }
  notrack(): void {
    this.run.untracked = true;
  }
  nat(req: NatRequest): void {
    this.run.natRequest = req;
  }
  log(req: LogRequest): void {
    this.run.events.push({ kind: 'log', req, packet: clonePacket(this.run.pkt), hook: IP_HOOK[this.hook] });
  }
  reject(what: string): void {
    this.run.rejectWith = what;
    if (this.tracer.allEvents) this.run.events.push({ kind: 'reject', with: what });
  }
  fwd(dev: string): void {
    this.run.fwdTo = dev;
  }
  setTrace(on: boolean): void {
    this.run.nfTrace = on;
  }
  traced(): boolean {
    return this.run.nfTrace;
  }
  decide(what: string, question: string, assumed: boolean): boolean {
    const a: Assumption = { ext: what, question, answer: this.tracer.opts.assume.get(what) ?? assumed, probability: undefined };
    this.run.assumptions.push(a);
    if (this.tracer.allEvents) this.run.events.push({ kind: 'assume', assumption: a });
    return a.answer;
  }
}

/** The WalkSink of one packet run: the steps, and with every event kept, a step event per step. */
class RunSink implements WalkSink {
  constructor(
    protected readonly run: Run,
    protected readonly all: boolean,
    private readonly keepPackets: boolean,
  ) {}
  step(s: Step, p: Packet): void {
    this.run.steps.push(s);
    if (this.all) this.run.events.push({ kind: 'step', step: s, packet: this.keepPackets ? clonePacket(p) : p, traced: this.run.nfTrace });
  }
  unsimulated(what: string): void {
    const events = this.run.events;
    if (!events.some((e) => e.kind === 'unsimulated' && e.what === what)) events.push({ kind: 'unsimulated', what });
  }
}

/** With explanations: the walk is the naive one (WalkSink.miss), and each miss is an event. */
class ExplainingSink extends RunSink {
  miss(m: Miss): void {
    if (this.all) this.run.events.push({ kind: 'miss', miss: m });
  }
}

/** 224.0.0.1 (all hosts): the only group a fresh host has joined. */
export const ALL_HOSTS = 0xe0000001;

/** Does a packet the host sends to dst come back to the host itself (a broadcast, a joined multicast group)? */
function loopsBack(host: Host, dst: number): boolean {
  return dst === 0xffffffff || dst === ALL_HOSTS || host.addrType(dst) === RTN.BROADCAST;
}

/** The destination MAC of an arriving frame: broadcast and multicast addresses, else the interface's own. */
function frameDestination(host: Host, dst: number, dev: string): string | null {
  // A sender on the link sends to ff:ff:ff:ff:ff:ff only for that link's own broadcast addresses (a directed
  // broadcast of another subnet goes to the router's MAC, recorded in routing.json).
  if (dst === 0xffffffff || host.ifaces.get(dev)?.addrs.some((a) => a.broadcast === dst)) return 'ff:ff:ff:ff:ff:ff';
  if (dst >>> 28 === 0xe) return multicastMac(dst);
  return host.macOf(dev) ?? null;
}

/** The route event of a forwarded packet; the last one made is the next packet's too, as a rule. */
function forwardText(dev: string, gateway: number | undefined, ttl: number): string {
  const l = lastForward;
  if (l.dev !== dev || l.gateway !== gateway || l.ttl !== ttl) {
    lastForward = { dev, gateway, ttl, text: `routing: forward out ${dev}${gateway !== undefined ? ` via ${addrToString(gateway)}` : ''} (FORWARD), TTL now ${ttl}` };
  }
  return lastForward.text;
}
let lastForward: { dev: string; gateway: number | undefined; ttl: number; text: string } = { dev: '', gateway: undefined, ttl: -1, text: '' };

/**
 * The verdict of a forwarded packet. The last one is made again when the device and the deciding step are the
 * same (a step kept by the walk, WalkCache shareSteps, is the same object; steps do not change once reported).
 */
function forwardedVerdict(out: string | null, decided: Step | undefined): string {
  const l = lastForwarded;
  if (l.out !== out || l.decided !== decided || decided === undefined) {
    lastForwarded = { out, decided, text: `forwarded out ${out}${decided ? ` (${describeStep(decided)})` : ''}` };
  }
  return lastForwarded.text;
}
let lastForwarded: { out: string | null; decided: Step | undefined; text: string } = { out: null, decided: undefined, text: '' };

/** "filter FORWARD rule 3" / "filter FORWARD policy DROP". */
export function describeStep(s: Step | undefined): string {
  if (!s) return 'the kernel';
  if (s.type === 'policy' && s.rule === undefined) return `${s.table} ${s.chain} policy ${s.verdict}`;
  return `${s.table} ${s.chain} rule ${s.num}`;
}

export function describePacket(p: Packet): string {
  // The NAT of a packet describes it before and after each rewrite: the last text made is often asked again.
  if (p.src === lastDescribed.src && p.dst === lastDescribed.dst && p.proto === lastDescribed.proto && p.sport === lastDescribed.sport && p.dport === lastDescribed.dport && p.icmpId === lastDescribed.icmpId) {
    return lastDescribed.text;
  }
  const a = addrText;
  let text: string;
  if (p.proto === PROTO_TCP || p.proto === PROTO_UDP) text = `${a(p.src)}:${p.sport} -> ${a(p.dst)}:${p.dport}`;
  else if (p.proto === PROTO_ICMP) text = `${a(p.src)} -> ${a(p.dst)} (icmp id ${p.icmpId})`;
  else text = `${a(p.src)} -> ${a(p.dst)}`;
  lastDescribed = { src: p.src, dst: p.dst, proto: p.proto, sport: p.sport, dport: p.dport, icmpId: p.icmpId, text };
  return text;
}

let lastDescribed = { src: 0, dst: 0, proto: -1, sport: 0, dport: 0, icmpId: 0, text: '' };

/** addrToString() through a small direct-mapped cache: a batch names the same addresses again and again. */
const ADDR_CACHE_BITS = 12;
const addrKeys = new Float64Array(1 << ADDR_CACHE_BITS).fill(-1);
const addrTexts: string[] = new Array<string>(1 << ADDR_CACHE_BITS).fill('');
function addrText(addr: number): string {
  const i = Math.imul(addr, 0x9e3779b1) >>> (32 - ADDR_CACHE_BITS);
  if (addrKeys[i] === addr) return addrTexts[i]!;
  const t = addrToString(addr);
  addrKeys[i] = addr;
  addrTexts[i] = t;
  return t;
}

/** IPS status bits as conntrack -L names them. */
export function statusNames(status: number): string[] {
  const out: string[] = [];
  if (status & IPS.SEEN_REPLY) out.push('SEEN_REPLY');
  if (status & IPS.ASSURED) out.push('ASSURED');
  if (status & IPS.SRC_NAT) out.push('SNAT');
  if (status & IPS.DST_NAT) out.push('DNAT');
  return out;
}

