// @taskq/http: what every HTTP adapter of taskq shares, for adapter authors. Applications use @taskq/express,
// @taskq/fastify or @taskq/nest.
export {
  type RequestUnitOfWork,
  type RequestUnitOfWorkFactory,
  plainUnitOfWork,
  openRequestUnitOfWork,
  RequestScope,
  CommitFailedError,
  NoRequestUnitOfWorkError,
} from './request-scope.js';
export {
  resolveHttpAdapterOptions,
  checkScopeOptions,
  checkRoutes,
  type HttpAdapterOptions,
  type ResolvedHttpAdapterOptions,
} from './options.js';
export { BadRequestHostError, resolveAllowedHosts, DEVELOPMENT_HOSTS, type AllowedHosts } from './host-check.js';
export { requestUrlContext, type RequestOrigin, type UrlContextOptions } from './url-context.js';
export {
  requestOrigin,
  expressProxyTrust,
  fastifyProxyTrust,
  noProxyTrust,
  type ForwardedRequest,
  type ProxyTrust,
} from './proxy-trust.js';
export {
  acceptedAnswer,
  checkAcceptedOptions,
  submittedTaskId,
  commitFailedAnswer,
  type AcceptedOptions,
  type AcceptedAnswer,
  type CommitFailedAnswer,
} from './answers.js';
export {
  resolveStatusRoute,
  checkStatusRouteOptions,
  answerTaskStatus,
  type StatusRouteOptions,
  type ResolvedStatusRoute,
  type StatusAnswer,
  type StatusHeaders,
  type UnknownTaskBody,
} from './status-route.js';
export { publicStatus, TASK_ID_PATTERN, type PublicTaskStatus, type PublicStatusOptions } from './public-status.js';
export { statusEventStream, wantsEventStream, EVENT_STREAM_HEADERS, HEARTBEAT_MS } from './status-stream.js';
