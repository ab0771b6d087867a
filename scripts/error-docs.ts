// docs/errors.md, generated from ERROR_CODES: `npm run docs:errors` writes it, and
// packages/core/test/error-catalogue.test.ts fails when the committed page differs.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, type ErrorCodeInfo } from '../packages/core/src/error-codes.js';

/** Where the page lives, from the repository root. */
export const ERROR_DOCS_PATH = 'docs/errors.md';

/** The page's text for a catalogue. */
export function renderErrorDocs(codes: Readonly<Record<string, ErrorCodeInfo>> = ERROR_CODES): string {
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from packages/core/src/error-codes.ts by `npm run docs:errors`; do not edit. -->',
    '',
    'Every error taskq throws is a `TaskqError` with a stable `code`. Branch on the code',
    "(`errorCode(error) === 'TASKQ_CLOSED'`), not on `instanceof`: two installed copies of taskq have",
    'two classes but the same codes. The codes are listed in `ERROR_CODES`, exported by `@taskq/core`.',
    '',
  ];
  const byPackage = new Map<string, Array<[string, ErrorCodeInfo]>>();
  for (const [code, info] of Object.entries(codes)) {
    const list = byPackage.get(info.package) ?? [];
    list.push([code, info]);
    byPackage.set(info.package, list);
  }
  for (const [name, entries] of byPackage) {
    lines.push(`## ${name}`, '', '| code | class | what happened |', '|---|---|---|');
    for (const [code, info] of entries)
      lines.push(
        `| \`${code}\` | ${info.error ? `\`${info.error}\`` : '(HTTP body only)'} | ${info.summary.replaceAll('|', '\\|')} |`,
      );
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  writeFileSync(`${root}${ERROR_DOCS_PATH}`, renderErrorDocs());
  console.log(`${ERROR_DOCS_PATH} written`);
}
