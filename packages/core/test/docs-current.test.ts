import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The documentation a user reads: the READMEs, DEVELOPERS.md and docs/. */
function pages(): string[] {
  const found = ['README.md', 'DEVELOPERS.md', 'bench/README.md'];
  for (const file of readdirSync(join(ROOT, 'docs'))) if (file.endsWith('.md')) found.push(`docs/${file}`);
  for (const parent of ['packages', 'examples']) {
    for (const entry of readdirSync(join(ROOT, parent)))
      if (existsSync(join(ROOT, parent, entry, 'README.md'))) found.push(`${parent}/${entry}/README.md`);
  }
  return found;
}

function read(page: string): string {
  return readFileSync(join(ROOT, page), 'utf8');
}

describe('the documentation is current', () => {
  it('every relative link points to a file that exists', () => {
    const broken: string[] = [];
    for (const page of pages()) {
      for (const match of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1].split('#')[0];
        if (target === '' || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(ROOT, dirname(page), target))) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no page says something is "in progress"', () => {
    const stale = pages().flatMap((page) =>
      read(page)
        .split('\n')
        .flatMap((line, i) => (/\bin progress\b/i.test(line) ? [`${page}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(stale).toEqual([]);
  });

  it('the glossary exists and README.md and DEVELOPERS.md link it', () => {
    expect(existsSync(join(ROOT, 'docs/glossary.md'))).toBe(true);
    for (const page of ['README.md', 'DEVELOPERS.md']) expect(read(page), page).toContain('](docs/glossary.md)');
  });

  it('the retired names of the unit-of-work, request unit-of-work, outbox-relay and task-definition renames appear nowhere', () => {
    const retired: Array<[string, RegExp]> = [
      ['queue.transaction()', /\bqueue\.transaction\(/],
      ['typeormTransaction', /\btypeormTransaction\b/],
      ['TypeormTransactionOptions', /\bTypeormTransactionOptions\b/],
      ['OutboxOptions', /\bOutboxOptions\b/],
      ['outbox()', /(^|[^\w.])outbox\(/],
      ['ctx.task', /\bctx\.task\b/],
      ['RequestTransaction', /\bRequestTransaction(Factory)?\b/],
      ['TypeormRequestTransaction', /\bTypeormRequestTransaction\b/],
      ['openRequestTransaction', /\bopenRequestTransaction\b/],
      ['plainTransaction', /\bplainTransaction\b/],
      ['requestTransaction()', /\brequestTransaction\b/],
      ['CurrentTransaction', /\bCurrentTransaction\b/],
      ['NoRequestTransactionError', /\bNoRequestTransactionError\b/],
    ];
    const seen: string[] = [];
    for (const page of pages()) {
      for (const [name, pattern] of retired)
        if (pattern.test(read(page))) seen.push(`${relative(ROOT, join(ROOT, page))}: ${name}`);
    }
    expect(seen).toEqual([]);
  });
});
