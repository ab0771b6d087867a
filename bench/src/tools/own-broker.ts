/**
 * Runs a command against a throw-away RabbitMQ node (or cluster) of its own:
 *
 *   node bench/dist/tools/own-broker.js node bench/dist/run.js --only taskq-concurrent,taskq-quorum --no-soak
 *   node bench/dist/tools/own-broker.js --nodes 3 node bench/dist/run.js --only taskq-concurrent,taskq-quorum
 *
 * starts the node(s) (own names, ports, data under a temp folder; several are
 * joined into one cluster), runs the command with BENCH_AMQP_URL pointing at
 * the first and BENCH_BROKER_PORTS listing all of them (the bench then counts
 * the CPU of every node as the broker's), then kills the nodes and deletes
 * their folder. On a machine whose shared broker also serves other work, the
 * broker CPU per task (S) is then the bench's alone; the cores are still shared.
 */
import { spawn } from 'node:child_process';
import { BenchCluster } from '../cluster.js';

function parse(argv: readonly string[]): { nodes: number; command: readonly string[] } {
  if (argv[0] === '--nodes') {
    const nodes = Number(argv[1]);
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > 5) throw new Error(`--nodes takes 1 to 5, got ${argv[1]}`);
    return { nodes, command: argv.slice(2) };
  }
  return { nodes: 1, command: argv };
}

async function main(): Promise<number> {
  const { nodes, command } = parse(process.argv.slice(2));
  const [program, ...args] = command;
  if (program === undefined) {
    process.stderr.write('usage: own-broker.js [--nodes N] <command> [args...]\n');
    return 2;
  }
  process.stderr.write(`own-broker: starting ${nodes} throw-away RabbitMQ node(s)\n`);
  const cluster = await BenchCluster.start(nodes, (line) => process.stderr.write(`own-broker:${line}\n`));
  const url = cluster.urls[0] ?? '';
  process.stderr.write(
    `own-broker: BENCH_AMQP_URL on port ${cluster.ports[0]}, nodes on ${cluster.ports.join(', ')}\n`,
  );
  try {
    const child = spawn(program, args, {
      stdio: 'inherit',
      env: { ...process.env, BENCH_AMQP_URL: url, BENCH_BROKER_PORTS: cluster.ports.join(',') },
    });
    // Ctrl-C reaches the child through the terminal's process group; the nodes go when it exits.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    await cluster.destroy();
    process.stderr.write('own-broker: nodes stopped and deleted\n');
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`own-broker failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
