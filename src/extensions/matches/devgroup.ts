/**
 * devgroup match (iptables-extensions: "devgroup"): [!] --src-group value[/mask], [!] --dst-group value[/mask],
 * values as numbers or names of /etc/iproute2/group. The kernel (devgroup_mt_checkentry) allows --src-group in
 * PREROUTING, INPUT and FORWARD and --dst-group in FORWARD, OUTPUT and POSTROUTING; a user chain is checked with
 * no hook and not again when jumped to (recorded in ext-devgroup.json).
 */
import { defineMatch, type Hook } from '../spec';
import { paramProblem } from '../../messages';
import { xtStrtoui } from '../values/cstrtoul';

/**
 * An xtables_lmap: id -> name as xtables_lmap_init() reads an iproute2 table. The recording host (Debian 12,
 * iproute2 6.1) has only the defaults: group 0 "default", realm 0 "cosmos".
 */
export type Lmap = ReadonlyArray<readonly [number, string]>;
export const DEVGROUPS: Lmap = [[0, 'default']];

/** xtables_parse_val_mask() with a name map: "N", "N/M" (C numbers, 32 bits) or a name. */
export function parseValMaskMap(ext: string, opt: string, arg: string, lmap: Lmap): { val: number; mask: number } {
  const name2val = (): { val: number; mask: number } => {
    const hit = lmap.find(([, n]) => n === arg);
    if (!hit) throw paramProblem(`${ext}: could not map name ${arg} to an integer value for option "--${opt}".\n`);
    return { val: hit[0], mask: 0xffffffff };
  };
  const v = xtStrtoui(arg, 0, 0xffffffff);
  if (!v) return name2val();
  if (v.end === arg.length) return { val: v.value, mask: 0xffffffff };
  if (arg[v.end] !== '/') return name2val();
  const m = xtStrtoui(arg, 0, 0xffffffff, v.end + 1);
  if (!m) throw paramProblem(`${ext}: bad integer value for option "--${opt}", or out of range.\n`);
  if (m.end !== arg.length) throw paramProblem(`${ext}: trailing garbage after value for option "--${opt}".\n`);
  return { val: v.value, mask: m.value };
}

/** xtables_print_val_mask(): " 0xV/0xM", else the map's name, else " 0xV". */
export function valMaskText(val: number, mask: number, lmap: Lmap | undefined): string {
  if (mask !== 0xffffffff) return ` 0x${val.toString(16)}/0x${mask.toString(16)}`;
  const name = lmap?.find(([id]) => id === val)?.[1];
  return name !== undefined ? ` ${name}` : ` 0x${val.toString(16)}`;
}

interface Group {
  given: boolean;
  inverted: boolean;
  group: number;
  mask: number;
}

export interface DevgroupState {
  src: Group;
  dst: Group;
}

const noGroup = (): Group => ({ given: false, inverted: false, group: 0, mask: 0 });

function text(s: DevgroupState, prefix: string, lmap: Lmap | undefined): string {
  let out = '';
  for (const [g, name] of [[s.src, 'src-group'], [s.dst, 'dst-group']] as const) {
    if (g.given) out += `${g.inverted ? ' !' : ''} ${prefix}${name}${valMaskText(g.group, g.mask, lmap)}`;
  }
  return out;
}

const SRC_HOOKS: readonly Hook[] = ['PREROUTING', 'INPUT', 'FORWARD'];
const DST_HOOKS: readonly Hook[] = ['FORWARD', 'OUTPUT', 'POSTROUTING'];

export default defineMatch<DevgroupState>({
  kind: 'match',
  name: 'devgroup',
  manSection: 'devgroup',
  style: 'x6',
  help: `devgroup match options:
[!] --src-group value[/mask]	Match device group of incoming device
[!] --dst-group value[/mask]	Match device group of outgoing device
`,
  options: [
    { name: 'src-group', arg: 'required', invert: true },
    { name: 'dst-group', arg: 'required', invert: true },
  ],
  init: () => ({ src: noGroup(), dst: noGroup() }),
  parse(s, use) {
    const { val, mask } = parseValMaskMap('devgroup', use.name, use.value!, DEVGROUPS);
    s[use.name === 'src-group' ? 'src' : 'dst'] = { given: true, inverted: use.inverted, group: val, mask };
  },
  finalCheck(_s, _ctx, given) {
    if (given.size === 0) throw paramProblem("devgroup match: You must specify either '--src-group' or '--dst-group'");
  },
  save: (s) => text(s, '--', DEVGROUPS),
  print: (s, numeric) => text(s, '', numeric ? undefined : DEVGROUPS),
  kernelCheck(s, view) {
    const bad = (allowed: readonly Hook[]): boolean => [...view.hooks].some((h) => !allowed.includes(h));
    if ((s.src.given && bad(SRC_HOOKS)) || (s.dst.given && bad(DST_HOOKS))) return 'Invalid argument';
    return undefined;
  },
  // devgroup_mt() of xt_devgroup.c: ((group ^ dev->group) & mask) != 0, `!` per option. The simulated
  // interfaces are all in the default group 0 (no `ip link set ... group`).
  match: (s) => devgroupMiss(s) === undefined,
  explain: (s) => devgroupMiss(s) ?? '',
});

function devgroupMiss(s: DevgroupState): string | undefined {
  for (const [g, name, dev] of [[s.src, 'src-group', 'incoming'], [s.dst, 'dst-group', 'outgoing']] as const) {
    if (!g.given) continue;
    const differs = ((g.group ^ 0) & g.mask) !== 0;
    if (differs !== g.inverted) {
      return `${g.inverted ? '! ' : ''}--${name}${valMaskText(g.group, g.mask, DEVGROUPS)}: ${dev} device is in group 0 (default)`;
    }
  }
  return undefined;
}
