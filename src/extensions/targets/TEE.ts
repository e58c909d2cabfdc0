/**
 * TEE target (iptables-extensions: "TEE", libxt_TEE revision 1 / xt_TEE.c + nf_dup_ipv4.c): send a copy of the
 * packet to --gateway (a host name or address, mandatory), optionally routed out of --oif (a name kept in
 * char[16]: 15 bytes survive). The original goes on unchanged. This kernel accepts it in every table and
 * chain; it refuses the gateway 0.0.0.0.
 */
import { defineTarget } from '../spec';
import { addrToAnyName, addrToString } from '../../model/ip';
import { parseX6Host } from '../values/inet';
import { needsQuotes, restoreWord, truncateBytes } from '../values/cstring';
import type { EvalContext, TargetVerdict } from '../../eval/context';

export interface TeeState {
  gw: number;
  oif: string;
}

const IFNAMSIZ = 16;

export default defineTarget<TeeState>({
  kind: 'target',
  name: 'TEE',
  manSection: 'TEE',
  style: 'x6',
  help: `TEE target options:
  --gateway IPADDR    Route packet via the gateway given by address
  --oif NAME          Include oif in route calculation

`,
  options: [
    { name: 'gateway', arg: 'required', mandatory: true },
    { name: 'oif', arg: 'required' },
  ],
  init: () => ({ gw: 0, oif: '' }),
  parse(s, use) {
    if (use.name === 'gateway') s.gw = parseX6Host(use.value!);
    else s.oif = truncateBytes(use.value!, IFNAMSIZ - 1);
  },
  // tee_tg_check() of xt_TEE.c: the all-zero gateway is EINVAL.
  kernelCheck: (s) => (s.gw === 0 ? 'Invalid argument' : undefined),
  save: (s) => ` --gateway ${addrToString(s.gw)}${s.oif ? ` --oif ${s.oif}` : ''}`,
  // iptables-save prints the interface bare; the state file quotes one that would not read back as one word.
  stateText: (s) => (s.oif && needsQuotes(s.oif) ? ` --gateway ${addrToString(s.gw)} --oif${restoreWord(s.oif)}` : undefined),
  print: (s, numeric) => ` TEE gw:${numeric ? addrToString(s.gw) : addrToAnyName(s.gw)}${s.oif ? ` oif=${s.oif}` : ''}`,
  run: (s, ctx) => teeRun(s, ctx),
});

/**
 * tee_tg4() / nf_dup_ipv4(): unless the packet is itself a TEE copy, clone it, make the clone untracked, lower
 * its TTL when the original has not been routed yet (PREROUTING, INPUT), route it to the gateway (through oif
 * when given; no route drops the copy) and send it out with ip_local_out(). The original: XT_CONTINUE.
 * The copy is not walked through the chains here; the trace says where it would go.
 */
function teeRun(s: TeeState, ctx: EvalContext): TargetVerdict {
  const gw = addrToString(s.gw);
  const route = ctx.host.route(s.gw, { oif: s.oif || undefined });
  if (!route || (s.oif && route.dev !== s.oif)) {
    ctx.note(`TEE: no route to gateway ${gw}${s.oif ? ` via ${s.oif}` : ''}: the copy is dropped`);
    return 'CONTINUE';
  }
  const lowersTtl = ctx.hook === 'PREROUTING' || ctx.hook === 'INPUT';
  const ttl = lowersTtl ? ctx.pkt.ttl - 1 : ctx.pkt.ttl;
  ctx.note(`TEE: a copy (untracked, TTL ${ttl}) is sent to gateway ${gw} via ${route.dev}; the copy is not traced`);
  return 'CONTINUE';
}
