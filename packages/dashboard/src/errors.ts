import { TaskqError } from '@taskq/core';

/**
 * The request may not see the dashboard: its `authorize` returned nothing truthy, or none is set and the request is
 * not a read-only one from loopback. Answered 403.
 */
export class DashboardForbiddenError extends TaskqError {
  readonly status = 403;
  readonly statusCode = 403;
  readonly expose = true;
  constructor(message: string) {
    super('TASKQ_DASHBOARD_FORBIDDEN', message);
  }
}

/**
 * An action (a POST) came without the CSRF token of the page it was made from, with another token, or from
 * another site. Answered 403; reloading the page gives a fresh form.
 */
export class DashboardCsrfError extends TaskqError {
  readonly status = 403;
  readonly statusCode = 403;
  readonly expose = true;
  constructor(message: string) {
    super('TASKQ_DASHBOARD_CSRF', message);
  }
}

/** An action was refused because the dashboard is `readOnly`. Answered 403. */
export class DashboardReadOnlyError extends TaskqError {
  readonly status = 403;
  readonly statusCode = 403;
  readonly expose = true;
  constructor(action: string) {
    super('TASKQ_DASHBOARD_READ_ONLY', `the dashboard is read-only: ${action} is refused`);
  }
}
