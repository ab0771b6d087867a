import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import { type RequestUrlContext, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import {
  type AllowedHosts,
  expressProxyTrust,
  type ForwardedRequest,
  fastifyProxyTrust,
  noProxyTrust,
  type ProxyTrust,
  requestOrigin,
  requestUrlContext,
  resolveAllowedHosts,
} from '@taskq/http';
import { TaskqRuntime } from './taskq-runtime.js';

/**
 * How each Nest platform's request says whether the proxy in front of it is trusted; any other platform trusts none.
 */
const PROXY_TRUST: Readonly<Record<string, ProxyTrust<never>>> = {
  express: expressProxyTrust,
  fastify: fastifyProxyTrust,
};

/** A request the marker has seen. */
type MarkedRequest = ForwardedRequest & { [REQUEST_CONTEXT]?: () => RequestUrlContext };

/**
 * @internal Lets live requests travel as task arguments. It puts the
 * `REQUEST_CONTEXT` function that @taskq/core's request codec looks for on
 * each request, computed from the neutral request shape (protocol and host
 * as the platform's trust-proxy rules give them) by @taskq/http. Named
 * routes come from `http.routes`, the base path from Nest's global prefix.
 * Marking checks the request's host against `http.allowedHosts` first.
 */
@Injectable()
export class RequestMarker implements OnModuleInit {
  #proxy: ProxyTrust<ForwardedRequest> = noProxyTrust;
  #allowedHosts: AllowedHosts | undefined;

  constructor(
    @Inject(TaskqRuntime) private readonly runtime: TaskqRuntime,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ApplicationConfig) private readonly config: ApplicationConfig,
  ) {}

  onModuleInit(): void {
    const platform = this.adapterHost.httpAdapter?.getType();
    if (platform === undefined) return; // an application context (worker process): no HTTP requests
    // Resolved here, not in forRoot: a worker context sharing the module's options needs no host list, even in
    // production.
    this.#hosts();
    this.#proxy = (PROXY_TRUST[platform] as ProxyTrust<ForwardedRequest> | undefined) ?? noProxyTrust;
  }

  /**
   * Checks the request's host against `http.allowedHosts` (throws
   * `BadRequestHostError`) and marks `request` (once) so the request codec
   * can send its URL context.
   */
  mark(request: unknown): void {
    if (typeof request !== 'object' || request === null) return;
    const marked = request as MarkedRequest;
    if (typeof marked[REQUEST_CONTEXT] === 'function') return; // an adapter middleware got there first, and checked the host
    const context = this.urlContext(request);
    marked[REQUEST_CONTEXT] = () => context;
  }

  /** The request's URL context, its host checked. */
  urlContext(request: unknown): RequestUrlContext {
    const origin = requestOrigin(request as ForwardedRequest, this.#proxy);
    return requestUrlContext(origin, {
      basePath: this.#basePath(),
      routes: this.runtime.options.http.routes,
      allowedHosts: this.#hosts(),
    });
  }

  /**
   * `path` (below the global prefix) as an absolute URL of this request (its host checked when it was marked), or as a
   * path when the request cannot say.
   */
  absoluteUrl(request: unknown, path: string): string {
    try {
      const marked = request as MarkedRequest;
      const context =
        typeof marked[REQUEST_CONTEXT] === 'function' ? marked[REQUEST_CONTEXT]() : this.urlContext(request);
      return new TaskRequest(context).absoluteUrl(path);
    } catch {
      return `${this.#basePath()}${path}`;
    }
  }

  #hosts(): AllowedHosts {
    this.#allowedHosts ??=
      this.runtime.options.http.allowedHosts ?? resolveAllowedHosts(undefined, 'http.allowedHosts');
    return this.#allowedHosts;
  }

  #basePath(): string {
    const prefix = this.config.getGlobalPrefix();
    return prefix ? `/${prefix.replace(/^\/+|\/+$/g, '')}` : '';
  }
}
