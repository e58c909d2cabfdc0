/**
 * bpf match (iptables-extensions: "bpf", revision 1): --bytecode "N,code jt jf k,..." (classic BPF as
 * nfbpf_compile prints it, 1-64 instructions, parsed with sscanf's wrap-around) or --object-pinned path (an eBPF
 * object pinned in bpffs: tsiptables has none, so libxt_bpf's "failed to get bpf object" as on the recording
 * host). The kernel checks the program (bpf_check_classic) and refuses a bad one with EINVAL.
 *
 * `-L` prints "match bpf " and the instructions without the usual leading blank, ending with the NUL byte that
 * bpf_print_code() writes as its tail (recorded in ext-bpf.json).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { packetBytes } from '../values/wire';
import type { EvalContext } from '../../eval/context';

const MAX_INSNS = 64;

interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export interface BpfState {
  insns: Insn[];
}

/** scanf's %u family: blanks, a sign, decimal digits, wrapped to `bits`; undefined without digits. */
function scanUnsigned(s: string, at: number, bits: number): { v: number; end: number } | undefined {
  let i = at;
  while (i < s.length && /\s/.test(s[i]!)) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') neg = s[i++] === '-';
  const start = i;
  while (i < s.length && s[i]! >= '0' && s[i]! <= '9') i++;
  if (i === start) return undefined;
  const mod = 1n << BigInt(bits);
  let v = BigInt(s.slice(start, i)) % (1n << 64n);
  if (neg) v = -v;
  return { v: Number(((v % mod) + mod) % mod), end: i };
}

/** bpf_parse_string(). */
function parseProgram(text: string): Insn[] {
  const head = scanUnsigned(text, 0, 16);
  if (!head || text[head.end] !== ',') throw paramProblem('bpf: error parsing program length');
  const len = head.v;
  if (len === 0) throw paramProblem('bpf: illegal zero length program');
  if (len > MAX_INSNS) throw paramProblem('bpf: number of instructions exceeds maximum');
  const insns: Insn[] = [];
  let pos = 0;
  for (;;) {
    const comma = text.indexOf(',', pos);
    if (comma < 0 || comma + 1 >= text.length) break;
    pos = comma + 1;
    if (insns.length >= len) throw paramProblem('bpf: real program length exceeds the encoded length parameter');
    const code = scanUnsigned(text, pos, 16);
    const jt = code && scanUnsigned(text, code.end, 8);
    const jf = jt && scanUnsigned(text, jt.end, 8);
    const k = jf && scanUnsigned(text, jf.end, 32);
    if (!k) throw paramProblem(`bpf: error at instr ${insns.length}`);
    insns.push({ code: code!.v, jt: jt!.v, jf: jf!.v, k: k.v });
  }
  if (insns.length !== len) throw paramProblem('bpf: parsed program length is less than the encoded length parameter');
  return insns;
}

const codeText = (insns: readonly Insn[]): string => insns.map((i) => `${i.code} ${i.jt} ${i.jf} ${i.k}`).join(',');

// Classic BPF (linux/filter.h, bpf_common.h).
const CLASS = (c: number): number => c & 0x07;
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, RET = 0x06, MISC = 0x07;
const MEM = 0x60;
const ALLOWED = new Set<number>([
  ...[0x00, 0x10, 0x20, 0x30, 0x90, 0x50, 0x40, 0xa0, 0x60, 0x70].flatMap((op) => [ALU | op, ALU | op | 0x08]),
  ALU | 0x80,
  LD | 0x00 | 0x20, LD | 0x08 | 0x20, LD | 0x10 | 0x20, LD | 0x00 | 0x80,
  LD | 0x00 | 0x40, LD | 0x08 | 0x40, LD | 0x10 | 0x40, LD | 0x00, LD | MEM,
  LDX | 0x00 | 0x80, LDX | 0x10 | 0xa0, LDX | 0x00, LDX | MEM,
  ST, STX, MISC | 0x00, MISC | 0x80, RET | 0x00, RET | 0x10,
  JMP | 0x00, ...[0x10, 0x30, 0x20, 0x40].flatMap((op) => [JMP | op, JMP | op | 0x08]),
]);
const isCondJump = (c: number): boolean => CLASS(c) === JMP && (c & 0xf0) !== 0x00;

/** bpf_check_classic() of net/core/filter.c: the kernel's verdict, true when the program is valid. */
export function checkClassic(p: readonly Insn[]): boolean {
  const flen = p.length;
  for (let pc = 0; pc < flen; pc++) {
    const { code, jt, jf, k } = p[pc]!;
    if (!ALLOWED.has(code)) return false;
    if ((code === (ALU | 0x30) || code === (ALU | 0x90)) && k === 0) return false;
    if ((code === (ALU | 0x60) || code === (ALU | 0x70)) && k >= 32) return false;
    if ((code === (LD | MEM) || code === (LDX | MEM) || code === ST || code === STX) && k >= 16) return false;
    if (code === (JMP | 0x00) && k >= flen - pc - 1) return false;
    if (isCondJump(code) && (pc + jt + 1 >= flen || pc + jf + 1 >= flen)) return false;
  }
  // check_load_and_stores(): a scratch slot is read only after a store on every path.
  const masks = new Array<number>(flen).fill(0xffff);
  let memvalid = 0;
  for (let pc = 0; pc < flen; pc++) {
    const { code, jt, jf, k } = p[pc]!;
    memvalid &= masks[pc]!;
    if (code === ST || code === STX) memvalid |= 1 << k;
    else if ((code === (LD | MEM) || code === (LDX | MEM)) && !(memvalid & (1 << k))) return false;
    else if (code === (JMP | 0x00)) {
      masks[pc + 1 + k]! &= memvalid;
      memvalid = 0xffff;
    } else if (isCondJump(code)) {
      masks[pc + 1 + jt]! &= memvalid;
      masks[pc + 1 + jf]! &= memvalid;
      memvalid = 0xffff;
    }
  }
  return CLASS(p[flen - 1]!.code) === RET;
}

/** A classic BPF interpreter over the packet's bytes from its IP header, as xt_bpf runs it (0: no match). */
export function runClassic(p: readonly Insn[], data: Uint8Array, len: number): number {
  let a = 0;
  let x = 0;
  const mem = new Uint32Array(16);
  const load = (off: number, size: number): number | undefined => {
    if (off < 0 || off + size > len || off + size > data.length) return undefined;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + data[off + i]!;
    return v >>> 0;
  };
  for (let pc = 0; pc < p.length; pc++) {
    const { code, jt, jf, k } = p[pc]!;
    const src = code & 0x08 ? x : k;
    switch (CLASS(code)) {
      case LD:
      case LDX: {
        const mode = code & 0xe0;
        const size = [4, 2, 1][(code >> 3) & 3] ?? 4;
        let v: number | undefined;
        if (mode === 0x00) v = k;
        else if (mode === 0x80) v = len;
        else if (mode === MEM) v = mem[k & 15]!;
        else if (mode === 0x20) v = k >= 0x80000000 ? undefined : load(k, size);
        else if (mode === 0x40) v = load((x + k) >>> 0, size);
        else if (mode === 0xa0) v = ((load(k, 1) ?? NaN) & 0x0f) * 4;
        if (v === undefined || Number.isNaN(v)) return 0;
        if (CLASS(code) === LD) a = v >>> 0;
        else x = v >>> 0;
        break;
      }
      case ST:
        mem[k & 15] = a;
        break;
      case STX:
        mem[k & 15] = x;
        break;
      case ALU: {
        const op = code & 0xf0;
        if (op === 0x80) a = -a >>> 0;
        else if (op === 0x00) a = (a + src) >>> 0;
        else if (op === 0x10) a = (a - src) >>> 0;
        else if (op === 0x20) a = Math.imul(a, src) >>> 0;
        else if (op === 0x30) a = src === 0 ? NaN : Math.floor(a / src);
        else if (op === 0x90) a = src === 0 ? NaN : a % src;
        else if (op === 0x40) a = (a | src) >>> 0;
        else if (op === 0x50) a = (a & src) >>> 0;
        else if (op === 0xa0) a = (a ^ src) >>> 0;
        else if (op === 0x60) a = src >= 32 ? 0 : (a << src) >>> 0;
        else if (op === 0x70) a = src >= 32 ? 0 : a >>> src;
        if (Number.isNaN(a)) return 0;
        break;
      }
      case JMP: {
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        const t = op === 0x10 ? a === src : op === 0x20 ? a > src : op === 0x30 ? a >= src : (a & src) !== 0;
        pc += t ? jt : jf;
        break;
      }
      case RET:
        return code & 0x10 ? a : k;
      default:
        if (code & 0x80) a = x;
        else x = a;
    }
  }
  return 0;
}

export default defineMatch<BpfState>({
  kind: 'match',
  name: 'bpf',
  manSection: 'bpf',
  style: 'x6',
  help: `bpf match options:
--bytecode <program>	        : a bpf program as generated by
                                 $(nfbpf_compile RAW '<filter>')
--object-pinned <bpf object>	: a path to a pinned BPF object in bpf fs
`,
  options: [
    { name: 'bytecode', arg: 'required' },
    { name: 'object-pinned', arg: 'required' },
  ],
  init: () => ({ insns: [] }),
  parse(s, use) {
    if (use.name === 'object-pinned') throw paramProblem('bpf: failed to get bpf object');
    s.insns = parseProgram(use.value!);
  },
  finalCheck(_s, _ctx, given) {
    if (given.has('bytecode') === given.has('object-pinned')) throw paramProblem('bpf: one of --bytecode or --pinned is required');
  },
  save: (s) => ` --bytecode "${s.insns.length},${codeText(s.insns)}"`,
  print: (s) => `match bpf ${codeText(s.insns)}\0`,
  kernelCheck: (s) => (checkClassic(s.insns) ? undefined : 'Invalid argument'),
  match: (s, ctx) => bpfResult(s, ctx) !== 0,
  explain: (s) => `--bytecode "${s.insns.length},${codeText(s.insns)}": the program returned 0`,
});

function bpfResult(s: BpfState, ctx: EvalContext): number {
  const bytes = packetBytes(ctx.pkt);
  return runClassic(s.insns, bytes, Math.min(ctx.pkt.len, bytes.length));
}
