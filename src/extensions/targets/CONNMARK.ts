/**
 * CONNMARK target (iptables-extensions: "CONNMARK"), revision 2 (xt_connmark_tginfo2, with the shift
 * options). Setting forms are stored as ctmark/ctmask and saved as `--set-xmark`; --save-mark and
 * --restore-mark always save both masks. The kernel refuses shifts of 32 bits or more.
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget, type OptionDef } from '../spec';
import { hex32, parseValMask } from '../values/mark';
import type { EvalContext, TargetVerdict } from '../../eval/context';

type Mode = 'set' | 'save' | 'restore';

interface ConnmarkState {
  mode: Mode;
  ctmark: number;
  ctmask: number;
  nfmask: number;
  shiftDir: 'left' | 'right';
  shiftBits: number;
}

// The C option table (connmark_tg_opts_v2) in its order, with the enum ids; F_OP_ANY makes the operations
// exclusive of each other, --mask excludes --ctmask/--nfmask.
const OPS = ['set-mark', 'save-mark', 'restore-mark', 'and-mark', 'or-mark', 'xor-mark', 'set-xmark'];
const op = (name: string, id: number, arg: OptionDef['arg'] = 'required'): OptionDef => ({ name, id, arg, excludes: OPS });
const OPTIONS: readonly OptionDef[] = [
  op('set-xmark', 8),
  op('set-mark', 0),
  op('and-mark', 3),
  op('or-mark', 4),
  op('xor-mark', 5),
  op('save-mark', 1, 'none'),
  op('restore-mark', 2, 'none'),
  { name: 'left-shift-mark', id: 6, arg: 'required' },
  { name: 'right-shift-mark', id: 7, arg: 'required' },
  { name: 'ctmask', id: 9, arg: 'required', excludes: ['mask'] },
  { name: 'nfmask', id: 10, arg: 'required', excludes: ['mask'] },
  { name: 'mask', id: 11, arg: 'required', excludes: ['ctmask', 'nfmask'] },
];

const u32 = (opt: string, v: string): number => parseX6Uint('CONNMARK', opt, v, 0, 0xffffffff);

export default defineTarget<ConnmarkState>({
  kind: 'target',
  needsConntrack: true,
  name: 'CONNMARK',
  manSection: 'CONNMARK',
  style: 'x6',
  help: `CONNMARK target options:
  --set-xmark value[/ctmask]    Zero mask bits and XOR ctmark with value
  --save-mark [--ctmask mask] [--nfmask mask]
                                Copy ctmark to nfmark using masks
  --restore-mark [--ctmask mask] [--nfmask mask]
                                Copy nfmark to ctmark using masks
  --set-mark value[/mask]       Set conntrack mark value
  --save-mark [--mask mask]     Save the packet nfmark in the connection
  --restore-mark [--mask mask]  Restore saved nfmark value
  --and-mark value              Binary AND the ctmark with bits
  --or-mark value               Binary OR  the ctmark with bits
  --xor-mark value              Binary XOR the ctmark with bits
  --left-shift-mark value       Left shift the ctmark with bits
  --right-shift-mark value      Right shift the ctmark with bits
`,
  options: OPTIONS,
  init: () => ({ mode: 'set', ctmark: 0, ctmask: 0xffffffff, nfmask: 0xffffffff, shiftDir: 'left', shiftBits: 0 }),
  parse(s, use) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'set-xmark': {
        const m = parseValMask('CONNMARK', use.name, v);
        s.mode = 'set';
        s.ctmark = m.mark;
        s.ctmask = m.mask;
        return;
      }
      case 'set-mark': {
        const m = parseValMask('CONNMARK', use.name, v);
        s.mode = 'set';
        s.ctmark = m.mark;
        s.ctmask = (m.mark | m.mask) >>> 0;
        return;
      }
      case 'and-mark':
        s.mode = 'set';
        s.ctmark = 0;
        s.ctmask = ~u32(use.name, v) >>> 0;
        return;
      case 'or-mark':
        s.mode = 'set';
        s.ctmark = s.ctmask = u32(use.name, v);
        return;
      case 'xor-mark':
        s.mode = 'set';
        s.ctmark = u32(use.name, v);
        s.ctmask = 0;
        return;
      case 'save-mark':
        s.mode = 'save';
        return;
      case 'restore-mark':
        s.mode = 'restore';
        return;
      case 'left-shift-mark':
      case 'right-shift-mark':
        s.shiftDir = use.name === 'left-shift-mark' ? 'left' : 'right';
        s.shiftBits = parseX6Uint('CONNMARK', use.name, v, 0, 32);
        return;
      case 'ctmask':
        s.ctmask = u32(use.name, v);
        return;
      case 'nfmask':
        s.nfmask = u32(use.name, v);
        return;
      case 'mask':
        s.nfmask = s.ctmask = u32(use.name, v);
        return;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (!OPS.some((o) => given.has(o))) throw paramProblem('CONNMARK target: No operation specified');
  },
  kernelCheck: (s) => (s.shiftBits > 31 ? 'Invalid argument' : undefined),
  save(s) {
    let out: string;
    if (s.mode === 'set') out = ` --set-xmark ${hex32(s.ctmark)}/${hex32(s.ctmask)}`;
    else out = ` --${s.mode}-mark --nfmask ${hex32(s.nfmask)} --ctmask ${hex32(s.ctmask)}`;
    if (s.shiftBits !== 0) out += ` --${s.shiftDir}-shift-mark ${s.shiftBits}`;
    return out;
  },
  print(s) {
    let out: string;
    if (s.mode === 'set') {
      if (s.ctmark === 0) out = ` CONNMARK and ${hex32(~s.ctmask)}`;
      else if (s.ctmark === s.ctmask) out = ` CONNMARK or ${hex32(s.ctmark)}`;
      else if (s.ctmask === 0) out = ` CONNMARK xor ${hex32(s.ctmark)}`;
      else if (s.ctmask === 0xffffffff) out = ` CONNMARK set ${hex32(s.ctmark)}`;
      else out = ` CONNMARK xset ${hex32(s.ctmark)}/${hex32(s.ctmask)}`;
    } else if (s.mode === 'save') {
      if (s.nfmask === 0xffffffff && s.ctmask === 0xffffffff) out = ' CONNMARK save';
      else if (s.nfmask === s.ctmask) out = ` CONNMARK save mask ${hex32(s.nfmask)}`;
      else out = ` CONNMARK save nfmask ${hex32(s.nfmask)} ctmask ~${hex32(s.ctmask)}`;
    } else if (s.ctmask === 0xffffffff && s.nfmask === 0xffffffff) out = ' CONNMARK restore';
    else if (s.ctmask === s.nfmask) out = ` CONNMARK restore mask ${hex32(s.ctmask)}`;
    else out = ` CONNMARK restore ctmask ${hex32(s.ctmask)} nfmask ~${hex32(s.nfmask)}`;
    if (s.shiftBits !== 0) out += ` ${s.shiftDir}-shift-mark ${s.shiftBits}`;
    return out;
  },
  run: (s, ctx) => connmarkRun(s, ctx),
});

/** u32 shift as the kernel does it (shift_bits is at most 31, checked by checkentry). */
function shift(v: number, s: ConnmarkState): number {
  const bits = s.shiftBits & 31;
  return (s.shiftDir === 'right' ? v >>> bits : v << bits) >>> 0;
}

/**
 * connmark_tg_shift() of xt_connmark.c. Without a connection nothing happens. --set-xmark (and the forms
 * stored as it): ctmark = ((ctmark & ~ctmask) ^ value) shifted. --save-mark: ctmark = (ctmark & ~ctmask) ^
 * ((nfmark & nfmask) shifted). --restore-mark: nfmark = (nfmark & ~nfmask) ^ ((ctmark & ctmask) shifted).
 * XT_CONTINUE.
 */
function connmarkRun(s: ConnmarkState, ctx: EvalContext): TargetVerdict {
  const ct = ctx.ct;
  if (!ct) {
    ctx.note(`CONNMARK: the packet has no connection (${ctx.ctState}): nothing changed`);
    return 'CONTINUE';
  }
  switch (s.mode) {
    case 'set':
      ct.mark = shift(((ct.mark & ~s.ctmask) ^ s.ctmark) >>> 0, s);
      break;
    case 'save':
      ct.mark = ((ct.mark & ~s.ctmask) ^ shift((ctx.pkt.mark & s.nfmask) >>> 0, s)) >>> 0;
      break;
    case 'restore':
      ctx.pkt.mark = ((ctx.pkt.mark & ~s.nfmask) ^ shift((ct.mark & s.ctmask) >>> 0, s)) >>> 0;
      break;
  }
  return 'CONTINUE';
}
