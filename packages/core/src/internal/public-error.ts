/**
 * Whether a thrown error says its message is meant for the client: it has
 * `expose === true`, the convention of http-errors (whose 4xx errors set it)
 * and Koa. The worker records it with the failure, so a status route can show it.
 */
export function isPublicError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { expose?: unknown }).expose === true;
}
