/**
 * One base chain run as nft_do_chain() runs it (net/netfilter/nf_tables_core.c, kernel 6.x): rules in order,
 * a rule's expressions until one breaks; `jump` pushes a return point (16 deep at most), `goto` does not;
 * `return` or the end of a regular chain pops; an empty stack ends at the base chain's policy.
 *
 * Trace events follow nft_trace_packet()/nft_trace_verdict(): a rule that ran to its end without a verdict
 * (NFT_CONTINUE) gives a `rule` event with verdict continue; a rule with a verdict gives a `rule` event
 * (accept, drop, queue, jump, goto, return: nft prints `(verdict return)` for an explicit return); the end of a
 * regular chain gives a `return` event (nft 1.0.6 prints no line for it); the policy a `policy` event. Each is produced only when
 * skb->nf_trace is set at that moment (after the rule's statements ran, so the rule that sets `meta nftrace set 1`
 * is traced itself). The headers are dumped once per base-chain run, with its first traced event: the `packet`
 * event, a copy of the packet at that moment. A rule that broke (did not match) produces nothing in the kernel;
 * here it gives a `miss` event for explanations.
 */
import { clonePacket, type Packet } from '../../eval/packet';
import type { NftChain, NftRule, NftRuleset, NftTable } from '../model';
import { compiledOf } from './compile';
import { monitorText } from './monitor';
import type { NftChainResult, NftEnv, NftTraceEvent, NftVerdict } from './types';

const JUMP_STACK = 16;

/** A rule that did not match; its explanation is made when read. */
class MissEvent {
  readonly kind = 'miss' as const;
  private made: string | undefined;
  constructor(
    readonly table: NftTable,
    readonly chain: NftChain,
    readonly handle: number,
    readonly text: string,
    private readonly explain: () => string,
  ) {}
  get why(): string {
    return (this.made ??= this.explain());
  }
}

export function runBaseChain(_ruleset: NftRuleset, table: NftTable, base: NftChain, env: NftEnv): NftChainResult {
  const events: NftTraceEvent[] = [];
  let dumped = false;
  const traced = (chain: NftChain): boolean => {
    if (!env.traced()) return false;
    if (!dumped) {
      dumped = true;
      events.push({ kind: 'packet', table, chain, pkt: clonePacket(env.pkt) });
    }
    return true;
  };
  /** The packet an event keeps: a copy when traced (a monitor line prints it later), else the live one. */
  const pktFor = (t: boolean): Packet => (t ? clonePacket(env.pkt) : env.pkt);
  /** The base chain's policy decides. */
  const policyEnd = (): NftChainResult => {
    const policy = base.base?.policy ?? 'accept';
    const t = traced(base);
    events.push({ kind: 'policy', table, chain: base, verdict: policy, pkt: pktFor(t), traced: t });
    return { verdict: policy, events, decidedBy: { chain: base.name, handle: 0, policy: true } };
  };
  const stack: { chain: NftChain; next: number }[] = [];
  let chain = base;
  let i = 0;
  /** Back to the rule after the jump that entered this chain; false when the stack is empty. */
  const resume = (): boolean => {
    const top = stack.pop();
    if (!top) return false;
    chain = top.chain;
    i = top.next;
    return true;
  };
  for (let guard = 0; guard < 100000; guard++) {
    const rule: NftRule | undefined = chain.rules[i];
    if (rule === undefined) {
      // End of the chain.
      if (chain !== base) {
        const t = traced(chain);
        events.push({ kind: 'return', table, chain, pkt: pktFor(t), verdict: 'continue', traced: t });
        if (resume()) continue;
      }
      return policyEnd();
    }
    const shownText = monitorText(rule);
    const compiled = compiledOf(rule);
    const rt = { env, table, rule };
    let verdict: { code: string; chain?: string } | undefined;
    let missed = false;
    for (const step of compiled.steps) {
      const r = step(rt);
      if (r === undefined) continue;
      if ('miss' in r) {
        events.push(new MissEvent(table, chain, rule.handle, shownText, r.miss));
        missed = true;
      } else verdict = r.verdict;
      break;
    }
    if (missed) {
      i++;
      continue;
    }
    const code = verdict?.code ?? 'continue';
    const vtext = verdict?.chain !== undefined ? `${code} ${verdict.chain}` : code;
    const t = traced(chain);
    events.push({ kind: 'rule', table, chain, handle: rule.handle, text: shownText, verdict: vtext, pkt: pktFor(t), traced: t });
    switch (code) {
      case 'continue':
        i++;
        continue;
      case 'accept':
      case 'drop':
      case 'queue':
      case 'stolen':
        return { verdict: code as NftVerdict, events, decidedBy: { chain: chain.name, handle: rule.handle, policy: false } };
      case 'jump':
      case 'goto': {
        const target = table.chains.get(verdict!.chain!);
        if (!target || target.base) {
          // The kernel refuses such rules; a stale state: treat as continue.
          i++;
          continue;
        }
        if (code === 'jump') {
          if (stack.length >= JUMP_STACK) return { verdict: 'drop', events, decidedBy: { chain: chain.name, handle: rule.handle, policy: false } };
          stack.push({ chain, next: i + 1 });
        }
        chain = target;
        i = 0;
        continue;
      }
      case 'return':
        if (resume()) continue;
        // A return with an empty stack: the base chain's policy.
        return policyEnd();
      default:
        i++;
    }
  }
  return { verdict: 'drop', events };
}
