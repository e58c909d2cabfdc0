/**
 * cgroup match (iptables-extensions: "cgroup", revision 2 as this kernel offers it): [!] --path path (a cgroup2
 * path, char[512]) or [!] --cgroup classid (net_cls). Both are userspace-optional; the kernel
 * (cgroup_mt_check_v2) refuses neither, both, and a path it cannot find. The recording host's cgroup2 tree as
 * the namespace sees it has only its root ("/" or ""), so every other path is refused here too (recorded in
 * ext-cgroup.json). The kernel match runs in INPUT, OUTPUT and POSTROUTING only.
 */
import { defineMatch } from '../spec';
import { parseX6Uint, saveString } from '../option-types';
import { truncateBytes } from '../values/cstring';

export interface CgroupState {
  hasPath: boolean;
  invertPath: boolean;
  path: string;
  hasClassid: boolean;
  invertClassid: boolean;
  classid: number;
}

function saveText(s: CgroupState): string {
  let out = '';
  if (s.hasPath) out += `${s.invertPath ? ' !' : ''} --path${saveString(s.path)}`;
  if (s.hasClassid) out += `${s.invertClassid ? ' !' : ''} --cgroup ${s.classid}`;
  return out;
}

const rootPath = (p: string): boolean => p === '' || /^\/+$/.test(p);

export default defineMatch<CgroupState>({
  kind: 'match',
  name: 'cgroup',
  manSection: 'cgroup',
  style: 'x6',
  hooks: ['INPUT', 'OUTPUT', 'POSTROUTING'],
  help: `cgroup match options:
[!] --path path                 Recursively match path relative to cgroup2 root
[!] --cgroup classid            Match cgroup classid, can't be used with --path
`,
  options: [
    { name: 'path', arg: 'required', invert: true },
    { name: 'cgroup', arg: 'required', invert: true },
  ],
  init: () => ({ hasPath: false, invertPath: false, path: '', hasClassid: false, invertClassid: false, classid: 0 }),
  parse(s, use) {
    if (use.name === 'path') {
      s.hasPath = true;
      s.path = truncateBytes(use.value!, 511);
      if (use.inverted) s.invertPath = true;
    } else {
      s.classid = parseX6Uint('cgroup', 'cgroup', use.value!, 0, 0xffffffff);
      s.hasClassid = true;
      if (use.inverted) s.invertClassid = true;
    }
  },
  save: saveText,
  print(s) {
    let out = ' cgroup';
    if (s.hasPath) out += ` ${s.invertPath ? '! ' : ''}${s.path}`;
    if (s.hasClassid) out += ` ${s.invertClassid ? '! ' : ''}${s.classid}`;
    return out;
  },
  kernelCheck: (s) => (s.hasPath === s.hasClassid || (s.hasPath && !rootPath(s.path)) ? 'Invalid argument' : undefined),
  // cgroup_mt_v2() of xt_cgroup.c: only packets of a local socket match at all (`!` or not); the path must be an
  // ancestor of the socket's cgroup (the root is everyone's), the classid equal to its net_cls classid (asked,
  // 0 assumed: net_cls is not set up on a cgroup2 system).
  match(s, ctx) {
    if (ctx.pkt.uid === undefined) return false;
    if (s.hasPath) return !s.invertPath;
    return ctx.decide('cgroup', `the socket's net_cls classid is ${s.classid}`, s.classid === 0) !== s.invertClassid;
  },
  explain: (s, ctx) =>
    `${saveText(s).trim()}: ${ctx.pkt.uid === undefined ? 'packet has no local socket' : s.hasPath ? 'the socket is below /' : `the socket's classid is ${s.invertClassid ? '' : 'not '}${s.classid} (assumed 0)`}`,
});
