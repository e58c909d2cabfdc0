/**
 * The state file: the ruleset as `iptables-save -c` text (without date lines) under a version comment, so it
 * can be read, diffed and fed to the real iptables-restore.
 *
 * Crash safety: a new state is written to a temporary file beside the old one, flushed, then renamed over it,
 * so a reader or a writer killed at any moment sees the old file or the new one, never a mix. Writers are
 * serialised on a lock beside the state file (see withLock) that a dead holder never keeps.
 */
import { hookOrderInText, hookOrderLine, orderShape, reconcileHookOrder } from '../eval/hook-order';
import {
  closeSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
  writeFileSync,
} from 'node:fs';
import { isAscii } from 'node:buffer';
import { homedir, hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Exit, IptablesError } from '../messages';
import { type Chain, chainsInSaveOrder, type Counters, type PendingRules, type Rule, Ruleset } from '../model/ruleset';
import type { Hook } from '../extensions/spec';
import { isTableName, type TableName } from '../model/tables';
import { CHAIN_JUMP_MARK, isChainJump, jumpAt, LazyRule } from './lazy-rule';
import { chainHeader } from '../format/save';
import { REGISTERED_MARK, restore } from './restore';

export const STATE_HEADER = '# tsiptables state v1: iptables-save -c format, readable by iptables-restore -c\n';

export function statePath(): string {
  const env = process.env.TSIPTABLES_STATE;
  if (env) return env;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'tsiptables', 'rules.v4');
}


/** Comment line before a rule whose state line is a state spelling (Rule.stateText), not its save line. */
export const STATE_SPELLING_MARK = '# tsiptables: state-spelling';


export function serialize(rs: Ruleset): string {
  const parts: string[] = [STATE_HEADER];
  for (const [name, text] of rs.untouched) if (!rs.tables.has(name)) parts.push(text);
  for (const t of rs.tables.values()) {
    const chains = chainsInSaveOrder(t);
    parts.push(`*${t.name}\n`);
    for (const c of chains) parts.push(c instanceof StateChain ? c.header() : chainHeader(c));
    for (const c of chains) {
      const pending = c.pending;
      if (pending !== undefined && !pending.loaded) {
        parts.push(pending.text);
        continue;
      }
      for (const r of c.rules) {
        const st = r.stateText;
        if (isChainJump(r)) parts.push(`${CHAIN_JUMP_MARK}\n`);
        if (st !== undefined) parts.push(`${STATE_SPELLING_MARK}\n`);
        parts.push(`[${r.counters.packets}:${r.counters.bytes}] -A ${c.name}${st ?? r.line}\n`);
      }
    }
    // Just before COMMIT, so that it overrides what the `:CHAIN` lines imply.
    const reg = [...t.chains.values()].filter((c) => c.hook && c.registered).map((c) => ` ${c.name}${c.counted ? '+' : ''}`);
    parts.push(`${REGISTERED_MARK}${reg.join('')}\n`, 'COMMIT\n');
  }
  parts.push(hookOrderLine(rs.hookOrder));
  if (rs.nft !== undefined) parts.push(nftBlock(rs.nft));
  return parts.join('');
}

/**
 * The nftables ruleset (Ruleset.nft) at the end of the state file, as comment lines iptables-restore skips:
 * NFT_MARK, then each line of the text after `#|`.
 */
const NFT_MARK = '# tsiptables: nft ruleset\n';

function nftBlock(nft: string): string {
  const lines = nft.endsWith('\n') ? nft.slice(0, -1).split('\n') : nft.split('\n');
  return NFT_MARK + lines.map((l) => `#|${l}\n`).join('');
}

/** The nftables text stored in a state file's text, or undefined. */
function nftOf(text: string): string | undefined {
  // After the last table (a backward search from the end stops there, not at the start of a large file).
  const lastCommit = text.lastIndexOf('\nCOMMIT\n');
  const at = text.indexOf(`\n${NFT_MARK}`, lastCommit < 0 ? 0 : lastCommit);
  if (at < 0) return undefined;
  const body = text.slice(at + 1 + NFT_MARK.length);
  return body
    .split('\n')
    .filter((l) => l.startsWith('#|'))
    .map((l) => `${l.slice(2)}\n`)
    .join('');
}

const RULE_LINE = /^\[(\d+):(\d+)\] -A (\S+)(.*)$/;
const CHAIN_LINE = /^:(\S+) (\S+) \[(\d+):(\d+)\]$/;
/** The `[p:b] ` before each rule line. */
const COUNTERS_PREFIX = /^\[\d+:\d+\] /gm;
const ALWAYS_CHAIN = (): boolean => true;

/** The end of a user chain's `:NAME - [0:0]` line, after the name. */
const USER_ZERO = ' - [0:0]';
/** What follows a rule line's counters. */
const RULE_AFTER_COUNTERS = '] -A ';

/**
 * A chain read from the state file. Its rules stay the file's text until `rules` is first read: a `-A` into
 * one chain of a 110,000-rule kube-proxy state makes Rule objects for that chain only, and the kernel's jump
 * graph checks and the state writer read the other chains' text (Chain.pending).
 */
class StateChain implements Chain, PendingRules {
  registered = true;
  counted: boolean | undefined = undefined;
  private materialized: Rule[] | undefined;
  private jumpList: readonly string[] | undefined;
  /** The chain's name in its rule lines (`-A NAME`): `name` changes with -E, the text does not. */
  private readonly textName: string;

  constructor(
    private chainName: string,
    public hook: Hook | undefined,
    public policy: 'ACCEPT' | 'DROP' | undefined,
    public counters: Counters,
    private readonly table: TableName,
    /** The rule lines (with the mark comments before theirs), each ending with a newline. */
    public text: string,
  ) {
    this.textName = chainName;
  }

  get name(): string {
    return this.chainName;
  }

  /** Renaming (-E) turns the rules into objects first: the text names the chain by its old name. */
  set name(name: string) {
    if (name !== this.textName) void this.rules;
    this.chainName = name;
  }

  /** The `:NAME POLICY [p:b]` line read from the file, and what it said: written back as it was while unchanged. */
  private headerLine: string | undefined;
  private headerPolicy: 'ACCEPT' | 'DROP' | undefined;
  private headerPackets = 0n;
  private headerBytes = 0n;

  readHeader(line: string): void {
    this.headerLine = line;
    this.headerPolicy = this.policy;
    this.headerPackets = this.counters.packets;
    this.headerBytes = this.counters.bytes;
  }

  /** The chain's header line for the state file (and iptables-save). */
  header(): string {
    const same =
      this.headerLine !== undefined &&
      this.chainName === this.textName &&
      this.policy === this.headerPolicy &&
      this.counters.packets === this.headerPackets &&
      this.counters.bytes === this.headerBytes;
    return same ? this.headerLine! : chainHeader(this);
  }

  get loaded(): boolean {
    return this.materialized !== undefined;
  }

  get pending(): PendingRules {
    return this;
  }

  get rules(): Rule[] {
    this.materialized ??= rulesOfText(this.table, this.textName, this.text);
    return this.materialized;
  }

  set rules(rules: Rule[]) {
    this.materialized = rules;
  }

  saveText(counters: boolean): string | undefined {
    // The state line of a rule is its save line unless a state-spelling comment stands before it.
    if (this.text.includes(STATE_SPELLING_MARK) || this.text.includes(CHAIN_JUMP_MARK)) return undefined;
    return counters ? this.text : this.text.replace(COUNTERS_PREFIX, '');
  }

  copy(): Chain {
    const c = new StateChain(this.textName, this.hook, this.policy, { ...this.counters }, this.table, this.text);
    c.chainName = this.chainName;
    c.registered = this.registered;
    c.counted = this.counted;
    return c;
  }

  jumps(): readonly string[] {
    if (this.jumpList) return this.jumpList;
    const out: string[] = [];
    const text = this.text;
    let chainJump = false;
    for (let p = 0; p < text.length; ) {
      const e = text.indexOf('\n', p);
      if (text.charCodeAt(p) === 0x5b) {
        const to = jumpAt(text, p, e, chainJump ? ALWAYS_CHAIN : undefined);
        if (to !== undefined) out.push(to);
        chainJump = false;
      } else if (e - p === CHAIN_JUMP_MARK.length && text.startsWith(CHAIN_JUMP_MARK, p)) chainJump = true;
      p = e + 1;
    }
    this.jumpList = out;
    return out;
  }
}

/** The Rule objects of a chain's state text (lazy rules: parsed further only when a command needs it). */
function rulesOfText(table: TableName, chain: string, text: string): Rule[] {
  const rules: Rule[] = [];
  let spelling = false;
  let chainJump = false;
  for (let p = 0; p < text.length; ) {
    const e = text.indexOf('\n', p);
    const line = text.slice(p, e);
    p = e + 1;
    if (line === '') continue;
    if (line === STATE_SPELLING_MARK) {
      spelling = true;
      continue;
    }
    if (line === CHAIN_JUMP_MARK) {
      chainJump = true;
      continue;
    }
    const m = RULE_LINE.exec(line);
    if (!m || m[3] !== chain) throw new IptablesError(`state file is damaged: unexpected line in chain ${chain}: ${line}`, Exit.Other, 'plain');
    // `0n` is a constant; BigInt() of "0" would allocate for the common case of zero counters.
    const packets = m[1] === '0' ? 0n : BigInt(m[1]!);
    const bytes = m[2] === '0' ? 0n : BigInt(m[2]!);
    rules.push(new LazyRule(table, chain, m[4]!, { packets, bytes }, spelling, chainJump));
    spelling = false;
    chainJump = false;
  }
  return rules;
}

/**
 * Reads a state file this program wrote, without parsing rules: each chain keeps its rules' text (StateChain)
 * until a command needs them. Returns undefined for any line it does not expect (a hand-made file), which then
 * goes through the full iptables-restore path.
 */
function loadOwnState(text: string, want: ReadonlySet<TableName> | undefined): Ruleset | undefined {
  if (!text.startsWith(STATE_HEADER)) return undefined;
  const rs = new Ruleset();
  for (const sec of sections(text)) {
    if (sec === null || !isTableName(sec.name)) return undefined;
    if (want && !want.has(sec.name)) {
      // A table this command does not need: its text is kept and written back as it is.
      rs.untouched.set(sec.name, text.slice(sec.star, sec.end));
    } else if (!loadTableSection(rs, sec.name, text, sec.firstLine, sec.commit + 1)) return undefined;
  }
  rs.nft = nftOf(text);
  rs.hookOrder = hookOrderInText(text);
  if (rs.hookOrder.length > 0) rs.orderShape = orderShape(rs);
  return rs;
}

interface Section {
  name: string;
  /** Where `*name` starts, where the line after it starts, where `\nCOMMIT\n` starts, and the end after it. */
  star: number;
  firstLine: number;
  commit: number;
  end: number;
}

/**
 * The `*table` ... `COMMIT` sections of a state file's text, found without splitting it into lines; null for a
 * section without its COMMIT (and nothing after it).
 */
function* sections(text: string): Generator<Section | null> {
  let pos = STATE_HEADER.length;
  while (pos < text.length) {
    const star = text.startsWith('*', pos) ? pos : text.indexOf('\n*', pos - 1) + 1;
    if (star <= 0) return;
    const commit = text.indexOf('\nCOMMIT\n', star);
    if (commit < 0) {
      yield null;
      return;
    }
    const nl = text.indexOf('\n', star);
    const end = commit + '\nCOMMIT\n'.length;
    yield { name: text.slice(star + 1, nl), star, firstLine: nl + 1, commit, end };
    pos = end;
  }
}

/**
 * The lines text[from, to) between `*table` and `COMMIT` of our own state file; false for anything unexpected.
 * Each chain's rule lines are one run of lines (the writer puts them so), kept as one slice of the text.
 */
function loadTableSection(rs: Ruleset, name: TableName, text: string, from: number, to: number): boolean {
  const table = rs.ensureTable(name);
  const chains = new Map<string, StateChain>();
  for (const c of table.chains.values()) {
    const sc = new StateChain(c.name, c.hook, c.policy, c.counters, name, '');
    sc.registered = c.registered;
    chains.set(c.name, sc);
  }
  let p = from;
  // `:CHAIN POLICY [p:b]` lines come first.
  while (p < to && text.charCodeAt(p) === 0x3a) {
    const e = text.indexOf('\n', p);
    // Most are user chains with zero counters: `:NAME - [0:0]`, read without a regular expression.
    const sp = text.indexOf(' ', p);
    if (sp > p + 1 && sp + USER_ZERO.length === e && text.startsWith(USER_ZERO, sp)) {
      const chainName = text.slice(p + 1, sp);
      if (chains.has(chainName)) return false;
      const c = new StateChain(chainName, undefined, undefined, { packets: 0n, bytes: 0n }, name, '');
      c.readHeader(text.slice(p, e + 1));
      chains.set(chainName, c);
      p = e + 1;
      continue;
    }
    const m = CHAIN_LINE.exec(text.slice(p, e));
    if (!m) return false;
    const counters = { packets: BigInt(m[3]!), bytes: BigInt(m[4]!) };
    const existing = chains.get(m[1]!);
    if (existing?.hook) {
      if (m[2] !== 'ACCEPT' && m[2] !== 'DROP') return false;
      existing.policy = m[2];
      existing.counters = counters;
      existing.readHeader(text.slice(p, e + 1));
    } else if (!existing && m[2] === '-') {
      const c = new StateChain(m[1]!, undefined, undefined, counters, name, '');
      c.readHeader(text.slice(p, e + 1));
      chains.set(m[1]!, c);
    } else return false;
    p = e + 1;
  }
  // Then the rules, chain after chain; a state-spelling comment belongs to the rule after it.
  const done = new Set<string>();
  let current: StateChain | undefined;
  let blockStart = p;
  let runStart = p;
  const close = (end: number): void => {
    if (current) current.text = text.slice(blockStart, end);
  };
  // The chain name of the current run, as the lines spell it (a plain string: this loop sees 150,000 lines).
  let currentName = '';
  while (p < to) {
    const e = text.indexOf('\n', p);
    const c0 = text.charCodeAt(p);
    if (c0 === 0x5b) {
      // `[p:b] -A NAME ...`: the counters' digits are checked when the chain's rules are read (rulesOfText).
      const close2 = text.indexOf(RULE_AFTER_COUNTERS, p);
      if (close2 < 0 || close2 > e) return false;
      const at = close2 + RULE_AFTER_COUNTERS.length;
      const same = current !== undefined && text.startsWith(currentName, at) && (text.charCodeAt(at + currentName.length) === 0x20 || at + currentName.length === e);
      if (!same) {
        close(runStart);
        const sp = text.indexOf(' ', at);
        const chainName = text.slice(at, sp < 0 || sp > e ? e : sp);
        const next = chains.get(chainName);
        if (!next || done.has(chainName)) return false;
        done.add(chainName);
        current = next;
        currentName = chainName;
        blockStart = runStart;
      }
      runStart = e + 1;
    } else if ((e - p === STATE_SPELLING_MARK.length && text.startsWith(STATE_SPELLING_MARK, p)) || (e - p === CHAIN_JUMP_MARK.length && text.startsWith(CHAIN_JUMP_MARK, p))) {
      // A mark of the rule after it: stays at runStart, it opens the next rule's run.
    } else if (text.startsWith(REGISTERED_MARK, p)) {
      const words = text.slice(p + REGISTERED_MARK.length, e).split(' ');
      for (const c of chains.values()) {
        if (!c.hook) continue;
        c.counted = words.includes(`${c.name}+`);
        c.registered = c.counted || words.includes(c.name);
      }
      close(runStart);
      current = undefined;
      runStart = e + 1;
    } else if (c0 === 0x23) {
      close(runStart);
      current = undefined;
      runStart = e + 1;
    } else if (p !== e) return false;
    p = e + 1;
  }
  close(runStart);
  table.chains.clear();
  for (const [n, c] of chains) table.chains.set(n, c);
  return true;
}

/**
 * An iptables-save -c text read through the full iptables-restore path, every rule parsed. `trusted`: our own
 * state file, whose lossless spellings (Rule.stateText) are accepted; a user's dump (`trace --rules`) is not.
 */
export function parseDump(text: string, trusted = false): Ruleset {
  return restore(text, new Ruleset(), {
    counters: true,
    noflush: false,
    test: false,
    onlyTable: undefined,
    verbose: false,
    programName: 'tsiptables-restore',
    warn: () => undefined,
    trusted,
  }).ruleset;
}

/** A state file's text, every rule parsed. */
export function parseStateText(text: string): Ruleset {
  return parseDump(text, true);
}


/** The state file's text; undefined when there is none. */
function readStateText(path: string): string | undefined {
  try {
    const bytes = readFileSync(path);
    // Nearly every state is ASCII, whose latin1 reading is a copy: half the time of decoding UTF-8.
    return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw ioProblem(`can't read state file ${path}`, e);
  }
}

/**
 * iptables-save's table bodies (`*name` to `COMMIT`) read straight from the state file's text, without making a
 * ruleset: a state this program wrote keeps each table as iptables-save -c prints it, plus the registered-chains
 * comment, so the body is the section without that comment (and, unless `counters`, without each rule's
 * `[p:b] `). Only when every rule line is its save line (no state spelling) and `plain(text)` says no rule needs
 * more (an extension that warns when printed); otherwise, or with no state file, undefined: load the ruleset.
 */
export function saveBodiesFromState(path: string, counters: boolean, plain: (text: string) => boolean): Map<TableName, string> | undefined {
  const text = readStateText(path);
  if (text === undefined || !text.startsWith(STATE_HEADER) || text.includes(STATE_SPELLING_MARK) || text.includes(CHAIN_JUMP_MARK) || !plain(text)) return undefined;
  const bodies = new Map<TableName, string>();
  for (const sec of sections(text)) {
    const reg = sec === null ? -1 : text.lastIndexOf(`\n${REGISTERED_MARK}`, sec.commit);
    if (sec === null || !isTableName(sec.name) || reg < sec.star) return undefined;
    const body = text.slice(sec.star, reg + 1);
    bodies.set(sec.name, `${counters ? body : body.replace(COUNTERS_PREFIX, '')}COMMIT\n`);
  }
  return bodies;
}

/** Loads the state; `want`, when given, names the only tables the caller will look at or change. */
export function loadState(path: string, want?: ReadonlySet<TableName>): Ruleset {
  const text = readStateText(path);
  if (text === undefined) return new Ruleset();
  const own = loadOwnState(text, want);
  if (own) return own;
  try {
    const rs = parseStateText(text);
    rs.nft = nftOf(text);
    rs.hookOrder = hookOrderInText(text);
    if (rs.hookOrder.length > 0) rs.orderShape = orderShape(rs);
    return rs;
  } catch (e) {
    const line = (e as { line?: number }).line;
    throw new IptablesError(`state file ${path} is damaged${line ? ` at line ${line}` : ''}: ${(e as Error).message}`, Exit.Other, 'plain');
  }
}

/**
 * Replaces the state file by `rs`, atomically: a temporary file in the same directory (same mode and, for
 * root, same owner as the old file) is written and flushed, then renamed over the state file. On any failure
 * (disk full, read-only or unwritable directory, ...) the temporary file is removed, the old state stays as it
 * was, and an IptablesError says why (exit 4).
 */
export function writeState(path: string, rs: Ruleset): void {
  reconcileHookOrder(rs);
  writeFileAtomically(path, serialize(rs));
}

function writeFileAtomically(path: string, text: string): void {
  const dir = dirname(path);
  const fail = (e: unknown): never => {
    throw ioProblem(`can't write state file ${path}`, e);
  };
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    fail(e);
  }
  let old: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = statSync(path);
    old = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch {
    old = undefined;
  }
  const tmp = join(dir, `${basename(path)}${TMP_INFIX}${ownerId()}`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', old?.mode ?? 0o666);
    if (old) {
      fchmodSync(fd, old.mode);
      if (process.getuid?.() === 0) fchownSync(fd, old.uid, old.gid);
    }
    const bytes = Buffer.from(text, 'utf8');
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Closing can fail the same way the write did; the file goes anyway.
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // Never created, or already gone.
    }
    fail(e);
  }
  syncDirectory(dir);
}

/** Makes the rename durable across a power cut (best effort: not every platform can fsync a directory). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // EISDIR/EINVAL/EPERM on some platforms; the rename is done either way.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/*
 * The writers' lock.
 *
 * `<state>.lock` is a directory; the lock is held while it contains an owner entry, an empty file whose name
 * says who holds it: `owner.<pid>.<start>.<nonce>.<scope>`, with the process's start time (field 22 of
 * /proc/<pid>/stat, so a reused pid is not taken for the holder) and a scope (boot id, pid namespace, host).
 *
 * Taking it: a writer prepares its own directory `<state>.lock-prep.<owner>` holding its owner entry, then
 * rename()s it to `<state>.lock`. rename(2) replaces an empty directory and fails (ENOTEMPTY/EEXIST) on a
 * non-empty one, atomically, so the owner entry arrives together with the lock and at most one writer's
 * rename can succeed while an owner entry is there.
 *
 * Freeing it: the holder unlinks its own entry (the directory is then empty, i.e. free) and removes the empty
 * directory if it is still there. A waiter that finds an entry whose process is gone (kill(pid, 0) fails with
 * ESRCH, the process is a zombie, its start time differs, or it ran in an earlier boot of this host) unlinks
 * exactly that entry. The name is unique to one acquisition, so this can only ever remove the dead holder's
 * entry, never a later holder's: no time-out, no race between two waiters breaking the same lock. A holder in
 * another pid namespace or on another host cannot be checked and is taken as alive.
 */

const LOCK_SUFFIX = '.lock';
const PREP_INFIX = '.lock-prep.';
const TMP_INFIX = '.tmp.';
const OWNER_PREFIX = 'owner.';

interface ProcInfo {
  state: string;
  start: string;
}

/** /proc/<pid>/stat's state and start time; undefined when there is no such process (or no /proc). */
function procInfo(pid: number | 'self'): ProcInfo | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = fields[19];
  return state !== undefined && start !== undefined && /^\d+$/.test(start) ? { state, start } : undefined;
}

function readOr(read: () => string, fallback: string): string {
  try {
    return read();
  } catch {
    return fallback;
  }
}

interface Self {
  /** The /proc start time, or '0' where there is no /proc. */
  start: string;
  boot: string;
  pidns: string;
  host: string;
  hasProc: boolean;
}

let self: Self | undefined;
function me(): Self {
  if (self) return self;
  const info = procInfo('self');
  self = {
    start: info?.start ?? '0',
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim().replace(/[^0-9a-f]/g, ''), ''),
    pidns: readOr(() => readlinkSync('/proc/self/ns/pid').replace(/\D/g, ''), ''),
    host: Buffer.from(hostname(), 'utf8').toString('hex').slice(0, 120),
    hasProc: info !== undefined,
  };
  return self;
}

let acquisitions = 0;

/**
 * `<pid>.<start>.<nonce>.<boot>-<pidns>-<host>`: unique to one acquisition (or one temporary file). The pid and
 * start time tell processes apart; the nonce (a counter and the monotonic clock, not random bytes: loading
 * node:crypto costs a writer ~9 ms) tells apart the acquisitions of one process, and pids reused where there is
 * no /proc start time.
 */
function ownerId(): string {
  const s = me();
  const nonce = `${process.hrtime.bigint().toString(16)}${(++acquisitions).toString(16).padStart(4, '0')}`;
  return `${process.pid}.${s.start}.${nonce}.${s.boot}-${s.pidns}-${s.host}`;
}

/** Whether the process named by an owner id (from ownerId) may still be running. Unknown ids count as alive. */
function ownerAlive(id: string): boolean {
  const m = /^(\d+)\.(\d+)\.[0-9a-f]+\.([0-9a-f]*)-(\d*)-([0-9a-f]*)$/.exec(id);
  if (!m) return true;
  const pid = Number(m[1]);
  const [start, boot, pidns, host] = [m[2]!, m[3]!, m[4]!, m[5]!];
  const s = me();
  if (!Number.isSafeInteger(pid) || pid <= 0) return true;
  if (host !== s.host) return true;
  if (boot !== s.boot) return boot === '' || s.boot === '';
  if (pidns !== s.pidns) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if (errnoOf(e) === 'ESRCH') return false;
    // EPERM: someone else's process, alive.
  }
  if (!s.hasProc) return true;
  const info = procInfo(pid);
  // kill() found it but /proc does not show it (hidepid, or it has just gone): alive until kill() says not.
  if (!info) return true;
  if (info.state === 'Z' || info.state === 'X') return false;
  return start === '0' || info.start === start;
}

/**
 * Runs `fn` holding the writers' lock of the state file `path`. `wait`: undefined, 0 or negative waits for
 * ever (as iptables-legacy does for no -w and -w 0); N > 0 gives up after N seconds with iptables-legacy's
 * two lines and exit 4. A lock whose holder has died is free at once. If the lock cannot be created at all
 * (read-only or unwritable directory), iptables-legacy's `Fatal: can't open lock file` line, exit 4.
 */
export async function withLock<T>(path: string, wait: number | undefined, fn: () => T): Promise<T> {
  const lockPath = `${path}${LOCK_SUFFIX}`;
  const forever = wait === undefined || wait <= 0;
  const started = Date.now();
  const cannotOpen = (e: unknown): IptablesError =>
    new IptablesError(`Fatal: can't open lock file ${lockPath}: ${strerror(e)}`, Exit.Resource, 'plain');
  const id = ownerId();
  const entry = `${OWNER_PREFIX}${id}`;
  const prep = join(dirname(path), `${basename(path)}${PREP_INFIX}${id}`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    mkdirSync(prep);
    writeFileSync(join(prep, entry), '', { flag: 'wx' });
  } catch (e) {
    removePrep(prep, entry);
    throw cannotOpen(e);
  }
  let pause = 1;
  for (;;) {
    try {
      renameSync(prep, lockPath);
      break;
    } catch (e) {
      const code = errnoOf(e);
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') {
        removePrep(prep, entry);
        throw cannotOpen(e);
      }
    }
    // Held: free it at once if its holder is dead, else wait (a few ms, growing to 25 ms, with jitter).
    if (freeIfHolderDead(lockPath)) continue;
    if (!forever && Date.now() - started >= wait * 1000) {
      removePrep(prep, entry);
      throw new IptablesError(
        `Can't lock ${lockPath}: Resource temporarily unavailable\nAnother app is currently holding the xtables lock. Stopped waiting after ${wait}s.`,
        Exit.Resource,
        'plain',
      );
    }
    await new Promise((r) => setTimeout(r, pause + Math.random() * pause));
    pause = Math.min(pause * 2, 16);
  }
  try {
    collectLeftovers(path);
    return fn();
  } finally {
    try {
      unlinkSync(join(lockPath, entry));
      rmdirSync(lockPath);
    } catch {
      // ENOENT/ENOTEMPTY: the next writer has already put its own lock directory in place.
    }
  }
}

/** Unlinks the owner entries of dead holders; true if the lock may now be free. */
function freeIfHolderDead(lockPath: string): boolean {
  let names: string[];
  try {
    names = readdirSync(lockPath);
  } catch (e) {
    // Gone since the rename failed: free. Unreadable: wait (and let the time limit, if any, end it).
    return errnoOf(e) === 'ENOENT';
  }
  let freed = names.length === 0;
  for (const name of names) {
    if (!name.startsWith(OWNER_PREFIX) || ownerAlive(name.slice(OWNER_PREFIX.length))) continue;
    try {
      unlinkSync(join(lockPath, name));
    } catch {
      // Another waiter freed it first.
    }
    freed = true;
  }
  return freed;
}

function removePrep(prep: string, entry: string): void {
  try {
    unlinkSync(join(prep, entry));
  } catch {
    // Not created.
  }
  try {
    rmdirSync(prep);
  } catch {
    // Not created.
  }
}

/** Temporary files and prepared lock directories left by killed processes beside the state file. */
function collectLeftovers(path: string): void {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(base)) continue;
    const rest = name.slice(base.length);
    const id = rest.startsWith(TMP_INFIX) ? rest.slice(TMP_INFIX.length) : rest.startsWith(PREP_INFIX) ? rest.slice(PREP_INFIX.length) : undefined;
    if (id === undefined || ownerAlive(id)) continue;
    try {
      rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // Best effort: a leftover only takes space.
    }
  }
}

function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** glibc's strerror() text for the errors a file system operation can give. */
const STRERROR: Record<string, string> = {
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EROFS: 'Read-only file system',
  ENOSPC: 'No space left on device',
  EDQUOT: 'Disk quota exceeded',
  EIO: 'Input/output error',
  ENOENT: 'No such file or directory',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EEXIST: 'File exists',
  ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EMFILE: 'Too many open files',
  ENFILE: 'Too many open files in system',
  EFBIG: 'File too large',
  EXDEV: 'Invalid cross-device link',
  EBUSY: 'Device or resource busy',
  ENOMEM: 'Cannot allocate memory',
  EINVAL: 'Invalid argument',
};

function strerror(e: unknown): string {
  const code = errnoOf(e);
  if (code !== undefined) return STRERROR[code] ?? code;
  return e instanceof Error ? e.message : String(e);
}

/** `Fatal: WHAT: strerror`, exit 4 (RESOURCE_PROBLEM), as iptables-legacy reports its lock file. */
function ioProblem(what: string, e: unknown): IptablesError {
  return new IptablesError(`Fatal: ${what}: ${strerror(e)}`, Exit.Resource, 'plain');
}
