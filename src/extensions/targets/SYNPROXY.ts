/**
 * SYNPROXY target (iptables-extensions: "SYNPROXY", libxt_SYNPROXY / ipt_SYNPROXY.c): answer a client's SYN
 * with a SYN cookie and open the connection to the server only when the client's ACK proves it. Options
 * --sack-perm, --timestamp, --wscale, --mss, --ecn name what the cookie SYN/ACK announces (wscale is kept in a
 * byte and mss in 16 bits, so larger values wrap). The kernel wants `-p tcp` in INPUT or FORWARD, with conntrack.
 */
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { PROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../eval/packet';

/** XT_SYNPROXY_OPT_MSS 0x01, WSCALE 0x02, SACK_PERM 0x04, TIMESTAMP 0x08, ECN 0x10. */
const OPT = { MSS: 0x01, WSCALE: 0x02, SACK_PERM: 0x04, TIMESTAMP: 0x08, ECN: 0x10 } as const;

export interface SynproxyState {
  options: number;
  wscale: number;
  mss: number;
}

function words(s: SynproxyState, prefix: string): string[] {
  const out: string[] = [];
  if (s.options & OPT.SACK_PERM) out.push(`${prefix}sack-perm`);
  if (s.options & OPT.TIMESTAMP) out.push(`${prefix}timestamp`);
  if (s.options & OPT.WSCALE) out.push(`${prefix}wscale ${s.wscale}`);
  if (s.options & OPT.MSS) out.push(`${prefix}mss ${s.mss}`);
  if (s.options & OPT.ECN) out.push(`${prefix}ecn`);
  return out;
}

export default defineTarget<SynproxyState>({
  kind: 'target',
  needsConntrack: true,
  name: 'SYNPROXY',
  manSection: 'SYNPROXY',
  style: 'x6',
  hooks: ['INPUT', 'FORWARD'],
  help: `SYNPROXY target options:
  --sack-perm                        Set SACK_PERM
  --timestamp                        Set TIMESTAMP
  --wscale value                     Set window scaling factor
  --mss value                        Set MSS value
  --ecn                              Set ECN
`,
  options: [
    { name: 'sack-perm', arg: 'none' },
    { name: 'timestamp', arg: 'none' },
    { name: 'wscale', arg: 'required' },
    { name: 'mss', arg: 'required' },
    { name: 'ecn', arg: 'none' },
  ],
  init: () => ({ options: 0, wscale: 0, mss: 0 }),
  parse(s, use) {
    switch (use.name) {
      case 'sack-perm':
        s.options |= OPT.SACK_PERM;
        return;
      case 'timestamp':
        s.options |= OPT.TIMESTAMP;
        return;
      case 'wscale':
        s.wscale = parseX6Uint('SYNPROXY', use.name, use.value!, 0, 0xffffffff) & 0xff;
        s.options |= OPT.WSCALE;
        return;
      case 'mss':
        s.mss = parseX6Uint('SYNPROXY', use.name, use.value!, 0, 0xffffffff) & 0xffff;
        s.options |= OPT.MSS;
        return;
      case 'ecn':
        s.options |= OPT.ECN;
        return;
    }
  },
  // synproxy_tg4_check(): only for `-p tcp` (not inverted).
  kernelCheck: (_s, k) => (k.protocol !== PROTO_TCP || k.protocolInverted ? 'Invalid argument' : undefined),
  save: (s) => words(s, '--').map((w) => ` ${w}`).join(''),
  // SYNPROXY_print(): every word is followed by a space, the last one too.
  print: (s) => ` SYNPROXY ${words(s, '').map((w) => `${w} `).join('')}`,
  // synproxy_tg4() of ipt_SYNPROXY.c: a bare SYN is answered with a cookie SYN/ACK and stolen; a bare ACK with a
  // valid cookie makes the proxy send the SYN to the server and is stolen, one without is dropped; anything
  // else goes on (XT_CONTINUE).
  run(s, ctx) {
    const p = ctx.pkt;
    if (p.proto !== PROTO_TCP) return 'CONTINUE';
    const f = p.tcpFlags;
    if (f & TCP_SYN && !(f & (TCP_ACK | TCP_FIN | TCP_RST))) {
      ctx.note(`SYNPROXY: SYN answered with a SYN cookie SYN/ACK${s.options & OPT.MSS ? ` (mss ${s.mss})` : ''}; the SYN is consumed`);
      return 'STOLEN';
    }
    if (f & TCP_ACK && !(f & (TCP_FIN | TCP_RST | TCP_SYN))) {
      if (ctx.decide('SYNPROXY', 'the ACK carries a valid SYN cookie', true)) {
        ctx.note('SYNPROXY: valid cookie: the proxy opens the connection to the server; the ACK is consumed');
        return 'STOLEN';
      }
      ctx.note('SYNPROXY: no valid cookie: dropped');
      return 'DROP';
    }
    return 'CONTINUE';
  },
});
