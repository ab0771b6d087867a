// A small parser of the Prometheus text exposition format (version 0.0.4): enough to check what a scrape says.

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_count`, `x_total`...). */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  type: string | undefined;
  help: string | undefined;
  readonly samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;
const SUFFIXES = ['_bucket', '_count', '_sum', '_total', '_created'];

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseLabels(text: string | undefined, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const match = LABEL.exec(text);
    if (!match) throw new Error(`bad labels in: ${line}`);
    labels[match[1]] = unescapeLabel(match[2]);
  }
  return labels;
}

function parseValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (Number.isNaN(value) && text !== 'NaN') throw new Error(`bad sample value ${text}`);
  return value;
}

/** Families by name; a sample belongs to the family declared by `# TYPE` whose name it extends. */
export function parsePrometheus(text: string): Map<string, MetricFamily> {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let found = families.get(name);
    if (!found) {
      found = { name, type: undefined, help: undefined, samples: [] };
      families.set(name, found);
    }
    return found;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const comment = /^#\s+(HELP|TYPE)\s+(\S+)\s*(.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') family(comment[2]).type = comment[3];
      else family(comment[2]).help = comment[3];
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const name = match[1];
    const base = families.has(name)
      ? name
      : (SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : undefined)).find(
          (b) => b && families.has(b),
        ) ?? name);
    family(base).samples.push({ name, labels: parseLabels(match[2], line), value: parseValue(match[3]) });
  }
  return families;
}

/** Sum of the samples named `sample` whose labels include `match`. */
export function sampleSum(
  families: Map<string, MetricFamily>,
  sample: string,
  match: Record<string, string> = {},
): number {
  let total = 0;
  for (const family of families.values())
    for (const s of family.samples)
      if (s.name === sample && Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  return total;
}
