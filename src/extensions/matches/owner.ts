/**
 * owner match (iptables-extensions: "owner"), revision 1: [!] --uid-owner and [!] --gid-owner (a name, an id or
 * an id range "a-b" / "a:b"), [!] --socket-exists, --suppl-groups. The kernel accepts it only in OUTPUT and
 * POSTROUTING. Names resolve through the recording host's account database (values/accounts.ts).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { GROUP, PASSWD, idByName, nameById } from '../values/accounts';
import { xtStrtoul } from '../values/cstrtoul';
import { badValueAct } from '../values/x6';
import type { EvalContext } from '../../eval/context';

const F = { UID: 1, GID: 2, SOCKET: 4, SUPPL: 8 } as const;
const ID_MAX = 0xfffffffen; // -1 is reserved, so the largest id is one less

/** owner_parse_range(): "id", "id-id" or "id:id". */
function parseRange(arg: string, opt: string): [number, number] {
  const bad = (): Error => badValueAct('owner', opt, arg);
  const from = xtStrtoul(arg, 0n, ID_MAX);
  if (!from) throw bad();
  let to = from;
  if (arg[from.end] === '-' || arg[from.end] === ':') {
    const r = xtStrtoul(arg, 0n, ID_MAX, from.end + 1);
    if (!r) throw bad();
    to = r;
  }
  if (to.end !== arg.length) throw bad();
  return [Number(from.value), Number(to.value)];
}

export interface OwnerState {
  match: number;
  invert: number;
  uid: [number, number];
  gid: [number, number];
}

function idText(range: readonly [number, number], db: typeof PASSWD, numeric: boolean): string {
  const [min, max] = range;
  if (min !== max) return ` ${min}-${max}`;
  const name = numeric ? undefined : nameById(db, min);
  return ` ${name ?? min}`;
}

/** owner_mt_print_item() over the four items, with the -L or the save labels. */
function render(s: OwnerState, save: boolean, numeric: boolean): string {
  const item = (flag: number, label: string, value: string): string => {
    if (!(s.match & flag)) return '';
    return `${s.invert & flag ? ' !' : ''} ${label}${value}`;
  };
  return (
    item(F.SOCKET, save ? '--socket-exists' : 'owner socket exists', '') +
    item(F.UID, save ? '--uid-owner' : 'owner UID match', idText(s.uid, PASSWD, numeric)) +
    item(F.GID, save ? '--gid-owner' : 'owner GID match', idText(s.gid, GROUP, numeric)) +
    item(F.SUPPL, save ? '--suppl-groups' : 'incl. suppl. groups', '')
  );
}

export default defineMatch<OwnerState>({
  kind: 'match',
  name: 'owner',
  manSection: 'owner',
  style: 'x6',
  hooks: ['OUTPUT', 'POSTROUTING'],
  help: `owner match options:
[!] --uid-owner userid[-userid]      Match local UID
[!] --gid-owner groupid[-groupid]    Match local GID
[!] --socket-exists                  Match if socket exists
    --suppl-groups                   Also match supplementary groups set with --gid-owner
`,
  options: [
    { name: 'uid-owner', arg: 'required', invert: true },
    { name: 'gid-owner', arg: 'required', invert: true },
    { name: 'socket-exists', arg: 'none', invert: true },
    { name: 'suppl-groups', arg: 'none' },
  ],
  init: () => ({ match: 0, invert: 0, uid: [0, 0], gid: [0, 0] }),
  parse(s, use) {
    const v = use.value ?? '';
    let flag: number;
    switch (use.name) {
      case 'uid-owner': {
        const id = idByName(PASSWD, v);
        s.uid = id !== undefined ? [id, id] : parseRange(v, '--uid-owner');
        flag = F.UID;
        break;
      }
      case 'gid-owner': {
        const id = idByName(GROUP, v);
        s.gid = id !== undefined ? [id, id] : parseRange(v, '--gid-owner');
        flag = F.GID;
        break;
      }
      case 'socket-exists':
        flag = F.SOCKET;
        break;
      default:
        if (!(s.match & F.GID)) throw badValueAct('owner', '--suppl-groups', 'you need to use --gid-owner first');
        flag = F.SUPPL;
    }
    s.match |= flag;
    if (use.inverted) s.invert |= flag;
  },
  finalCheck(s) {
    if (s.match === 0) {
      throw paramProblem('owner: At least one of --uid-owner, --gid-owner or --socket-exists is required');
    }
  },
  save: (s) => render(s, true, true),
  print: (s, numeric) => render(s, false, numeric),
  // owner_check(): a range must not run backwards.
  kernelCheck: (s) =>
    (s.match & F.UID && s.uid[0] > s.uid[1]) || (s.match & F.GID && s.gid[0] > s.gid[1]) ? 'Invalid argument' : undefined,
  match: (s, ctx) => failedCriterion(s, ctx) === undefined,
  explain: (s, ctx) => failedCriterion(s, ctx) ?? 'matches',
});

/** One item of the rule as iptables-save prints it. */
function itemText(s: OwnerState, flag: number): string {
  return render({ ...s, match: s.match & flag }, true, true).trim();
}

/**
 * owner_mt() of xt_owner.c. Without a local socket (forwarded or arriving packets, and packets the kernel
 * sends itself: pkt.uid and pkt.gid undefined) the match holds only when every option given is inverted
 * (`(match ^ invert) == 0`; --suppl-groups cannot be inverted, so it then never holds). With a socket:
 * `! --socket-exists` fails; --uid-owner and --gid-owner test the fsuid/fsgid range, each with its own `!`.
 * A socket whose uid or gid the packet leaves out is taken as root's (0). The supplementary groups of the
 * socket's owner are not simulated: --suppl-groups asks the trace (assumed: not a member).
 */
function failedCriterion(s: OwnerState, ctx: EvalContext): string | undefined {
  const { uid, gid } = ctx.pkt;
  if (uid === undefined && gid === undefined) {
    if ((s.match ^ s.invert) === 0) return undefined;
    const flag = [F.SOCKET, F.UID, F.GID, F.SUPPL].find((f) => (s.match ^ s.invert) & f)!;
    return `${itemText(s, flag)}: packet has no local socket`;
  }
  if (s.match & s.invert & F.SOCKET) return `${itemText(s, F.SOCKET)}: packet has a local socket`;
  if (s.match & F.UID) {
    const u = uid ?? 0;
    if ((u >= s.uid[0] && u <= s.uid[1]) === !!(s.invert & F.UID)) return `${itemText(s, F.UID)}: socket's uid is ${u}`;
  }
  if (s.match & F.GID) {
    const g = gid ?? 0;
    let member = g >= s.gid[0] && g <= s.gid[1];
    if (!member && s.match & F.SUPPL) {
      const range = s.gid[0] === s.gid[1] ? `${s.gid[0]}` : `${s.gid[0]}-${s.gid[1]}`;
      member = ctx.decide('owner', `uid ${uid ?? 0} has a supplementary group in ${range}`, false);
    }
    if (member === !!(s.invert & F.GID)) return `${itemText(s, F.GID)}: socket's gid is ${g}`;
  }
  return undefined;
}
