/** The URL with its password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not parseable: still hide anything between "//user:" and "@".
    return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@');
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
  const secrets: string[] = [];
  for (const url of urls) {
    try {
      const { password } = new URL(url);
      if (password) secrets.push(password, decodeURIComponent(password));
    } catch {
      const match = /\/\/[^:/@]*:([^@/]*)@/.exec(url);
      if (match?.[1]) secrets.push(match[1]);
    }
  }
  return secrets;
}
