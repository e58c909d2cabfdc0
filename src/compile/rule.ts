/**
 * From a parsed rule specification to rules of the model: addresses expanded (`-s a,b` makes two rules, as
 * iptables does), the canonical save text computed once.
 */
import { type AddrMask, ANY, parseAddressList } from '../model/ip';
import { jumpOf, type Counters, type IpMatch, type Rule, type Verdict } from '../model/ruleset';
import type { MatchUse } from '../extensions/spec';
import { paramProblem } from '../messages';
import type { RuleSpec } from './command';
import { ruleMatchText, ruleTargetText, stateTextOf } from '../format/rule-text';

/** The addresses of -s/-d, with iptables' errors (what do_parse()'s post_parse checks). */
export function checkAddresses(spec: RuleSpec): { srcs: AddrMask[]; dsts: AddrMask[] } {
  const srcs: AddrMask[] = spec.source === undefined ? [ANY] : parseAddressList(spec.source);
  const dsts: AddrMask[] = spec.destination === undefined ? [ANY] : parseAddressList(spec.destination);
  if ((srcs.length > 1 || dsts.length > 1) && (spec.inv.src || spec.inv.dst)) {
    throw paramProblem('! not allowed with multiple source or destination IP addresses');
  }
  return { srcs, dsts };
}

export function buildRules(spec: RuleSpec): Rule[] {
  const { srcs, dsts } = checkAddresses(spec);
  const verdict: Verdict = spec.target
    ? { kind: 'target', target: spec.target }
    : spec.jumpTo === ''
      ? { kind: 'none' }
      : spec.goto
        ? { kind: 'goto', chain: spec.jumpTo }
        : { kind: 'jump', chain: spec.jumpTo };
  const out: Rule[] = [];
  for (const src of srcs) {
    for (const dst of dsts) {
      const ip = {
        src,
        dst,
        inIface: spec.inIface,
        outIface: spec.outIface,
        proto: spec.protocol,
        fragment: spec.fragment,
        inv: { ...spec.inv },
      };
      out.push(completeRule(ip, spec.matches, verdict, spec.counters ? { ...spec.counters } : { packets: 0n, bytes: 0n }));
    }
  }
  return out;
}

/** A rule with its texts computed from its parts. */
export function completeRule(ip: IpMatch, matches: readonly MatchUse[], verdict: Verdict, counters: Counters): Rule {
  const parts = { ip, matches, verdict };
  const text = ruleMatchText(parts);
  const targetText = ruleTargetText(parts);
  const facts = {
    defs: [...matches.map((m) => m.def), ...(verdict.kind === 'target' ? [verdict.target.def] : [])],
    proto: ip.proto,
    protoInverted: ip.inv.proto,
  };
  return { ip, matches, verdict, counters, text, targetText, line: text + targetText, stateText: stateTextOf(parts), jumpTo: jumpOf(verdict), facts };
}
