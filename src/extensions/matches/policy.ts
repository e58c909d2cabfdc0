/**
 * policy match (iptables-extensions: "policy"): --dir in|out, --pol none|ipsec, --strict, and per policy
 * element [!] --reqid, [!] --spi, [!] --proto ah|esp|ipcomp, [!] --mode transport|tunnel, [!] --tunnel-src and
 * [!] --tunnel-dst addr[/mask] (XTTYPE_HOSTMASK: a non-contiguous mask becomes /32), --next (needs --strict)
 * starting the next of at most 4 elements.
 *
 * The kernel (policy_mt_check) refuses --dir out in PREROUTING/INPUT and --dir in in POSTROUTING/OUTPUT; a rule
 * in a user chain is checked with no hook and later jumps are not re-checked (recorded in ext-policy.json).
 */
import { defineMatch, type KernelView } from '../spec';
import { paramProblem } from '../../messages';
import { parseProtocol, parseX6Uint, protocolNameByNumber } from '../option-types';
import { parseX6HostMask } from '../values/x6';
import { addrToString, maskToListString } from '../../model/ip';

const MAX_ELEM = 4;
const PROTO_ESP = 50;
const PROTO_AH = 51;
const PROTO_COMP = 108;

type Field = 'reqid' | 'spi' | 'saddr' | 'daddr' | 'proto' | 'mode';

interface Elem {
  /** Which fields are given (e->match) and which are inverted (e->invert). */
  given: Record<Field, boolean>;
  invert: Record<Field, boolean>;
  reqid: number;
  spi: number;
  proto: number;
  /** XT_POLICY_MODE_TRANSPORT 0, XT_POLICY_MODE_TUNNEL 1. */
  mode: number;
  saddr: number;
  smask: number;
  daddr: number;
  dmask: number;
}

export interface PolicyState {
  dirIn: boolean;
  dirOut: boolean;
  none: boolean;
  strict: boolean;
  /** Elements in use; `elems` may hold one more that `--pol none` left unused (the kernel still sees it). */
  len: number;
  elems: Elem[];
}

const noFields = (): Record<Field, boolean> => ({ reqid: false, spi: false, saddr: false, daddr: false, proto: false, mode: false });

const newElem = (): Elem => ({
  given: noFields(),
  invert: noFields(),
  reqid: 0,
  spi: 0,
  proto: 0,
  mode: 0,
  saddr: 0,
  smask: 0,
  daddr: 0,
  dmask: 0,
});

/** print_entry(): reqid, spi, proto, mode, tunnel-dst, tunnel-src, each with its own `!`. */
function elemText(e: Elem, prefix: string, numeric: boolean): string {
  let out = '';
  const inv = (f: Field): string => (e.invert[f] ? ' !' : '');
  if (e.given.reqid) out += `${inv('reqid')} ${prefix}reqid ${e.reqid}`;
  if (e.given.spi) out += `${inv('spi')} ${prefix}spi 0x${e.spi.toString(16)}`;
  if (e.given.proto) out += `${inv('proto')} ${prefix}proto ${(!numeric && protocolNameByNumber(e.proto)) || e.proto}`;
  if (e.given.mode) out += `${inv('mode')} ${prefix}mode ${e.mode === 0 ? 'transport' : e.mode === 1 ? 'tunnel' : '???'}`;
  if (e.given.daddr) out += `${inv('daddr')} ${prefix}tunnel-dst ${addrToString(e.daddr)}${maskToListString(e.dmask)}`;
  if (e.given.saddr) out += `${inv('saddr')} ${prefix}tunnel-src ${addrToString(e.saddr)}${maskToListString(e.smask)}`;
  return out;
}

function flagsText(s: PolicyState, prefix: string): string {
  return ` ${prefix}dir ${s.dirIn ? 'in' : 'out'} ${prefix}pol ${s.none ? 'none' : 'ipsec'}${s.strict ? ` ${prefix}strict` : ''}`;
}

function saveText(s: PolicyState): string {
  let out = flagsText(s, '--');
  for (let i = 0; i < s.len; i++) {
    out += elemText(s.elems[i]!, '--', false);
    if (i + 1 < s.len) out += ' --next';
  }
  return out;
}

function current(s: PolicyState): Elem {
  while (s.elems.length <= s.len) s.elems.push(newElem());
  return s.elems[s.len]!;
}

function setField(e: Elem, f: Field, opt: string, inverted: boolean): void {
  if (e.given[f]) throw paramProblem(`policy match: double --${opt} option`);
  e.given[f] = true;
  e.invert[f] = inverted;
}

export default defineMatch<PolicyState>({
  kind: 'match',
  name: 'policy',
  manSection: 'policy',
  style: 'x6',
  help: `policy match options:
  --dir in|out			match policy applied during decapsulation/
				policy to be applied during encapsulation
  --pol none|ipsec		match policy
  --strict 			match entire policy instead of single element
				at any position
These options may be used repeatedly, to describe policy elements:
[!] --reqid reqid		match reqid
[!] --spi spi			match SPI
[!] --proto proto		match protocol (ah/esp/ipcomp)
[!] --mode mode 		match mode (transport/tunnel)
[!] --tunnel-src addr/mask	match tunnel source
[!] --tunnel-dst addr/mask	match tunnel destination
  --next 			begin next element in policy
`,
  // policy_opts[]: table order, with the ids of the C enum.
  options: [
    { name: 'dir', id: 0, arg: 'required' },
    { name: 'pol', id: 1, arg: 'required' },
    { name: 'strict', id: 2, arg: 'none' },
    { name: 'reqid', id: 3, arg: 'required', multi: true, invert: true },
    { name: 'spi', id: 4, arg: 'required', multi: true, invert: true },
    { name: 'tunnel-src', id: 7, arg: 'required', multi: true, invert: true },
    { name: 'tunnel-dst', id: 8, arg: 'required', multi: true, invert: true },
    { name: 'proto', id: 5, arg: 'required', multi: true, invert: true },
    { name: 'mode', id: 6, arg: 'required', multi: true, invert: true },
    { name: 'next', id: 9, arg: 'none', multi: true, also: ['strict'] },
  ],
  init: () => ({ dirIn: false, dirOut: false, none: false, strict: false, len: 0, elems: [] }),
  parse(s, use) {
    const v = use.value ?? '';
    const e = current(s);
    switch (use.name) {
      case 'dir':
        if (v === 'in') s.dirIn = true;
        else if (v === 'out') s.dirOut = true;
        else throw paramProblem(`policy_match: invalid dir "${v}"`);
        return;
      case 'pol':
        if (v === 'none') s.none = true;
        else if (v !== 'ipsec') throw paramProblem(`policy match: invalid policy "${v}"`);
        return;
      case 'strict':
        s.strict = true;
        return;
      case 'reqid': {
        const n = parseX6Uint('policy', 'reqid', v, 0, 0xffffffff);
        setField(e, 'reqid', 'reqid', use.inverted);
        e.reqid = n;
        return;
      }
      case 'spi': {
        const n = parseX6Uint('policy', 'spi', v, 0, 0xffffffff);
        setField(e, 'spi', 'spi', use.inverted);
        e.spi = n;
        return;
      }
      case 'tunnel-src':
      case 'tunnel-dst': {
        const { addr, mask } = parseX6HostMask('policy', use.name, v);
        const src = use.name === 'tunnel-src';
        setField(e, src ? 'saddr' : 'daddr', use.name, use.inverted);
        if (src) [e.saddr, e.smask] = [addr, mask];
        else [e.daddr, e.dmask] = [addr, mask];
        return;
      }
      case 'proto': {
        const p = parseProtocol(v);
        if (e.given.proto) throw paramProblem('policy match: double --proto option');
        e.proto = p;
        if (p !== PROTO_AH && p !== PROTO_ESP && p !== PROTO_COMP) throw paramProblem('policy match: protocol must be ah/esp/ipcomp');
        setField(e, 'proto', 'proto', use.inverted);
        return;
      }
      case 'mode': {
        setField(e, 'mode', 'mode', use.inverted);
        if (v === 'transport') e.mode = 0;
        else if (v === 'tunnel') e.mode = 1;
        else throw paramProblem(`policy match: invalid mode "${v}"`);
        return;
      }
      default:
        if (++s.len === MAX_ELEM) throw paramProblem('policy match: maximum policy depth reached');
        current(s);
    }
  },
  finalCheck(s) {
    if (!s.dirIn && !s.dirOut) throw paramProblem('policy match: neither --dir in nor --dir out specified');
    if (s.none) {
      if (s.strict) throw paramProblem('policy match: policy none but --strict given');
      if (s.len !== 0) throw paramProblem('policy match: policy none but policy given');
    } else {
      current(s);
      s.len++;
    }
    for (let i = 0; i < s.len; i++) {
      const e = s.elems[i]!;
      if (s.strict && !Object.values(e.given).some(Boolean)) {
        throw paramProblem(
          `policy match: empty policy element ${i}. --strict is in effect, but at least one of reqid, spi, tunnel-src, tunnel-dst, proto or mode is required.`,
        );
      }
      if ((e.given.saddr || e.given.daddr) && ((e.mode === 1 && e.invert.mode) || (e.mode === 0 && !e.invert.mode))) {
        throw paramProblem('policy match: --tunnel-src/--tunnel-dst is only valid in tunnel mode');
      }
    }
  },
  save: saveText,
  // `--pol none` with element options keeps them in the unused first element: the kernel compares them.
  compareKey: (s) => `${saveText(s)} ${JSON.stringify(s.elems.slice(0, Math.max(s.len, 1)))}`,
  print(s, numeric) {
    let out = ` policy match${flagsText(s, '')}`;
    for (let i = 0; i < s.len; i++) out += `${s.len > 1 ? ` [${i}]` : ''}${elemText(s.elems[i]!, '', numeric)}`;
    return out;
  },
  kernelCheck(s, view: KernelView) {
    // policy_mt_check() of xt_policy.c.
    const h = view.hooks;
    if (s.dirOut && (h.has('PREROUTING') || h.has('INPUT'))) return 'Invalid argument';
    if (s.dirIn && (h.has('POSTROUTING') || h.has('OUTPUT'))) return 'Invalid argument';
    return undefined;
  },
  // policy_mt() of xt_policy.c: the simulation has no IPsec, so no packet has a security path (--dir in) or an
  // xfrm bundle on its route (--dir out): match_policy_in/out() answer "no policy", which matches `--pol none`
  // and nothing else.
  match: (s) => s.none,
  explain: (s) => `${saveText(s).trim()}: packet has no IPsec policy (the simulation has no IPsec)`,
});
