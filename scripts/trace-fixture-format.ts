/**
 * One definition of the recorded trace cases, shared by the scenario generator, the kernel recorder
 * (scripts/record-traces.ts) and the replay test (test/trace-fixtures.test.ts).
 *
 * A scenario is ONE simulated host (its HOSTFILE text and its iptables-save ruleset) and a sequence of packets
 * that arrive on one of its interfaces or are sent by it (PACKET lines in `tsiptables trace` syntax, as one
 * `--batch` run: conntrack persists from packet to packet). The recorder builds the host in a `tsi-` network
 * namespace with iptables-legacy, injects each packet, and stores what the kernel did.
 *
 * PACKET line (all options of `tsiptables trace`; recorded cases always give the random-looking fields
 * explicitly so the kernel and tsiptables see the same bytes):
 *   -p tcp|udp|icmp|N -s ADDR -d ADDR [--sport N] [--dport N] [--syn | --tcp-flags MASK COMP]
 *   [--icmp-type NAME|TYPE[/CODE]] [--icmp-id N] [--icmp-seq N] [-i IFACE] [--uid N] [--gid N] [--mark V]
 *   [--len N] [--ttl N] [--tos N] [--ip-id N] [--no-df] [--seq N] [--ack-seq N] [--window N]
 *   [--mac-source MAC]
 * TCP flags are given as in iptables' --tcp-flags (`--tcp-flags ALL SYN,ACK`: MASK is ignored, COMP are the
 * flags set). An ICMP error (destination-unreachable, time-exceeded...) quotes the latest earlier packet of
 * the batch whose addresses it reverses.
 */

export interface TraceFixtureFile {
  /** How, where and when the file was recorded. */
  recorded: {
    by: string;
    iptables: string;
    kernel: string;
    date: string;
  };
  scenarios: TraceScenario[];
}

export interface TraceScenario {
  name: string;
  /** What the scenario is about (generator seed, or the lab it comes from). */
  why: string;
  /** HOSTFILE text: `ip addr add`, `ip route add`, `ip link set dev X address M`, `sysctl -w` lines. */
  host: string;
  /** iptables-save text (always with a *raw table: the recorder's TRACE rule lives there). */
  rules: string;
  packets: TracePacketCase[];
}

export interface TracePacketCase {
  /** The PACKET line. */
  packet: string;
  /** What the kernel did; absent in a scenario file not recorded yet. */
  kernel?: KernelOutcome;
}

/** Transport view of a packet as it leaves the host or is delivered (after all NAT). */
export interface WirePacket {
  proto: string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  /** icmp only. */
  type?: number;
  code?: number;
}

export interface KernelOutcome {
  fate: 'delivered' | 'forwarded' | 'sent' | 'dropped';
  /** Interface the packet left by (forwarded/sent), null otherwise. */
  out: string | null;
  /** The packet as captured on the far side of `out`, or as delivered; null when dropped. */
  packet: WirePacket | null;
  /**
   * The TRACE steps, `table:chain:type:N`, from the kernel's TRACE lines, renumbered as if the recorder's TRACE
   * rule (rule 1 of raw PREROUTING/OUTPUT) were not there.
   */
  trace: string[];
  /**
   * Every dmesg line the kernel wrote for this packet (TRACE and LOG), in order, without the `[ 12.345678]`
   * timestamp; TRACE numbers renumbered as in `trace`. Lines of packets the host sent by itself in answer
   * (RST, echo reply, ICMP errors) are left out: they carry other IP IDs.
   */
  dmesg: string[];
  /** `conntrack -L` lines after the packet, sorted, with the timeout column and ids removed. */
  conntrack: string[];
}
