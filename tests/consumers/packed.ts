// Packs the built workspace packages as `npm pack` would publish them and lays them out as an application's
// node_modules, without the registry: the @taskq tarballs unpacked, third-party packages linked from the repository's
// node_modules. What a consumer compiles and runs is then exactly what the tarballs ship.
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** One packed package: its name, the tarball, and the files the tarball holds (paths inside the package). */
export interface PackedPackage {
  readonly name: string;
  readonly tarball: string;
  readonly files: readonly string[];
}

interface NpmPackEntry {
  readonly name: string;
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

/** `npm pack` of the given workspace folders (e.g. `packages/core`) into `dir`. Build first. */
export async function packWorkspaces(workspaces: readonly string[], dir: string): Promise<PackedPackage[]> {
  await mkdir(dir, { recursive: true });
  const args = ['pack', '--json', '--pack-destination', dir, ...workspaces.flatMap((w) => ['-w', w])];
  const { stdout } = await run('npm', args, { cwd: REPO, maxBuffer: 64 * 1024 * 1024 });
  const entries = JSON.parse(stdout) as NpmPackEntry[];
  return entries.map((entry) => ({
    name: entry.name,
    tarball: join(dir, entry.filename),
    files: entry.files.map((file) => file.path),
  }));
}

/**
 * A node_modules folder at `dir`: each tarball unpacked under its package name, each of `linked` (third-party
 * packages, `@types/*` included) a symlink to the repository's copy.
 */
export async function layOutNodeModules(
  dir: string,
  packages: readonly PackedPackage[],
  linked: readonly string[],
): Promise<void> {
  for (const pkg of packages) {
    const target = join(dir, pkg.name);
    await mkdir(target, { recursive: true });
    await run('tar', ['-xzf', pkg.tarball, '-C', target, '--strip-components=1']);
  }
  for (const name of linked) {
    const target = join(dir, name);
    await mkdir(dirname(target), { recursive: true });
    await symlink(join(REPO, 'node_modules', name), target, 'dir');
  }
}

/**
 * The `sources` of every `.map` file in a packed package that do not resolve to a file the tarball ships (or that are
 * not inlined as `sourcesContent`): `dist/x.js.map -> ../src/x.ts`.
 */
export async function danglingSources(pkg: PackedPackage, unpackedDir: string): Promise<string[]> {
  const shipped = new Set(pkg.files);
  const dangling: string[] = [];
  for (const file of pkg.files.filter((path) => path.endsWith('.map'))) {
    const map = JSON.parse(await readFile(join(unpackedDir, file), 'utf8')) as {
      sources: string[];
      sourceRoot?: string;
      sourcesContent?: (string | null)[];
    };
    map.sources.forEach((source, index) => {
      if (typeof map.sourcesContent?.[index] === 'string') return;
      const path = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
      if (!shipped.has(path)) dangling.push(`${file} -> ${source}`);
    });
  }
  return dangling;
}
