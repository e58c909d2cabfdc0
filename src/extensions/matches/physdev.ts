/**
 * physdev match (iptables-extensions: "physdev"): the bridge ports a bridged packet came in on / leaves by.
 * x6 style; at least one option is required. The kernel refuses --physdev-out/--physdev-is-out in OUTPUT
 * unless --physdev-is-bridged (not inverted) is given too (physdev_mt_check). Names are saved bare, so an
 * empty one or one with blanks is quoted in the state file.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { needsQuotes, restoreWord } from '../values/cstring';

const OP_IN = 0x01;
const OP_OUT = 0x02;
const OP_BRIDGED = 0x04;
const OP_ISIN = 0x08;
const OP_ISOUT = 0x10;

export interface PhysdevState {
  inDev: string;
  outDev: string;
  bitmask: number;
  invert: number;
}

/** xtables_parse_interface(): at most IFNAMSIZ-1 bytes; warns about '/' and ' '. */
function parseIface(arg: string, warn: (l: string) => void): string {
  if (Buffer.byteLength(arg) + 1 > 16) throw paramProblem(`interface name \`${arg}' must be shorter than IFNAMSIZ (15)`);
  if (arg.includes('/') || arg.includes(' ')) {
    warn(`Warning: weird character in interface \`${arg}' ('/' and ' ' are not allowed by the kernel).`);
  }
  return arg;
}

function text(s: PhysdevState, name: (dev: string) => string = (dev) => ` ${dev}`): string {
  const inv = (bit: number): string => (s.invert & bit ? ' !' : '');
  let out = '';
  if (s.bitmask & OP_ISIN) out += `${inv(OP_ISIN)} --physdev-is-in`;
  if (s.bitmask & OP_IN) out += `${inv(OP_IN)} --physdev-in${name(s.inDev)}`;
  if (s.bitmask & OP_ISOUT) out += `${inv(OP_ISOUT)} --physdev-is-out`;
  if (s.bitmask & OP_OUT) out += `${inv(OP_OUT)} --physdev-out${name(s.outDev)}`;
  if (s.bitmask & OP_BRIDGED) out += `${inv(OP_BRIDGED)} --physdev-is-bridged`;
  return out;
}

export default defineMatch<PhysdevState>({
  kind: 'match',
  name: 'physdev',
  manSection: 'physdev',
  style: 'x6',
  help: `physdev match options:
 [!] --physdev-in inputname[+]		bridge port name ([+] for wildcard)
 [!] --physdev-out outputname[+]	bridge port name ([+] for wildcard)
 [!] --physdev-is-in			arrived on a bridge device
 [!] --physdev-is-out			will leave on a bridge device
 [!] --physdev-is-bridged		it's a bridged packet
`,
  options: [
    { name: 'physdev-in', arg: 'required', invert: true },
    { name: 'physdev-out', arg: 'required', invert: true },
    { name: 'physdev-is-in', arg: 'none', invert: true },
    { name: 'physdev-is-out', arg: 'none', invert: true },
    { name: 'physdev-is-bridged', arg: 'none', invert: true },
  ],
  init: () => ({ inDev: '', outDev: '', bitmask: 0, invert: 0 }),
  parse(s, use, ctx) {
    const set = (bit: number): void => {
      s.bitmask |= bit;
      if (use.inverted) s.invert |= bit;
    };
    switch (use.name) {
      case 'physdev-in':
        s.inDev = parseIface(use.value!, ctx.warn);
        set(OP_IN);
        return;
      case 'physdev-out':
        s.outDev = parseIface(use.value!, ctx.warn);
        set(OP_OUT);
        return;
      case 'physdev-is-in':
        set(OP_ISIN);
        return;
      case 'physdev-is-out':
        set(OP_ISOUT);
        return;
      case 'physdev-is-bridged':
        set(OP_BRIDGED);
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem('PHYSDEV: no physdev option specified');
  },
  save: (s) => text(s),
  print: (s) => ` PHYSDEV match${text(s)}`,
  stateText: (s) =>
    (s.bitmask & OP_IN && needsQuotes(s.inDev)) || (s.bitmask & OP_OUT && needsQuotes(s.outDev)) ? text(s, restoreWord) : undefined,
  kernelCheck(s, view) {
    // physdev_mt_check(): the output port is not known yet in LOCAL_OUT unless the packet is bridged.
    const out = s.bitmask & (OP_OUT | OP_ISOUT);
    const bridged = s.bitmask & OP_BRIDGED && !(s.invert & OP_BRIDGED);
    return out && !bridged && view.hooks.has('OUTPUT') ? 'Invalid argument' : undefined;
  },
  // physdev_mt() of xt_physdev.c. A packet that did not cross a bridge (no br_netfilter info; lab bridges set
  // pkt.physIn/physOut, src/lab/bridge.ts) matches only when every option given is inverted.
  match: (s, ctx) => physdevFails(s, ctx.pkt.physIn, ctx.pkt.physOut) === undefined,
  explain(s, ctx) {
    const why = physdevFails(s, ctx.pkt.physIn, ctx.pkt.physOut);
    if (why !== undefined && why !== 'unbridged') return why;
    const bit = [OP_BRIDGED, OP_ISIN, OP_ISOUT, OP_IN, OP_OUT].find((b) => s.bitmask & b & ~s.invert) ?? OP_BRIDGED;
    return `${text({ ...s, bitmask: s.bitmask & bit }).trim()}: packet is not bridged`;
  },
});

/** ifname_compare_aligned() with the `+` wildcard: do the names differ? */
const differs = (name: string, pattern: string): boolean => (pattern.endsWith('+') ? !name.startsWith(pattern.slice(0, -1)) : name !== pattern);

/**
 * physdev_mt(): undefined when the packet matches; 'unbridged' when it has no bridge ports and some option is not
 * inverted; else why not. physIn/physOut: the bridge ports (physOut only once the bridge has chosen, FORWARD on).
 */
function physdevFails(s: PhysdevState, physIn: string | undefined, physOut: string | undefined): string | undefined {
  const on = (bit: number): boolean => (s.bitmask & bit) !== 0;
  const inv = (bit: number): boolean => (s.invert & bit) !== 0;
  if (physIn === undefined && physOut === undefined) return (s.bitmask & ~s.invert) === 0 ? undefined : 'unbridged';
  if (on(OP_BRIDGED) && (physOut !== undefined) === inv(OP_BRIDGED)) return `${inv(OP_BRIDGED) ? '! ' : ''}--physdev-is-bridged: the packet ${physOut !== undefined ? 'is' : 'is not (yet)'} bridged`;
  if (on(OP_ISIN) && (physIn === undefined) !== inv(OP_ISIN)) return `${inv(OP_ISIN) ? '! ' : ''}--physdev-is-in: ${physIn === undefined ? 'no bridge port in' : `came in on bridge port ${physIn}`}`;
  if (on(OP_ISOUT) && (physOut === undefined) !== inv(OP_ISOUT)) return `${inv(OP_ISOUT) ? '! ' : ''}--physdev-is-out: ${physOut === undefined ? 'no bridge port out' : `leaves by bridge port ${physOut}`}`;
  if (on(OP_IN) && physIn !== undefined && differs(physIn, s.inDev) !== inv(OP_IN)) return `${inv(OP_IN) ? '! ' : ''}--physdev-in ${s.inDev}: came in on bridge port ${physIn}`;
  if (!on(OP_OUT)) return undefined;
  if (physOut === undefined) return `--physdev-out ${s.outDev}: no bridge port out (yet)`;
  if (differs(physOut, s.outDev) !== inv(OP_OUT)) return `${inv(OP_OUT) ? '! ' : ''}--physdev-out ${s.outDev}: leaves by bridge port ${physOut}`;
  return undefined;
}
