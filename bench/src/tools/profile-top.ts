/**
 * Prints the top self-time functions of a V8 .cpuprofile (what `node
 * --cpu-prof` writes; `npm run bench -- --cpu-prof worker|producer` makes
 * them under results/profiles/), so a profile can be read without DevTools:
 *
 *   node bench/dist/tools/profile-top.js results/profiles/x.cpuprofile [count] [function]
 *
 * With a function name, it also prints who calls that function (the stacks
 * above its self time, CALLER_DEPTH frames deep), e.g. to see which code path a
 * native `writeBuffer` comes from.
 *
 * Self time is attributed from the sample timeline (timeDeltas), per function
 * (name + file + line), and also summed per file so package-level costs stand out.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const CALLER_DEPTH = 9;

function shortUrl(url: string): string {
  const marker = url.lastIndexOf('node_modules/');
  if (marker >= 0) return url.slice(marker + 'node_modules/'.length);
  const packages = url.indexOf('/packages/');
  if (packages >= 0) return url.slice(packages + 1);
  const bench = url.indexOf('/bench/');
  if (bench >= 0) return url.slice(bench + 1);
  return url.replace(/^file:\/\//, '') || '(native)';
}

function main(): void {
  const [file, countArg, callersOf] = process.argv.slice(2);
  if (!file) throw new Error('usage: profile-top <file.cpuprofile> [count] [function]');
  const count = Number(countArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = shortUrl(url);
    const key = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    byFile.set(where, (byFile.get(where) ?? 0) + us);
  }
  const print = (title: string, map: Map<string, number>): void => {
    process.stdout.write(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)\n`);
    for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) {
      process.stdout.write(
        `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`,
      );
    }
  };
  print('self time by function', byFunction);
  print('self time by file', byFile);
  if (callersOf)
    print(`callers of ${callersOf} (${CALLER_DEPTH} frames, outermost first)`, callers(profile, selfUs, callersOf));
}

function callers(profile: CpuProfile, selfUs: Map<number, number>, name: string): Map<string, number> {
  const parent = new Map<number, ProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName !== name) continue;
    const frames: string[] = [];
    let up = parent.get(id);
    for (let depth = 0; up && depth < CALLER_DEPTH; depth++, up = parent.get(up.id)) {
      frames.unshift(
        `${up.callFrame.functionName || '(anonymous)'}@${shortUrl(up.callFrame.url)}:${up.callFrame.lineNumber + 1}`,
      );
    }
    const key = frames.join(' > ');
    out.set(key, (out.get(key) ?? 0) + us);
  }
  return out;
}

main();
