/**
 * SET target (iptables-extensions: "SET"), revision 3: add the packet's addresses/ports to an ipset set
 * (--add-set, with --exist and --timeout), delete them (--del-set), or take skb marks, priorities and queues
 * from a set (--map-set with --map-mark/--map-prio/--map-queue). Old-style option handling.
 *
 * Like the set match, iptables asks the kernel's ipset for each set while parsing; tsiptables models no sets,
 * so every --add-set/--del-set/--map-set answers "Set NAME doesn't exist." as on the recording host.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { xtStrtoui } from '../values/cstrtoul';
import { parseSetOption, setInfoText, type SetInfo } from '../matches/set';

const FLAG = { EXIST: 1 << 1, MAP_MARK: 1 << 2, MAP_PRIO: 1 << 3, MAP_QUEUE: 1 << 4 } as const;
const NO_TIMEOUT = 0xffffffff;

interface SetTargetState {
  add: SetInfo;
  del: SetInfo;
  map: SetInfo;
  /** IPSET_FLAG_* of the target. */
  flags: number;
  timeout: number;
}

const emptyInfo = (): SetInfo => ({ name: '', dim: 0, dirs: 0 });

/** set_target_save_v3() / set_target_print_v3(): `dash` is "--" for save, "" for -L. */
function text(s: SetTargetState, dash: string): string {
  let out = s.add.dim ? setInfoText(`${dash}add-set`, s.add) : '';
  if (s.flags & FLAG.EXIST) out += ` ${dash}exist`;
  if (s.timeout !== NO_TIMEOUT) out += ` ${dash}timeout ${s.timeout}`;
  if (s.del.dim) out += setInfoText(`${dash}del-set`, s.del);
  if (s.map.dim) out += setInfoText(`${dash}map-set`, s.map);
  if (s.flags & FLAG.MAP_MARK) out += ` ${dash}map-mark`;
  if (s.flags & FLAG.MAP_PRIO) out += ` ${dash}map-prio`;
  if (s.flags & FLAG.MAP_QUEUE) out += ` ${dash}map-queue`;
  return out;
}

export default defineTarget<SetTargetState>({
  kind: 'target',
  name: 'SET',
  manSection: 'SET',
  style: 'old',
  help: `SET target options:
 --add-set name flags [--exist] [--timeout n]
 --del-set name flags
 --map-set name flags [--map-mark] [--map-prio] [--map-queue]
		add/del src/dst IP/port from/to named sets,
		where flags are the comma separated list of
		'src' and 'dst' specifications.
`,
  options: [
    { name: 'add-set', arg: 'required' },
    { name: 'del-set', arg: 'required' },
    { name: 'exist', arg: 'none' },
    { name: 'timeout', arg: 'required' },
    { name: 'map-set', arg: 'required' },
    { name: 'map-mark', arg: 'none' },
    { name: 'map-prio', arg: 'none' },
    { name: 'map-queue', arg: 'none' },
  ],
  init: () => ({ add: emptyInfo(), del: emptyInfo(), map: emptyInfo(), flags: 0, timeout: NO_TIMEOUT }),
  parse(s, use, ctx) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'add-set':
        parseSetOption(s.add, use.name, v, ctx);
        break;
      case 'del-set':
        parseSetOption(s.del, use.name, v, ctx);
        break;
      case 'map-set':
        parseSetOption(s.map, use.name, v, ctx);
        break;
      case 'exist':
        s.flags |= FLAG.EXIST;
        break;
      case 'timeout': {
        const t = xtStrtoui(v, 0, NO_TIMEOUT - 1);
        if (!t || t.end !== v.length) {
          throw paramProblem(`Invalid value for option --timeout or out of range 0-${NO_TIMEOUT - 1}`);
        }
        s.timeout = t.value;
        break;
      }
      case 'map-mark':
        s.flags |= FLAG.MAP_MARK;
        break;
      case 'map-prio':
        s.flags |= FLAG.MAP_PRIO;
        break;
      case 'map-queue':
        s.flags |= FLAG.MAP_QUEUE;
        break;
    }
  },
  // set_target_check_v3()
  finalCheck(_s, _ctx, g) {
    if (!g.has('add-set') && !g.has('del-set') && !g.has('map-set')) {
      throw paramProblem("You must specify either `--add-set' or `--del-set' or `--map-set'");
    }
    if (!g.has('add-set')) {
      if (g.has('exist')) throw paramProblem("Flag `--exist' can be used with `--add-set' only");
      if (g.has('timeout')) throw paramProblem("Option `--timeout' can be used with `--add-set' only");
    }
    if (!g.has('map-set')) {
      if (g.has('map-mark')) throw paramProblem("Flag `--map-mark' can be used with `--map-set' only");
      if (g.has('map-prio')) throw paramProblem("Flag `--map-prio' can be used with `--map-set' only");
      if (g.has('map-queue')) throw paramProblem("Flag `--map-queue' can be used with `--map-set' only");
    }
    if (g.has('map-set') && !g.has('map-mark') && !g.has('map-prio') && !g.has('map-queue')) {
      throw paramProblem("You must specify flags `--map-mark' or '--map-prio` or `--map-queue'");
    }
  },
  save: (s) => text(s, '--'),
  print: (s) => text(s, ''),
  // set_target_v3() of xt_set.c: adds the packet's element to --add-set (with --exist/--timeout), deletes it
  // from --del-set, or takes mark/priority/queue from the element of --map-set. tsiptables models no ipset
  // sets, so this is a note; XT_CONTINUE.
  run(s, ctx) {
    if (s.add.dim) ctx.note(`SET: would add the packet to set ${s.add.name}${s.flags & FLAG.EXIST ? ' (--exist)' : ''}${s.timeout !== NO_TIMEOUT ? ` for ${s.timeout} s` : ''} (ipset not simulated)`);
    if (s.del.dim) ctx.note(`SET: would delete the packet from set ${s.del.name} (ipset not simulated)`);
    if (s.map.dim) ctx.note(`SET: would take the packet's ${[s.flags & FLAG.MAP_MARK ? 'mark' : '', s.flags & FLAG.MAP_PRIO ? 'priority' : '', s.flags & FLAG.MAP_QUEUE ? 'queue' : ''].filter((x) => x).join(', ')} from set ${s.map.name} (ipset not simulated)`);
    return 'CONTINUE';
  },
});
