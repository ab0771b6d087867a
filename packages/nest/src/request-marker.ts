import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost } from '@nestjs/core';
import { type AllowedHosts, type RequestUrlContext, requestUrlContext, resolveAllowedHosts, TaskRequest } from '@taskq/core';
import { REQUEST_CONTEXT } from '@taskq/core/adapter';
import { NestAdapterError } from './errors.js';
import { TaskqRuntime } from './taskq-runtime.js';

/** How an HTTP adapter package computes (and host-checks) a request's URL context: `expressUrlContext` of @taskq/express has this shape. */
type UrlContextFunction = (request: never, basePath: string, routes: Readonly<Record<string, string>>, allowedHosts: AllowedHosts) => RequestUrlContext;

/** Where each Nest platform's URL-context function lives; the adapters own that logic (trust proxy, forwarded headers). */
const PLATFORM_ADAPTERS: Readonly<Record<string, { readonly packageName: string; readonly exportName: string }>> = {
  express: { packageName: '@taskq/express', exportName: 'expressUrlContext' },
  fastify: { packageName: '@taskq/fastify', exportName: 'fastifyUrlContext' },
};

/** A request the marker has seen. */
type MarkedRequest = { [REQUEST_CONTEXT]?: () => RequestUrlContext; protocol?: unknown; headers?: Record<string, string | string[] | undefined> };

/**
 * @internal Lets live requests travel as task arguments. It puts the
 * `REQUEST_CONTEXT` function that @taskq/core's request codec looks for on
 * each request, computed by the taskq adapter of the platform Nest runs on
 * (@taskq/express or @taskq/fastify, loaded on demand, so an application
 * installs only its own). Named routes come from `http.routes`, the base
 * path from Nest's global prefix. Marking checks the request's host against
 * `http.allowedHosts` first.
 */
@Injectable()
export class RequestMarker implements OnModuleInit {
  #compute: UrlContextFunction | undefined;
  #missing: string | undefined;
  #allowedHosts: AllowedHosts | undefined;
  readonly #logger = new Logger('TaskqModule');

  constructor(
    @Inject(TaskqRuntime) private readonly runtime: TaskqRuntime,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ApplicationConfig) private readonly config: ApplicationConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    const platform = this.adapterHost.httpAdapter?.getType();
    if (platform === undefined) return; // an application context (worker process): no HTTP requests
    // Resolved here, not in forRoot: a worker context sharing the module's options needs no host list, even in production.
    this.#hosts();
    const adapter = PLATFORM_ADAPTERS[platform];
    if (!adapter) {
      this.#missing = `requests cannot be task arguments on the Nest platform "${platform}": taskq supports express and fastify`;
      return;
    }
    try {
      // A computed specifier: the adapter is an optional peer dependency, loaded only on its own platform.
      const specifier: string = adapter.packageName;
      const loaded = (await import(specifier)) as Record<string, unknown>;
      const compute = loaded[adapter.exportName];
      if (typeof compute !== 'function') throw new NestAdapterError(`${adapter.packageName} does not export ${adapter.exportName}()`);
      this.#compute = compute as UrlContextFunction;
    } catch (error) {
      this.#missing = `requests cannot be task arguments: ${adapter.packageName} could not be loaded (${error instanceof Error ? error.message : String(error)}); install it next to @taskq/nest`;
      this.#logger.debug?.(this.#missing);
    }
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
    if (this.#compute) {
      const context = this.urlContext(request);
      marked[REQUEST_CONTEXT] = () => context;
      return;
    }
    // Without the platform's adapter the request cannot travel, but its host is still checked, on the Host header alone.
    requestUrlContext(
      { protocol: String(marked.protocol ?? 'http'), host: headerValue(marked.headers?.host), forwardedHost: false, forwardedPort: undefined, headers: marked.headers ?? {} },
      { basePath: '', routes: {}, allowedHosts: this.#hosts() },
    );
    marked[REQUEST_CONTEXT] = () => this.urlContext(request);
  }

  /** The request's URL context; throws a clear error when the platform's adapter is missing. */
  urlContext(request: unknown): RequestUrlContext {
    const compute = this.#compute;
    if (!compute) throw new NestAdapterError(this.#missing ?? 'requests can be task arguments only in an HTTP application');
    return compute(request as never, this.#basePath(), this.runtime.options.http.routes, this.#hosts());
  }

  /** `path` (below the global prefix) as an absolute URL of this request (its host checked when it was marked), or as a path when the request cannot say. */
  absoluteUrl(request: unknown, path: string): string {
    try {
      const marked = request as MarkedRequest;
      const context = typeof marked[REQUEST_CONTEXT] === 'function' ? marked[REQUEST_CONTEXT]() : this.urlContext(request);
      return new TaskRequest(context).absoluteUrl(path);
    } catch {
      return `${this.#basePath()}${path}`;
    }
  }

  #hosts(): AllowedHosts {
    this.#allowedHosts ??= this.runtime.options.http.allowedHosts ?? resolveAllowedHosts(undefined, 'http.allowedHosts');
    return this.#allowedHosts;
  }

  #basePath(): string {
    const prefix = this.config.getGlobalPrefix();
    return prefix ? `/${prefix.replace(/^\/+|\/+$/g, '')}` : '';
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
