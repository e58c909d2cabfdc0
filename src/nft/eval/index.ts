/**
 * The nft rule evaluator and the `nft monitor trace` printer.
 *
 * runBaseChain() walks one base chain of a table for a packet (walk.ts), with the regular chains it jumps or goes
 * to; each rule's canonical text is compiled once into closures (compile.ts; cache keyed by the text with its
 * counters zeroed, and per rule object). monitorLines() prints what nft 1.0.6 prints for the events (monitor.ts,
 * formats described there, recorded in scratch/nft-eval/ and scratch/stateless-nat.raw.txt).
 *
 * Simulated: payload matches on ip (saddr daddr protocol ttl length id dscp version hdrlength checksum), tcp
 * (sport dport flags sequence window), udp (sport dport length), th (sport dport; icmp: type/code, checksum),
 * icmp (type code id sequence), ether (saddr daddr type); meta (mark iif oif iifname oifname iiftype oiftype
 * l4proto nfproto protocol pkttype skuid skgid length cpu priority nftrace); ct (state status mark direction zone
 * expiration); operators == != < > <= >=, implicit (bitmask types: any bit), prefixes, ranges, anonymous and named
 * sets (intervals, concatenations, ifname wildcards), `& mask`/`| x`/`^ x`, `flags v / mask`, vmaps (anonymous and
 * named), `fib saddr|daddr [. iif|. mark] type|oif|oifname`. Statements: counter (bumped in NftRule.text with
 * env.countRules), log (LogRequest; `log group` is not logged), mark/ct mark/nftrace/payload `set` (constants,
 * another selector with & | ^, `map`), notrack, snat/dnat/masquerade/redirect (NatRequest, maps `to SEL map @m`),
 * reject (REJECT's strings; tcp reset depends on tcp), fwd (stolen), limit and quota (env.decide), add/update @set,
 * comment, dup/tcp option maxseg/synproxy (ignored or asked). Verdicts accept drop queue continue return jump goto;
 * the jump stack is 16 deep (deeper: drop).
 * Never matching (absent from the simulated IPv4 packets): ip6, icmpv6, arp, vlan, sctp fields. Anything else the
 * text holds is asked through env.decide('nft', ...) (default: no match) for that part of the rule.
 */
export type { NftHook, NftEnv, NftVerdict, NftTraceEvent, NftChainResult } from './types';
export { runBaseChain } from './walk';
export { monitorLines, packetLine, startMonitor, monitorText, type MonitorOptions, type L4Checksum } from './monitor';
export { compileRule } from './compile';
