import { fileURLToPath } from 'node:url';
import { parseCircular, parseDependencyTree } from 'dpdm';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

// The same analysis as `npm run check:cycles`: type-only imports count (transform: false), since a cycle of types
// still ties the modules together; other packages' built output and node_modules are not followed.
describe('imports', () => {
  it('form no cycle in any package, type-only imports included', async () => {
    const tree = await parseDependencyTree('packages/*/src/**/*.ts', {
      cwd: root,
      context: root,
      transform: false,
      exclude: /node_modules|\/dist\//,
    });
    const files = Object.keys(tree).filter((file) => file.includes('/src/'));
    const cycles = parseCircular(tree);
    console.log(`import cycles: ${cycles.length} in ${files.length} source files`);
    expect(files.length).toBeGreaterThan(100);
    expect(cycles.map((cycle) => cycle.join(' -> '))).toEqual([]);
  });
});
