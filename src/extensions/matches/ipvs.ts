/**
 * ipvs match (iptables-extensions: "ipvs"): [!] --ipvs, [!] --vproto, [!] --vaddr addr[/mask], [!] --vport,
 * --vdir ORIGINAL|REPLY, [!] --vmethod GATE|IPIP|MASQ, [!] --vportctl; any option but --ipvs implies --ipvs.
 *
 * The recording kernel has no xt_ipvs (Debian 12's has): iptables warns "Extension ipvs revision 0 not
 * supported, missing kernel module?" when it loads the match, and the kernel refuses every rule with ENOENT
 * (recorded in ext-ipvs.json); tsiptables answers the same. Save and `-L` text follow libxt_ipvs.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { parseProtocol } from '../option-types';
import { badValueAct, parseX6HostMask } from '../values/x6';
import { getPortByName } from '../values/inet';
import { addrToAnyName, addrToString, maskToListString } from '../../model/ip';

const IPVS = 1 << 0;
const PROTO = 1 << 1;
const VADDR = 1 << 2;
const VPORT = 1 << 3;
const DIR = 1 << 4;
const METHOD = 1 << 5;
const VPORTCTL = 1 << 6;
const METHODS: ReadonlyArray<readonly [string, number]> = [
  ['GATE', 0x0003],
  ['IPIP', 0x0002],
  ['MASQ', 0x0000],
];

export interface IpvsState {
  bitmask: number;
  invert: number;
  l4proto: number;
  vaddr: number;
  vmask: number;
  vport: number;
  vportctl: number;
  method: number;
}

function parsePortX6(arg: string): number {
  const p = getPortByName(arg);
  if (p < 0) throw paramProblem(`Port "${arg}" does not resolve to anything.\n`);
  return p;
}

/** ipvs_mt_dump(). */
function dump(s: IpvsState, numeric: boolean, prefix: string): string {
  const inv = (bit: number): string => (s.invert & bit ? ' !' : '');
  let out = '';
  if (s.bitmask === IPVS) out += `${inv(IPVS)} ${prefix}ipvs`;
  if (s.bitmask & PROTO) out += `${inv(PROTO)} ${prefix}vproto ${s.l4proto}`;
  if (s.bitmask & VADDR) {
    const addr = !numeric && s.vaddr === 0 ? 'anywhere' : `${numeric ? addrToString(s.vaddr) : addrToAnyName(s.vaddr)}${maskToListString(s.vmask)}`;
    out += `${inv(VADDR)} ${prefix}vaddr ${addr}`;
  }
  if (s.bitmask & VPORT) out += `${inv(VPORT)} ${prefix}vport ${s.vport}`;
  if (s.bitmask & DIR) out += ` ${prefix}vdir ${s.invert & DIR ? 'REPLY' : 'ORIGINAL'}`;
  if (s.bitmask & METHOD) out += `${inv(METHOD)} ${prefix}vmethod ${METHODS.find(([, m]) => m === s.method)?.[0] ?? 'UNKNOWN'}`;
  if (s.bitmask & VPORTCTL) out += `${inv(VPORTCTL)} ${prefix}vportctl ${s.vportctl}`;
  return out;
}

const ORDER = ['ipvs', 'vproto', 'vaddr', 'vport', 'vdir', 'vmethod', 'vportctl'];

export default defineMatch<IpvsState>({
  kind: 'match',
  name: 'ipvs',
  manSection: 'ipvs',
  style: 'x6',
  kernelMissing: true,
  help: `IPVS match options:
[!] --ipvs                      packet belongs to an IPVS connection

Any of the following options implies --ipvs (even negated)
[!] --vproto protocol           VIP protocol to match; by number or name,
                                e.g. "tcp"
[!] --vaddr address[/mask]      VIP address to match
[!] --vport port                VIP port to match; by number or name,
                                e.g. "http"
    --vdir {ORIGINAL|REPLY}     flow direction of packet
[!] --vmethod {GATE|IPIP|MASQ}  IPVS forwarding method used
[!] --vportctl port             VIP port of the controlling connection to
                                match, e.g. 21 for FTP
`,
  options: [
    { name: 'ipvs', arg: 'none', invert: true },
    { name: 'vproto', arg: 'required', invert: true },
    { name: 'vaddr', arg: 'required', invert: true },
    { name: 'vport', arg: 'required', invert: true },
    { name: 'vdir', arg: 'required' },
    { name: 'vmethod', arg: 'required', invert: true },
    { name: 'vportctl', arg: 'required', invert: true },
  ],
  init: () => ({ bitmask: 0, invert: 0, l4proto: 0, vaddr: 0, vmask: 0, vport: 0, vportctl: 0, method: 0 }),
  parse(s, use) {
    const v = use.value ?? '';
    const bit = 1 << ORDER.indexOf(use.name);
    switch (use.name) {
      case 'vproto':
        s.l4proto = parseProtocol(v);
        break;
      case 'vaddr': {
        const { addr, mask } = parseX6HostMask('ipvs', 'vaddr', v);
        s.vaddr = addr;
        s.vmask = mask;
        break;
      }
      case 'vport':
        s.vport = parsePortX6(v);
        break;
      case 'vportctl':
        s.vportctl = parsePortX6(v);
        break;
      case 'vdir':
        if (v.toUpperCase() === 'ORIGINAL') s.invert &= ~DIR;
        else if (v.toUpperCase() === 'REPLY') s.invert |= DIR;
        else throw badValueAct('ipvs', '--vdir', v);
        break;
      case 'vmethod': {
        const m = METHODS.find(([n]) => n === v.toUpperCase());
        if (!m) throw badValueAct('ipvs', '--vmethod', v);
        s.method = m[1];
        break;
      }
      default:
        break;
    }
    s.bitmask |= bit;
    if (use.inverted) s.invert |= bit;
  },
  finalCheck(s, _ctx, given) {
    if (given.size === 0) throw paramProblem('IPVS: At least one option is required');
    if (s.bitmask & ~IPVS) {
      if (s.invert & IPVS) throw paramProblem('! --ipvs cannot be together with other options');
      s.bitmask |= IPVS;
    }
  },
  save: (s) => dump(s, true, '--'),
  print: (s, numeric) => dump(s, numeric, ''),
  kernelCheck: () => 'No such file or directory',
  // ipvs_mt() of xt_ipvs.c: the simulation has no IPVS, so no packet has ipvs_property: `--ipvs` alone gives
  // its `!`, any other option no match.
  match: (s) => s.bitmask === IPVS && !!(s.invert & IPVS),
  explain: (s) => `${dump(s, true, '--').trim()}: packet is not IPVS traffic (no IPVS in the simulation)`,
});
