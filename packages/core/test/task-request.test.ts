import { describe, expect, it } from 'vitest';
import { type RequestUrlContext, TaskRequest } from '../src/index.js';
import { CodecSet } from '../src/codecs/codec-set.js';
import { decodeArgs } from '../src/codecs/decode.js';
import { encodeArgs } from '../src/codecs/encode.js';
import { REQUEST_CONTEXT } from '../src/adapter.js';

const context: RequestUrlContext = {
  protocol: 'https',
  host: 'shop.example.com',
  port: 8443,
  basePath: '/api',
  routes: { news: '/news/:slug', user: '/users/:id/:tab?' },
  headers: { 'accept-language': 'de-CH', 'user-agent': 'test' },
};

describe('TaskRequest URL helpers', () => {
  const request = new TaskRequest(context);

  it('builds absolute URLs from the base path, with the port only when not the default', () => {
    expect(request.absoluteUrl('/users/1')).toBe('https://shop.example.com:8443/api/users/1');
    expect(new TaskRequest({ ...context, port: 443 }).absoluteUrl('/x')).toBe('https://shop.example.com/api/x');
    expect(request.absoluteUrl('https://elsewhere.example/x')).toBe('https://elsewhere.example/x');
  });

  it('fills named routes, encodes parameters and turns extra ones into the query string', () => {
    expect(request.routeUrl('news', { slug: 'a b/c' })).toBe('https://shop.example.com:8443/api/news/a%20b%2Fc');
    expect(request.routeUrl('user', { id: 7, ref: 'mail' })).toBe('https://shop.example.com:8443/api/users/7?ref=mail');
    expect(() => request.routeUrl('news')).toThrowError(/needs parameter "slug"/);
    expect(() => request.routeUrl('nope')).toThrowError(/no route named "nope"; known routes: news, user/);
  });
});

describe('request codec', () => {
  it('a live request travels as its URL context only and arrives as a TaskRequest', async () => {
    // Stands in for a framework's request object as an adapter prepares it.
    class LiveRequest {
      headers = { cookie: 'session=abc', authorization: 'Bearer secret-token' };
      body = { password: 'hunter2' };
      [REQUEST_CONTEXT] = () => context;
    }
    const live = new LiveRequest();
    const codecs = new CodecSet();
    const encoded = await encodeArgs([live], codecs);
    const wire = JSON.stringify(encoded);
    expect(wire).not.toMatch(/session=abc|secret-token|hunter2|cookie|authorization/i);
    const [decoded] = await decodeArgs(JSON.parse(wire), codecs);
    expect(decoded).toBeInstanceOf(TaskRequest);
    expect((decoded as TaskRequest).routeUrl('news', { slug: 'x' })).toBe(
      new TaskRequest(context).routeUrl('news', { slug: 'x' }),
    );
  });

  it('refuses a hostile context from the wire', async () => {
    const codecs = new CodecSet();
    const bad = [{ $t: 'taskq.request', v: { ...context, host: 'evil.example/\n' } }];
    await expect(decodeArgs(bad, codecs)).rejects.toMatchObject({ code: 'TASKQ_DECODE_FAILED' });
  });
});
