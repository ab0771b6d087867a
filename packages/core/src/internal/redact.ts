/** The URL with its password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable (often because of an unescaped '/', '#' or '@' in the password):
    // hide everything between "user:" and the last '@'. Hiding too much beats showing a password.
    const userinfo = rawUserinfo(url);
    if (!userinfo || userinfo.password === undefined) return url;
    return `${url.slice(0, userinfo.start)}${userinfo.user}:***${url.slice(userinfo.end)}`;
  }
}

/** Removes every occurrence of the given secrets from a text. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret) out = out.split(secret).join('***');
  }
  return out;
}

/** The decoded and raw passwords of the URLs (both forms can show up in an error). */
export function passwordsOf(urls: readonly string[]): string[] {
  const secrets = new Set<string>();
  for (const url of urls) {
    try {
      const { password } = new URL(url);
      if (password) {
        secrets.add(password);
        secrets.add(safeDecode(password));
      }
    } catch {
      const password = rawUserinfo(url)?.password;
      if (password) {
        secrets.add(password);
        secrets.add(safeDecode(password));
      }
    }
  }
  // Longest first: scrubbing a short secret must not leave the rest of a longer one behind.
  return [...secrets].sort((a, b) => b.length - a.length);
}

/** `user` and `password` between "//" and the last '@', with where the userinfo starts and ends. */
function rawUserinfo(
  url: string,
): { user: string; password: string | undefined; start: number; end: number } | undefined {
  const start = url.indexOf('//');
  const end = url.lastIndexOf('@');
  if (start < 0 || end < start + 2) return undefined;
  const info = url.slice(start + 2, end);
  const colon = info.indexOf(':');
  return {
    user: colon < 0 ? info : info.slice(0, colon),
    password: colon < 0 ? undefined : info.slice(colon + 1),
    start: start + 2,
    end,
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
