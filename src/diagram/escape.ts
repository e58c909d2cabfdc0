/** Text into HTML/SVG/XML (element content and quoted attribute values) and into Graphviz quoted strings. */

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** A DOT quoted ID: backslashes and double quotes escaped, newlines as \n. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** A fragment-safe id from any text ("KUBE-SVC-ABC/1" -> "KUBE-SVC-ABC-1"). */
export function idPart(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]+/g, '-');
}
