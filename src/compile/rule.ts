/**
 * From a parsed rule specification to rules of the model: addresses expanded (`-s a,b` makes two rules, as
 * iptables does), the canonical save text computed once.
 */
import { type AddrMask, ANY, parseAddressList } from '../model/ip';
import type { Rule, Verdict } from '../model/ruleset';
import { paramProblem } from '../messages';
import type { RuleSpec } from './command';
import { ruleMatchText, ruleTargetText, stateTextOf } from '../format/rule-text';

export function buildRules(spec: RuleSpec): Rule[] {
  const srcs: AddrMask[] = spec.source === undefined ? [ANY] : parseAddressList(spec.source);
  const dsts: AddrMask[] = spec.destination === undefined ? [ANY] : parseAddressList(spec.destination);
  if ((srcs.length > 1 || dsts.length > 1) && (spec.inv.src || spec.inv.dst)) {
    throw paramProblem('! not allowed with multiple source or destination IP addresses');
  }
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
      const rule: Rule = {
        ip,
        matches: spec.matches,
        verdict,
        counters: spec.counters ? { ...spec.counters } : { packets: 0n, bytes: 0n },
        text: '',
        targetText: '',
      };
      rule.text = ruleMatchText(rule);
      rule.targetText = ruleTargetText(rule);
      const st = stateTextOf(rule);
      if (st !== undefined) rule.stateText = st;
      out.push(rule);
    }
  }
  return out;
}
