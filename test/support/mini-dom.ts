/**
 * A small strict parser for the HTML and SVG the diagram renderers write, so the unit tests can ask for elements
 * by attribute instead of matching text: elements with attributes, children and text; void HTML elements;
 * `<style>` as raw text; entities decoded. A closing tag that does not match the open element throws, so
 * the tests also prove the markup is balanced.
 */
export interface El {
  tag: string;
  attrs: Record<string, string>;
  children: El[];
  /** The element's own text and its descendants', entities decoded. */
  text: string;
  parent: El | undefined;
}

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link']);
const RAW = new Set(['style', 'script']);

function decode(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '');
}

export function parseMarkup(src: string): El {
  const root: El = { tag: '#root', attrs: {}, children: [], text: '', parent: undefined };
  let cur = root;
  let i = 0;
  const addText = (t: string): void => {
    for (let e: El | undefined = cur; e; e = e.parent) e.text += t;
  };
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    if (lt < 0) {
      addText(decode(src.slice(i)));
      break;
    }
    if (lt > i) addText(decode(src.slice(i, lt)));
    if (src.startsWith('<!--', lt)) {
      i = src.indexOf('-->', lt) + 3;
      continue;
    }
    if (src.startsWith('<!', lt) || src.startsWith('<?', lt)) {
      i = src.indexOf('>', lt) + 1;
      continue;
    }
    if (src[lt + 1] === '/') {
      const gt = src.indexOf('>', lt);
      const name = src.slice(lt + 2, gt).trim().toLowerCase();
      if (name !== cur.tag) throw new Error(`</${name}> closes <${cur.tag}> at offset ${lt}`);
      cur = cur.parent!;
      i = gt + 1;
      continue;
    }
    const m = /^<([A-Za-z][\w:-]*)((?:\s+[\w:.-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>"']+))?)*)\s*(\/?)>/.exec(src.slice(lt));
    if (!m) throw new Error(`bad tag at offset ${lt}: ${src.slice(lt, lt + 60)}`);
    const tag = m[1]!.toLowerCase();
    const attrs: Record<string, string> = {};
    for (const a of m[2]!.matchAll(/([\w:.-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+))?/g)) {
      const v = a[2] ?? '';
      attrs[a[1]!] = decode(v.startsWith('"') || v.startsWith("'") ? v.slice(1, -1) : v);
    }
    const el: El = { tag, attrs, children: [], text: '', parent: cur };
    cur.children.push(el);
    i = lt + m[0].length;
    if (m[3] === '/' || VOID.has(tag)) continue;
    if (RAW.has(tag)) {
      const end = src.indexOf(`</${tag}>`, i);
      if (end < 0) throw new Error(`<${tag}> never closed`);
      el.text = src.slice(i, end);
      i = end + tag.length + 3;
      continue;
    }
    cur = el;
  }
  if (cur !== root) throw new Error(`<${cur.tag}> never closed`);
  return root;
}

/** Every element under `root` (depth first, document order) that satisfies `pred`. */
export function all(root: El, pred: (e: El) => boolean): El[] {
  const out: El[] = [];
  const walk = (e: El): void => {
    for (const c of e.children) {
      if (pred(c)) out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

/** Elements with all the given attribute values (`class` matches one class name of the element). */
export function select(root: El, attrs: Record<string, string | true>, tag?: string): El[] {
  return all(root, (e) => {
    if (tag !== undefined && e.tag !== tag) return false;
    return Object.entries(attrs).every(([k, v]) => {
      const got = e.attrs[k];
      if (got === undefined) return false;
      if (v === true) return true;
      if (k === 'class') return got.split(/\s+/).includes(v);
      return got === v;
    });
  });
}

export function one(root: El, attrs: Record<string, string | true>, tag?: string): El {
  const found = select(root, attrs, tag);
  if (found.length !== 1) throw new Error(`expected one element with ${JSON.stringify(attrs)}, found ${found.length}`);
  return found[0]!;
}

export const hasClass = (e: El, c: string): boolean => (e.attrs['class'] ?? '').split(/\s+/).includes(c);
