// Type-checks every ```ts block of README.md, docs/*.md and packages/*/README.md against the workspace packages.
// A block is a fragment: the names it uses without defining (queue, user, mailer, ...) come from globals.d.ts beside
// this file, which the block's own declarations shadow, and from a prelude (preludes/<name>.d.ts: `app` is an Express
// application in the Express guide, a Fastify instance in the Fastify one): a document's default prelude is in
// DOC_PRELUDES, `<!-- docs-code: prelude NAME -->` just before a block picks another. A block becomes one module, or several when it holds
// `// path.ts` lines (each starts a file of that name, so `import './tasks/index.js'` finds an earlier block's file
// of the same document). `<!-- docs-code: skip (reason) -->` just before a block leaves it out; keep those rare.
// Run: npm run check:docs (after npm run build). The integration tests run it too (tests/docs/docs-code.test.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const GLOBALS = join(REPO, 'scripts/docs-code/globals.d.ts');

const DOC_PRELUDES: Record<string, string> = {
  'docs/express.md': 'express',
  'packages/express/README.md': 'express',
  'docs/fastify.md': 'fastify',
  'packages/fastify/README.md': 'fastify',
  'docs/nest.md': 'nest',
  'packages/nest/README.md': 'nest',
  'docs/coming-from-bullmq.md': 'nest',
};

/** One file made from a code block: where it came from (document, first line of the block) and its text. */
export interface DocsFile {
  readonly doc: string;
  readonly line: number;
  readonly name: string;
  readonly text: string;
  /** preludes/<prelude>.d.ts is loaded with it, when set. */
  readonly prelude: string | undefined;
}

/** A code block left out with `<!-- docs-code: skip (reason) -->`. */
export interface SkippedBlock {
  readonly doc: string;
  readonly line: number;
  readonly reason: string;
}

/** The documents whose blocks are checked, relative to the repository. */
export function documents(): string[] {
  const docs = readdirSync(join(REPO, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  const readmes = readdirSync(join(REPO, 'packages')).map((name) => `packages/${name}/README.md`);
  return ['README.md', ...docs, ...readmes].filter((doc) => existsSync(join(REPO, doc)));
}

const FENCE = /^(\s*)```(ts|typescript)\s*$/;
const SKIP = /^<!--\s*docs-code:\s*skip\s*\((.+)\)\s*-->$/;
const PRELUDE = /^<!--\s*docs-code:\s*prelude\s+([\w-]+)\s*-->$/;
const FILE_LINE = /^\/\/ ([\w./-]+\.ts)\b/;

/** Splits one document into files, and lists the blocks it skips. */
export function extract(doc: string, markdown: string): { files: DocsFile[]; skipped: SkippedBlock[] } {
  const lines = markdown.split('\n');
  const files: DocsFile[] = [];
  const skipped: SkippedBlock[] = [];
  const names = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    const start = i + 1;
    let end = start;
    while (end < lines.length && (lines[end] ?? '').trim() !== '```') end++;
    const body = lines.slice(start, end).map((line) => line.slice(indent));
    let previous = i - 1;
    while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--;
    const skip = SKIP.exec((lines[previous] ?? '').trim());
    const prelude = PRELUDE.exec((lines[previous] ?? '').trim())?.[1] ?? DOC_PRELUDES[doc];
    i = end;
    if (skip) {
      skipped.push({ doc, line: start, reason: skip[1] ?? '' });
      continue;
    }
    // Split at `// path.ts` lines; each part keeps its line offset so diagnostics point into the document.
    let partStart = 0;
    const flush = (partEnd: number): void => {
      const part = body.slice(partStart, partEnd);
      if (part.every((line) => line.trim() === '')) return;
      const named = FILE_LINE.exec(part[0] ?? '')?.[1];
      let name = named ?? `block-${start + partStart + 1}.ts`;
      if (names.has(name)) name = name.replace(/\.ts$/, `-${start + partStart + 1}.ts`);
      names.add(name);
      files.push({ doc, line: start + partStart + 1, name, text: `${part.join('\n')}\nexport {};\n`, prelude });
    };
    body.forEach((line, index) => {
      if (index > 0 && FILE_LINE.test(line)) {
        flush(index);
        partStart = index;
      }
    });
    flush(body.length);
  }
  return { files, skipped };
}

/** A type error in a block, as `document:line: message`. */
export interface DocsError {
  readonly where: string;
  readonly message: string;
}

/** Writes the blocks of `docs` under `outDir` and type-checks them; resolves with every error. */
export function checkDocs(
  docs = documents(),
  outDir = join(REPO, 'node_modules/.cache/taskq-docs-code'),
): {
  errors: DocsError[];
  files: number;
  skipped: SkippedBlock[];
} {
  rmSync(outDir, { recursive: true, force: true });
  const origin = new Map<string, DocsFile>();
  const skipped: SkippedBlock[] = [];
  for (const doc of docs) {
    const extracted = extract(doc, readFileSync(resolve(REPO, doc), 'utf8'));
    skipped.push(...extracted.skipped);
    const dir = join(outDir, relative(REPO, resolve(REPO, doc)).replace(/[/.]/g, '_'));
    for (const file of extracted.files) {
      const path = join(dir, file.name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, file.text);
      origin.set(path, file);
    }
    copyFixtures(join(REPO, 'scripts/docs-code/fixtures'), dir);
  }
  // ESM, so that blocks may await at the top level as the docs do.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    types: ['node'],
  };
  // One program per prelude (their globals differ); the host shares the parsed library files between them.
  const host = cachingHost(options);
  const groups = new Map<string, string[]>();
  for (const [path, file] of origin) {
    const key = file.prelude ?? '';
    groups.set(key, [...(groups.get(key) ?? []), path]);
  }
  const diagnostics = [...groups].flatMap(([prelude, paths]) => {
    const roots = [
      ...paths,
      GLOBALS,
      ...(prelude ? [join(REPO, 'scripts/docs-code/preludes', `${prelude}.d.ts`)] : []),
    ];
    const program = ts.createProgram(roots, options, host);
    // A file of another group reached by an import is checked in its own program.
    const own = new Set(paths);
    return ts
      .getPreEmitDiagnostics(program)
      .filter(
        (diagnostic) =>
          !diagnostic.file ||
          !origin.has(resolve(diagnostic.file.fileName)) ||
          own.has(resolve(diagnostic.file.fileName)),
      );
  });
  const errors = diagnostics.map((diagnostic): DocsError => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const file = diagnostic.file;
    const source = file ? origin.get(resolve(file.fileName)) : undefined;
    if (!file || !source || diagnostic.start === undefined) {
      return { where: file ? relative(REPO, file.fileName) : '(program)', message };
    }
    const { line } = file.getLineAndCharacterOfPosition(diagnostic.start);
    return { where: `${source.doc}:${source.line + line}`, message };
  });
  return { errors, files: origin.size, skipped };
}

/** Copies the fixture task modules into a document's folder, except those the document shows itself. */
function copyFixtures(from: string, to: string): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) copyFixtures(source, target);
    else if (!existsSync(target)) {
      mkdirSync(to, { recursive: true });
      writeFileSync(target, readFileSync(source));
    }
  }
}

function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const cache = new Map<string, ts.SourceFile | undefined>();
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    // The blocks' own files and the preludes differ per program; what is under node_modules does not.
    if (!fileName.includes('/node_modules/') || fileName.includes('/.cache/')) {
      return getSourceFile(fileName, languageVersion, onError, shouldCreate);
    }
    if (!cache.has(fileName)) cache.set(fileName, getSourceFile(fileName, languageVersion, onError, shouldCreate));
    return cache.get(fileName);
  };
  return host;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { errors, files, skipped } = checkDocs();
  for (const error of errors) console.error(`${error.where}: ${error.message}`);
  for (const skip of skipped) console.log(`skipped ${skip.doc}:${skip.line} (${skip.reason})`);
  console.log(`${files} files from the docs' code blocks, ${errors.length} type error(s)`);
  if (errors.length > 0) process.exitCode = 1;
}
