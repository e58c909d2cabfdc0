/**
 * The nft evaluator (src/nft/eval): rules compiled from their canonical text run against simulated packets,
 * and the `nft monitor trace` lines, checked against a real recording (scratch/stateless-nat.raw.txt:
 * kernel 6.18, nft 1.0.6) and against runs of the real tools (scratch/nft-eval/).
 */
import { rulesetFromText } from '../src/nft/index';
import type { NftRuleset, NftTable } from '../src/nft/model';
import { monitorLines, runBaseChain, type NftEnv, type NftHook, type NftTraceEvent } from '../src/nft/eval/index';
import { newPacket, type Packet } from '../src/eval/packet';
import type { CtState, ConnView, LogRequest, NatRequest } from '../src/eval/context';
import { RTN } from '../src/eval/context';

const ip = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

interface TestEnv extends NftEnv {
  logs: LogRequest[];
  nats: [NatRequest, string][];
  rejects: string[];
  fwds: string[];
  notracked: number;
  tracing: boolean;
  questions: string[];
}

function makeEnv(pkt: Packet, o: Partial<NftEnv> & { tracing?: boolean; answers?: Record<string, boolean> } = {}): TestEnv {
  const e: TestEnv = {
    pkt,
    family: 'ip',
    hook: 'input',
    ctState: 'NEW' as CtState,
    ct: undefined,
    ctReply: false,
    host: {
      addrType: (a: number) => (a === ip('10.0.0.1') ? RTN.LOCAL : a === ip('255.255.255.255') ? RTN.BROADCAST : RTN.UNICAST),
      route: (dst: number) => (dst === ip('192.0.2.9') ? undefined : { type: RTN.UNICAST, dev: dst >>> 24 === 10 ? 'eth0' : 'eth1', gateway: undefined, prefsrc: undefined }),
      primaryAddress: () => ip('10.0.0.1'),
      macOf: () => '02:00:00:00:00:01',
      isLocalAddress: (a: number) => a === ip('10.0.0.1'),
      ifIndex: (n: string) => ({ lo: 1, eth0: 2, eth1: 3 })[n],
    },
    logs: [],
    nats: [],
    rejects: [],
    fwds: [],
    notracked: 0,
    tracing: o.tracing ?? false,
    questions: [],
    notrack() {
      e.notracked++;
      e.ctState = 'UNTRACKED';
    },
    nat(req, kind) {
      e.nats.push([req, kind]);
    },
    log(req) {
      e.logs.push(req);
    },
    reject(what) {
      e.rejects.push(what);
    },
    fwd(dev) {
      e.fwds.push(dev);
    },
    setTrace(on) {
      e.tracing = on;
    },
    traced() {
      return e.tracing;
    },
    decide(what, question, assumed) {
      e.questions.push(`${what}: ${question}`);
      return o.answers?.[what] ?? assumed;
    },
    countRules: false,
  };
  const { tracing: _t, answers: _a, ...rest } = o;
  return Object.assign(e, rest);
}

function tcp(f: Partial<Packet> = {}): Packet {
  return newPacket({ src: ip('10.0.0.2'), dst: ip('10.0.0.1'), proto: 6, sport: 40000, dport: 80, tcpFlags: 0x02, len: 60, inIface: 'eth0', ...f });
}
function udp(f: Partial<Packet> = {}): Packet {
  return newPacket({ src: ip('10.0.0.2'), dst: ip('10.0.0.1'), proto: 17, sport: 40000, dport: 53, len: 40, inIface: 'eth0', ...f });
}

function table(rs: NftRuleset, family: string, name: string): NftTable {
  return rs.tables.find((t) => t.family === family && t.name === name)!;
}

/** One filter table `t` with an input chain `c` holding `rules`, plus `extra` (chains, sets). */
function rulesetWith(rules: string[], extra = '', policy = 'accept'): NftRuleset {
  return rulesetFromText(`table ip t {\n${extra}\n\tchain c {\n\t\ttype filter hook input priority filter; policy ${policy};\n${rules.map((r) => `\t\t${r}\n`).join('')}\t}\n}\n`);
}

function run(rs: NftRuleset, env: TestEnv, chain = 'c', tname = 't', family = 'ip') {
  const t = table(rs, family, tname);
  return runBaseChain(rs, t, t.chains.get(chain)!, env);
}

/** Does the single rule match the packet (its verdict accept against a drop policy)? */
function matches(rule: string, pkt: Packet, o: Parameters<typeof makeEnv>[1] = {}, extra = ''): boolean {
  const rs = rulesetWith([`${rule} accept`], extra, 'drop');
  return run(rs, makeEnv(pkt, o)).verdict === 'accept';
}

describe('matches', () => {
  test('payload fields, prefixes, ranges, operators', () => {
    expect(matches('ip saddr 10.0.0.2', tcp())).toBe(true);
    expect(matches('ip saddr 10.0.0.3', tcp())).toBe(false);
    expect(matches('ip saddr 10.0.0.0/8', tcp())).toBe(true);
    expect(matches('ip saddr != 10.0.0.0/8', tcp())).toBe(false);
    expect(matches('ip saddr 10.0.0.1-10.0.0.5', tcp())).toBe(true);
    expect(matches('tcp dport 1-1024', tcp())).toBe(true);
    expect(matches('tcp dport 1024-2000', tcp())).toBe(false);
    expect(matches('tcp dport < 81', tcp())).toBe(true);
    expect(matches('tcp dport > 80', tcp())).toBe(false);
    expect(matches('tcp dport >= 80', tcp())).toBe(true);
    expect(matches('tcp dport != 80', tcp())).toBe(false);
    expect(matches('ip ttl 64', tcp())).toBe(true);
    expect(matches('ip protocol tcp', tcp())).toBe(true);
    expect(matches('meta l4proto udp', tcp())).toBe(false);
    expect(matches('ip dscp cs1', tcp({ tos: 0x20 }))).toBe(true);
    expect(matches('ip length 60', tcp())).toBe(true);
    expect(matches('icmp type echo-request', newPacket({ src: 1, dst: 2, proto: 1, icmpType: 8 }))).toBe(true);
    expect(matches('icmp type echo-reply', newPacket({ src: 1, dst: 2, proto: 1, icmpType: 8 }))).toBe(false);
    expect(matches('ether saddr 02:00:00:00:00:aa', tcp({ macSrc: '02:00:00:00:00:aa' }))).toBe(true);
    expect(matches('ether saddr 02:00:00:00:00:aa', tcp())).toBe(false);
  });

  test('a field the packet lacks never matches, whatever the operator', () => {
    expect(matches('tcp dport 53', udp())).toBe(false);
    expect(matches('tcp dport != 53', udp())).toBe(false);
    expect(matches('udp dport 53', udp())).toBe(true);
    expect(matches('th dport 53', udp())).toBe(true);
    expect(matches('ct mark 0x00000000', tcp())).toBe(false);
    expect(matches('meta skuid 0', tcp())).toBe(false);
  });

  test('anonymous sets, intervals, concatenations, named sets', () => {
    expect(matches('tcp dport { 22, 80, 443 }', tcp())).toBe(true);
    expect(matches('tcp dport { 22, 443 }', tcp())).toBe(false);
    expect(matches('tcp dport != { 22, 443 }', tcp())).toBe(true);
    expect(matches('ip saddr { 10.0.0.0/30, 192.168.0.1 }', tcp())).toBe(true);
    expect(matches('tcp dport { 22, 70-90 }', tcp())).toBe(true);
    expect(matches('ip saddr . tcp dport { 10.0.0.2 . 80, 10.0.0.3 . 22 }', tcp())).toBe(true);
    expect(matches('ip saddr . tcp dport { 10.0.0.2 . 22, 10.0.0.3 . 80 }', tcp())).toBe(false);
    const sets = '\tset allowed {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { 10.0.0.0/24, 192.168.1.1 }\n\t}\n\tset svc {\n\t\ttype ipv4_addr . inet_service\n\t\telements = { 10.0.0.2 . 80 }\n\t}';
    expect(matches('ip saddr @allowed', tcp(), {}, sets)).toBe(true);
    expect(matches('ip saddr @allowed', tcp({ src: ip('10.0.1.2') }), {}, sets)).toBe(false);
    expect(matches('ip saddr != @allowed', tcp({ src: ip('10.0.1.2') }), {}, sets)).toBe(true);
    expect(matches('ip saddr . tcp dport @svc', tcp(), {}, sets)).toBe(true);
    expect(matches('ip saddr . tcp dport @svc', tcp({ dport: 81 }), {}, sets)).toBe(false);
  });

  test('bitmasks and flags', () => {
    expect(matches('tcp flags syn', tcp({ tcpFlags: 0x12 }))).toBe(true);
    expect(matches('tcp flags == syn', tcp({ tcpFlags: 0x12 }))).toBe(false);
    expect(matches('tcp flags == syn', tcp({ tcpFlags: 0x02 }))).toBe(true);
    expect(matches('tcp flags syn / fin,syn,rst,ack', tcp({ tcpFlags: 0x02 }))).toBe(true);
    expect(matches('tcp flags syn / fin,syn,rst,ack', tcp({ tcpFlags: 0x12 }))).toBe(false);
    expect(matches('tcp flags & fin,syn,rst,ack == syn', tcp({ tcpFlags: 0x0a }))).toBe(true);
    expect(matches('meta mark & 0x0000ff00 == 0x00000100', tcp({ mark: 0x1_01_ff }))).toBe(true);
    expect(matches('meta mark & 0x0000ff00 == 0x00000100', tcp({ mark: 0x2_00 }))).toBe(false);
    expect(matches('ct state established,related', tcp(), { ctState: 'RELATED' })).toBe(true);
    expect(matches('ct state established,related', tcp(), { ctState: 'NEW' })).toBe(false);
    expect(matches('ct state { established, related }', tcp(), { ctState: 'ESTABLISHED' })).toBe(true);
    expect(matches('ct state new', tcp(), { ctState: 'NEW' })).toBe(true);
    expect(matches('ct state != established', tcp(), { ctState: 'NEW' })).toBe(true);
    expect(matches('ct state invalid', tcp(), { ctState: 'INVALID' })).toBe(true);
    expect(matches('ct state untracked', tcp(), { ctState: 'UNTRACKED' })).toBe(true);
    const conn: ConnView = { orig: { src: 1, dst: 2, proto: 6, sport: 1, dport: 2 }, reply: { src: 2, dst: 1, proto: 6, sport: 2, dport: 1 }, status: 0x0e, mark: 0x101, expires: 100, helper: undefined };
    expect(matches('ct mark & 0x0000ff00 == 0x00000100', tcp(), { ct: conn })).toBe(true);
    expect(matches('ct status assured', tcp(), { ct: conn })).toBe(true);
    expect(matches('ct direction reply', tcp(), { ct: conn, ctReply: true })).toBe(true);
    expect(matches('ct direction original', tcp(), { ct: conn, ctReply: true })).toBe(false);
  });

  test('interfaces and meta keys', () => {
    expect(matches('iifname "eth*"', tcp())).toBe(true);
    expect(matches('iifname "eth1"', tcp())).toBe(false);
    expect(matches('iifname { "lo", "eth0" }', tcp())).toBe(true);
    expect(matches('iif "eth0"', tcp())).toBe(true);
    expect(matches('oifname "eth0"', tcp())).toBe(false);
    expect(matches('meta mark 0x00000005', tcp({ mark: 5 }))).toBe(true);
    expect(matches('meta pkttype host', tcp())).toBe(true);
    expect(matches('meta pkttype broadcast', tcp({ dst: ip('255.255.255.255') }))).toBe(true);
    expect(matches('meta skuid 1000', tcp({ uid: 1000 }))).toBe(true);
    expect(matches('fib daddr type local', tcp())).toBe(true);
    expect(matches('fib daddr type local', tcp({ dst: ip('10.0.0.9') }))).toBe(false);
    expect(matches('fib saddr . iif oif missing', tcp({ src: ip('192.0.2.9') }))).toBe(true);
    expect(matches('fib saddr . iif oif missing', tcp())).toBe(false);
  });

  test('limit asks, and its answer decides', () => {
    const env = makeEnv(tcp());
    expect(run(rulesetWith(['limit rate 10/second accept'], '', 'drop'), env).verdict).toBe('accept');
    expect(env.questions[0]).toMatch(/^limit: limit rate 10\/second/);
    expect(matches('limit rate 10/second', tcp(), { answers: { limit: false } })).toBe(false);
    expect(matches('limit rate over 10/second', tcp(), { answers: { limit: false } })).toBe(true);
  });
});

describe('statements and verdicts', () => {
  test('mark, ct mark, payload rewrites, counters bumped in the text', () => {
    const conn: ConnView = { orig: { src: 1, dst: 2, proto: 6, sport: 1, dport: 2 }, reply: { src: 2, dst: 1, proto: 6, sport: 2, dport: 1 }, status: 0, mark: 0, expires: 100, helper: undefined };
    const rs = rulesetWith([
      'meta mark set 0x00000010 counter packets 0 bytes 0',
      'ct mark set meta mark',
      'meta mark set meta mark & 0xffff00ff | 0x00000100',
      'ip daddr set 10.0.0.7 tcp dport set 8080',
      'counter packets 5 bytes 100 meta mark 0x00000110 accept',
    ]);
    const pkt = tcp();
    const env = makeEnv(pkt, { ct: conn, countRules: true });
    const r = run(rs, env);
    expect(r.verdict).toBe('accept');
    expect(pkt.mark).toBe(0x110);
    expect(conn.mark).toBe(0x10);
    expect(pkt.dst).toBe(ip('10.0.0.7'));
    expect(pkt.dport).toBe(8080);
    const rules = table(rs, 'ip', 't').chains.get('c')!.rules;
    expect(rules[0]!.text).toBe('meta mark set 0x00000010 counter packets 1 bytes 60');
    expect(rules[4]!.text).toBe('counter packets 6 bytes 160 meta mark 0x00000110 accept');
    expect(r.decidedBy).toEqual({ chain: 'c', handle: rules[4]!.handle, policy: false });
    // A second packet: compiled once, counted again.
    run(rs, makeEnv(tcp(), { ct: conn, countRules: true }));
    expect(rules[0]!.text).toBe('meta mark set 0x00000010 counter packets 2 bytes 120');
  });

  test('jump, goto, return, end of a regular chain, policy', () => {
    const extra = '\tchain a {\n\t\ttcp dport 22 return\n\t\tmeta mark set 0x00000001\n\t}\n\tchain b {\n\t\tmeta mark set 0x00000002\n\t}\n\tchain d {\n\t\ttcp dport 80 drop\n\t}';
    const rs = rulesetWith(['jump a', 'tcp dport 443 goto b', 'meta mark 0x00000002 accept', 'jump d'], extra, 'accept');
    const p1 = tcp({ dport: 22 });
    expect(run(rs, makeEnv(p1)).verdict).toBe('accept');
    expect(p1.mark).toBe(0);
    const p2 = tcp({ dport: 443 });
    const r2 = run(rs, makeEnv(p2));
    // goto b: b's end returns to c's caller (none): the policy, not c's next rule.
    expect(p2.mark).toBe(2);
    expect(r2.decidedBy).toEqual({ chain: 'c', handle: 0, policy: true });
    const r3 = run(rs, makeEnv(tcp({ dport: 80 })));
    expect(r3.verdict).toBe('drop');
    expect(r3.decidedBy?.chain).toBe('d');
  });

  test('vmaps (anonymous and named)', () => {
    const extra = '\tmap m {\n\t\ttype inet_service : verdict\n\t\telements = { 22 : accept, 80 : jump web }\n\t}\n\tchain web {\n\t\tip saddr 10.0.0.2 drop\n\t}';
    const rs = rulesetWith(['ip daddr vmap { 10.0.0.9 : drop, 10.0.0.1 : continue }', 'tcp dport vmap @m'], extra, 'accept');
    expect(run(rs, makeEnv(tcp({ dport: 80 }))).verdict).toBe('drop');
    expect(run(rs, makeEnv(tcp({ dport: 81 }))).decidedBy?.policy).toBe(true);
    expect(run(rs, makeEnv(tcp({ dst: ip('10.0.0.9') }))).verdict).toBe('drop');
  });

  test('nat, reject, log, notrack, fwd', () => {
    const rsn = rulesetFromText('table ip n {\n\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\ttcp dport 80 dnat to 192.168.1.10:8080\n\t\tudp dport 53 dnat to 192.168.1.1-192.168.1.3\n\t}\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\toifname "eth1" masquerade random\n\t\tsnat to 1.2.3.4\n\t}\n}\n');
    const env = makeEnv(tcp(), { hook: 'prerouting' });
    const t = table(rsn, 'ip', 'n');
    expect(runBaseChain(rsn, t, t.chains.get('pre')!, env).verdict).toBe('accept');
    expect(env.nats).toEqual([[{ kind: 'DNAT', minAddr: ip('192.168.1.10'), maxAddr: ip('192.168.1.10'), mapPorts: true, minPort: 8080, maxPort: 8080, random: false, fullyRandom: false, persistent: false }, 'dnat']]);
    const env2 = makeEnv(udp(), { hook: 'prerouting' });
    runBaseChain(rsn, t, t.chains.get('pre')!, env2);
    expect(env2.nats[0]![0]).toMatchObject({ minAddr: ip('192.168.1.1'), maxAddr: ip('192.168.1.3'), mapPorts: false });
    const env3 = makeEnv(udp({ outIface: 'eth1' }), { hook: 'postrouting' });
    runBaseChain(rsn, t, t.chains.get('post')!, env3);
    expect(env3.nats[0]).toEqual([{ kind: 'MASQUERADE', minAddr: 0, maxAddr: 0, mapPorts: false, minPort: 0, maxPort: 0, random: true, fullyRandom: false, persistent: false }, 'masquerade']);

    const rs = rulesetWith(['tcp dport 22 reject with tcp reset', 'tcp dport 23 reject', 'tcp dport 24 reject with icmp host-unreachable', 'log prefix "in: " level info flags tcp sequence,options', 'notrack']);
    const e1 = makeEnv(tcp({ dport: 22 }));
    expect(run(rs, e1).verdict).toBe('drop');
    expect(e1.rejects).toEqual(['tcp-reset']);
    const e2 = makeEnv(tcp({ dport: 23 }));
    run(rs, e2);
    expect(e2.rejects).toEqual(['icmp-port-unreachable']);
    const e3 = makeEnv(tcp({ dport: 24 }));
    run(rs, e3);
    expect(e3.rejects).toEqual(['icmp-host-unreachable']);
    const e4 = makeEnv(tcp({ dport: 25 }));
    expect(run(rs, e4).verdict).toBe('accept');
    expect(e4.logs).toEqual([{ prefix: 'in: ', level: 6, flags: 3 }]);
    expect(e4.notracked).toBe(1);
  });
});

describe('trace events', () => {
  test('events only while traced, the packet once per base chain, misses always', () => {
    const extra = '\tchain sub {\n\t\tudp dport 9 accept\n\t}';
    const rs = rulesetWith(['tcp dport 22 accept', 'meta nftrace set 1', 'jump sub', 'counter packets 0 bytes 0'], extra, 'drop');
    const env = makeEnv(tcp());
    const r = run(rs, env);
    expect(r.verdict).toBe('drop');
    expect(r.events.map((e) => `${e.kind}:${e.chain.name}`)).toEqual(['miss:c', 'packet:c', 'rule:c', 'rule:c', 'miss:sub', 'return:sub', 'rule:c', 'policy:c']);
    const miss = r.events[0] as Extract<NftTraceEvent, { kind: 'miss' }>;
    expect(miss.why).toBe('tcp dport 22 (tcp dport is 80)');
    expect(monitorLines(r.events, '0000abcd', 'input', 'ip')).toEqual([
      'trace id 0000abcd ip t c packet: iif "eth0" ip saddr 10.0.0.2 ip daddr 10.0.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 0 ip length 60 tcp sport 40000 tcp dport 80 tcp flags == syn tcp window 0 ',
      'trace id 0000abcd ip t c rule meta nftrace set 1 (verdict continue)',
      'trace id 0000abcd ip t c rule jump sub (verdict jump sub)',
      'trace id 0000abcd ip t c rule counter packets 0 bytes 0 (verdict continue)',
      'trace id 0000abcd ip t c policy drop ',
    ]);
  });
});

/** The recording: `trace id` lines of scratch/stateless-nat.raw.txt (three namespaces, stateless NAT in netdev). */
describe('monitor lines as the real nft prints them', () => {
  const stateless = rulesetFromText(`table netdev stateless {
	chain from_client {
		type filter hook ingress device "eth0" priority -500; policy accept;
		ip daddr 10.0.1.1 tcp dport 80 meta nftrace set 1 meta mark set 0x00000001 ip daddr set 10.0.2.2
	}

	chain from_backend {
		type filter hook ingress device "eth1" priority -500; policy accept;
		ip saddr 10.0.2.2 tcp sport 80 meta nftrace set 1 meta mark set 0x00000002
	}

	chain to_client {
		type filter hook egress device "eth0" priority filter; policy accept;
		meta mark 0x00000002 ip saddr set 10.0.1.1
	}
}
table ip bypass {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		meta mark { 0x00000001, 0x00000002 } notrack
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state untracked meta mark 0x00000001 counter packets 0 bytes 0 accept
		ct state untracked meta mark 0x00000002 counter packets 0 bytes 0 accept
	}
}
`);
  const chainRun = (env: TestEnv, family: string, tname: string, chain: string, hook: NftHook): string[] => {
    const t = table(stateless, family, tname);
    env.family = t.family;
    env.hook = hook;
    const r = runBaseChain(stateless, t, t.chains.get(chain)!, env);
    return monitorLines(r.events, 'd4c4fba9', hook, t.family, { l4checksum: 'partial' });
  };

  test('the client SYN: ingress (netdev), prerouting, forward', () => {
    const pkt = newPacket({ src: ip('10.0.1.2'), dst: ip('10.0.1.1'), proto: 6, sport: 44420, dport: 80, tcpFlags: 0x02, window: 64240, id: 21405, len: 60, inIface: 'eth0', macSrc: 'ca:fd:4e:36:78:d9', macDst: 'd6:07:c6:b9:a0:5b' });
    const env = makeEnv(pkt, { ctState: 'INVALID', countRules: true });
    const lines = [
      ...chainRun(env, 'netdev', 'stateless', 'from_client', 'ingress'),
      ...chainRun(env, 'ip', 'bypass', 'pre', 'prerouting'),
    ];
    expect(env.notracked).toBe(1);
    pkt.ttl = 63;
    pkt.outIface = 'eth1';
    lines.push(...chainRun(env, 'ip', 'bypass', 'forward', 'forward'));
    expect(lines).toEqual([
      'trace id d4c4fba9 netdev stateless from_client packet: iif "eth0" ether saddr ca:fd:4e:36:78:d9 ether daddr d6:07:c6:b9:a0:5b ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 21405 ip protocol tcp ip length 60 tcp sport 44420 tcp dport 80 tcp flags == syn tcp window 64240 ',
      'trace id d4c4fba9 netdev stateless from_client rule ip daddr 10.0.1.1 tcp dport 80 meta nftrace set 1 meta mark set 0x00000001 ip daddr set 10.0.2.2 (verdict continue)',
      'trace id d4c4fba9 netdev stateless from_client policy accept meta mark 0x00000001 ',
      'trace id d4c4fba9 ip bypass pre packet: iif "eth0" ether saddr ca:fd:4e:36:78:d9 ether daddr d6:07:c6:b9:a0:5b ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 21405 ip length 60 tcp sport 44420 tcp dport 80 tcp flags == syn tcp window 64240 ',
      'trace id d4c4fba9 ip bypass pre rule meta mark { 0x00000001, 0x00000002 } notrack (verdict continue)',
      'trace id d4c4fba9 ip bypass pre policy accept meta mark 0x00000001 ',
      'trace id d4c4fba9 ip bypass forward packet: iif "eth0" oif "eth1" ether saddr ca:fd:4e:36:78:d9 ether daddr d6:07:c6:b9:a0:5b ip saddr 10.0.1.2 ip daddr 10.0.2.2 ip dscp cs0 ip ecn not-ect ip ttl 63 ip id 21405 ip length 60 tcp sport 44420 tcp dport 80 tcp flags == syn tcp window 64240 ',
      'trace id d4c4fba9 ip bypass forward rule ct state untracked meta mark 0x00000001 counter packets 0 bytes 0 accept (verdict accept)',
    ]);
    // The rule's own counter moved; the monitor prints the text as listed when it started.
    expect(table(stateless, 'ip', 'bypass').chains.get('forward')!.rules[0]!.text).toBe('ct state untracked meta mark 0x00000001 counter packets 1 bytes 60 accept');
  });

  test('the backend SYN-ACK at egress: raw network and transport headers', () => {
    const opts = new Uint8Array(20);
    const pkt = newPacket({ src: ip('10.0.2.2'), dst: ip('10.0.1.2'), proto: 6, sport: 80, dport: 44420, tcpFlags: 0x12, window: 65160, seq: 0xfb729443, ackSeq: 0xee2efa02, tcpOptions: opts, id: 0, ttl: 63, len: 60, mark: 2, outIface: 'eth0' });
    const env = makeEnv(pkt, { tracing: true });
    const lines = chainRun(env, 'netdev', 'stateless', 'to_client', 'egress');
    // The TCP checksum is veth's partial one (the pseudo-header sum), after the `ip saddr set`.
    expect(lines).toEqual([
      'trace id d4c4fba9 netdev stateless to_client packet: oif "eth0" @nh,0,160 0x4500003c000040003f0625ba0a0001010a000102 @th,0,160 0x50ad84fb729443ee2efa02a012fe8816310000 ',
      'trace id d4c4fba9 netdev stateless to_client rule meta mark 0x00000002 ip saddr set 10.0.1.1 (verdict continue)',
      'trace id d4c4fba9 netdev stateless to_client policy accept meta mark 0x00000002 ',
    ]);
  });
});

/** Runs of the real tools (scratch/nft-eval/exp1.sh, exp2.sh; kernel 6.18, nft 1.0.6) and their monitor output. */
describe('monitor lines of the experiments', () => {
  const macB = 'a6:02:44:05:16:8a';
  const macA0 = '22:ad:43:d4:c1:60';
  const exp2 = rulesetFromText(`table netdev nd {
	chain ing {
		type filter hook ingress device "veth0" priority 0; policy accept;
		meta l4proto { icmp, udp } meta nftrace set 1
	}
	chain eg {
		type filter hook egress device "veth1" priority 0; policy accept;
		udp dport 7001 counter packets 0 bytes 0
		meta mark set 0x00000003
	}
}
table inet nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		udp dport 7000 dnat ip to 10.9.1.2:7001
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "veth1" masquerade
	}
}
table ip f {
	chain fw {
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		ct state new ct status dnat accept
		udp dport 7002 drop
	}
}
`);
  const step = (rs: NftRuleset, env: TestEnv, family: string, tname: string, chain: string, hook: NftHook, id: string): string[] => {
    const t = table(rs, family, tname);
    env.family = t.family;
    env.hook = hook;
    return monitorLines(runBaseChain(rs, t, t.chains.get(chain)!, env).events, id, hook, t.family, { l4checksum: 'partial' });
  };

  test('udp through netdev ingress, inet dnat, ip forward, inet masquerade, netdev egress (exp2)', () => {
    const pkt = newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.1'), proto: 17, sport: 41000, dport: 7000, id: 52511, len: 33, payload: 'hello', inIface: 'veth0', macSrc: macB, macDst: macA0 });
    const env = makeEnv(pkt, { ctState: 'INVALID' });
    const id = 'dbedb879';
    const lines = step(exp2, env, 'netdev', 'nd', 'ing', 'ingress', id);
    env.ctState = 'NEW';
    lines.push(...step(exp2, env, 'inet', 'nat', 'pre', 'prerouting', id));
    expect(env.nats[0]![0]).toMatchObject({ kind: 'DNAT', minAddr: ip('10.9.1.2'), minPort: 7001, mapPorts: true });
    // What the integrator does after the nat chain: the DNAT, routing, the forward hop.
    Object.assign(pkt, { dst: ip('10.9.1.2'), dport: 7001, ttl: 63, outIface: 'veth1' });
    const status = 0x20 | 0x08;
    env.ct = { orig: { src: 0, dst: 0, proto: 17, sport: 0, dport: 0 }, reply: { src: 0, dst: 0, proto: 17, sport: 0, dport: 0 }, status, mark: 0, expires: 30, helper: undefined };
    lines.push(...step(exp2, env, 'ip', 'f', 'fw', 'forward', id));
    lines.push(...step(exp2, env, 'inet', 'nat', 'post', 'postrouting', id));
    expect(env.nats[1]![1]).toBe('masquerade');
    pkt.src = ip('10.9.1.1');
    lines.push(...step(exp2, env, 'netdev', 'nd', 'eg', 'egress', id));
    expect(lines).toEqual([
      'trace id dbedb879 netdev nd ing packet: iif "veth0" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 52511 ip protocol udp ip length 33 udp sport 41000 udp dport 7000 udp length 13 @th,64,40 0x68656c6c6f ',
      'trace id dbedb879 netdev nd ing rule meta l4proto { icmp, udp } meta nftrace set 1 (verdict continue)',
      'trace id dbedb879 netdev nd ing policy accept ',
      'trace id dbedb879 inet nat pre packet: iif "veth0" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 52511 ip protocol udp ip length 33 udp sport 41000 udp dport 7000 udp length 13 @th,64,40 0x68656c6c6f ',
      'trace id dbedb879 inet nat pre rule udp dport 7000 dnat ip to 10.9.1.2:7001 (verdict accept)',
      'trace id dbedb879 ip f fw packet: iif "veth0" oif "veth1" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.1.2 ip dscp cs0 ip ecn not-ect ip ttl 63 ip id 52511 ip length 33 udp sport 41000 udp dport 7001 udp length 13 @th,64,40 0x68656c6c6f ',
      'trace id dbedb879 ip f fw rule ct state new ct status dnat accept (verdict accept)',
      'trace id dbedb879 inet nat post packet: iif "veth0" oif "veth1" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.1.2 ip dscp cs0 ip ecn not-ect ip ttl 63 ip id 52511 ip protocol udp ip length 33 udp sport 41000 udp dport 7001 udp length 13 @th,64,40 0x68656c6c6f ',
      'trace id dbedb879 inet nat post rule oifname "veth1" masquerade (verdict accept)',
      'trace id dbedb879 netdev nd eg packet: oif "veth1" @nh,0,160 0x45000021cd1f40003f1158980a0901010a090102 @th,0,104 0xa0281b59000d163368656c6c6f ',
      'trace id dbedb879 netdev nd eg rule udp dport 7001 counter packets 0 bytes 0 (verdict continue)',
      'trace id dbedb879 netdev nd eg rule meta mark set 0x00000003 (verdict continue)',
      'trace id dbedb879 netdev nd eg policy accept meta mark 0x00000003 ',
    ]);
  });

  test('an icmp echo with dscp and ecn; a forwarded udp dropped (exp2)', () => {
    const echo = newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.1'), proto: 1, icmpType: 8, icmpId: 0x1234, icmpSeq: 7, tos: 0xb9, id: 9530, len: 44, payload: 'abcdefghijklmnop', inIface: 'veth0', macSrc: macB, macDst: macA0 });
    const env = makeEnv(echo, { ctState: 'INVALID' });
    const lines = step(exp2, env, 'netdev', 'nd', 'ing', 'ingress', '976d9ce1');
    lines.push(...step(exp2, env, 'inet', 'nat', 'pre', 'prerouting', '976d9ce1'));
    expect(lines).toEqual([
      'trace id 976d9ce1 netdev nd ing packet: iif "veth0" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp ef ip ecn ect1 ip ttl 64 ip id 9530 ip protocol icmp ip length 44 icmp type echo-request icmp code net-unreachable icmp id 4660 icmp sequence 7 @th,64,96 0x6162636465666768696a6b6c ',
      'trace id 976d9ce1 netdev nd ing rule meta l4proto { icmp, udp } meta nftrace set 1 (verdict continue)',
      'trace id 976d9ce1 netdev nd ing policy accept ',
      'trace id 976d9ce1 inet nat pre packet: iif "veth0" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp ef ip ecn ect1 ip ttl 64 ip id 9530 ip protocol icmp ip length 44 icmp type echo-request icmp code net-unreachable icmp id 4660 icmp sequence 7 @th,64,96 0x6162636465666768696a6b6c ',
      'trace id 976d9ce1 inet nat pre policy accept ',
    ]);
    const u = newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.1.2'), proto: 17, sport: 41001, dport: 7002, id: 29568, len: 28, ttl: 63, inIface: 'veth0', outIface: 'veth1', macSrc: macB, macDst: macA0 });
    const r = runBaseChain(exp2, table(exp2, 'ip', 'f'), table(exp2, 'ip', 'f').chains.get('fw')!, makeEnv(u, { tracing: true, hook: 'forward' }));
    expect(r.verdict).toBe('drop');
    expect(monitorLines(r.events, '61b07863', 'forward', 'ip')).toEqual([
      'trace id 61b07863 ip f fw packet: iif "veth0" oif "veth1" ether saddr a6:02:44:05:16:8a ether daddr 22:ad:43:d4:c1:60 ip saddr 10.9.0.2 ip daddr 10.9.1.2 ip dscp cs0 ip ecn not-ect ip ttl 63 ip id 29568 ip length 28 udp sport 41001 udp dport 7002 udp length 8 ',
      'trace id 61b07863 ip f fw rule udp dport 7002 drop (verdict drop)',
    ]);
  });

  const exp1 = rulesetFromText(`table ip t {
	chain in {
		type filter hook input priority 0; policy accept;
		icmp type echo-request jump sub
		udp dport 5000 goto sub2
		udp dport 5002 ip daddr vmap { 10.9.0.1 : jump sub3 }
	}
	chain sub {
		meta mark set 0x00000005 return
	}
	chain sub2 {
		counter packets 0 bytes 0
	}
	chain sub3 {
		ip saddr 1.2.3.4 accept
	}
	chain outc {
		type filter hook output priority 0; policy accept;
		meta nftrace set 1
	}
}
table inet ti {
	chain in {
		type filter hook input priority 10; policy accept;
		counter packets 1 bytes 84
	}
}
`);
  const macB1 = 'ee:d6:08:a0:6c:fe';
  const macA1 = 'aa:c8:79:91:c8:0a';

  test('explicit return, goto, vmap jump, the inet family, a local icmp error (exp1)', () => {
    // The ping's data: its timestamp as ping wrote it (the first 12 bytes are dumped).
    const data = String.fromCharCode(0x95, 0x9f, 0x0f, 0x6b, 0, 0, 0, 0, 0x53, 0x22, 0x05, 0x00) + 'x'.repeat(44);
    const ping = newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.1'), proto: 1, icmpType: 8, icmpId: 9209, icmpSeq: 1, id: 7914, len: 84, payload: data, inIface: 'veth0', macSrc: macB1, macDst: macA1 });
    const env = makeEnv(ping, { tracing: true });
    const lines = step(exp1, env, 'ip', 't', 'in', 'input', '78bd3fa7');
    lines.push(...step(exp1, env, 'inet', 'ti', 'in', 'input', '78bd3fa7'));
    expect(lines).toEqual([
      'trace id 78bd3fa7 ip t in packet: iif "veth0" ether saddr ee:d6:08:a0:6c:fe ether daddr aa:c8:79:91:c8:0a ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 7914 ip length 84 icmp type echo-request icmp code net-unreachable icmp id 9209 icmp sequence 1 @th,64,96 0x959f0f6b0000000053220500 ',
      'trace id 78bd3fa7 ip t in rule icmp type echo-request jump sub (verdict jump sub)',
      'trace id 78bd3fa7 ip t sub rule meta mark set 0x00000005 return (verdict return)',
      'trace id 78bd3fa7 ip t in policy accept meta mark 0x00000005 ',
      'trace id 78bd3fa7 inet ti in packet: iif "veth0" ether saddr ee:d6:08:a0:6c:fe ether daddr aa:c8:79:91:c8:0a ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 7914 ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id 9209 icmp sequence 1 @th,64,96 0x959f0f6b0000000053220500 ',
      'trace id 78bd3fa7 inet ti in rule counter packets 1 bytes 84 (verdict continue)',
      'trace id 78bd3fa7 inet ti in policy accept meta mark 0x00000005 ',
    ]);
    const u = (dport: number, id: number, len: number, payload: string): Packet => newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.1'), proto: 17, sport: dport === 5000 ? 35719 : 45510, dport, id, len, payload, inIface: 'veth0', macSrc: macB1, macDst: macA1 });
    expect(step(exp1, makeEnv(u(5000, 51933, 33, 'hello'), { tracing: true }), 'ip', 't', 'in', 'input', '2a5d4322')).toEqual([
      'trace id 2a5d4322 ip t in packet: iif "veth0" ether saddr ee:d6:08:a0:6c:fe ether daddr aa:c8:79:91:c8:0a ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 51933 ip length 33 udp sport 35719 udp dport 5000 udp length 13 @th,64,40 0x68656c6c6f ',
      'trace id 2a5d4322 ip t in rule udp dport 5000 goto sub2 (verdict goto sub2)',
      'trace id 2a5d4322 ip t sub2 rule counter packets 0 bytes 0 (verdict continue)',
      'trace id 2a5d4322 ip t in policy accept ',
    ]);
    expect(step(exp1, makeEnv(u(5002, 52023, 28, ''), { tracing: true }), 'ip', 't', 'in', 'input', 'f78abf02')).toEqual([
      'trace id f78abf02 ip t in packet: iif "veth0" ether saddr ee:d6:08:a0:6c:fe ether daddr aa:c8:79:91:c8:0a ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 52023 ip length 28 udp sport 45510 udp dport 5002 udp length 8 ',
      'trace id f78abf02 ip t in rule udp dport 5002 ip daddr vmap { 10.9.0.1 : jump sub3 } (verdict jump sub3)',
      'trace id f78abf02 ip t in policy accept ',
    ]);
    // The port unreachable the udp to 5000 caused, leaving by the output hook: no iif, no ether.
    const err = newPacket({
      src: ip('10.9.0.1'), dst: ip('10.9.0.2'), proto: 1, icmpType: 3, icmpCode: 3, tos: 0xc0, id: 30761, df: false, len: 61, outIface: 'veth0',
      quoted: { src: ip('10.9.0.2'), dst: ip('10.9.0.1'), proto: 17, tos: 0, ttl: 64, id: 51933, df: true, len: 33, sport: 35719, dport: 5000, seq: 0, icmpType: 0, icmpCode: 0, icmpId: 0, icmpSeq: 0 },
    });
    expect(step(exp1, makeEnv(err, { ctState: 'RELATED' }), 'ip', 't', 'outc', 'output', '75b52b3c')).toEqual([
      'trace id 75b52b3c ip t outc packet: oif "veth0" ip saddr 10.9.0.1 ip daddr 10.9.0.2 ip dscp cs6 ip ecn not-ect ip ttl 64 ip id 30761 ip length 61 icmp type destination-unreachable icmp code port-unreachable icmp id 0 icmp sequence 0 @th,64,96 0x45000021cadd400040115bda ',
      'trace id 75b52b3c ip t outc rule meta nftrace set 1 (verdict continue)',
      'trace id 75b52b3c ip t outc policy accept ',
    ]);
  });
});

describe('monitor lines of experiment 3 (bridge, tracing switched on in a jumped-to chain, tcp at egress)', () => {
  const rs = rulesetFromText(`table bridge tb {
	chain fw {
		type filter hook forward priority 0; policy accept;
		ip protocol icmp meta nftrace set 1
		ether type ip counter packets 0 bytes 0
	}
}
table inet j {
	chain in {
		type filter hook input priority 0; policy accept;
		tcp dport 9000 jump s
	}
	chain s {
		meta nftrace set 1
		tcp dport 9000 counter packets 0 bytes 0
	}
}
table netdev e {
	chain eg {
		type filter hook egress device "eth0" priority 0; policy accept;
		tcp dport 9100 meta nftrace set 1
	}
}
`);
  const go = (family: string, tname: string, chain: string, hook: NftHook, pkt: Packet, id: string): string[] => {
    const t = table(rs, family, tname);
    const env = makeEnv(pkt, { family: t.family, hook });
    return monitorLines(runBaseChain(rs, t, t.chains.get(chain)!, env).events, id, hook, t.family, { l4checksum: 'partial' });
  };

  test('a bridged ping: both ports, ether, ip protocol kept', () => {
    const data = String.fromCharCode(0xc9, 0xa0, 0x0f, 0x6b, 0, 0, 0, 0, 0x52, 0xd6, 0x07, 0x00) + '\0'.repeat(44);
    const pkt = newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.3'), proto: 1, icmpType: 8, icmpId: 15647, icmpSeq: 1, id: 41389, len: 84, payload: data, inIface: 'veth0', outIface: 'veth1', macSrc: 'ee:b6:ab:04:d6:c1', macDst: '22:c5:f7:7d:e3:ee' });
    expect(go('bridge', 'tb', 'fw', 'forward', pkt, '979a4db5')).toEqual([
      'trace id 979a4db5 bridge tb fw packet: iif "veth0" oif "veth1" ether saddr ee:b6:ab:04:d6:c1 ether daddr 22:c5:f7:7d:e3:ee ip saddr 10.9.0.2 ip daddr 10.9.0.3 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 41389 ip protocol icmp ip length 84 icmp type echo-request icmp code net-unreachable icmp id 15647 icmp sequence 1 @th,64,96 0xc9a00f6b0000000052d60700 ',
      'trace id 979a4db5 bridge tb fw rule ip protocol icmp meta nftrace set 1 (verdict continue)',
      'trace id 979a4db5 bridge tb fw rule ether type ip counter packets 0 bytes 0 (verdict continue)',
      'trace id 979a4db5 bridge tb fw policy accept ',
    ]);
  });

  test('tracing switched on in a regular chain: the packet line names it, its end prints nothing', () => {
    const pkt = newPacket({ src: ip('10.9.0.3'), dst: ip('10.9.0.1'), proto: 6, sport: 43132, dport: 9000, tcpFlags: 2, window: 64240, id: 22009, len: 60, inIface: 'br0', macSrc: '22:c5:f7:7d:e3:ee', macDst: '5a:89:d0:d5:2c:eb' });
    expect(go('inet', 'j', 'in', 'input', pkt, '4add0211')).toEqual([
      'trace id 4add0211 inet j s packet: iif "br0" ether saddr 22:c5:f7:7d:e3:ee ether daddr 5a:89:d0:d5:2c:eb ip saddr 10.9.0.3 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 22009 ip protocol tcp ip length 60 tcp sport 43132 tcp dport 9000 tcp flags == syn tcp window 64240 ',
      'trace id 4add0211 inet j s rule meta nftrace set 1 (verdict continue)',
      'trace id 4add0211 inet j s rule tcp dport 9000 counter packets 0 bytes 0 (verdict continue)',
      'trace id 4add0211 inet j in policy accept ',
    ]);
  });

  test('tcp data leaving by netdev egress: raw headers, the partial checksum counts the data', () => {
    // 12 bytes of TCP options (timestamps) and "hello world\\n": the header's first 20 bytes are dumped.
    const pkt = newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.3'), proto: 6, sport: 0xe77e, dport: 9100, seq: 0x238b142a, ackSeq: 0x1ebad57e, tcpFlags: 0x18, window: 63, tcpOptions: new Uint8Array(12), id: 0x3bf0, len: 64, payload: 'hello world\n', outIface: 'eth0' });
    expect(go('netdev', 'e', 'eg', 'egress', pkt, '55a85330')[0]).toBe(
      'trace id 55a85330 netdev e eg packet: oif "eth0" @nh,0,160 0x450000403bf040004006eab10a0900020a090003 @th,0,160 0xe77e238c238b142a1ebad57e8018003f14490000 ',
    );
  });
});

test('loopback: oif "lo" at output, iif "lo" with the raw zeroed link header at input (exp4)', () => {
  const rs = rulesetFromText('table ip t {\n\tchain o {\n\t\ttype filter hook output priority 0; policy accept;\n\t\tudp dport 5555 meta nftrace set 1\n\t}\n\tchain i {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tudp dport 5555 counter packets 0 bytes 0\n\t}\n}\n');
  const t = table(rs, 'ip', 't');
  const pkt = newPacket({ src: ip('127.0.0.1'), dst: ip('127.0.0.1'), proto: 17, sport: 46251, dport: 5555, id: 37692, len: 32, payload: 'ping', outIface: 'lo' });
  const env = makeEnv(pkt, { hook: 'output' });
  const lines = monitorLines(runBaseChain(rs, t, t.chains.get('o')!, env).events, 'fd9ddf3f', 'output', 'ip');
  pkt.inIface = 'lo';
  pkt.outIface = null;
  env.hook = 'input';
  lines.push(...monitorLines(runBaseChain(rs, t, t.chains.get('i')!, env).events, 'bb224c8e', 'input', 'ip'));
  expect(lines).toEqual([
    'trace id fd9ddf3f ip t o packet: oif "lo" ip saddr 127.0.0.1 ip daddr 127.0.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 37692 ip length 32 udp sport 46251 udp dport 5555 udp length 12 @th,64,32 0x70696e67 ',
    'trace id fd9ddf3f ip t o rule udp dport 5555 meta nftrace set 1 (verdict continue)',
    'trace id fd9ddf3f ip t o policy accept ',
    'trace id bb224c8e ip t i packet: iif "lo" @ll,0,112 0x800 ip saddr 127.0.0.1 ip daddr 127.0.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 37692 ip length 32 udp sport 46251 udp dport 5555 udp length 12 @th,64,32 0x70696e67 ',
    'trace id bb224c8e ip t i rule udp dport 5555 counter packets 0 bytes 0 (verdict continue)',
    'trace id bb224c8e ip t i policy accept ',
  ]);
});

test('rules compile once: the same text (counters aside) gives the same closures', async () => {
  const { compileRule } = await import('../src/nft/eval/index');
  const a = compileRule('tcp dport 22 counter packets 1 bytes 60 accept');
  expect(compileRule('tcp dport 22 counter packets 9 bytes 999 accept')).toBe(a);
  expect(compileRule('tcp dport 23 counter packets 1 bytes 60 accept')).not.toBe(a);
  // A large chain runs fast: 5000 rules that miss, one that matches.
  const rules = Array.from({ length: 5000 }, (_, i) => `ip saddr 192.168.${i >> 8}.${i & 255} tcp dport { 22, 80 } counter packets 0 bytes 0 drop`);
  const rs = rulesetWith([...rules, 'tcp dport 80 accept']);
  const t0 = Date.now();
  for (let k = 0; k < 20; k++) expect(run(rs, makeEnv(tcp())).verdict).toBe('accept');
  expect(Date.now() - t0).toBeLessThan(3000);
});

test('fwd is stolen; a vmap without the element continues; policy drop with the mark (exp5)', () => {
  const rs = rulesetFromText(`table netdev nd {
	chain ing {
		type filter hook ingress device "veth0" priority 0; policy accept;
		meta nftrace set 1
		udp dport 8000 fwd to "veth1"
	}
}
table inet f {
	chain in {
		type filter hook input priority 0; policy drop;
		ct state vmap { established : accept, related : accept, invalid : drop }
		udp dport 8001 meta mark set 0x00000009
	}
}
`);
  const mac = { macSrc: '96:3b:77:6e:c8:46', macDst: 'ca:90:53:df:12:bf', inIface: 'veth0' };
  const nd = table(rs, 'netdev', 'nd');
  const e1 = makeEnv(newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.3'), proto: 17, sport: 46328, dport: 8000, id: 14351, len: 29, payload: 'f', ...mac }), { family: 'netdev', hook: 'ingress', ctState: 'INVALID' });
  const r1 = runBaseChain(rs, nd, nd.chains.get('ing')!, e1);
  expect(r1.verdict).toBe('stolen');
  expect(e1.fwds).toEqual(['veth1']);
  expect(monitorLines(r1.events, '4ab294c2', 'ingress', 'netdev')).toEqual([
    'trace id 4ab294c2 netdev nd ing packet: iif "veth0" ether saddr 96:3b:77:6e:c8:46 ether daddr ca:90:53:df:12:bf ip saddr 10.9.0.2 ip daddr 10.9.0.3 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 14351 ip protocol udp ip length 29 udp sport 46328 udp dport 8000 udp length 9 @th,64,8 0x66 ',
    'trace id 4ab294c2 netdev nd ing rule meta nftrace set 1 (verdict continue)',
    'trace id 4ab294c2 netdev nd ing rule udp dport 8000 fwd to "veth1" (verdict stolen)',
  ]);
  const f = table(rs, 'inet', 'f');
  const e2 = makeEnv(newPacket({ src: ip('10.9.0.2'), dst: ip('10.9.0.1'), proto: 17, sport: 40566, dport: 8001, id: 55527, len: 29, payload: 'g', ...mac, macSrc: 'da:73:7d:ef:fc:c4', macDst: '7e:f4:ad:3a:b3:ba' }), { family: 'inet', hook: 'input', ctState: 'NEW', tracing: true });
  const r2 = runBaseChain(rs, f, f.chains.get('in')!, e2);
  expect(r2.verdict).toBe('drop');
  expect(monitorLines(r2.events, '923872be', 'input', 'inet')).toEqual([
    'trace id 923872be inet f in packet: iif "veth0" ether saddr da:73:7d:ef:fc:c4 ether daddr 7e:f4:ad:3a:b3:ba ip saddr 10.9.0.2 ip daddr 10.9.0.1 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 55527 ip protocol udp ip length 29 udp sport 40566 udp dport 8001 udp length 9 @th,64,8 0x67 ',
    'trace id 923872be inet f in rule udp dport 8001 meta mark set 0x00000009 (verdict continue)',
    'trace id 923872be inet f in policy drop meta mark 0x00000009 ',
  ]);
  const r3 = runBaseChain(rs, f, f.chains.get('in')!, makeEnv(newPacket({ src: 1, dst: 2, proto: 17, dport: 9 }), { ctState: 'ESTABLISHED' }));
  expect(r3.verdict).toBe('accept');
});

test('reject with tcp reset depends on tcp; dnat through a map; ct mark and meta mark copies', () => {
  const rs = rulesetWith(['reject with tcp reset', 'meta mark set ct mark', 'ct mark set 0x00000042', 'accept']);
  const e1 = makeEnv(udp());
  expect(run(rs, e1).verdict).toBe('accept');
  expect(e1.rejects).toEqual([]);
  const conn: ConnView = { orig: { src: 1, dst: 2, proto: 17, sport: 1, dport: 2 }, reply: { src: 2, dst: 1, proto: 17, sport: 2, dport: 1 }, status: 0, mark: 7, expires: 100, helper: undefined };
  const p2 = udp();
  const e2 = makeEnv(p2, { ct: conn });
  run(rs, e2);
  expect(p2.mark).toBe(7);
  expect(conn.mark).toBe(0x42);
  const e3 = makeEnv(tcp());
  expect(run(rs, e3).verdict).toBe('drop');
  expect(e3.rejects).toEqual(['tcp-reset']);
  const nat = rulesetFromText('table ip n {\n\tmap m {\n\t\ttype ipv4_addr : ipv4_addr\n\t\telements = { 10.0.0.1 : 192.168.1.1, 10.0.0.9 : 192.168.1.9 }\n\t}\n\tchain pre {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tdnat to ip daddr map @m\n\t\ttcp dport 80 redirect to :8080\n\t}\n}\n');
  const t = table(nat, 'ip', 'n');
  const e4 = makeEnv(tcp(), { hook: 'prerouting' });
  runBaseChain(nat, t, t.chains.get('pre')!, e4);
  expect(e4.nats).toEqual([[expect.objectContaining({ kind: 'DNAT', minAddr: ip('192.168.1.1'), maxAddr: ip('192.168.1.1'), mapPorts: false }), 'dnat']]);
  const e5 = makeEnv(tcp({ dst: ip('10.0.0.5') }), { hook: 'prerouting' });
  const r5 = runBaseChain(nat, t, t.chains.get('pre')!, e5);
  expect(e5.nats).toEqual([[expect.objectContaining({ kind: 'REDIRECT', minAddr: 0, mapPorts: true, minPort: 8080, maxPort: 8080 }), 'redirect']]);
  expect(r5.events.filter((e) => e.kind === 'miss').map((e) => (e as { why: string }).why)).toEqual(['dnat to ... map (ip daddr is 10.0.0.5: not in the map)']);
});

test('netdev egress dumps with full checksums, as scapy sent them (fixtures/nft/traces/recorded/egress-hook.json)', () => {
  const rs = rulesetFromText('table netdev eg {\n\tchain out1 {\n\t\ttype filter hook egress device "eth1" priority 0; policy accept;\n\t\tip daddr 10.0.2.3 counter packets 0 bytes 0 drop\n\t\tudp dport 53 meta mark set 0x00000035\n\t}\n}\n');
  const t = table(rs, 'netdev', 'eg');
  const first = (pkt: Packet): string => {
    const r = runBaseChain(rs, t, t.chains.get('out1')!, makeEnv(pkt, { family: 'netdev', hook: 'egress', tracing: true }));
    return monitorLines(r.events, '#0', 'egress', 'netdev')[0]!;
  };
  const base = { ttl: 63, outIface: 'eth1' };
  expect(first(newPacket({ src: ip('10.0.1.2'), dst: ip('10.0.2.2'), proto: 17, sport: 40000, dport: 53, id: 0x1000, len: 28, ...base }))).toBe('trace id #0 netdev eg out1 packet: oif "eth1" @nh,0,160 0x4500001c100040003f1114ce0a0001020a000202 @th,0,64 0x9c40003500084c65 ');
  expect(first(newPacket({ src: ip('10.0.1.2'), dst: ip('10.0.2.3'), proto: 1, icmpType: 8, icmpId: 0x1234, icmpSeq: 1, id: 0x1001, len: 84, ...base }))).toBe('trace id #0 netdev eg out1 packet: oif "eth1" @nh,0,160 0x45000054100140003f0114a40a0001020a000203 @th,0,160 0x800e5ca12340001000000000000000000000000 ');
  expect(first(newPacket({ src: ip('10.0.2.1'), dst: ip('10.0.2.2'), proto: 17, sport: 40000, dport: 53, id: 0x1002, len: 28, outIface: 'eth1' }))).toBe('trace id #0 netdev eg out1 packet: oif "eth1" @nh,0,160 0x4500001c10024000401112cd0a0002010a000202 @th,0,64 0x9c40003500084b66 ');
  expect(first(newPacket({ src: ip('10.0.1.2'), dst: ip('10.0.2.2'), proto: 6, sport: 40000, dport: 80, seq: 1000, tcpFlags: 2, window: 64240, id: 0x1003, len: 40, ...base }))).toBe('trace id #0 netdev eg out1 packet: oif "eth1" @nh,0,160 0x45000028100340003f0614ca0a0001020a000202 @th,0,160 0x9c400050000003e8000000005002faf0fd750000 ');
});

test('IP options follow ip length as raw network header bits (exp6)', () => {
  const rs = rulesetFromText('table ip t {\n\tchain o {\n\t\ttype filter hook output priority 0; policy accept;\n\t\tudp dport 6666 meta nftrace set 1\n\t}\n}\n');
  const t = table(rs, 'ip', 't');
  const pkt = newPacket({ src: ip('10.9.0.1'), dst: ip('10.9.0.2'), proto: 17, sport: 59926, dport: 6666, id: 28161, len: 39, payload: 'opt', outIface: 'veth0', ipOptions: new Uint8Array([7, 7, 8, 10, 9, 0, 1, 0]) });
  const r = runBaseChain(rs, t, t.chains.get('o')!, makeEnv(pkt, { hook: 'output' }));
  expect(monitorLines(r.events, '6a784c25', 'output', 'ip')[0]).toBe(
    'trace id 6a784c25 ip t o packet: oif "veth0" ip saddr 10.9.0.1 ip daddr 10.9.0.2 ip dscp cs0 ip ecn not-ect ip ttl 64 ip id 28161 ip length 39 @nh,160,64 0x707080a09000100 udp sport 59926 udp dport 6666 udp length 11 @th,64,24 0x6f7074 ',
  );
});

test('headers an IPv4 packet lacks never match, without asking; ip checksum as on the wire', () => {
  const env = makeEnv(tcp());
  const rs = rulesetFromText('table inet t {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip6 saddr ::1 drop\n\t\ticmpv6 type echo-request drop\n\t\tip checksum 0x1234 drop\n\t}\n}\n');
  const t = table(rs, 'inet', 't');
  expect(runBaseChain(rs, t, t.chains.get('c')!, env).verdict).toBe('accept');
  expect(env.questions).toEqual([]);
  // 0x14ce: the header of the egress-hook fixture's udp packet.
  expect(matches('ip checksum 5326', newPacket({ src: ip('10.0.1.2'), dst: ip('10.0.2.2'), proto: 17, id: 0x1000, ttl: 63, len: 28 }))).toBe(true);
});

test('found by the differential run against the kernel (scratch/nft-eval/fuzz): th on icmp, payload statements depend on their protocol', () => {
  // th dport reads the transport header's bytes 2-3 whatever the protocol: an icmp packet's checksum.
  const echo = newPacket({ src: ip('10.1.0.2'), dst: ip('10.2.0.1'), proto: 1, icmpType: 8, icmpId: 0x1234, icmpSeq: 1, len: 28 });
  expect(matches('th dport 0xe5ca', echo)).toBe(true);
  expect(matches('th sport 0x0800', echo)).toBe(true);
  // `udp dport set 53` on tcp: the rule does not match (meta l4proto udp), the packet is untouched.
  const rs = rulesetWith(['udp dport set 53 meta mark set 0x00000001', 'tcp dport set 1024']);
  const pkt = tcp();
  run(rs, makeEnv(pkt));
  expect(pkt.mark).toBe(0);
  expect(pkt.dport).toBe(1024);
});
