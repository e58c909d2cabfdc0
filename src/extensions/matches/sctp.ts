/**
 * sctp match (iptables-extensions: "sctp", old-style options): [!] --source-port/--sport port[:port],
 * [!] --destination-port/--dport port[:port] (names from /etc/services for sctp; min > max refused), and
 * [!] --chunk-types all|any|only chunktype[:flags][,...] (two arguments; ALL and NONE as the list; flag letters
 * upper case to be set, lower case to be clear). The kernel match needs `-p sctp`.
 *
 * libxt_sctp keeps chunk flags under the index of the name table, not the chunk type (the same up to
 * SHUTDOWN_COMPLETE): flags given on I_DATA and later types are kept but never printed (recorded).
 */
import { defineMatch } from '../spec';
import { DST, portsList, portsMiss, savePorts, SRC } from '../values/port-pair';
import { paramProblem } from '../../messages';
import { parsePort } from '../option-types';
import type { EvalContext } from '../../eval/context';

const CHUNKS = 0x04;
const MAX_FLAG_INFO = 4;

/** sctp_chunk_names[]: name, chunk type, valid flag letters (bit 7 first). */
const CHUNK_NAMES: ReadonlyArray<readonly [string, number, string]> = [
  ['DATA', 0, '----IUBE'], ['INIT', 1, '--------'], ['INIT_ACK', 2, '--------'], ['SACK', 3, '--------'],
  ['HEARTBEAT', 4, '--------'], ['HEARTBEAT_ACK', 5, '--------'], ['ABORT', 6, '-------T'], ['SHUTDOWN', 7, '--------'],
  ['SHUTDOWN_ACK', 8, '--------'], ['ERROR', 9, '--------'], ['COOKIE_ECHO', 10, '--------'], ['COOKIE_ACK', 11, '--------'],
  ['ECN_ECNE', 12, '--------'], ['ECN_CWR', 13, '--------'], ['SHUTDOWN_COMPLETE', 14, '-------T'], ['I_DATA', 64, '----IUBE'],
  ['RE_CONFIG', 130, '--------'], ['PAD', 132, '--------'], ['ASCONF', 193, '--------'], ['ASCONF_ACK', 128, '--------'],
  ['FORWARD_TSN', 192, '--------'], ['I_FORWARD_TSN', 194, '--------'],
];

const MATCH_TYPES = ['any', 'all', 'only'] as const;

interface FlagInfo {
  chunktype: number;
  flag: number;
  mask: number;
}

export interface SctpState {
  flags: number;
  invflags: number;
  spts: [number, number];
  dpts: [number, number];
  /** SCTP_CHUNK_MATCH_ANY 1, ALL 2, ONLY 4 as the index into MATCH_TYPES. */
  matchType: number;
  /** The 256-bit chunk map, as a set of chunk types. */
  chunks: number[];
  flagInfo: FlagInfo[];
}

function parsePorts(spec: string): [number, number] {
  const colon = spec.indexOf(':');
  if (colon < 0) {
    const p = parsePort(spec, 'sctp');
    return [p, p];
  }
  const lo = colon === 0 ? 0 : parsePort(spec.slice(0, colon), 'sctp');
  const rest = spec.slice(colon + 1);
  const hi = rest === '' ? 0xffff : parsePort(rest, 'sctp');
  if (lo > hi) throw paramProblem('invalid portrange (min > max)');
  return [lo, hi];
}

/** parse_sctp_chunk(): ALL, NONE, or names (case-insensitive) with optional flag letters. */
function parseChunks(s: SctpState, list: string): void {
  s.chunks = [];
  if (list.toUpperCase() === 'ALL') {
    s.chunks = Array.from({ length: 256 }, (_, i) => i);
    return;
  }
  if (list.toUpperCase() === 'NONE') return;
  for (const item of list.split(',').filter((x) => x !== '')) {
    const colon = item.indexOf(':');
    const name = colon < 0 ? item : item.slice(0, colon);
    const idx = CHUNK_NAMES.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (idx < 0) throw paramProblem(`Unknown sctp chunk \`${name}'`);
    const type = CHUNK_NAMES[idx]![1];
    if (!s.chunks.includes(type)) s.chunks.push(type);
    if (colon < 0) continue;
    const valid = CHUNK_NAMES[idx]![2];
    for (const ch of item.slice(colon + 1)) {
      const pos = valid.indexOf(ch.toUpperCase());
      if (pos < 0 || ch === '-') throw paramProblem(`Invalid flags for chunk type ${idx}`);
      const bit = 7 - pos;
      const set = ch !== ch.toLowerCase();
      let fi = s.flagInfo.find((f) => f.chunktype === idx);
      if (!fi) {
        if (s.flagInfo.length === MAX_FLAG_INFO) {
          throw paramProblem(
            'Number of chunk types with flags exceeds currently allowed limit. Increasing this limit involves changing IPT_NUM_SCTP_FLAGS and recompiling both the kernel space and user space modules',
          );
        }
        fi = { chunktype: idx, flag: 0, mask: 0 };
        s.flagInfo.push(fi);
      }
      fi.mask |= 1 << bit;
      if (set) fi.flag |= 1 << bit;
    }
  }
  s.chunks.sort((a, b) => a - b);
}

function flagText(type: number, fi: FlagInfo): string {
  const valid = CHUNK_NAMES[type]![2];
  let out = fi.mask ? ':' : '';
  for (let i = 7; i >= 0; i--) {
    if (!(fi.mask & (1 << i))) continue;
    const c = valid[7 - i]!;
    out += fi.flag & (1 << i) ? c : c.toLowerCase();
  }
  return out;
}

/** print_chunks(). */
function chunksText(s: SctpState, numeric: boolean): string {
  let out = ` ${MATCH_TYPES[s.matchType]}`;
  if (s.chunks.length === 0) return `${out} NONE`;
  if (s.chunks.length === 256) return `${out} ALL`;
  const items = s.chunks.map((t) => {
    const name = numeric ? `0x${t.toString(16).toUpperCase().padStart(4, '0')}` : (CHUNK_NAMES.find(([, ct]) => ct === t)?.[0] ?? '');
    return name + s.flagInfo.filter((f) => f.chunktype === t).map((f) => flagText(t, f)).join('');
  });
  return `${out} ${items.join(',')}`;
}

function saveText(s: SctpState): string {
  let out = '';
  out += savePorts(s.flags, s.invflags, s.spts, s.dpts);
  if (s.flags & CHUNKS) out += `${s.invflags & CHUNKS ? ' !' : ''} --chunk-types${chunksText(s, false)}`;
  return out;
}

export default defineMatch<SctpState>({
  kind: 'match',
  name: 'sctp',
  manSection: 'sctp',
  style: 'old',
  requiresProtocol: 132,
  help: `sctp match options
[!] --source-port port[:port]                          match source port(s)
 --sport ...
[!] --destination-port port[:port]                     match destination port(s)
 --dport ...
[!] --chunk-types (all|any|none) (chunktype[:flags])+	match if all, any or none of
						        chunktypes are present
chunktypes - DATA INIT INIT_ACK SACK HEARTBEAT HEARTBEAT_ACK ABORT SHUTDOWN SHUTDOWN_ACK ERROR COOKIE_ECHO COOKIE_ACK ECN_ECNE ECN_CWR SHUTDOWN_COMPLETE ASCONF ASCONF_ACK FORWARD_TSN ALL NONE
`,
  options: [
    { name: 'source-port', id: 0, arg: 'required', invert: true },
    { name: 'sport', id: 0, arg: 'required', invert: true },
    { name: 'destination-port', id: 1, arg: 'required', invert: true },
    { name: 'dport', id: 1, arg: 'required', invert: true },
    { name: 'chunk-types', id: 2, arg: 'required', invert: true },
  ],
  init: () => ({ flags: 0, invflags: 0, spts: [0, 0xffff], dpts: [0, 0xffff], matchType: 0, chunks: [], flagInfo: [] }),
  parse(s, use, ctx) {
    const v = use.value!;
    if (use.name === 'source-port' || use.name === 'sport') {
      if (s.flags & SRC) throw paramProblem("Only one `--source-port' allowed");
      s.flags |= SRC;
      s.spts = parsePorts(v);
      if (use.inverted) s.invflags |= SRC;
    } else if (use.name === 'destination-port' || use.name === 'dport') {
      if (s.flags & DST) throw paramProblem("Only one `--destination-port' allowed");
      s.flags |= DST;
      s.dpts = parsePorts(v);
      if (use.inverted) s.invflags |= DST;
    } else {
      if (s.flags & CHUNKS) throw paramProblem("Only one `--chunk-types' allowed");
      const list = ctx.nextArg();
      if (list === undefined) throw paramProblem('--chunk-types requires two args');
      s.flags |= CHUNKS;
      const t = MATCH_TYPES.indexOf(v.toLowerCase() as (typeof MATCH_TYPES)[number]);
      if (t < 0) throw paramProblem('Match type has to be one of "ALL", "ANY" or "ONLY"');
      s.matchType = t;
      parseChunks(s, list);
      if (use.inverted) s.invflags |= CHUNKS;
    }
  },
  save: saveText,
  // Flags kept under a chunk type that is not listed (I_DATA and later) print nowhere; the kernel compares them.
  compareKey: (s) => `${saveText(s)} ${JSON.stringify(s.flagInfo)}`,
  print(s, numeric) {
    let out = ' sctp';
    if (s.flags & SRC) out += portsList('spt', s.spts, !!(s.invflags & SRC), numeric, 'sctp');
    if (s.flags & DST) out += portsList('dpt', s.dpts, !!(s.invflags & DST), numeric, 'sctp');
    if (s.flags & CHUNKS) out += `${s.invflags & CHUNKS ? ' !' : ''}${chunksText(s, numeric)}`;
    return out;
  },
  match: (s, ctx) => sctpMiss(s, ctx) === undefined,
  explain: (s, ctx) => sctpMiss(s, ctx) ?? '',
});

/**
 * sctp_mt() of xt_sctp.c: each option given must hold (its `!` applied): ports from the packet's sport/dport;
 * the chunks of the packet are not simulated, so --chunk-types asks (assumed to match as written).
 */
function sctpMiss(s: SctpState, ctx: EvalContext): string | undefined {
  const ports = portsMiss(s.flags, s.invflags, s.spts, s.dpts, ctx.pkt);
  if (ports !== undefined) return ports;
  if (s.flags & CHUNKS) {
    const text = `--chunk-types${chunksText(s, false)}`;
    if (ctx.decide('sctp', `the packet's chunks match ${text}`, true) === !!(s.invflags & CHUNKS)) {
      return `${s.invflags & CHUNKS ? '! ' : ''}${text}: the packet's chunks do not match (asked)`;
    }
  }
  return undefined;
}
