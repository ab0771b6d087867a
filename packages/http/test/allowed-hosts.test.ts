import { describe, expect, it } from 'vitest';
import { parseHost } from '@taskq/core/adapter';
import { CodecSet } from '../../core/src/codecs/codec-set.js';
import { decodeArgs } from '../../core/src/codecs/decode.js';
import { type RequestOrigin, requestUrlContext, resolveAllowedHosts } from '../src/index.js';

const origin = (host: string | undefined, extra: Partial<RequestOrigin> = {}): RequestOrigin => ({
  protocol: 'http',
  host,
  forwardedHost: false,
  forwardedPort: undefined,
  headers: {},
  ...extra,
});
const context = (host: string | undefined, allowed: readonly string[], extra: Partial<RequestOrigin> = {}) =>
  requestUrlContext(origin(host, extra), { basePath: '', routes: {}, allowedHosts: resolveAllowedHosts(allowed) });

describe('Host syntax', () => {
  it('accepts a host name, IPv4 or bracketed IPv6 with one optional port, and normalises case and a trailing dot', () => {
    expect(parseHost('App.Example.com')).toEqual({ host: 'app.example.com', port: undefined });
    expect(parseHost('app.example.com.:8443')).toEqual({ host: 'app.example.com', port: 8443 });
    expect(parseHost('10.0.0.12:65535')).toEqual({ host: '10.0.0.12', port: 65_535 });
    expect(parseHost('[::1]:3000')).toEqual({ host: '[::1]', port: 3000 });
    expect(parseHost('localhost')).toEqual({ host: 'localhost', port: undefined });
  });

  it('refuses paths, second ports, bad ports, user info, underscores, zone ids and impossible addresses', () => {
    const bad = [
      '',
      'evil.example/<script>',
      'app.example:80:81',
      'app.example:',
      'app.example:0',
      'app.example:65536',
      'app.example:080',
      'app.example: 80',
      'user@app.example',
      'app_example.com',
      'a..b',
      '-a.example',
      'a-.example',
      '[::1',
      '[::1]x',
      '[fe80::1%eth0]',
      '::1',
      '999.1.1.1',
      '1.2.3',
      'a.0x10',
      `${'a'.repeat(64)}.example`,
    ];
    for (const host of bad) expect(parseHost(host), host).toBeUndefined();
  });
});

describe('allowedHosts', () => {
  it('matches exact hosts on any port, a leading dot for the domain and its subdomains, a port when the pattern names one, and * for any valid host', () => {
    const allowed = resolveAllowedHosts(['app.example', '.example.com', 'localhost:3000']);
    expect(allowed.allows('app.example', 8080)).toBe(true);
    expect(allowed.allows('example.com', 443)).toBe(true);
    expect(allowed.allows('shop.eu.example.com', 443)).toBe(true);
    expect(allowed.allows('badexample.com', 443)).toBe(false);
    expect(allowed.allows('app.example.attacker.example', 80)).toBe(false);
    expect(allowed.allows('localhost', 3000)).toBe(true);
    expect(allowed.allows('localhost', 3001)).toBe(false);
    expect(resolveAllowedHosts(['*']).allows('anything.example', 1)).toBe(true);
  });

  it('compares a pattern’s port with the protocol’s default when the Host names none', () => {
    expect(context('app.example', ['app.example:443'], { protocol: 'https' }).host).toBe('app.example');
    expect(() => context('app.example', ['app.example:443'])).toThrowError(
      expect.objectContaining({ code: 'TASKQ_BAD_REQUEST_HOST', status: 400, statusCode: 400, expose: true }),
    );
  });

  it('defaults to loopback names outside production and is required in production', () => {
    expect(resolveAllowedHosts(undefined, 'allowedHosts', false).patterns).toEqual([
      '.localhost',
      '127.0.0.1',
      '[::1]',
    ]);
    expect(() => resolveAllowedHosts(undefined, 'allowedHosts', true)).toThrowError(
      expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option: 'allowedHosts' }),
    );
    const dev = resolveAllowedHosts(undefined, 'allowedHosts', false);
    expect(['localhost', 'api.localhost', '127.0.0.1', '[::1]'].map((host) => dev.allows(host, 80))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(dev.allows('attacker.example', 80)).toBe(false);
  });

  it('refuses a bad pattern at construction, naming its index', () => {
    for (const [option, index] of [
      [['app.example', '*.example.com'], 1],
      [['http://app.example'], 0],
      [['.10.0.0.1'], 0],
      [[''], 0],
    ] as const) {
      expect(() => resolveAllowedHosts(option)).toThrowError(
        expect.objectContaining({ code: 'TASKQ_INVALID_OPTION', option: `allowedHosts[${index}]` }),
      );
    }
    expect(() => resolveAllowedHosts([])).toThrowError(expect.objectContaining({ option: 'allowedHosts' }));
    expect(() => resolveAllowedHosts('app.example')).toThrowError(expect.objectContaining({ option: 'allowedHosts' }));
  });
});

describe('requestUrlContext', () => {
  it('lets X-Forwarded-Port name the public port unless X-Forwarded-Host carries its own, and refuses a bad one', () => {
    expect(context('app.example', ['app.example'], { forwardedPort: '8443', protocol: 'https' }).port).toBe(8443);
    expect(context('app.example:9000', ['app.example'], { forwardedHost: true, forwardedPort: '8443' }).port).toBe(
      9000,
    );
    expect(context('app.example', ['app.example'], { forwardedPort: '443', protocol: 'https' }).port).toBeUndefined();
    expect(() => context('app.example', ['app.example'], { forwardedPort: '80:81' })).toThrowError(
      expect.objectContaining({ code: 'TASKQ_BAD_REQUEST_HOST' }),
    );
  });

  it('keeps a hostile Host out of its message beyond a short quote', () => {
    const long = `evil.example/${'x'.repeat(5_000)}`;
    try {
      context(long, ['*']);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(300);
    }
    expect(() => context(undefined, ['*'])).toThrowError(/missing Host/);
  });
});

describe('a request context from the wire', () => {
  it('is refused in the worker when its host is not a valid host (a second port, a path)', async () => {
    const codecs = new CodecSet();
    for (const host of ['app.example:80:81', 'evil.example/<script>', 'app.example:80']) {
      const wire = [{ $t: 'taskq.request', v: { protocol: 'https', host, basePath: '', routes: {}, headers: {} } }];
      await expect(decodeArgs(wire, codecs), host).rejects.toMatchObject({ code: 'TASKQ_DECODE_FAILED' });
    }
    const ok = [
      {
        $t: 'taskq.request',
        v: { protocol: 'https', host: '[::1]', port: 8443, basePath: '', routes: {}, headers: {} },
      },
    ];
    const [request] = await decodeArgs(ok, codecs);
    expect((request as { absoluteUrl(path: string): string }).absoluteUrl('/x')).toBe('https://[::1]:8443/x');
  });
});
