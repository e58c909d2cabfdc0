/**
 * CT target (iptables-extensions: "CT"), revision 2 (xt_ct_target_info_v1), and its alias NOTRACK
 * (iptables-extensions: "NOTRACK"), which is CT with the notrack flag and an alias flag that makes it print as
 * NOTRACK. Both live in the raw table only. The kernel looks helpers up by name and the rule's protocol
 * (ENOENT when there is none), and knows no timeout policy iptables could name.
 */
import { paramProblem } from '../../messages';
import { parseUint } from '../../model/cnum';
import { truncateBytes } from '../values/cstring';
import { defineTarget, type KernelView } from '../spec';
import type { EvalContext, TargetVerdict } from '../../eval/context';

const ZONE_DIR_ORIG = 1 << 2;
const ZONE_DIR_REPL = 1 << 3;
const ZONE_MARK = 1 << 4;

interface CtState {
  notrack: boolean;
  helper: string;
  timeout: string;
  ctEvents: number;
  expEvents: number;
  zone: number;
  /** XT_CT_ZONE_* bits. */
  zoneFlags: number;
}

/** ct_event_tbl[] / exp_event_tbl[]: name and bit (enum ip_conntrack_events / ip_conntrack_expect_events). */
const CT_EVENTS: ReadonlyArray<readonly [string, number]> = [
  ['new', 0],
  ['related', 1],
  ['destroy', 2],
  ['reply', 3],
  ['assured', 4],
  ['protoinfo', 5],
  ['helper', 6],
  ['mark', 7],
  ['natseqinfo', 8],
  ['secmark', 9],
];
const EXP_EVENTS: ReadonlyArray<readonly [string, number]> = [['new', 0]];

/** The kernel's conntrack helpers by name, with the protocols each registers for. */
const HELPERS: Readonly<Record<string, readonly number[]>> = {
  ftp: [6],
  irc: [6],
  sip: [17, 6],
  tftp: [17],
  amanda: [17],
  RAS: [17],
  'Q.931': [6],
  'netbios-ns': [17],
  pptp: [6],
  sane: [6],
  snmp: [17],
  snmp_trap: [17],
};

function parseEvents(table: ReadonlyArray<readonly [string, number]>, list: string): number {
  let mask = 0;
  for (const t of list.split(',')) {
    const e = table.find(([n]) => n === t);
    if (!e) throw paramProblem(`Unknown event type "${t}"`);
    mask |= 1 << e[1];
  }
  return mask;
}

function eventsText(pfx: string, table: ReadonlyArray<readonly [string, number]>, mask: number): string {
  return ` ${pfx} ${table.filter(([, bit]) => mask & (1 << bit)).map(([n]) => n).join(',')}`;
}

function zoneText(pfx: string, s: CtState): string {
  let out = ` ${pfx}`;
  const dir = s.zoneFlags & (ZONE_DIR_ORIG | ZONE_DIR_REPL);
  if (dir === ZONE_DIR_ORIG) out += '-orig';
  if (dir === ZONE_DIR_REPL) out += '-reply';
  return out + (s.zoneFlags & ZONE_MARK ? ' mark' : ` ${s.zone}`);
}

/** ct_print_v1 / ct_save_v1 without the alias case. */
function ctText(s: CtState, dash: string): string {
  let out = '';
  if (s.notrack) out += ` ${dash}notrack`;
  if (s.helper !== '') out += ` ${dash}helper ${s.helper}`;
  if (s.timeout !== '') out += ` ${dash}timeout ${s.timeout}`;
  if (s.ctEvents) out += eventsText(`${dash}ctevents`, CT_EVENTS, s.ctEvents);
  if (s.expEvents) out += eventsText(`${dash}expevents`, EXP_EVENTS, s.expEvents);
  if (s.zoneFlags & ZONE_MARK || s.zone) out += zoneText(`${dash}zone`, s);
  return out;
}

/** xt_ct_tg_check(): notrack skips everything; helper and timeout need a (not inverted) protocol. */
function ctKernelCheck(s: CtState, k: KernelView): string | undefined {
  if (s.notrack) return undefined;
  const proto = k.protocolInverted ? 0 : k.protocol;
  if (s.helper !== '' && !(proto && HELPERS[s.helper]?.includes(proto))) return 'No such file or directory';
  if (s.timeout !== '') return proto ? 'No such file or directory' : 'Invalid argument';
  return undefined;
}

/**
 * xt_ct_target() of xt_CT.c: a packet that already has a conntrack entry attached is left alone; else
 * --notrack (and NOTRACK) makes it UNTRACKED, and the other options attach a template the new connection
 * is created from (helper, timeout policy, event mask, zone), which the simulation does not model: it says
 * so in a note. XT_CONTINUE.
 */
function ctRun(s: CtState, ctx: EvalContext): TargetVerdict {
  if (ctx.ctState === 'UNTRACKED' || ctx.ct) return 'CONTINUE';
  if (s.notrack) {
    ctx.notrack();
    return 'CONTINUE';
  }
  const parts: string[] = [];
  if (s.helper !== '') parts.push(`helper ${s.helper}`);
  if (s.timeout !== '') parts.push(`timeout policy ${s.timeout}`);
  if (s.ctEvents) parts.push(eventsText('ctevents', CT_EVENTS, s.ctEvents).trim());
  if (s.expEvents) parts.push(eventsText('expevents', EXP_EVENTS, s.expEvents).trim());
  if (s.zoneFlags & ZONE_MARK || s.zone) parts.push(zoneText('zone', s).trim());
  if (parts.length) ctx.note(`CT: the connection would get ${parts.join(', ')} (not simulated)`);
  return 'CONTINUE';
}

const initState = (): CtState => ({ notrack: false, helper: '', timeout: '', ctEvents: 0, expEvents: 0, zone: 0, zoneFlags: 0 });

export const CT = defineTarget<CtState>({
  kind: 'target',
  needsConntrack: true,
  name: 'CT',
  manSection: 'CT',
  style: 'x6',
  tables: ['raw'],
  help: `CT target options:
 --notrack\t\t\tDon't track connection
 --helper name\t\t\tUse conntrack helper 'name' for connection
 --timeout name \t\tUse timeout policy 'name' for connection
 --ctevents event[,event...]\tGenerate specified conntrack events for connection
 --expevents event[,event...]\tGenerate specified expectation events for connection
 --zone {ID|mark}\t\tAssign/Lookup connection in zone ID/packet nfmark
 --zone-orig {ID|mark}\t\tSame as 'zone' option, but only applies to ORIGINAL direction
 --zone-reply {ID|mark} \tSame as 'zone' option, but only applies to REPLY direction
`,
  options: [
    { name: 'notrack', arg: 'none' },
    { name: 'helper', arg: 'required' },
    { name: 'timeout', arg: 'required' },
    { name: 'ctevents', arg: 'required' },
    { name: 'expevents', arg: 'required' },
    { name: 'zone-orig', arg: 'required' },
    { name: 'zone-reply', arg: 'required' },
    { name: 'zone', arg: 'required' },
  ],
  init: initState,
  parse(s, use) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'notrack':
        s.notrack = true;
        return;
      case 'helper':
        s.helper = truncateBytes(v, 15);
        return;
      case 'timeout':
        s.timeout = truncateBytes(v, 31);
        return;
      case 'ctevents':
        s.ctEvents = parseEvents(CT_EVENTS, v);
        return;
      case 'expevents':
        s.expEvents = parseEvents(EXP_EVENTS, v);
        return;
      case 'zone-orig':
      case 'zone-reply':
      case 'zone': {
        // ct_parse_zone_id(): direction bits accumulate, the id is replaced.
        if (use.name === 'zone-orig') s.zoneFlags |= ZONE_DIR_ORIG;
        if (use.name === 'zone-reply') s.zoneFlags |= ZONE_DIR_REPL;
        s.zone = 0;
        if (v.toLowerCase() === 'mark') s.zoneFlags |= ZONE_MARK;
        else {
          const id = parseUint(v, 0, 65535);
          if (id === null) throw paramProblem(`Cannot parse ${v} as a zone ID`);
          s.zone = id;
        }
        return;
      }
    }
  },
  kernelCheck: ctKernelCheck,
  save: (s) => ctText(s, '--'),
  print: (s) => ` CT${ctText(s, '')}`,
  run: ctRun,
});

/** NOTRACK: `-j NOTRACK`, saved as such, listed as the kernel's CT target with " NOTRACK". */
export const NOTRACK = defineTarget<CtState>({
  kind: 'target',
  needsConntrack: true,
  name: 'NOTRACK',
  realName: 'CT',
  manSection: 'NOTRACK',
  style: 'x6',
  tables: ['raw'],
  help: 'NOTRACK does not take any options\n',
  options: [],
  init: () => ({ ...initState(), notrack: true }),
  parse: () => undefined,
  kernelCheck: ctKernelCheck,
  save: () => '',
  print: () => ' NOTRACK',
  run: ctRun,
});
