/**
 * HTML built from templates in which every interpolated value is escaped as text unless it is already {@link Html}.
 * Nothing from a task (names, ids, arguments, errors) can become markup: there is no other way to write a page.
 */
export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

/** What a template takes: text (escaped), markup, or lists of either; null, undefined and false render nothing. */
export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` with the five characters that matter in HTML text and quoted attributes replaced by entities. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function render(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  return escapeHtml(String(part));
}

/** The tag of HTML templates: `` html`<td>${value}</td>` ``. Attribute values must be quoted with `"`. */
export function html(strings: TemplateStringsArray, ...values: readonly Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** A value as indented JSON text (for `<pre>`), whatever it is; never throws. */
export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v), 2) ?? String(value);
  } catch {
    return String(value);
  }
}
