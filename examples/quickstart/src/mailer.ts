/**
 * A stand-in for an SMTP client: per-process state. The worker connects it in
 * its onStartup hook and closes it in onShutdown, as it would a database pool.
 */
class Mailer {
  #connected = false;
  #sent = 0;

  async connect(): Promise<void> {
    this.#connected = true;
    this.#sent = 0;
  }

  /** Closes the connection; resolves to the number of mails sent since `connect()`. */
  async close(): Promise<number> {
    this.#connected = false;
    return this.#sent;
  }

  async send(to: string, subject: string): Promise<string> {
    if (!this.#connected)
      throw new Error('the mailer is not connected: call mailer.connect() first (the worker does it in onStartup)');
    this.#sent++;
    return `sent "${subject}" to ${to}`;
  }
}

/** One mailer per process. */
export const mailer = new Mailer();
