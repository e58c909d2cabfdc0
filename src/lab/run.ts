/**
 * `tsiptables lab SCRIPT`: runs a how-to's namespace script statement by statement against simulated hosts.
 * The shell part (variables, lists, pipes, redirections, background jobs, set -e) is interpreted here; each
 * command is one of the simulated programs (ip, sysctl, iptables*, ping, nc, curl, tcpdump, dmesg, conntrack,
 * and the shell's own echo, printf, cat, sleep, kill, wait...). What the script prints (stdout and stderr, in
 * the order a terminal or a pipe would show them) is collected as the transcript.
 */
import type { TraceOptions } from '../eval/trace';
import { runIptables, runRestore, runSave } from '../cli/main';
import { runNft } from '../cli/nft';
import { expandOne, expandWord, parseInline, parseScript, type Pipeline, type SimpleCommand, type Statement } from './shell';
import { runIp, type CmdResult } from './ip-command';
import { Net } from './net';
import { World, type Netns } from './world';
import { Apps } from './apps';

export interface LabOptions {
  /** The script's name as bash would print it in messages ("lab.sh: line 3: ..."). */
  scriptName: string;
  now?: Date;
  /**
   * Build the lab only: topology, sysctls and rulesets, without the traffic and inspection commands and
   * without `ip netns del` (a how-to's cleanup), so that one packet can then be traced through it.
   */
  setupOnly?: boolean;
}

export interface LabResult {
  /** stdout and stderr, merged in order. */
  transcript: string;
  /** The last command's exit status (bash's exit status of the script). */
  status: number;
  /** Lines the lab could not run (unsupported syntax or command), with their line numbers. */
  unsupported: Array<{ line: number; message: string }>;
  world: World;
  net: Net;
}

/** One output chunk: the stream and its text. */
export type Chunk = [fd: 1 | 2, text: string];

export interface Output {
  chunks: Chunk[];
  status: number;
}

const SIMPLE_ERROR = (text: string, status: number): Output => ({ chunks: [[2, text]], status });

export class Lab {
  readonly world: World;
  readonly net: Net;
  readonly apps: Apps;
  private readonly vars = new Map<string, string>();
  private status = 0;
  private errexit = false;
  private out: string[] = [];
  readonly unsupported: Array<{ line: number; message: string }> = [];
  /** Files the script writes and reads (`iptables-save > rules.v4`), kept in memory. */
  readonly files = new Map<string, string>();
  private line = 0;
  private stopped = false;

  constructor(readonly opts: LabOptions) {
    const traceOpts: TraceOptions = { explain: true, assume: new Map(), now: opts.now ?? new Date(), stepPackets: true, selfAnswer: false };
    this.world = new World(() => traceOpts);
    this.apps = new Apps(this);
    this.net = new Net(this.world, (ns, proto, port) => this.apps.listening(ns, proto, port));
  }

  /** Writes a chunk to the transcript as the script's own output. */
  emit(text: string): void {
    if (text !== '') this.out.push(text);
  }

  async run(script: string): Promise<LabResult> {
    const { statements, errors } = parseScript(script);
    const bad = new Map(errors.map((e) => [e.line, e.message]));
    const all = [...statements.map((s) => ({ line: s.line, st: s as Statement | undefined })), ...errors.map((e) => ({ line: e.line, st: undefined }))].sort((a, b) => a.line - b.line);
    for (const { line, st } of all) {
      if (this.stopped) break;
      this.line = line;
      if (!st) {
        const msg = bad.get(line)!;
        this.unsupported.push({ line, message: msg });
        this.emit(`${this.opts.scriptName}: line ${line}: ${msg} (tsiptables lab: line skipped)\n`);
        this.status = 2;
        continue;
      }
      await this.statement(st, this.world.root);
    }
    await this.apps.finishAll();
    return { transcript: this.out.join(''), status: this.status, unsupported: this.unsupported, world: this.world, net: this.net };
  }

  private async statement(st: Statement, ns: Netns): Promise<void> {
    for (let i = 0; i < st.items.length; i++) {
      const item = st.items[i]!;
      const prevSep = i > 0 ? st.items[i - 1]!.sep : ';';
      // `a && b || c`: each link runs or not by the status so far (a skipped command keeps it).
      const skip = (prevSep === '&&' && this.status !== 0) || (prevSep === '||' && this.status === 0);
      if (skip) continue;
      await this.pipeline(item.pipeline, ns, item.sep === '&');
      if (this.stopped) return;
      // set -e: a failing command stops the script unless it is tested (&&, ||, !).
      if (this.errexit && this.status !== 0 && item.sep !== '&&' && item.sep !== '||' && !item.pipeline.negate && !(i > 0 && (prevSep === '&&' || prevSep === '||'))) {
        this.stopped = true;
        return;
      }
    }
  }

  /** Runs a pipeline; its output goes to the transcript unless redirected. */
  private async pipeline(p: Pipeline, ns: Netns, background: boolean): Promise<void> {
    let stdin = '';
    let status = 0;
    for (let i = 0; i < p.commands.length; i++) {
      const cmd = p.commands[i]!;
      const last = i === p.commands.length - 1;
      const r = await this.simple(cmd, ns, stdin, background && last);
      if (last) {
        for (const [fd, text] of r.chunks) if (fd === 1 || fd === 2) this.emit(text);
      } else {
        // Only stdout goes down the pipe; stderr reaches the terminal.
        stdin = r.chunks.filter(([fd]) => fd === 1).map(([, t]) => t).join('');
        for (const [fd, text] of r.chunks) if (fd === 2) this.emit(text);
      }
      status = r.status;
    }
    this.status = p.negate ? (status === 0 ? 1 : 0) : status;
  }

  /** Variables: the script's, then $? and $!. */
  lookup = (name: string): string | undefined => {
    if (name === '?') return String(this.status);
    if (name === '!') return this.apps.lastPid !== undefined ? String(this.apps.lastPid) : '';
    if (name === '$') return '4242';
    if (name === '0') return this.opts.scriptName;
    return this.vars.get(name) ?? process.env[name];
  };

  private async simple(cmd: SimpleCommand, ns: Netns, stdinIn: string, background: boolean): Promise<Output> {
    this.line = cmd.line;
    const argv = cmd.words.flatMap((w) => expandWord(w, this.lookup));
    if (argv.length === 0) {
      for (const a of cmd.assignments) this.vars.set(a.name, expandOne(a.value, this.lookup));
      return { chunks: [], status: 0 };
    }
    let stdin = stdinIn;
    for (const r of cmd.redirects) {
      if (r.op === '<<') stdin = r.heredocQuoted ? (r.heredoc ?? '') : expandHeredoc(r.heredoc ?? '', this.lookup);
      else if (r.op === '<') {
        const f = expandOne(r.target, this.lookup);
        const text = this.files.get(f);
        if (text === undefined) return SIMPLE_ERROR(`${this.opts.scriptName}: line ${cmd.line}: ${f}: No such file or directory\n`, 1);
        stdin = text;
      }
    }
    const jobsBefore = this.apps.jobs.length;
    const res = await this.exec(argv, ns, stdin, background, cmd);
    // A job this command started writes its later output where the command's stdout goes.
    if (this.apps.jobs.length > jobsBefore) {
      const job = this.apps.jobs[this.apps.jobs.length - 1]!;
      for (const r of cmd.redirects) {
        if ((r.fd === 1 || r.fd === 'both') && (r.op === '>' || r.op === '>>')) job.stdout = expandOne(r.target, this.lookup);
      }
    }
    return this.redirect(res, cmd, ns);
  }

  /** Applies `>`, `>>`, `2>&1`, `&>` to a command's output chunks, in the order written. */
  private redirect(res: Output, cmd: SimpleCommand, ns: Netns): Output {
    if (cmd.redirects.every((r) => r.op === '<' || r.op === '<<')) return res;
    // Where fd 1 and fd 2 go: 'tty' (the transcript, keeping the fd) or a file name.
    const dest: Record<1 | 2, { to: 'tty' | string; fd: 1 | 2 }> = { 1: { to: 'tty', fd: 1 }, 2: { to: 'tty', fd: 2 } };
    const appendFiles = new Set<string>();
    for (const r of cmd.redirects) {
      if (r.op === '<' || r.op === '<<') continue;
      const fds: Array<1 | 2> = r.fd === 'both' ? [1, 2] : r.fd === 0 ? [] : [r.fd];
      for (const fd of fds) {
        if (r.op === '>&') {
          const other = expandOne(r.target, this.lookup) === '2' ? 2 : 1;
          dest[fd] = { ...dest[other] };
        } else {
          const f = expandOne(r.target, this.lookup);
          dest[fd] = { to: f, fd };
          if (r.op === '>>') appendFiles.add(f);
          else if (!f.startsWith('/proc/sys/') && f !== '/dev/null') this.files.set(f, '');
        }
      }
    }
    const chunks: Chunk[] = [];
    for (const [fd, text] of res.chunks) {
      const d = dest[fd];
      if (d.to === 'tty') chunks.push([d.fd, text]);
      else if (d.to === '/dev/null') continue;
      else if (d.to.startsWith('/proc/sys/')) {
        const r = this.apps.procWrite(ns, d.to, text);
        if (r) chunks.push([2, `${this.opts.scriptName}: line ${cmd.line}: ${r}\n`]);
      } else this.files.set(d.to, (this.files.get(d.to) ?? '') + text);
    }
    // Writing nothing to /proc/sys changes nothing; a missing /proc file fails even then.
    return { chunks, status: res.status };
  }

  /** Runs one command (argv expanded) in namespace `ns`. */
  async exec(argv: string[], ns: Netns, stdin: string, background: boolean, cmd: SimpleCommand): Promise<Output> {
    const name = argv[0]!;
    const args = argv.slice(1);
    const netnsCmd = name === 'ip' && args[0] !== undefined && args[0].length >= 2 && 'netns'.startsWith(args[0]) ? args[1] : undefined;
    if (this.opts.setupOnly && (SETUP_SKIPS.has(name) || netnsCmd === 'del' || netnsCmd === 'delete')) return { chunks: [], status: 0 };
    const wrap = (r: CmdResult): Output => ({ chunks: [[1, r.stdout], [2, r.stderr]].filter(([, t]) => t !== '') as Chunk[], status: r.status });
    switch (name) {
      case 'ip': {
        if (netnsCmd === 'exec') {
          const target = args[2] === undefined ? undefined : this.world.namespaces.get(args[2]);
          if (!target) return SIMPLE_ERROR(`Cannot open network namespace "${args[2] ?? ''}": No such file or directory\n`, 255);
          if (args.length < 4) return SIMPLE_ERROR('No command specified\n', 255);
          return this.exec(args.slice(3), target, stdin, background, cmd);
        }
        return wrap(runIp(this.world, ns, args));
      }
      case 'sh':
      case 'bash': {
        const k = args.indexOf('-c');
        if (k < 0 || args[k + 1] === undefined) return this.notSimulated(cmd, `${name} without -c`);
        const inner = parseInline(args[k + 1]!);
        if (inner.errors.length > 0) return SIMPLE_ERROR(`${name}: ${inner.errors[0]!.message}\n`, 2);
        const saved = this.out;
        this.out = [];
        for (const st of inner.statements) await this.statement(st, ns);
        const text = this.out.join('');
        this.out = saved;
        return { chunks: text ? [[1, text]] : [], status: this.status };
      }
      case 'echo': {
        let a = args;
        let nl = true;
        let esc = false;
        while (a[0] !== undefined && /^-[neE]+$/.test(a[0])) {
          if (a[0].includes('n')) nl = false;
          if (a[0].includes('e')) esc = true;
          a = a.slice(1);
        }
        const text = a.join(' ');
        return { chunks: [[1, (esc ? unescape(text) : text) + (nl ? '\n' : '')]], status: 0 };
      }
      case 'printf': {
        if (args.length === 0) return SIMPLE_ERROR('printf: usage: printf [-v var] format [arguments]\n', 2);
        let k = 1;
        const text = unescape(args[0]!).replace(/%[sd%]/g, (m) => (m === '%%' ? '%' : (args[k++] ?? '')));
        return { chunks: [[1, text]], status: 0 };
      }
      case 'cat':
        if (args.length === 0) return { chunks: stdin ? [[1, stdin]] : [], status: 0 };
        return { chunks: [[1, args.map((f) => this.files.get(f) ?? '').join('')]], status: args.every((f) => this.files.has(f)) ? 0 : 1 };
      case 'true':
      case ':':
        return { chunks: [], status: 0 };
      case 'false':
        return { chunks: [], status: 1 };
      case 'set':
        for (const a of args) {
          if (/^-[a-z]*e/.test(a)) this.errexit = true;
          else if (/^\+[a-z]*e/.test(a)) this.errexit = false;
        }
        return { chunks: [], status: 0 };
      case 'export':
        for (const a of args) {
          const m = /^([A-Za-z_]\w*)=(.*)$/s.exec(a);
          if (m) this.vars.set(m[1]!, m[2]!);
        }
        return { chunks: [], status: 0 };
      case 'exit':
        this.stopped = true;
        return { chunks: [], status: args[0] !== undefined ? Number(args[0]) & 255 : this.status };
      case 'sleep': {
        const s = Number.parseFloat(args[0] ?? '0');
        this.net.clock += Number.isFinite(s) ? s : 0;
        return { chunks: [], status: 0 };
      }
      case 'kill':
        return this.apps.kill(args);
      case 'wait':
        return this.apps.wait();
      case 'sysctl':
        return wrap(this.apps.sysctl(ns, args));
      case 'iptables':
      case 'iptables-nft':
      case 'iptables-legacy':
      case 'tsiptables': {
        ns.flush();
        const r = await runIptables(name === 'tsiptables' ? 'tsiptables' : 'iptables', args, ns.statefile);
        ns.invalidate();
        return wrap(r);
      }
      case 'iptables-save':
      case 'iptables-nft-save':
      case 'iptables-legacy-save':
      case 'tsiptables-save':
        ns.flush();
        return wrap(runSave(name.startsWith('ts') ? 'tsiptables-save' : 'iptables-save', args, this.opts.now ?? new Date(), ns.statefile));
      case 'iptables-restore':
      case 'iptables-nft-restore':
      case 'iptables-legacy-restore':
      case 'tsiptables-restore': {
        ns.flush();
        const r = await runRestore(name.startsWith('ts') ? 'tsiptables-restore' : 'iptables-restore', args, () => stdin, ns.statefile);
        ns.invalidate();
        return wrap(r);
      }
      case 'nft': {
        if (args[0] === 'monitor') return this.apps.run(name, args, ns, stdin, background);
        ns.flush();
        const r = await runNft(args, () => stdin, ns.statefile, [...ns.host.ifaces.keys()]);
        ns.invalidate();
        return r.chunks ? { chunks: r.chunks.filter(([, t]) => t !== '') as Chunk[], status: r.status } : wrap(r);
      }
      case 'ping':
      case 'nc':
      case 'netcat':
      case 'curl':
      case 'tcpdump':
      case 'dmesg':
      case 'conntrack':
        return this.apps.run(name, args, ns, stdin, background);
      default:
        return this.notSimulated(cmd, name);
    }
  }

  private notSimulated(cmd: SimpleCommand, name: string): Output {
    const message = `${name}: not simulated by tsiptables lab`;
    this.unsupported.push({ line: cmd.line, message });
    return SIMPLE_ERROR(`${this.opts.scriptName}: line ${cmd.line}: ${message}\n`, 127);
  }

  /** The line being run (for messages of the programs). */
  currentLine(): number {
    return this.line;
  }

}

/** What a setup-only run leaves out: traffic, captures, inspection and waiting. */
const SETUP_SKIPS = new Set(['ping', 'nc', 'netcat', 'curl', 'tcpdump', 'dmesg', 'conntrack', 'sleep', 'kill', 'wait']);

function unescape(s: string): string {
  return s.replace(/\\([nrt\\]|0?[0-7]{1,3})/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === '\\' ? '\\' : String.fromCharCode(parseInt(c, 8))));
}

function expandHeredoc(body: string, vars: (n: string) => string | undefined): string {
  return body.replace(/\$(\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))/g, (_, __, a: string | undefined, b: string | undefined) => vars((a ?? b)!) ?? '');
}

/** Runs a lab script and returns its transcript. */
export async function runLab(script: string, opts: LabOptions): Promise<LabResult> {
  const lab = new Lab(opts);
  try {
    return await lab.run(script);
  } finally {
    lab.world.dispose();
  }
}
