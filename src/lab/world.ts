/**
 * The simulated machines of a lab: network namespaces (the root one included), each a Host (src/eval/host.ts:
 * devices, addresses, routes, sysctls) with its own ruleset in a state file of its own and its own conntrack
 * table, and the veth pairs that join devices across namespaces. Traffic (net.ts) walks packets across this.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Host } from '../eval/host';
import { ConntrackTable } from '../eval/conntrack';
import { Tracer, type TraceOptions } from '../eval/trace';
import { loadState, writeState } from '../io/state';
import type { Ruleset } from '../model/ruleset';

/** A device end of a veth pair: the namespace it is in and its name there. */
export interface DevRef {
  ns: Netns;
  dev: string;
}

/** The neighbour (ARP) cache of a namespace: address -> MAC, per device. */
export class Neighbours {
  private readonly byDev = new Map<string, Map<number, string>>();
  lookup(dev: string, addr: number): string | undefined {
    return this.byDev.get(dev)?.get(addr);
  }
  learn(dev: string, addr: number, mac: string): void {
    let m = this.byDev.get(dev);
    if (!m) this.byDev.set(dev, (m = new Map()));
    m.set(addr, mac);
  }
  /** A device went down or away: its entries go. */
  forget(dev: string): void {
    this.byDev.delete(dev);
  }
}

export class Netns {
  readonly host = new Host();
  readonly conntrack = new ConntrackTable();
  /** veth peers by device name. */
  readonly peers = new Map<string, DevRef>();
  /** The ARP cache. */
  readonly neighbours = new Neighbours();
  private ruleset: Ruleset | undefined;
  private tracer: Tracer | undefined;
  /** Counters changed by traffic and not yet written to the state file. */
  private dirty = false;

  constructor(
    readonly name: string,
    readonly statefile: string,
    private readonly traceOpts: () => TraceOptions,
  ) {
    // A fresh namespace has lo, down (`ip link set lo up` brings 127.0.0.1 to life).
    this.host.down.add('lo');
  }

  /** The tracer for the current ruleset (rebuilt after an iptables command; conntrack is kept). */
  tracerNow(): Tracer {
    if (!this.tracer) {
      this.ruleset = loadState(this.statefile);
      this.tracer = new Tracer(this.ruleset, this.host, this.traceOpts(), this.conntrack);
    }
    this.dirty = true;
    return this.tracer;
  }

  /** Before an iptables command reads the state file: counters from traffic written back. */
  flush(): void {
    if (this.dirty && this.ruleset) {
      this.tracer?.flushCounters();
      writeState(this.statefile, this.ruleset);
    }
    this.dirty = false;
  }

  /** After an iptables command may have changed the state file. */
  invalidate(): void {
    this.ruleset = undefined;
    this.tracer = undefined;
    this.dirty = false;
  }

  /** A name for messages: the namespace, or "the host" for the root one. */
  label(): string {
    return this.name === '' ? 'root namespace' : this.name;
  }
}

export class World {
  readonly namespaces = new Map<string, Netns>();
  readonly root: Netns;
  private readonly dir: string;
  private seq = 0;

  constructor(private readonly traceOpts: () => TraceOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'tsiptables-lab-'));
    this.root = this.make('');
    // The machine the lab runs on has its loopback up.
    this.root.host.down.delete('lo');
  }

  private make(name: string): Netns {
    return new Netns(name, join(this.dir, `ns${this.seq++}.rules`), this.traceOpts);
  }

  add(name: string): Netns {
    const ns = this.make(name);
    this.namespaces.set(name, ns);
    return ns;
  }

  /** Deletes a namespace: its devices go, and a veth's other end with them. */
  delete(name: string): boolean {
    const ns = this.namespaces.get(name);
    if (!ns) return false;
    for (const [dev, peer] of ns.peers) {
      peer.ns.peers.delete(peer.dev);
      peer.ns.host.removeIface(peer.dev);
      ns.peers.delete(dev);
    }
    this.namespaces.delete(name);
    rmSync(ns.statefile, { force: true });
    return true;
  }

  get(name: string | undefined): Netns | undefined {
    return name === undefined || name === '' ? this.root : this.namespaces.get(name);
  }

  all(): Netns[] {
    return [this.root, ...this.namespaces.values()];
  }

  /** Removes the state files (the lab is over). */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
