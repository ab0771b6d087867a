import type { RequestOrigin } from './url-context.js';

/**
 * The request shape every supported framework gives after applying its own
 * trust-proxy rules: `protocol` and `host` already honour X-Forwarded-Proto
 * and X-Forwarded-Host when (and only when) the proxy is trusted.
 */
export interface ForwardedRequest {
  readonly protocol?: unknown;
  readonly host?: unknown;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * How a framework trusts proxies, for the one header none of them reads
 * (X-Forwarded-Port): whether the proxy in front of this request is
 * trusted, and which entry of a list goes with the host the framework picked.
 */
export interface ProxyTrust<Request extends ForwardedRequest = ForwardedRequest> {
  trusts(request: Request): boolean;
  readonly entry: 'first' | 'last';
}

type TrustFn = (address: string | undefined, hop: number) => boolean;
type ExpressLike = ForwardedRequest & {
  readonly app?: { get(name: string): unknown };
  readonly socket?: { readonly remoteAddress?: string };
};

/**
 * Express: ask the compiled `trust proxy` function that `req.protocol` and `req.host` use; Express takes the first
 * X-Forwarded-Host.
 */
export const expressProxyTrust: ProxyTrust<ExpressLike> = {
  trusts(req) {
    const trust = req.app?.get('trust proxy fn') as TrustFn | undefined;
    return typeof trust === 'function' && trust(req.socket?.remoteAddress, 0);
  },
  entry: 'first',
};

const PROBE = 'taskq-trust-probe.invalid';
type FastifyLike = ForwardedRequest & { readonly raw?: { readonly socket?: unknown } };

/**
 * Fastify keeps its trust function private; its `host` getter applies it to
 * X-Forwarded-Host, so ask that getter about a probe header on a stand-in
 * with this request's socket. Anything unexpected means "not trusted".
 * Fastify takes the last X-Forwarded-Host.
 */
export const fastifyProxyTrust: ProxyTrust<FastifyLike> = {
  trusts(request) {
    try {
      const standIn = Object.create(Object.getPrototypeOf(request), {
        raw: { value: { headers: { 'x-forwarded-host': PROBE }, socket: request.raw?.socket } },
        additionalHeaders: { value: undefined },
      }) as FastifyLike;
      return standIn.host === PROBE;
    } catch {
      return false;
    }
  },
  entry: 'last',
};

/** No proxy is trusted: the Host header and the connection decide. */
export const noProxyTrust: ProxyTrust = { trusts: () => false, entry: 'first' };

/**
 * The neutral {@link RequestOrigin} of a framework's request: protocol and
 * host as the framework computed them (falling back to `http` and the Host
 * header), X-Forwarded-Port only when `proxy` trusts the request's proxy.
 */
export function requestOrigin<Request extends ForwardedRequest>(
  request: Request,
  proxy: ProxyTrust<Request>,
): RequestOrigin {
  const { headers } = request;
  const header = headers['x-forwarded-port'];
  const trusted = typeof header === 'string' && proxy.trusts(request);
  const entries = trusted ? header.split(',') : [];
  return {
    protocol: typeof request.protocol === 'string' ? request.protocol : 'http',
    host: typeof request.host === 'string' ? request.host : typeof headers.host === 'string' ? headers.host : undefined,
    forwardedHost: typeof headers['x-forwarded-host'] === 'string',
    forwardedPort: trusted ? (proxy.entry === 'first' ? entries[0] : entries.at(-1)) : undefined,
    headers,
  };
}
