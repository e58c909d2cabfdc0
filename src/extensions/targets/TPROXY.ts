/**
 * TPROXY target (iptables-extensions: "TPROXY", libxt_TPROXY revision 1 / xt_TPROXY.c): hand a packet to a
 * local transparent socket without changing its header. --on-port (mandatory; 0 keeps the packet's port),
 * --on-ip (0.0.0.0 by default: the address of the arriving device), --tproxy-mark value[/mask] (0x0/0x0 by
 * default) are all printed by iptables-save. The kernel takes it in mangle PREROUTING only, with `-p tcp` or
 * `-p udp`.
 */
import { defineTarget } from '../spec';
import { addrToString } from '../../model/ip';
import { parseX6Host, getPortByName } from '../values/inet';
import { hex32, parseValMask } from '../values/mark';
import { paramProblem } from '../../messages';
import { PROTO_TCP, PROTO_UDP } from '../../eval/packet';
import type { EvalContext, TargetVerdict } from '../../eval/context';

export interface TproxyState {
  port: number;
  laddr: number;
  markValue: number;
  markMask: number;
}

export default defineTarget<TproxyState>({
  kind: 'target',
  name: 'TPROXY',
  manSection: 'TPROXY',
  style: 'x6',
  tables: ['mangle'],
  hooks: ['PREROUTING'],
  help: `TPROXY target options:
  --on-port port		    Redirect connection to port, or the original port if 0
  --on-ip ip			    Optionally redirect to the given IP
  --tproxy-mark value[/mask]	    Mark packets with the given value/mask

`,
  options: [
    { name: 'on-port', arg: 'required', mandatory: true },
    { name: 'on-ip', arg: 'required' },
    { name: 'tproxy-mark', arg: 'required' },
  ],
  init: () => ({ port: 0, laddr: 0, markValue: 0, markMask: 0 }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'on-port': {
        // XTTYPE_PORT: xtables_getportbyname(), then htons() of the int (so 65536 is port 0).
        const p = getPortByName(v);
        if (p < 0) throw paramProblem(`Port "${v}" does not resolve to anything.\n`);
        s.port = p;
        return;
      }
      case 'on-ip':
        s.laddr = parseX6Host(v);
        return;
      case 'tproxy-mark': {
        const m = parseValMask('TPROXY', use.name, v);
        s.markValue = m.mark;
        s.markMask = m.mask;
        return;
      }
    }
  },
  // tproxy_tg4_check() of xt_TPROXY.c: only `-p tcp` or `-p udp`, not inverted.
  kernelCheck(_s, k) {
    return (k.protocol === PROTO_TCP || k.protocol === PROTO_UDP) && !k.protocolInverted ? undefined : 'Invalid argument';
  },
  save: (s) => ` --on-port ${s.port} --on-ip ${addrToString(s.laddr)} --tproxy-mark ${hex32(s.markValue)}/${hex32(s.markMask)}`,
  print: (s) => ` TPROXY redirect ${addrToString(s.laddr)}:${s.port} mark ${hex32(s.markValue)}/${hex32(s.markMask)}`,
  run: (s, ctx) => tproxyRun(s, ctx),
});

/**
 * tproxy_tg4() of xt_TPROXY.c: look for an established socket of the packet's own 4-tuple, else a listener on
 * laddr:lport (laddr 0 = the arriving device's address, nf_tproxy_laddr4(); lport 0 = the packet's port). A
 * transparent socket found: skb->mark = (mark & ~mask) ^ value, the packet is assigned to it, NF_ACCEPT.
 * None: NF_DROP. Sockets are not simulated: the trace assumes the proxy listens (override with --assume).
 */
function tproxyRun(s: TproxyState, ctx: EvalContext): TargetVerdict {
  const p = ctx.pkt;
  if (p.proto !== PROTO_TCP && p.proto !== PROTO_UDP) return 'DROP';
  let laddr = s.laddr;
  if (laddr === 0) laddr = (p.inIface !== null ? ctx.host.primaryAddress(p.inIface) : undefined) ?? p.dst;
  const lport = s.port === 0 ? p.dport : s.port;
  const where = `${addrToString(laddr)}:${lport}`;
  if (!ctx.decide('TPROXY', `a transparent socket (IP_TRANSPARENT) listens on ${where}`, true)) {
    ctx.note(`TPROXY: no transparent socket on ${where}: dropped`);
    return 'DROP';
  }
  const old = p.mark;
  p.mark = ((p.mark & ~s.markMask) ^ s.markValue) >>> 0;
  ctx.note(`TPROXY: packet assigned to the socket on ${where}; mark ${hex32(old)} -> ${hex32(p.mark)}`);
  // The kernel still routes the packet: only a policy route of the mark to a local route delivers it to the
  // socket, and the simulated host has no policy routing.
  if (!ctx.host.isLocalAddress(p.dst)) {
    ctx.note('TPROXY: delivery to the socket needs `ip rule add fwmark ... lookup N` with `ip route add local 0.0.0.0/0 dev lo table N` (policy routing is not simulated)');
  }
  return 'ACCEPT';
}
