import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  blackholed: boolean;
}

/**
 * A TCP proxy in front of a broker that can fail the way networks do:
 * `blackhole()` silently drops every byte of the connections open now
 * (both ends still think they are connected: a half-open connection, as when
 * a NAT or firewall forgets the flow) while new connections pass;
 * `reset()` kills the open connections with a RST.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #pairs = new Set<Pair>();
  #blackholeNew = false;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let accept: (client: Socket) => void = (client) => client.destroy();
    const server = createServer((client) => accept(client));
    const proxy = new TcpProxy(server);
    accept = (client) => proxy.#accept(client, targetHost, targetPort);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** Connections open through the proxy right now. */
  get open(): number {
    return this.#pairs.size;
  }

  #accept(client: Socket, host: string, port: number): void {
    this.accepted++;
    const upstream = createConnection({ host, port });
    const pair: Pair = { client, upstream, blackholed: this.#blackholeNew };
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk) => {
        if (!pair.blackholed) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    for (const socket of [client, upstream]) {
      const end = (): void => {
        if (pair.blackholed) {
          // The FIN or RST is lost too: the other side keeps its connection until its own heartbeat gives up.
          socket.destroy();
          if (client.destroyed && upstream.destroyed) this.#pairs.delete(pair);
          return;
        }
        this.#pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      socket.on('error', end);
      socket.on('close', end);
    }
  }

  /** Drops all traffic of the connections open now, without closing them; `andNew` blackholes later ones too. */
  blackhole(andNew = false): void {
    for (const pair of this.#pairs) pair.blackholed = true;
    this.#blackholeNew = andNew;
  }

  /** New connections pass again (blackholed ones stay dead, as on a real network). */
  pass(): void {
    this.#blackholeNew = false;
  }

  /** Ends every open connection with a TCP reset. */
  reset(): void {
    for (const pair of this.#pairs) {
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
    }
    this.#pairs.clear();
  }

  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
