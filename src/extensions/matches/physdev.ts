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
  // physdev_mt() of xt_physdev.c for a packet that did not cross a bridge (the simulation has no bridges):
  // it matches only when every option given is inverted.
  match: (s) => (s.bitmask & ~s.invert) === 0,
  explain(s) {
    const bit = [OP_BRIDGED, OP_ISIN, OP_ISOUT, OP_IN, OP_OUT].find((b) => s.bitmask & b & ~s.invert) ?? OP_BRIDGED;
    return `${text({ ...s, bitmask: s.bitmask & bit }).trim()}: packet is not bridged`;
  },
});
