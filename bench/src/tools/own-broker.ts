/**
 * Runs a command against a throw-away RabbitMQ node of its own:
 *
 *   node bench/dist/tools/own-broker.js node bench/dist/run.js --only taskq-concurrent,taskq-quorum --no-soak
 *
 * starts one node (own name, ports, data under a temp folder), runs the command
 * with BENCH_AMQP_URL pointing at it, then kills the node and deletes its folder.
 * On a machine whose shared broker also serves other work, the broker CPU per
 * task (S) is then the bench's alone; the machine's cores are still shared.
 */
import { spawn } from 'node:child_process';
import { BenchCluster } from '../cluster.js';

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    process.stderr.write('usage: own-broker.js <command> [args...]\n');
    return 2;
  }
  process.stderr.write('own-broker: starting a throw-away RabbitMQ node\n');
  const node = await BenchCluster.start(1);
  const url = node.urls[0] ?? '';
  process.stderr.write(`own-broker: ${url.replace(/:[^:@/]*@/, ':***@')}\n`);
  try {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, BENCH_AMQP_URL: url } });
    // Ctrl-C reaches the child through the terminal's process group; the node goes when it exits.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    await node.destroy();
    process.stderr.write('own-broker: node stopped and deleted\n');
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`own-broker failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
