/**
 * The programs a lab runs, simulated over the lab's network (net.ts): ping (iputils), nc (OpenBSD netcat) as
 * client and listener, curl, tcpdump (captures printed when the job ends), dmesg (the kernel log of every
 * namespace: LOG lines), conntrack -L, sysctl and writes to /proc/sys, and the shell's job control (`&`, kill,
 * wait). Output texts follow the real programs (iputils 20221126, netcat-openbsd 1.219, curl 7.88.1, tcpdump
 * 4.99, conntrack-tools 1.4.7), as recorded in fixtures/labs/recorded.
 */
import { addrToString, numericToAddr } from '../model/ip';
import { SERVICES } from '../data/netdb';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../eval/packet';
import { entryText } from '../eval/conntrack';
import { RTN } from '../eval/context';
import type { Netns } from './world';
import type { Capture, CapturedFrame, Outcome } from './net';
import type { Chunk, Lab, Output } from './run';
import type { CmdResult } from './ip-command';
import { formatArpLine, formatTcpdumpLine, TcpdumpState } from './tcpdump-format';
import { nftMonitorLines } from '../cli/nft-monitor';
import { readBridgeSysctl, writeBridgeSysctl } from './bridge';

export interface Job {
  id: number;
  pid: number;
  kind: 'listen' | 'tcpdump' | 'nft-monitor' | 'done';
  ns: Netns;
  /** Listener: protocol and port, -k keeps it after a connection. */
  proto?: number;
  port?: number;
  keep?: boolean;
  /** What the listener sends to whoever connects (its stdin). */
  reply?: string;
  /** tcpdump: the capture it reads. */
  capture?: Capture;
  /** tcpdump -e: each line starts with the link-level header. */
  linkHeader?: boolean;
  /** Output written when the job ends (tcpdump's buffered lines). */
  finished: boolean;
  /** Where the job's stdout goes: the terminal (the transcript), /dev/null, or a file of the lab. */
  stdout: 'tty' | string;
}

/**
 * tcpdump -e: the link-level header before each line, `SRC > DST, ethertype IPv4 (0x0800), length N: ` in place
 * of `IP ` (`ethertype ARP (0x0806), length 42: ` in place of `ARP, `); N is the frame's length, unpadded on a
 * veth (recorded: scratch runs of bridge REJECTs, 6.18).
 */
function withLinkHeader(line: string, f: CapturedFrame): string {
  const m = /^(\S+) (IP |ARP, )/.exec(line);
  if (!m) return line;
  const rest = line.slice(m[0].length);
  if (f.arp) return `${m[1]} ${f.arp.ethSrc ?? f.arp.mac} > ${f.arp.ethDst ?? 'ff:ff:ff:ff:ff:ff'}, ethertype ARP (0x0806), length 42: ${rest}`;
  const p = f.pkt;
  return `${m[1]} ${p.macSrc ?? '00:00:00:00:00:00'} > ${p.macDst ?? '00:00:00:00:00:00'}, ethertype IPv4 (0x0800), length ${p.len + 14}: ${rest}`;
}

const ok = (chunks: Chunk[] = [], status = 0): Output => ({ chunks: chunks.filter(([, t]) => t !== ''), status });

/** TCP option bytes Linux puts on a SYN / SYN-ACK (mss 1460, sackOK, timestamps, nop, wscale 7) and on later segments. */
function synOptions(tsVal: number, tsEcr: number): Uint8Array {
  return new Uint8Array([2, 4, 5, 0xb4, 4, 2, 8, 10, ...be32(tsVal), ...be32(tsEcr), 1, 3, 3, WSCALE]);
}
/**
 * Window scale and the windows after the handshake: what a fresh namespace of the recording machine used
 * (tcp_rmem's maximum of 32 MB gives wscale 10; fixtures/labs/recorded, recordedWith.hostSysctls).
 */
const WSCALE = 10;
const CLIENT_WINDOW = 63;
const SERVER_WINDOW = 64;
function tsOptions(tsVal: number, tsEcr: number): Uint8Array {
  return new Uint8Array([1, 1, 8, 10, ...be32(tsVal), ...be32(tsEcr)]);
}
function be32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

function serviceName(port: number, proto: string): string {
  return SERVICES.find((s) => s[1] === port && s[2] === proto)?.[0] ?? '*';
}

/** One side of a simulated TCP connection. */
interface TcpSide {
  ns: Netns;
  addr: number;
  port: number;
  /** The peer's address and port as this side sees them (NAT in between). */
  peerAddr: number;
  peerPort: number;
  isn: number;
  sent: number;
  acked: number;
  ts: number;
  /** The accepting side (its windows differ). */
  server: boolean;
}

export class Apps {
  readonly jobs: Job[] = [];
  lastPid: number | undefined;
  private pid = 1000;
  private nextPort = 40000;
  private icmpId = 0x1a2b;

  constructor(private readonly lab: Lab) {}

  private get net() {
    return this.lab.net;
  }

  /** The listener (`nc -l`) on a port of a namespace, while it listens. */
  private listenerOn(ns: Netns, proto: number, port: number): Job | undefined {
    return this.jobs.find((j) => j.kind === 'listen' && j.ns === ns && j.proto === proto && j.port === port);
  }

  listening(ns: Netns, proto: number, port: number): boolean {
    return this.listenerOn(ns, proto, port) !== undefined;
  }

  async run(name: string, args: string[], ns: Netns, stdin: string, background: boolean): Promise<Output> {
    switch (name) {
      case 'ping':
        return this.ping(ns, args);
      case 'nc':
      case 'netcat':
        return this.nc(ns, args, stdin, background);
      case 'curl':
        return this.curl(ns, args);
      case 'tcpdump':
        return this.tcpdump(ns, args, background);
      case 'dmesg':
        return this.dmesg(args);
      case 'conntrack':
        return this.conntrack(ns, args);
      case 'nft':
        return this.nftMonitor(ns, args, background);
      default:
        return ok([[2, `${name}: not simulated\n`]], 127);
    }
  }

  private startJob(j: Omit<Job, 'id' | 'pid' | 'finished' | 'stdout'>): Job {
    const job: Job = { ...j, id: this.jobs.length + 1, pid: this.pid++, finished: false, stdout: 'tty' };
    this.jobs.push(job);
    this.lastPid = job.pid;
    return job;
  }

  // ---- ping ---------------------------------------------------------------------------------------------

  private ping(ns: Netns, args: string[]): Output {
    let count = Number.POSITIVE_INFINITY;
    let dest: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const val = (): string => (a.length > 2 ? a.slice(2) : (args[++i] ?? ''));
      if (a.startsWith('-c')) count = Number(val());
      else if (a.startsWith('-W') || a.startsWith('-w') || a.startsWith('-i') || a.startsWith('-s') || a.startsWith('-I') || a.startsWith('-t')) val();
      else if (a === '-q' || a === '-n' || a === '-4') continue;
      else dest = a;
    }
    if (dest === undefined) return ok([[2, 'ping: usage error: Destination address required\n']], 1);
    const dst = dest.split('.').length === 4 ? numericToAddr(dest, false) : null;
    if (dst === null) return ok([[2, `ping: ${dest}: Name or service not known\n`]], 2);
    if (!Number.isFinite(count)) count = 1;
    const route = ns.host.route(dst);
    if (!route || (route.type !== RTN.UNICAST && route.type !== RTN.LOCAL && route.type !== RTN.BROADCAST)) return ok([[2, 'ping: connect: Network is unreachable\n']], 2);
    const src = route.prefsrc ?? ns.host.primaryAddress(route.dev, dst) ?? 0;
    const id = this.icmpId++;
    let out = `PING ${dest} (${dest}) 56(84) bytes of data.\n`;
    let received = 0;
    let errors = 0;
    for (let seq = 1; seq <= count; seq++) {
      const pkt = this.net.packet({ src, dst, proto: PROTO_ICMP, icmpType: 8, icmpCode: 0, icmpId: id, icmpSeq: seq, len: 84, uid: 0, gid: 0 });
      const o = this.net.send(ns, pkt);
      const back = this.answerOf(o);
      if (back?.kind === 'delivered' && back.ns === ns) {
        const r = back.pkt;
        if (r.proto === PROTO_ICMP && r.icmpType === 0) {
          received++;
          out += `64 bytes from ${addrToString(r.src)}: icmp_seq=${seq} ttl=${r.ttl} time=0.050 ms\n`;
        } else if (r.proto === PROTO_ICMP && r.icmpType === 3) {
          errors++;
          out += `From ${addrToString(r.src)} icmp_seq=${seq} ${UNREACH[r.icmpCode] ?? `Dest Unreachable, Bad Code: ${r.icmpCode}`}\n`;
        } else if (r.proto === PROTO_ICMP && r.icmpType === 11) {
          errors++;
          out += `From ${addrToString(r.src)} icmp_seq=${seq} Time to live exceeded\n`;
        }
      }
      if (seq < count) this.net.clock += 1;
    }
    const loss = Math.round(((count - received) * 100) / count);
    out += `\n--- ${dest} ping statistics ---\n${count} packets transmitted, ${received} received, ${errors > 0 ? `+${errors} errors, ` : ''}${loss}% packet loss, time ${count > 1 ? (count - 1) * 1000 + 1 : 0}ms\n`;
    if (received > 0) out += 'rtt min/avg/max/mdev = 0.050/0.050/0.050/0.000 ms\n';
    else out += '\n';
    return ok([[1, out]], received > 0 ? 0 : 1);
  }

  /** The packet that came back for a request: the delivered request's kernel answer, or a REJECT/ICMP error. */
  private answerOf(o: Outcome): Outcome | undefined {
    if (o.kind === 'delivered') {
      const a = this.net.kernelAnswer(o.ns, o.pkt);
      return a ? this.net.send(o.ns, a) : undefined;
    }
    if (o.kind === 'dropped') return o.answer;
    return undefined;
  }

  // ---- TCP ------------------------------------------------------------------------------------------------

  /** Sends one segment from `from` to its peer; returns the outcome (delivered at the peer, or not). */
  private segment(from: TcpSide, to: TcpSide | undefined, flags: number, payload: string, synAck = false): Outcome {
    const syn = (flags & TCP_SYN) !== 0;
    const len = 20 + 20 + (syn ? 20 : 12) + payload.length;
    from.ts += 1;
    const pkt = this.net.packet({
      src: from.addr,
      dst: from.peerAddr,
      proto: PROTO_TCP,
      sport: from.port,
      dport: from.peerPort,
      tcpFlags: flags,
      seq: (from.isn + from.sent) >>> 0,
      ackSeq: flags & TCP_ACK && to ? (to.isn + from.acked) >>> 0 : 0,
      window: syn ? (synAck ? 65160 : 64240) : from.server ? SERVER_WINDOW : CLIENT_WINDOW,
      tcpOptions: syn ? synOptions(from.ts, synAck && to ? to.ts : 0) : tsOptions(from.ts, to?.ts ?? 0),
      len,
      uid: 0,
      gid: 0,
      payload: payload || undefined,
    });
    from.sent += payload.length + (syn ? 1 : 0) + (flags & TCP_FIN ? 1 : 0);
    const o = this.net.send(from.ns, pkt);
    if (o.kind === 'delivered' && to) to.acked = from.sent;
    return o;
  }

  /**
   * A TCP connection from `ns` to dst:dport: the handshake, `data` from the client, the server's reply, and the
   * close. Returns what the client saw: connected, refused (RST or ICMP), timed out, unreachable.
   */
  private tcpConnect(
    ns: Netns,
    dst: number,
    dport: number,
    data: string,
    timeoutS?: number,
  ): { result: 'connected' | 'refused' | 'timeout' | 'unreachable' | 'noroute'; server?: Job } {
    const route = ns.host.route(dst);
    if (!route) return { result: 'noroute' };
    const src = route.prefsrc ?? ns.host.primaryAddress(route.dev, dst) ?? 0;
    const client: TcpSide = { ns, addr: src, port: this.nextPort, peerAddr: dst, peerPort: dport, isn: 0x10000000 + this.nextPort * 7919, sent: 0, acked: 0, ts: 1000, server: false };
    this.nextPort += 2;
    let syn = this.segment(client, undefined, TCP_SYN, '');
    // An unanswered SYN is sent again 1 s after the first, then 3 s, 7 s, ... (the kernel's initial RTO of 1 s,
    // doubled each time) until the program gives up after its timeout (nc -w, curl -m): `-w 2` sends two SYNs,
    // `-w 5` three. (With a timeout of exactly 1 s the real retransmission races the program: avoid it in labs.)
    const unanswered = (o: Outcome): boolean =>
      o.kind === 'dropped' ? !(o.answer?.kind === 'delivered' && o.answer.ns === ns) : o.kind !== 'delivered' && o.kind !== 'unreachable';
    /**
     * The listener's SYN-ACK to a SYN that reached it: undefined when it came back to the client as the client
     * addressed its SYN; else the client got it from another address or port (a DNAT nobody undid on the way
     * back, e.g. a bridged answer without bridge-nf-call-iptables, fixtures/labs/docker-hairpin.sh), and its kernel,
     * with no such connection, answered with a RST: the SYN counts as unanswered.
     */
    let accepted: { server: TcpSide; job: Job; synack: Outcome } | undefined;
    const answer = (o: Outcome): 'accepted' | 'stray' | 'other' => {
      if (o.kind !== 'delivered') return 'other';
      const job = this.listenerOn(o.ns, PROTO_TCP, o.pkt.dport);
      if (!job) return 'other';
      const at = o.pkt;
      const server: TcpSide = { ns: o.ns, addr: at.dst, port: at.dport, peerAddr: at.src, peerPort: at.sport, isn: 0x20000000 + at.dport * 104729, sent: 0, acked: 1, ts: 5000, server: true };
      client.acked = 0;
      const synack = this.segment(server, client, TCP_SYN | TCP_ACK, '', true);
      if (synack.kind === 'delivered' && synack.ns === ns && (synack.pkt.src !== client.peerAddr || synack.pkt.sport !== client.peerPort)) {
        const rst = this.net.kernelAnswer(ns, synack.pkt);
        if (rst) this.net.send(ns, rst);
        return 'stray';
      }
      accepted = { server, job, synack };
      return 'accepted';
    };
    let got = answer(syn);
    for (let at = 1; timeoutS !== undefined && at < timeoutS && got !== 'accepted' && (got === 'stray' || unanswered(syn)); at = 2 * at + 1) {
      client.sent = 0;
      syn = this.segment(client, undefined, TCP_SYN, '');
      got = answer(syn);
    }
    if (got === 'stray') return { result: 'timeout' };
    if (syn.kind === 'unreachable') return { result: 'noroute' };
    if (syn.kind === 'dropped') {
      const a = syn.answer;
      if (a?.kind === 'delivered' && a.ns === ns) {
        const p = a.pkt;
        if (p.proto === PROTO_TCP && p.tcpFlags & TCP_RST) return { result: 'refused' };
        if (p.proto === PROTO_ICMP && p.icmpType === 3) return { result: icmpErrno(p.icmpCode) };
      }
      return { result: 'timeout' };
    }
    if (syn.kind !== 'delivered') return { result: 'timeout' };
    if (accepted === undefined) {
      const rst = this.net.kernelAnswer(syn.ns, syn.pkt);
      const back = rst ? this.net.send(syn.ns, rst) : undefined;
      return { result: back?.kind === 'delivered' && back.ns === ns ? 'refused' : 'timeout' };
    }
    const { server, job, synack } = accepted;
    if (synack.kind !== 'delivered' || synack.ns !== ns) return { result: 'timeout' };
    // The listener accepted: nc -l serves one connection (unless -k).
    if (!job.keep) job.kind = 'done';
    this.segment(client, server, TCP_ACK, '');
    if (data !== '') {
      // The listener prints what it receives, as it receives it.
      if (this.segment(client, server, TCP_PSH | TCP_ACK, data).kind === 'delivered') this.jobOutput(job, data);
      this.segment(server, client, TCP_ACK, '');
    }
    if (job.reply) {
      this.segment(server, client, TCP_PSH | TCP_ACK, job.reply);
      this.segment(client, server, TCP_ACK, '');
    }
    // The client closes; the listener (nc -l) sees the end and closes too.
    this.segment(client, server, TCP_FIN | TCP_ACK, '');
    this.segment(server, client, TCP_FIN | TCP_ACK, '');
    this.segment(client, server, TCP_ACK, '');
    return { result: 'connected', server: job };
  }

  // ---- nc -----------------------------------------------------------------------------------------------

  private nc(ns: Netns, args: string[], stdin: string, background: boolean): Output {
    let listen = false;
    let zero = false;
    let verbose = false;
    let udp = false;
    let keep = false;
    let port: string | undefined;
    let wait: number | undefined;
    const pos: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a.startsWith('-') && a.length > 1) {
        for (let k = 1; k < a.length; k++) {
          const c = a[k]!;
          if (c === 'l') listen = true;
          else if (c === 'z') zero = true;
          else if (c === 'v') verbose = true;
          else if (c === 'u') udp = true;
          else if (c === 'k') keep = true;
          else if (c === 'n' || c === 'N' || c === '4' || c === 'd') continue;
          else if ('pwsqi'.includes(c)) {
            const v = a.length > k + 1 ? a.slice(k + 1) : args[++i];
            if (c === 'p') port = v;
            if (c === 'w') wait = Number(v);
            break;
          }
        }
      } else pos.push(a);
    }
    const proto = udp ? PROTO_UDP : PROTO_TCP;
    if (listen) {
      const p = Number(port ?? pos[pos.length - 1]);
      if (!Number.isInteger(p)) return ok([[2, 'nc: missing port number\n']], 1);
      this.startJob({ kind: 'listen', ns, proto, port: p, keep, reply: stdin || undefined });
      void background;
      return ok(verbose ? [[2, `Listening on 0.0.0.0 ${p}\n`]] : []);
    }
    const [host, portText] = pos;
    const dst = host !== undefined && host.split('.').length === 4 ? numericToAddr(host, false) : null;
    const p = Number(portText);
    if (dst === null || host === undefined) return ok([[2, `nc: getaddrinfo for host "${host ?? ''}" port ${portText ?? ''}: Name or service not known\n`]], 1);
    const protoName = udp ? 'udp' : 'tcp';
    if (udp) {
      const route = ns.host.route(dst);
      if (!route) return ok([[2, `nc: connect to ${host} port ${p} (udp) failed: Network is unreachable\n`]], 1);
      const src = route.prefsrc ?? 0;
      const sport = this.nextPort;
      this.nextPort += 2;
      // -z over UDP writes "X" three times (recorded: three 29-byte datagrams); data mode sends stdin once.
      const probes = zero ? ['X', 'X', 'X'] : [stdin];
      let refused = false;
      for (const payload of probes) {
        const pkt = this.net.packet({ src, dst, proto: PROTO_UDP, sport, dport: p, len: 28 + payload.length, uid: 0, gid: 0, payload });
        const o = this.net.send(ns, pkt);
        let back: Outcome | undefined;
        if (o.kind === 'delivered') {
          const job = this.listenerOn(o.ns, PROTO_UDP, o.pkt.dport);
          if (job) this.jobOutput(job, payload);
          else back = this.answerOf(o);
        } else if (o.kind === 'dropped') back = o.answer;
        if (back?.kind === 'delivered' && back.ns === ns && back.pkt.proto === PROTO_ICMP && back.pkt.icmpType === 3) {
          // The ICMP error fails the next write: the probe ends there.
          refused = true;
          break;
        }
      }
      // -z over UDP: an ICMP error for its probe makes nc give up, silently, with exit 1 (recorded).
      if (refused && zero) return ok([], 1);
      const msg = verbose ? `Connection to ${host} ${p} port [udp/${serviceName(p, 'udp')}] succeeded!\n` : '';
      return ok([[2, msg]], 0);
    }
    const r = this.tcpConnect(ns, dst, p, zero ? '' : stdin, wait);
    if (r.result === 'connected') {
      const msg = verbose ? `Connection to ${host} ${p} port [${protoName}/${serviceName(p, protoName)}] succeeded!\n` : '';
      return ok([[2, msg]], 0);
    }
    const why =
      r.result === 'refused'
        ? 'failed: Connection refused'
        : r.result === 'timeout'
          ? 'timed out: Operation now in progress'
          : r.result === 'noroute'
            ? 'failed: Network is unreachable'
            : 'failed: No route to host';
    // OpenBSD nc names a failed connect only with -v (recorded: without it, exit 1 and silence).
    return ok([[2, verbose ? `nc: connect to ${host} port ${p} (${protoName}) ${why}\n` : '']], 1);
  }

  /** A background job's output, where its stdout goes, as it happens (a listener prints data as it arrives). */
  private jobOutput(job: Job, text: string): void {
    if (text === '' || job.stdout === '/dev/null') return;
    if (job.stdout === 'tty') this.lab.emit(text);
    else this.lab.files.set(job.stdout, (this.lab.files.get(job.stdout) ?? '') + text);
  }

  // ---- curl ---------------------------------------------------------------------------------------------

  private curl(ns: Netns, args: string[]): Output {
    let silent = false;
    let showErr = false;
    let url: string | undefined;
    let maxTime: number | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-m' || a === '--max-time' || a === '--connect-timeout') maxTime = Number(args[++i]);
      else if (a.startsWith('-') && !a.startsWith('--')) {
        if (a.includes('s')) silent = true;
        if (a.includes('S')) showErr = true;
      } else if (a === '--silent') silent = true;
      else if (!a.startsWith('-')) url = a;
    }
    const m = url === undefined ? null : /^(?:http:\/\/)?([\d.]+)(?::(\d+))?(\/.*)?$/.exec(url);
    if (!m || url === undefined) return ok([[2, silent && !showErr ? '' : `curl: (3) URL using bad/illegal format or missing URL\n`]], 3);
    const host = m[1]!;
    const port = Number(m[2] ?? 80);
    const path = m[3] ?? '/';
    const dst = numericToAddr(host, false);
    if (dst === null) return ok([[2, silent && !showErr ? '' : `curl: (6) Could not resolve host: ${host}\n`]], 6);
    const hostHeader = m[2] !== undefined ? `${host}:${port}` : host;
    const request = `GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n`;
    const r = this.tcpConnect(ns, dst, port, request, maxTime);
    const err = (code: number, text: string): Output => ok([[2, silent && !showErr ? '' : `curl: (${code}) ${text}\n`]], code);
    if (r.result === 'refused') return err(7, `Failed to connect to ${host} port ${port} after 0 ms: Couldn't connect to server`);
    if (r.result === 'noroute' || r.result === 'unreachable') return err(7, `Failed to connect to ${host} port ${port} after 0 ms: Couldn't connect to server`);
    const ms = Math.round((maxTime ?? 300) * 1000);
    if (r.result === 'timeout') return err(28, `Connection timed out after ${ms} milliseconds`);
    // The listener that took the connection answers with what it was given on its stdin: the body is printed.
    const reply = r.server?.reply;
    if (reply !== undefined) return ok([[1, reply.replace(/^[\s\S]*?\r?\n\r?\n/, '')]], 0);
    this.net.clock += maxTime ?? 0;
    return err(28, `Operation timed out after ${ms + 1} milliseconds with 0 bytes received`);
  }

  // ---- tcpdump ------------------------------------------------------------------------------------------

  private tcpdump(ns: Netns, args: string[], background: boolean): Output {
    let dev: string | undefined;
    let linkHeader = false;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      if (a === '-i') dev = args[++i];
      else if (a.startsWith('-i') && a.length > 2) dev = a.slice(2);
      else if (/^-[a-zA-Z]+$/.test(a) && a.includes('e')) linkHeader = true;
    }
    if (dev === undefined) dev = [...ns.host.ifaces.keys()].find((d) => d !== 'lo') ?? 'lo';
    if (!ns.host.ifaces.has(dev)) return ok([[2, `tcpdump: ${dev}: No such device exists\n(SIOCGIFHWADDR: No such device)\n`]], 1);
    const capture: Capture = { ns, dev, frames: [] };
    this.net.captures.push(capture);
    const link = dev === 'lo' ? 'EN10MB (Ethernet)' : 'EN10MB (Ethernet)';
    const start: Chunk[] = [[2, `tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\nlistening on ${dev}, link-type ${link}, snapshot length 262144 bytes\n`]];
    const job = this.startJob({ kind: 'tcpdump', ns, capture, linkHeader });
    if (!background) {
      // In the foreground it would run until interrupted; the lab ends it at once.
      return ok([...start, ...this.endTcpdump(job)]);
    }
    return ok(start);
  }

  /** tcpdump stopped (SIGTERM / SIGINT): its buffered lines, then the statistics on stderr. */
  private endTcpdump(job: Job): Chunk[] {
    job.finished = true;
    job.kind = 'done';
    const c = job.capture!;
    const k = this.net.captures.indexOf(c);
    if (k >= 0) this.net.captures.splice(k, 1);
    const st = new TcpdumpState();
    const lines = c.frames.map((f) => {
      const line = f.arp ? formatArpLine(f.arp, f.at) : formatTcpdumpLine(f.pkt, f.at, st);
      return job.linkHeader === true ? withLinkHeader(line, f) : line;
    }).join('');
    const n = c.frames.length;
    // On SIGTERM/SIGINT tcpdump ends its output with a newline before the statistics (recorded).
    // Its lines go where its stdout went (a file with `> cap.txt &`), at once; the statistics to stderr.
    this.jobOutput(job, lines + '\n');
    return [
      [2, `${n} packet${n === 1 ? '' : 's'} captured\n${n} packet${n === 1 ? '' : 's'} received by filter\n0 packets dropped by kernel\n`],
    ];
  }

  // ---- nft monitor trace ----------------------------------------------------------------------------------

  /** Trace ids: the kernel's are random per packet (the recordings mask them). */
  private traceId = 0x1f00;

  /** `nft monitor trace` in the background: it prints each traced packet's events as they happen. */
  private nftMonitor(ns: Netns, args: string[], background: boolean): Output {
    const what = args.slice(1).filter((a) => !a.startsWith('-'));
    if (what.length !== 1 || what[0] !== 'trace') return ok([[2, `nft ${args.join(' ')}: only "nft monitor trace" is simulated
`]], 1);
    if (!background) return ok([[2, 'nft monitor trace: only as a background job (&) in a lab\n']], 1);
    this.startJob({ kind: 'nft-monitor', ns });
    this.net.onHop ??= (at, r) => {
      const jobs = this.jobs.filter((j) => j.kind === 'nft-monitor' && !j.finished && j.ns === at);
      if (jobs.length === 0) return;
      // Linux stacks over veth leave TCP/UDP checksums partial (offloaded): raw egress dumps show that.
      const lines = nftMonitorLines(r, () => (this.traceId++).toString(16).padStart(8, '0'), { l4checksum: 'partial' });
      if (lines.length === 0) return;
      for (const j of jobs) this.jobOutput(j, lines.map((l) => `${l}\n`).join(''));
    };
    return ok();
  }

  // ---- job control --------------------------------------------------------------------------------------

  kill(args: string[]): Output {
    const chunks: Chunk[] = [];
    for (const a of args) {
      if (a.startsWith('-')) continue;
      const job = a.startsWith('%') ? this.jobs[Number(a.slice(1)) - 1] : this.jobs.find((j) => String(j.pid) === a);
      if (!job || job.finished) return ok([[2, `${this.lab.opts.scriptName}: line ${this.lab.currentLine()}: kill: ${a}: no such job\n`]], 1);
      chunks.push(...this.finish(job));
    }
    return ok(chunks);
  }

  private finish(job: Job): Chunk[] {
    if (job.finished) return [];
    if (job.kind === 'tcpdump') return this.endTcpdump(job);
    job.finished = true;
    job.kind = 'done';
    return [];
  }

  wait(): Output {
    // Jobs still running (listeners nobody connected to) would make a real `wait` hang; the lab ends them.
    const chunks: Chunk[] = [];
    for (const j of this.jobs) if (!j.finished && j.kind !== 'listen') chunks.push(...this.finish(j));
    for (const j of this.jobs) if (j.kind === 'done') j.finished = true;
    return ok(chunks);
  }

  /** At the end of the script: background jobs still running are ended (their output printed). */
  async finishAll(): Promise<void> {
    for (const j of this.jobs) for (const [, t] of this.finish(j)) this.lab.emit(t);
  }

  // ---- kernel state -------------------------------------------------------------------------------------

  private dmesg(args: string[]): Output {
    if (args.some((a) => a === '-C' || a === '-c' || a === '--clear')) {
      this.net.kernelLog.length = 0;
      return ok();
    }
    const lines = this.net.kernelLog.map((l) => `[${fmtTime(l.at)}] ${l.text}\n`).join('');
    return ok([[1, lines]]);
  }

  private conntrack(ns: Netns, args: string[]): Output {
    const list = args.includes('-L') || args.includes('--dump');
    if (args.includes('-F') || args.includes('--flush')) {
      for (const c of ns.conntrack.entries()) ns.conntrack.remove(c);
      return ok([[2, 'conntrack v1.4.7 (conntrack-tools): connection tracking table has been emptied.\n']]);
    }
    if (!list) return ok([[2, 'conntrack: tsiptables lab simulates -L and -F only\n']], 2);
    const entries = ns.conntrack.entries();
    const lines = entries.map((c) => entryText(c, true) + '\n').join('');
    return ok([[2, `conntrack v1.4.7 (conntrack-tools): ${entries.length} flow entries have been shown.\n`], [1, lines]]);
  }

  /** sysctl -w KEY=VALUE (and KEY=VALUE), sysctl KEY. */
  sysctl(ns: Netns, args: string[]): CmdResult {
    let quiet = false;
    let out = '';
    let err = '';
    let status = 0;
    for (const a of args) {
      if (a.startsWith('-')) {
        if (a.includes('q')) quiet = true;
        continue;
      }
      const m = /^([^=]+)=(.*)$/.exec(a);
      const key = (m ? m[1]! : a).replace(/\//g, '.');
      if (!m) {
        const v = this.readSysctl(ns, key);
        if (v === undefined) {
          err += `sysctl: cannot stat /proc/sys/${key.replace(/\./g, '/')}: No such file or directory\n`;
          status = 255;
        } else out += `${key} = ${v}\n`;
        continue;
      }
      const value = m[2]!.trim();
      const e = this.writeSysctl(ns, key, value);
      if (e) {
        err += `sysctl: ${e}\n`;
        status = 255;
      } else if (!quiet) out += `${key} = ${value}\n`;
    }
    return { stdout: out, stderr: err, status };
  }

  /** `echo 1 > /proc/sys/net/ipv4/ip_forward` in namespace `ns` (the shell's). Returns an error text or undefined. */
  procWrite(ns: Netns, path: string, text: string): string | undefined {
    const key = path.slice('/proc/sys/'.length).replace(/\//g, '.');
    const e = this.writeSysctl(ns, key, text.trim());
    return e === undefined ? undefined : `${path}: No such file or directory`;
  }

  private readSysctl(ns: Netns, key: string): string | undefined {
    if (key === 'net.ipv4.ip_forward' || key === 'net.ipv4.conf.all.forwarding') return ns.host.ipForward ? '1' : '0';
    // net.bridge.bridge-nf-call-iptables and the other br_netfilter sysctls (src/lab/bridge.ts).
    const bridge = readBridgeSysctl(ns, key);
    if (bridge !== undefined) return bridge;
    const rp = /^net\.ipv4\.conf\.([^.]+)\.rp_filter$/.exec(key);
    if (rp) return String(ns.host.rpFilter.get(rp[1]!) ?? 0);
    return undefined;
  }

  private writeSysctl(ns: Netns, key: string, value: string): string | undefined {
    const n = Number(value);
    if (key === 'net.ipv4.ip_forward' || key === 'net.ipv4.conf.all.forwarding') {
      ns.host.ipForward = n !== 0;
      return undefined;
    }
    const rp = /^net\.ipv4\.conf\.([^.]+)\.rp_filter$/.exec(key);
    if (rp) {
      ns.host.rpFilter.set(rp[1]!, n);
      return undefined;
    }
    if (writeBridgeSysctl(ns, key, n)) return undefined; // br_netfilter's (src/lab/bridge.ts)
    // Settings that change nothing the simulation shows (IPv6 off, logging of martians...).
    if (/^net\.(ipv6\.conf\.[^.]+\.disable_ipv6|ipv4\.conf\.[^.]+\.(log_martians|accept_redirects|send_redirects|forwarding)|netfilter\.nf_log_all_netns|ipv4\.icmp_echo_ignore_broadcasts)$/.test(key)) return undefined;
    return `cannot stat /proc/sys/${key.replace(/\./g, '/')}: No such file or directory`;
  }
}

/** icmp_err_convert[]: the errno a TCP connect gets for an ICMP destination unreachable code. */
function icmpErrno(code: number): 'refused' | 'unreachable' | 'noroute' {
  if (code === 3) return 'refused';
  return code === 0 || code === 6 || code === 9 || code === 11 ? 'noroute' : 'unreachable';
}

const UNREACH: Readonly<Record<number, string>> = {
  0: 'Destination Net Unreachable',
  1: 'Destination Host Unreachable',
  2: 'Destination Protocol Unreachable',
  3: 'Destination Port Unreachable',
  9: 'Destination Net Prohibited',
  10: 'Destination Host Prohibited',
  13: 'Packet filtered',
};

/** dmesg's `%5lu.%06lu` timestamp. */
function fmtTime(at: number): string {
  const s = Math.floor(at);
  const us = Math.floor((at - s) * 1e6);
  return `${String(s + 100).padStart(5, ' ')}.${String(us).padStart(6, '0')}`;
}
