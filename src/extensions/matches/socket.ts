/**
 * socket match (iptables-extensions: "socket"), revision 3 (the one iptables 1.8.9 picks on a current kernel):
 * matches when a local socket is found for the packet. x6 style, three flags without values, none invertible.
 * The kernel accepts it only in PREROUTING and INPUT.
 */
import { defineMatch } from '../spec';

/** XT_SOCKET_* bits, in the order save prints them. */
const FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['transparent', 0x01],
  ['nowildcard', 0x02],
  ['restore-skmark', 0x04],
];

export interface SocketState {
  flags: number;
}

function flagText(flags: number): string {
  return FLAGS.filter(([, bit]) => flags & bit)
    .map(([name]) => ` --${name}`)
    .join('');
}

export default defineMatch<SocketState>({
  kind: 'match',
  name: 'socket',
  manSection: 'socket',
  style: 'x6',
  hooks: ['PREROUTING', 'INPUT'],
  help: `socket match options:
  --nowildcard     Do not ignore LISTEN sockets bound on INADDR_ANY
  --transparent    Ignore non-transparent sockets
  --restore-skmark Set the packet mark to the socket mark if
                   the socket matches and transparent / 
                   nowildcard conditions are satisfied

`,
  options: FLAGS.map(([name]) => ({ name, arg: 'none' as const })),
  init: () => ({ flags: 0 }),
  parse(s, use) {
    s.flags |= FLAGS.find(([name]) => name === use.name)![1];
  },
  save: (s) => flagText(s.flags),
  print: (s) => ` socket${flagText(s.flags)}`,
  /**
   * socket_mt4_v3() of xt_socket.c looks up a local socket for the packet (an established one, else a
   * listener; --nowildcard skips listeners on 0.0.0.0, --transparent wants IP_TRANSPARENT sockets) and,
   * with --restore-skmark, copies the socket's mark to the packet. The host's sockets are not simulated:
   * the trace is asked (assumed: no socket).
   */
  match(s, ctx) {
    const found = ctx.decide('socket', `a local socket matches${flagText(s.flags)}`, false);
    if (found && s.flags & 0x04) ctx.note('socket --restore-skmark: the packet mark would become the socket mark (not simulated)');
    return found;
  },
  explain: (s) => `-m socket${flagText(s.flags)}: no local socket for the packet (assumed)`,
});
