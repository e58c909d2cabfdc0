/**
 * ECN target (iptables-extensions: "ECN", libipt_ECN / ipt_ECN.c). --ecn-tcp-remove clears the ECE and CWR
 * bits of TCP headers; the option table also keeps the undocumented --ecn-tcp-cwr 0|1, --ecn-tcp-ece 0|1 and
 * --ecn-ip-ect 0-3 (the two ECN bits of the TOS byte). Stored as ipt_ECN_info: an operation bit set and the
 * values; "remove" is only the pair ECE=0 CWR=0 without anything else. Mangle table only; the kernel refuses
 * the TCP operations unless the rule says `-p tcp`.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { PROTO_TCP } from '../../eval/packet';

/** IPT_ECN_OP_SET_IP, IPT_ECN_OP_SET_ECE, IPT_ECN_OP_SET_CWR (ipt_ECN.h). */
const OP_SET_IP = 0x01;
const OP_SET_ECE = 0x10;
const OP_SET_CWR = 0x20;
const TCP_ECE = 0x40;
const TCP_CWR = 0x80;

export interface EcnState {
  operation: number;
  ipEct: number;
  ece: number;
  cwr: number;
}

const isRemove = (s: EcnState): boolean => s.operation === (OP_SET_ECE | OP_SET_CWR) && s.ece === 0 && s.cwr === 0;

export default defineTarget<EcnState>({
  kind: 'target',
  name: 'ECN',
  manSection: 'ECN',
  style: 'x6',
  tables: ['mangle'],
  help: `ECN target options
  --ecn-tcp-remove		Remove all ECN bits from TCP header
`,
  // ECN_opts[]: O_ECN_TCP_REMOVE 0, O_ECN_TCP_CWR 1, O_ECN_TCP_ECE 2, O_ECN_IP_ECT 3.
  options: [
    { name: 'ecn-tcp-remove', id: 0, arg: 'none', excludes: ['ecn-tcp-cwr', 'ecn-tcp-ece'] },
    { name: 'ecn-tcp-cwr', id: 1, arg: 'required', excludes: ['ecn-tcp-remove'] },
    { name: 'ecn-tcp-ece', id: 2, arg: 'required', excludes: ['ecn-tcp-remove'] },
    { name: 'ecn-ip-ect', id: 3, arg: 'required' },
  ],
  init: () => ({ operation: 0, ipEct: 0, ece: 0, cwr: 0 }),
  parse(s, use) {
    switch (use.name) {
      case 'ecn-tcp-remove':
        s.operation = OP_SET_ECE | OP_SET_CWR;
        s.ece = 0;
        s.cwr = 0;
        return;
      case 'ecn-tcp-cwr':
        s.cwr = parseX6Uint('ECN', use.name, use.value!, 0, 1);
        s.operation |= OP_SET_CWR;
        return;
      case 'ecn-tcp-ece':
        s.ece = parseX6Uint('ECN', use.name, use.value!, 0, 1);
        s.operation |= OP_SET_ECE;
        return;
      case 'ecn-ip-ect':
        s.ipEct = parseX6Uint('ECN', use.name, use.value!, 0, 3);
        s.operation |= OP_SET_IP;
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('ECN target: An operation is required');
  },
  // ecn_tg_check() of ipt_ECN.c: the TCP operations need `-p tcp` (not inverted).
  kernelCheck(s, k) {
    if (s.operation & (OP_SET_ECE | OP_SET_CWR) && (k.protocol !== PROTO_TCP || k.protocolInverted)) return 'Invalid argument';
    return undefined;
  },
  save(s) {
    if (isRemove(s)) return ' --ecn-tcp-remove';
    let out = '';
    if (s.operation & OP_SET_ECE) out += ` --ecn-tcp-ece ${s.ece}`;
    if (s.operation & OP_SET_CWR) out += ` --ecn-tcp-cwr ${s.cwr}`;
    if (s.operation & OP_SET_IP) out += ` --ecn-ip-ect ${s.ipEct}`;
    return out;
  },
  print(s) {
    if (isRemove(s)) return ' ECN TCP remove';
    let out = ' ECN';
    if (s.operation & OP_SET_ECE) out += ` ECE=${s.ece}`;
    if (s.operation & OP_SET_CWR) out += ` CWR=${s.cwr}`;
    if (s.operation & OP_SET_IP) out += ` ECT codepoint=${s.ipEct}`;
    return out;
  },
  // ecn_tg() of ipt_ECN.c: set_ect_ip() rewrites the two ECN bits of the TOS byte when they differ;
  // set_ect_tcp() sets ECE and CWR of a TCP header as asked (the rule is -p tcp by the kernel check). XT_CONTINUE.
  run(s, ctx) {
    const p = ctx.pkt;
    if (s.operation & OP_SET_IP && (p.tos & 0x03) !== s.ipEct) {
      const old = p.tos;
      p.tos = (p.tos & ~0x03 & 0xff) | s.ipEct;
      ctx.note(`ECN: IP ECN bits ${old & 3} -> ${s.ipEct}`);
    }
    if (s.operation & (OP_SET_ECE | OP_SET_CWR) && p.proto === PROTO_TCP) {
      let flags = p.tcpFlags;
      if (s.operation & OP_SET_ECE) flags = s.ece ? flags | TCP_ECE : flags & ~TCP_ECE;
      if (s.operation & OP_SET_CWR) flags = s.cwr ? flags | TCP_CWR : flags & ~TCP_CWR;
      if (flags !== p.tcpFlags) {
        p.tcpFlags = flags;
        ctx.note(`ECN: TCP ECE=${flags & TCP_ECE ? 1 : 0} CWR=${flags & TCP_CWR ? 1 : 0}`);
      }
    }
    return 'CONTINUE';
  },
});
