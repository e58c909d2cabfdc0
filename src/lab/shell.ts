/**
 * The part of the POSIX shell language that how-to lab scripts use: words with single and double quotes and
 * backslashes, `$VAR` / `${VAR}` / `$!` / `$?`, `VAR=value` assignments, comments, `\` line continuations,
 * lists joined by `;`, `&`, `&&`, `||`, pipelines with `|`, redirections (`>`, `>>`, `<`, `2>&1`, `2>/dev/null`,
 * `&>`) and here-documents (`<<EOF`, `<<'EOF'`, `<<-EOF`). Words are parsed into parts and expanded when the
 * command runs (a variable set on line 3 is seen on line 4). Anything else (if, for, functions, `$(...)`) is
 * reported as unsupported with its line, so the lab can go on with the next line.
 */

/** A literal piece of a word, or a variable reference to expand at run time. */
export type WordPart = { kind: 'lit'; text: string; quoted: boolean } | { kind: 'var'; name: string; quoted: boolean };

export interface Word {
  parts: WordPart[];
}

export interface Redirect {
  /** File descriptor redirected: 0, 1 or 2; 'both' for `&>`. */
  fd: 0 | 1 | 2 | 'both';
  op: '>' | '>>' | '<' | '>&' | '<<';
  /** The target word (a file name, or "1"/"2" for `>&`); for `<<` the here-document body. */
  target: Word;
  heredoc?: string;
  /** The delimiter was quoted (`<<'EOF'`): no variable expansion in the body. */
  heredocQuoted?: boolean;
}

export interface SimpleCommand {
  assignments: Array<{ name: string; value: Word }>;
  words: Word[];
  redirects: Redirect[];
  line: number;
  /** The command as written (for messages). */
  text: string;
}

export interface Pipeline {
  commands: SimpleCommand[];
  /** `!` before the pipeline. */
  negate: boolean;
}

/** One list element and how it joins the next: `;` (or newline), `&`, `&&`, `||`. */
export interface ListItem {
  pipeline: Pipeline;
  sep: ';' | '&' | '&&' | '||';
}

export interface Statement {
  line: number;
  items: ListItem[];
}

export class ShellSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'ShellSyntaxError';
  }
}

/** A statement the lab could not parse: reported by line, the rest of the script still runs. */
export interface BadStatement {
  line: number;
  message: string;
}

const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'for', 'while', 'until', 'do', 'done', 'case', 'esac', 'function', '{', '}', '(', ')', '[[', ']]']);

type Tok = { t: 'word'; w: Word; raw: string } | { t: 'op'; op: string } | { t: 'nl' };

/** Splits the script into statements (a line each, continuations and here-documents joined). */
export function parseScript(text: string): { statements: Statement[]; errors: BadStatement[] } {
  const p = new ScriptParser(text);
  return p.parse();
}

class ScriptParser {
  private pos = 0;
  private line = 1;
  private readonly statements: Statement[] = [];
  private readonly errors: BadStatement[] = [];
  /** Here-documents waiting for their bodies after the current line. */
  private pendingHeredocs: Array<{ redirect: Redirect; delim: string; strip: boolean; quoted: boolean }> = [];

  constructor(private readonly src: string) {}

  parse(): { statements: Statement[]; errors: BadStatement[] } {
    while (this.pos < this.src.length) {
      const startLine = this.line;
      const startPos = this.pos;
      let toks: Tok[];
      try {
        toks = this.lineTokens();
      } catch (e) {
        if (!(e instanceof ShellSyntaxError)) throw e;
        this.errors.push({ line: e.line, message: e.message });
        this.skipToLineEnd();
        continue;
      }
      try {
        const st = this.build(toks, startLine, this.src.slice(startPos, this.pos).trim());
        if (st) this.statements.push(st);
      } catch (e) {
        if (!(e instanceof ShellSyntaxError)) throw e;
        this.errors.push({ line: e.line, message: e.message });
      }
    }
    return { statements: this.statements, errors: this.errors };
  }

  private skipToLineEnd(): void {
    this.pendingHeredocs = [];
    while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
    if (this.pos < this.src.length) {
      this.pos++;
      this.line++;
    }
  }

  /** Tokens of one logical line (up to an unquoted newline), then the here-document bodies it announced. */
  private lineTokens(): Tok[] {
    const toks: Tok[] = [];
    for (;;) {
      this.skipBlanks();
      if (this.pos >= this.src.length) break;
      const c = this.src[this.pos]!;
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.readHeredocBodies();
        // An operator at the end of a line (`&&`, `||`, `|`) continues the statement on the next line.
        const last = toks[toks.length - 1];
        if (last?.t === 'op' && (last.op === '&&' || last.op === '||' || last.op === '|')) continue;
        break;
      }
      if (c === '#') {
        while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
        continue;
      }
      const op = this.operator();
      if (op !== undefined) {
        if (op === '<<' || op === '<<-') {
          toks.push({ t: 'op', op });
          this.skipBlanks();
          const start = this.pos;
          const w = this.word();
          const raw = this.src.slice(start, this.pos);
          const delim = w.parts.map((p) => (p.kind === 'lit' ? p.text : `$${p.name}`)).join('');
          const redirect: Redirect = { fd: 0, op: '<<', target: w, heredoc: '' };
          toks.push({ t: 'word', w, raw });
          this.pendingHeredocs.push({ redirect, delim, strip: op === '<<-', quoted: /['"\\]/.test(raw) });
          (toks[toks.length - 1] as { heredocRedirect?: Redirect }).heredocRedirect = redirect;
          continue;
        }
        toks.push({ t: 'op', op });
        continue;
      }
      const start = this.pos;
      const w = this.word();
      toks.push({ t: 'word', w, raw: this.src.slice(start, this.pos) });
    }
    if (this.pendingHeredocs.length > 0) this.readHeredocBodies();
    return toks;
  }

  private readHeredocBodies(): void {
    for (const h of this.pendingHeredocs) {
      const body: string[] = [];
      let found = false;
      while (this.pos < this.src.length) {
        let end = this.src.indexOf('\n', this.pos);
        if (end < 0) end = this.src.length;
        let l = this.src.slice(this.pos, end);
        this.pos = Math.min(end + 1, this.src.length);
        this.line++;
        if (h.strip) l = l.replace(/^\t+/, '');
        if (l === h.delim) {
          found = true;
          break;
        }
        body.push(l);
      }
      if (!found) throw new ShellSyntaxError(this.line, `here-document delimited by end-of-file (wanted \`${h.delim}')`);
      h.redirect.heredoc = body.map((l) => l + '\n').join('');
      h.redirect.heredocQuoted = h.quoted;
    }
    this.pendingHeredocs = [];
  }

  private skipBlanks(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === ' ' || c === '\t' || c === '\r') this.pos++;
      else if (c === '\\' && this.src[this.pos + 1] === '\n') {
        this.pos += 2;
        this.line++;
      } else break;
    }
  }

  private operator(): string | undefined {
    const s = this.src;
    const i = this.pos;
    for (const op of ['&&', '||', '<<-', '<<', '>>', '2>&1', '1>&2', '>&2', '&>', '2>>', '2>', '1>', ';;', ';', '&', '|', '>', '<', '(', ')']) {
      if (s.startsWith(op, i)) {
        // `2>` and friends only as a whole token start (not in the middle of a word such as `a2>b`).
        this.pos += op.length;
        return op;
      }
    }
    return undefined;
  }

  /** One shell word: stops at a blank, newline or operator character outside quotes. */
  private word(): Word {
    const parts: WordPart[] = [];
    let lit = '';
    let quotedLit = false;
    const flush = (): void => {
      if (lit !== '') parts.push({ kind: 'lit', text: lit, quoted: quotedLit });
      lit = '';
    };
    const s = this.src;
    const lineAtStart = this.line;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (' \t\r\n;&|<>()'.includes(c)) break;
      if (c === '\\') {
        const n = s[this.pos + 1];
        if (n === '\n') {
          this.pos += 2;
          this.line++;
          continue;
        }
        if (quotedLit === false) {
          flush();
        }
        quotedLit = true;
        lit += n ?? '';
        this.pos += 2;
        flush();
        quotedLit = false;
        continue;
      }
      if (c === "'") {
        flush();
        const end = s.indexOf("'", this.pos + 1);
        if (end < 0) throw new ShellSyntaxError(lineAtStart, "unexpected EOF while looking for matching `''");
        const text = s.slice(this.pos + 1, end);
        this.line += text.split('\n').length - 1;
        parts.push({ kind: 'lit', text, quoted: true });
        this.pos = end + 1;
        continue;
      }
      if (c === '"') {
        flush();
        this.pos++;
        let q = '';
        const flushQ = (): void => {
          if (q !== '') parts.push({ kind: 'lit', text: q, quoted: true });
          q = '';
        };
        let closed = false;
        while (this.pos < s.length) {
          const d = s[this.pos]!;
          if (d === '"') {
            closed = true;
            this.pos++;
            break;
          }
          if (d === '\\' && '"\\$`\n'.includes(s[this.pos + 1] ?? '')) {
            if (s[this.pos + 1] !== '\n') q += s[this.pos + 1];
            else this.line++;
            this.pos += 2;
            continue;
          }
          if (d === '$') {
            const v = this.variable();
            if (v) {
              flushQ();
              parts.push({ kind: 'var', name: v, quoted: true });
              continue;
            }
          }
          if (d === '`') throw new ShellSyntaxError(this.line, 'command substitution (`...`) is not supported');
          if (d === '\n') this.line++;
          q += d;
          this.pos++;
        }
        if (!closed) throw new ShellSyntaxError(lineAtStart, 'unexpected EOF while looking for matching `"\'');
        flushQ();
        // An empty "" still makes a word.
        if (parts.length === 0) parts.push({ kind: 'lit', text: '', quoted: true });
        continue;
      }
      if (c === '$') {
        const v = this.variable();
        if (v) {
          flush();
          parts.push({ kind: 'var', name: v, quoted: false });
          continue;
        }
      }
      if (c === '`') throw new ShellSyntaxError(this.line, 'command substitution (`...`) is not supported');
      lit += c;
      this.pos++;
    }
    flush();
    return { parts };
  }

  /** At a `$`: the variable name it starts, moving past it; undefined when the `$` is literal. */
  private variable(): string | undefined {
    const s = this.src;
    const n = s[this.pos + 1];
    if (n === '(') throw new ShellSyntaxError(this.line, 'command substitution $(...) is not supported');
    if (n === '{') {
      const end = s.indexOf('}', this.pos);
      if (end < 0) throw new ShellSyntaxError(this.line, 'bad substitution');
      const name = s.slice(this.pos + 2, end);
      if (!/^([A-Za-z_]\w*|[0-9!?#$])$/.test(name)) throw new ShellSyntaxError(this.line, `\${${name}}: bad substitution`);
      this.pos = end + 1;
      return name;
    }
    if (n !== undefined && /[!?#$0-9]/.test(n)) {
      this.pos += 2;
      return n;
    }
    const m = /^[A-Za-z_]\w*/.exec(s.slice(this.pos + 1, this.pos + 200));
    if (!m) return undefined;
    this.pos += 1 + m[0].length;
    return m[0];
  }

  /** Tokens of a logical line to a statement. */
  private build(toks: Tok[], line: number, text: string): Statement | undefined {
    if (toks.length === 0) return undefined;
    const items: ListItem[] = [];
    let cmds: SimpleCommand[] = [];
    let cur: SimpleCommand | undefined;
    let negate = false;
    const firstText = (): string => text.split('\n')[0]!;
    const newCmd = (): SimpleCommand => ({ assignments: [], words: [], redirects: [], line, text: firstText() });
    const endPipeline = (sep: ListItem['sep']): void => {
      if (cur) cmds.push(cur);
      if (cmds.length === 0) throw new ShellSyntaxError(line, `syntax error near unexpected token \`${sep}'`);
      items.push({ pipeline: { commands: cmds, negate }, sep });
      cmds = [];
      cur = undefined;
      negate = false;
    };
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      if (t.t === 'op') {
        const op = t.op;
        if (op === ';' || op === '&' || op === '&&' || op === '||') {
          endPipeline(op);
          continue;
        }
        if (op === '|') {
          if (!cur) throw new ShellSyntaxError(line, "syntax error near unexpected token `|'");
          cmds.push(cur);
          cur = undefined;
          continue;
        }
        if (op === '(' || op === ')' || op === ';;') throw new ShellSyntaxError(line, `${op === ';;' ? 'case' : 'subshells ( ... )'} not supported`);
        cur ??= newCmd();
        if (op === '2>&1') {
          cur.redirects.push({ fd: 2, op: '>&', target: litWord('1') });
          continue;
        }
        if (op === '1>&2' || op === '>&2') {
          cur.redirects.push({ fd: 1, op: '>&', target: litWord('2') });
          continue;
        }
        const next = toks[i + 1];
        if (next?.t !== 'word') throw new ShellSyntaxError(line, `syntax error near unexpected token \`${next?.t === 'op' ? next.op : 'newline'}'`);
        i++;
        if (op === '<<' || op === '<<-') {
          const r = (next as { heredocRedirect?: Redirect }).heredocRedirect;
          if (r) cur.redirects.push(r);
          continue;
        }
        const fd: Redirect['fd'] = op === '2>' || op === '2>>' ? 2 : op === '<' ? 0 : op === '&>' ? 'both' : 1;
        const kind: Redirect['op'] = op === '>>' || op === '2>>' ? '>>' : op === '<' ? '<' : '>';
        cur.redirects.push({ fd, op: kind, target: next.w });
        continue;
      }
      if (t.t === 'word') {
        cur ??= newCmd();
        const lit = t.w.parts.length === 1 && t.w.parts[0]!.kind === 'lit' && !t.w.parts[0]!.quoted ? t.w.parts[0]!.text : undefined;
        if (cur.words.length === 0 && lit === '!' && cmds.length === 0 && !negate) {
          negate = true;
          continue;
        }
        if (cur.words.length === 0 && lit !== undefined && RESERVED.has(lit)) throw new ShellSyntaxError(line, `\`${lit}' (shell compound commands) is not supported`);
        const first = t.w.parts[0];
        const eq = first?.kind === 'lit' && !first.quoted ? /^([A-Za-z_]\w*)=/.exec(first.text) : null;
        if (cur.words.length === 0 && eq && first?.kind === 'lit') {
          const rest: WordPart[] = [{ kind: 'lit', text: first.text.slice(eq[0].length), quoted: false }, ...t.w.parts.slice(1)];
          cur.assignments.push({ name: eq[1]!, value: { parts: rest.filter((p) => p.kind !== 'lit' || p.text !== '' || p.quoted) } });
          continue;
        }
        cur.words.push(t.w);
      }
    }
    if (cur || cmds.length > 0) endPipeline(';');
    return items.length > 0 ? { line, items } : undefined;
  }
}

function litWord(text: string): Word {
  return { parts: [{ kind: 'lit', text, quoted: false }] };
}

/** Expands a word with the variables in scope: no field splitting inside quotes; unquoted values split on blanks. */
export function expandWord(w: Word, vars: (name: string) => string | undefined): string[] {
  const fields: string[] = [];
  let cur = '';
  let has = false;
  for (const p of w.parts) {
    if (p.kind === 'lit') {
      cur += p.text;
      has = true;
      continue;
    }
    const v = vars(p.name) ?? '';
    if (p.quoted) {
      cur += v;
      has = true;
      continue;
    }
    const pieces = v.split(/[ \t\n]+/);
    for (let i = 0; i < pieces.length; i++) {
      if (i > 0) {
        if (has || cur !== '') fields.push(cur);
        cur = '';
        has = false;
      }
      if (pieces[i] !== '') {
        cur += pieces[i];
        has = true;
      }
    }
  }
  if (has || cur !== '') fields.push(cur);
  return fields;
}

/** A word as one string (redirection targets, assignment values). */
export function expandOne(w: Word, vars: (name: string) => string | undefined): string {
  return w.parts.map((p) => (p.kind === 'lit' ? p.text : (vars(p.name) ?? ''))).join('');
}

/** Splits a `sh -c` string with the same rules (for `ip netns exec NS sh -c 'echo 1 > /proc/...'`). */
export function parseInline(text: string): { statements: Statement[]; errors: BadStatement[] } {
  return parseScript(text.endsWith('\n') ? text : text + '\n');
}
