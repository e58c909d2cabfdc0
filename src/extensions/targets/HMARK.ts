/**
 * HMARK target (iptables-extensions: "HMARK", libxt_HMARK IPv4 / xt_HMARK.c): mark = hash(addresses, ports or
 * SPI, protocol) modulo --hmark-mod, plus --hmark-offset. --hmark-tuple names what goes into the hash (each
 * element a case-insensitive prefix of src, dst, sport, dport, spi, proto, ct); the fine-tuning options set the
 * same masks explicitly. Any table and chain.
 *
 * libxtables quirks kept: a tuple element marks the option it stands for as given, so `--hmark-tuple src
 * --hmark-src-prefix 24` is "can only be used once"; a tuple (or a prefix longer than 32) fills all 128 bits of
 * the nf_inet_addr mask while `--hmark-src-prefix 32` fills 32 of them, so the two save the same text but
 * differ to -C/-D (compareKey) and the state file keeps the tuple spelling (stateText).
 */
import { paramProblem } from '../../messages';
import { parseX6Uint } from '../option-types';
import { defineTarget } from '../spec';
import { parseX6Plen, plenToMask } from '../values/x6';
import { maskToCidr } from '../../model/ip';
import type { EvalContext, TargetVerdict } from '../../eval/context';

/** XT_HMARK_* bits (xt_HMARK.h), the same numbers as the option ids of libxt_HMARK.c. */
const F = {
  SADDR_MASK: 1 << 0,
  DADDR_MASK: 1 << 1,
  SPI: 1 << 2,
  SPI_MASK: 1 << 3,
  SPORT: 1 << 4,
  DPORT: 1 << 5,
  SPORT_MASK: 1 << 6,
  DPORT_MASK: 1 << 7,
  PROTO_MASK: 1 << 8,
  RND: 1 << 9,
  MODULUS: 1 << 10,
  OFFSET: 1 << 11,
  CT: 1 << 12,
} as const;

const PKT_MASK = F.SADDR_MASK | F.DADDR_MASK | F.SPI_MASK | F.SPORT_MASK | F.DPORT_MASK | F.PROTO_MASK | F.SPORT | F.DPORT | F.SPI;

/** The option of each flag, for the "once" message after a tuple set it. */
const OPTION_OF: ReadonlyArray<readonly [number, string]> = [
  [F.SADDR_MASK, 'hmark-src-prefix'],
  [F.DADDR_MASK, 'hmark-dst-prefix'],
  [F.SPI_MASK, 'hmark-spi-mask'],
  [F.SPORT_MASK, 'hmark-sport-mask'],
  [F.DPORT_MASK, 'hmark-dport-mask'],
  [F.PROTO_MASK, 'hmark-proto-mask'],
];

export interface HmarkState {
  flags: number;
  srcMask: number;
  dstMask: number;
  /** The mask fills all of nf_inet_addr (a tuple element, or a prefix read as 255). */
  srcWide: boolean;
  dstWide: boolean;
  /** port_mask / port_set as their big-endian 32 bits: source port high, destination port low; or the SPI. */
  portMask: number;
  portSet: number;
  protoMask: number;
  rnd: number;
  mod: number;
  offset: number;
  /** xflags bits --hmark-tuple set (libxtables then refuses those options as given twice). */
  tupleSet: number;
}

/** hmark_parse(): a tuple element, matched as a case-insensitive prefix in this order. */
const TUPLE: ReadonlyArray<readonly [string, (s: HmarkState) => number]> = [
  ['ct', () => F.CT],
  ['src', (s) => ((s.srcMask = 0xffffffff), (s.srcWide = true), F.SADDR_MASK)],
  ['dst', (s) => ((s.dstMask = 0xffffffff), (s.dstWide = true), F.DADDR_MASK)],
  ['sport', (s) => ((s.portMask = (s.portMask | 0xffff0000) >>> 0), F.SPORT_MASK)],
  ['dport', (s) => ((s.portMask = (s.portMask | 0xffff) >>> 0), F.DPORT_MASK)],
  ['proto', (s) => ((s.protoMask = 0xffff), F.PROTO_MASK)],
  ['spi', (s) => ((s.portMask = 0xffffffff), F.SPI_MASK)],
];

function tupleElement(s: HmarkState, type: string): boolean {
  const t = type.toLowerCase();
  const hit = TUPLE.find(([name]) => name.startsWith(t) && t.length > 0);
  if (!hit) return false;
  const flag = hit[1](s);
  s.flags |= flag;
  s.tupleSet |= flag;
  return true;
}

/** hmark_parse_type(): every comma-ended element, then the last one; the message quotes the rest of the list. */
function parseTuple(s: HmarkState, arg: string): void {
  let rest = arg;
  for (let comma = rest.indexOf(','); comma >= 0; comma = rest.indexOf(',')) {
    if (comma === 0 || !tupleElement(s, rest.slice(0, comma))) throw paramProblem(`Bad type "${rest}"`);
    rest = rest.slice(comma + 1);
  }
  if (rest === '') throw paramProblem('"--hmark-tuple" requires a list of types with no spaces, e.g. src,dst,sport,dport,proto');
  if (!tupleElement(s, rest)) throw paramProblem(`Bad type "${rest}"`);
}

const hex = (n: number, width = 0): string => `0x${(n >>> 0).toString(16).padStart(width, '0')}`;
/** xtables_ipmask_to_cidr() of the first 32 bits. */
const cidr = (m: number): number => maskToCidr(m >>> 0);

function fineText(s: HmarkState): string {
  let out = '';
  if (s.flags & F.SPORT_MASK) out += ` --hmark-sport-mask ${hex(s.portMask >>> 16, 4)}`;
  if (s.flags & F.DPORT_MASK) out += ` --hmark-dport-mask ${hex(s.portMask & 0xffff, 4)}`;
  if (s.flags & F.SPI_MASK) out += ` --hmark-spi-mask ${hex(s.portMask, 8)}`;
  if (s.flags & F.SPORT) out += ` --hmark-sport ${hex(s.portSet >>> 16, 4)}`;
  if (s.flags & F.DPORT) out += ` --hmark-dport ${hex(s.portSet & 0xffff, 4)}`;
  if (s.flags & F.SPI) out += ` --hmark-spi ${hex(s.portSet, 8)}`;
  if (s.flags & F.PROTO_MASK) out += ` --hmark-proto-mask ${hex(s.protoMask, 2)}`;
  if (s.flags & F.RND) out += ` --hmark-rnd ${hex(s.rnd, 8)}`;
  if (s.flags & F.MODULUS) out += ` --hmark-mod ${s.mod}`;
  if (s.flags & F.OFFSET) out += ` --hmark-offset ${s.offset}`;
  return out;
}

/** HMARK_ip4_save(). */
function saveText(s: HmarkState): string {
  let out = '';
  if (s.flags & F.SADDR_MASK) out += ` --hmark-src-prefix ${cidr(s.srcMask)}`;
  if (s.flags & F.DADDR_MASK) out += ` --hmark-dst-prefix ${cidr(s.dstMask)}`;
  return out + fineText(s) + (s.flags & F.CT ? ' --hmark-tuple ct' : '');
}

export default defineTarget<HmarkState>({
  kind: 'target',
  name: 'HMARK',
  manSection: 'HMARK',
  style: 'x6',
  help: `HMARK target options, i.e. modify hash calculation by:
  --hmark-tuple [src|dst|sport|dport|spi|proto|ct][,...]
  --hmark-mod value		    nfmark modulus value
  --hmark-offset value		    Last action add value to nfmark

  --hmark-rnd			    Random see for hashing
 Alternatively, fine tuning of what will be included in hash calculation
  --hmark-src-prefix length	    Source address mask CIDR prefix
  --hmark-dst-prefix length	    Dest address mask CIDR prefix
  --hmark-sport-mask value	    Mask src port with value
  --hmark-dport-mask value	    Mask dst port with value
  --hmark-spi-mask value	    For esp and ah AND spi with value
  --hmark-sport value		    OR src port with value
  --hmark-dport value		    OR dst port with value
  --hmark-spi value		    For esp and ah OR spi with value
  --hmark-proto-mask value	    Mask Protocol with value
`,
  // HMARK_opts[] in table order, with the C ids.
  options: [
    { name: 'hmark-tuple', id: 13, arg: 'required' },
    { name: 'hmark-src-prefix', id: 0, arg: 'required' },
    { name: 'hmark-dst-prefix', id: 1, arg: 'required' },
    { name: 'hmark-sport-mask', id: 6, arg: 'required' },
    { name: 'hmark-dport-mask', id: 7, arg: 'required' },
    { name: 'hmark-spi-mask', id: 3, arg: 'required' },
    { name: 'hmark-sport', id: 4, arg: 'required' },
    { name: 'hmark-dport', id: 5, arg: 'required' },
    { name: 'hmark-spi', id: 2, arg: 'required' },
    { name: 'hmark-proto-mask', id: 8, arg: 'required' },
    { name: 'hmark-rnd', id: 9, arg: 'required' },
    { name: 'hmark-mod', id: 10, arg: 'required', mandatory: true },
    { name: 'hmark-offset', id: 11, arg: 'required' },
  ],
  init: () => ({
    flags: 0,
    srcMask: 0,
    dstMask: 0,
    srcWide: false,
    dstWide: false,
    portMask: 0,
    portSet: 0,
    protoMask: 0,
    rnd: 0,
    mod: 0,
    offset: 0,
    tupleSet: 0,
  }),
  parse(s, use) {
    const v = use.value!;
    const once = OPTION_OF.find(([, name]) => name === use.name);
    if (once && s.tupleSet & once[0]) throw paramProblem(`HMARK: option "--${use.name}" can only be used once.\n`);
    const u16 = (): number => parseX6Uint('HMARK', use.name, v, 0, 0xffff);
    const u32 = (min = 0): number => parseX6Uint('HMARK', use.name, v, min, 0xffffffff);
    switch (use.name) {
      case 'hmark-tuple':
        parseTuple(s, v);
        return;
      case 'hmark-src-prefix': {
        const hlen = parseX6Plen('HMARK', use.name, v);
        s.srcMask = plenToMask(hlen);
        s.srcWide = hlen > 32;
        s.flags |= F.SADDR_MASK;
        return;
      }
      case 'hmark-dst-prefix': {
        const hlen = parseX6Plen('HMARK', use.name, v);
        s.dstMask = plenToMask(hlen);
        s.dstWide = hlen > 32;
        s.flags |= F.DADDR_MASK;
        return;
      }
      case 'hmark-sport-mask':
        s.portMask = ((u16() << 16) | (s.portMask & 0xffff)) >>> 0;
        s.flags |= F.SPORT_MASK;
        return;
      case 'hmark-dport-mask':
        s.portMask = ((s.portMask & 0xffff0000) | u16()) >>> 0;
        s.flags |= F.DPORT_MASK;
        return;
      case 'hmark-spi-mask':
        s.portMask = u32();
        s.flags |= F.SPI_MASK;
        return;
      case 'hmark-sport':
        s.portSet = ((u16() << 16) | (s.portSet & 0xffff)) >>> 0;
        s.flags |= F.SPORT;
        return;
      case 'hmark-dport':
        s.portSet = ((s.portSet & 0xffff0000) | u16()) >>> 0;
        s.flags |= F.DPORT;
        return;
      case 'hmark-spi':
        s.portSet = u32();
        s.flags |= F.SPI;
        return;
      case 'hmark-proto-mask':
        s.protoMask = u16();
        s.flags |= F.PROTO_MASK;
        return;
      case 'hmark-rnd':
        s.rnd = u32();
        s.flags |= F.RND;
        return;
      case 'hmark-mod':
        s.mod = u32(1);
        s.flags |= F.MODULUS;
        return;
      case 'hmark-offset':
        s.offset = u32();
        s.flags |= F.OFFSET;
        return;
    }
  },
  // HMARK_check(): on libxtables' xflags, which are these flags (a tuple sets them too).
  finalCheck(s) {
    if (!(s.flags & F.MODULUS)) throw paramProblem('--hmark-mod is mandatory');
    if (!(s.flags & F.RND)) throw paramProblem('--hmark-rnd is mandatory');
    if (s.flags & F.SPI_MASK && s.flags & (F.SPORT_MASK | F.DPORT_MASK)) {
      throw paramProblem('you cannot use --hmark-spi-mask and --hmark-?port-mask,at the same time');
    }
    if (!(s.flags & (PKT_MASK | F.CT))) throw paramProblem('you have to specify --hmark-tuple at least');
  },
  // hmark_tg_check() of xt_HMARK.c.
  kernelCheck(s) {
    if (s.mod === 0) return 'Invalid argument';
    if (s.flags & F.SPI_MASK && s.flags & (F.SPORT_MASK | F.DPORT_MASK)) return 'Invalid argument';
    if (s.flags & F.SPI && s.flags & (F.SPORT | F.DPORT)) return 'Invalid argument';
    return undefined;
  },
  save: saveText,
  compareKey: (s) => `${saveText(s)}\0${s.srcWide}\0${s.dstWide}`,
  // The wide masks only read back from a tuple.
  stateText(s) {
    if (!s.srcWide && !s.dstWide) return undefined;
    const tuple = [s.srcWide ? 'src' : '', s.dstWide ? 'dst' : '', s.flags & F.CT ? 'ct' : ''].filter(Boolean).join(',');
    let out = ` --hmark-tuple ${tuple}`;
    if (s.flags & F.SADDR_MASK && !s.srcWide) out += ` --hmark-src-prefix ${cidr(s.srcMask)}`;
    if (s.flags & F.DADDR_MASK && !s.dstWide) out += ` --hmark-dst-prefix ${cidr(s.dstMask)}`;
    return out + fineText(s);
  },
  // HMARK_ip4_print(): every item ends with a space.
  print(s) {
    let out = ' HMARK ';
    if (s.flags & F.MODULUS) out += `mod ${s.mod} `;
    if (s.flags & F.OFFSET) out += `+ ${hex(s.offset)} `;
    if (s.flags & F.CT) out += 'ct, ';
    if (s.flags & F.SADDR_MASK) out += `src-prefix ${cidr(s.srcMask) >>> 0} `;
    if (s.flags & F.DADDR_MASK) out += `dst-prefix ${cidr(s.dstMask) >>> 0} `;
    if (s.flags & F.SPORT_MASK) out += `sport-mask ${hex(s.portMask >>> 16)} `;
    if (s.flags & F.DPORT_MASK) out += `dport-mask ${hex(s.portMask & 0xffff)} `;
    if (s.flags & F.SPI_MASK) out += `spi-mask ${hex(s.portMask)} `;
    if (s.flags & F.SPORT) out += `sport ${hex(s.portSet >>> 16)} `;
    if (s.flags & F.DPORT) out += `dport ${hex(s.portSet & 0xffff)} `;
    if (s.flags & F.SPI) out += `spi ${hex(s.portSet)} `;
    if (s.flags & F.PROTO_MASK) out += `proto-mask ${hex(s.protoMask)} `;
    if (s.flags & F.RND) out += `rnd ${hex(s.rnd)} `;
    return out;
  },
  run: (s, ctx) => hmarkRun(s, ctx),
});

// ---------------------------------------------------------------------------------------------------------
// Packet semantics

const rol32 = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/** jhash_3words() of include/linux/jhash.h (__jhash_final on a, b, c plus the initial value). */
export function jhash3(a0: number, b0: number, c0: number, initval: number): number {
  const iv = (initval + 0xdeadbeef + (3 << 2)) >>> 0;
  let a = (a0 + iv) >>> 0;
  let b = (b0 + iv) >>> 0;
  let c = (c0 + iv) >>> 0;
  c = ((c ^ b) - rol32(b, 14)) >>> 0;
  a = ((a ^ c) - rol32(c, 11)) >>> 0;
  b = ((b ^ a) - rol32(a, 25)) >>> 0;
  c = ((c ^ b) - rol32(b, 16)) >>> 0;
  a = ((a ^ c) - rol32(c, 4)) >>> 0;
  b = ((b ^ a) - rol32(a, 14)) >>> 0;
  c = ((c ^ b) - rol32(b, 24)) >>> 0;
  return c;
}

/** hmark_swap_ports(): mask and set the ports, then the larger one in the high half. */
function swapPorts(ports: number, s: HmarkState): number {
  const hp = ((ports & s.portMask) | s.portSet) >>> 0;
  const src = hp >>> 16;
  const dst = hp & 0xffff;
  return (dst > src ? (dst << 16) | src : (src << 16) | dst) >>> 0;
}

/** Protocols with ports (or an SPI) at the start of their header, and AH's SPI 4 bytes in (proto_ports_offset). */
const PORTS_AT_START = new Set([6, 17, 33, 132, 136, 50]);
const PROTO_AH = 51;

/**
 * hmark_tg_v4() of xt_HMARK.c: the tuple from the connection (--hmark-tuple ct: original source, reply source,
 * their ports) or from the packet (addresses masked, ports masked and set; ICMP errors use the quoted
 * header), then mark = reciprocal_scale(jhash_3words(low addr, high addr, ports, rnd) ^ (proto & proto_mask),
 * mod) + offset. Without a connection under ct, the mark is left. XT_CONTINUE.
 */
function hmarkRun(s: HmarkState, ctx: EvalContext): TargetVerdict {
  const p = ctx.pkt;
  let src: number;
  let dst: number;
  let proto = 0;
  let ports = 0;
  if (s.flags & F.CT) {
    if (!ctx.ct) {
      ctx.note('HMARK: no connection for the ct tuple: mark left as it is');
      return 'CONTINUE';
    }
    src = (ctx.ct.orig.src & s.srcMask) >>> 0;
    dst = (ctx.ct.reply.src & s.dstMask) >>> 0;
    proto = ctx.ct.orig.proto;
    if (proto !== 1) ports = swapPorts(((ctx.ct.orig.sport << 16) | ctx.ct.reply.sport) >>> 0, s);
  } else {
    const q = p.proto === 1 && p.quoted ? p.quoted : undefined;
    src = ((q ? q.src : p.src) & s.srcMask) >>> 0;
    dst = ((q ? q.dst : p.dst) & s.dstMask) >>> 0;
    proto = q ? q.proto : p.proto;
    if (proto !== 1 && (PORTS_AT_START.has(proto) || proto === PROTO_AH)) {
      const raw = proto === 6 || proto === 17 ? (((q ? q.sport : p.sport) << 16) | (q ? q.dport : p.dport)) >>> 0 : 0;
      if (proto !== 6 && proto !== 17) ctx.note(`HMARK: the ports/SPI of protocol ${proto} are not simulated (taken as 0)`);
      ports = swapPorts(raw, s);
    }
  }
  const [lo, hi] = dst < src ? [dst, src] : [src, dst];
  const hash = (jhash3(lo, hi, ports, s.rnd) ^ (proto & s.protoMask)) >>> 0;
  const mark = (Number((BigInt(hash) * BigInt(s.mod)) >> 32n) + s.offset) >>> 0;
  const old = p.mark;
  p.mark = mark;
  ctx.note(`HMARK: hash ${hex(hash)} mod ${s.mod}${s.offset ? ` + ${s.offset}` : ''}: mark ${hex(old)} -> ${hex(mark)}`);
  return 'CONTINUE';
}
