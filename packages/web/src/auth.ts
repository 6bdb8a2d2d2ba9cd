// How the app gets its API token: the development route `darkroom start` offers, else a token the person
// pastes (kept for this tab only).

const STORAGE_KEY = 'darkroom.token';
/** Set by "Sign out": this tab asks for a token instead of taking a development one. */
const SIGNED_OUT_KEY = 'darkroom.signed-out';
/** Ask for a new development token when the current one has less than this left. */
const REFRESH_MARGIN_MS = 5 * 60_000;

export interface Session {
  /** A fresh token each call (the SDK calls it before every request). */
  token: () => Promise<string>;
  sub: string;
  /** True when the token came from GET /dev/token. */
  development: boolean;
}

interface DevToken {
  token: string;
  sub: string;
  expiresAt: string;
}

/** The `sub` and `exp` claims of a JWT, read without verifying (the server verifies). */
function claims(token: string): { sub?: string; exp?: number } {
  try {
    const payload = token.split('.')[1] ?? '';
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: string; exp?: number };
  } catch {
    return {};
  }
}

async function fetchDevToken(): Promise<DevToken | undefined> {
  const res = await fetch('/dev/token', { cache: 'no-store' });
  if (!res.ok) return undefined;
  return (await res.json()) as DevToken;
}

/**
 * A session from the development route, or from a token saved in this tab; undefined when neither exists
 * or the person signed out of this tab.
 */
export async function startSession(): Promise<Session | undefined> {
  if (sessionStorage.getItem(SIGNED_OUT_KEY)) return undefined;
  const dev = await fetchDevToken().catch(() => undefined);
  if (dev) {
    let current = dev;
    return {
      sub: dev.sub,
      development: true,
      async token() {
        if (Date.parse(current.expiresAt) - Date.now() < REFRESH_MARGIN_MS) {
          current = (await fetchDevToken()) ?? current;
        }
        return current.token;
      },
    };
  }
  const saved = sessionStorage.getItem(STORAGE_KEY);
  return saved ? sessionFromToken(saved) : undefined;
}

/** A session from a pasted token; undefined when it is not a JWT or has expired. */
export function sessionFromToken(raw: string): Session | undefined {
  const token = raw.trim().replace(/^Bearer\s+/i, '');
  const { sub, exp } = claims(token);
  if (!sub || (exp !== undefined && exp * 1000 < Date.now())) return undefined;
  sessionStorage.setItem(STORAGE_KEY, token);
  sessionStorage.removeItem(SIGNED_OUT_KEY);
  return { sub, development: false, token: async () => token };
}

/** Forgets a pasted token (the server refused it). */
export function forgetToken(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Signs this tab out: the token is forgotten and no development token is taken until asked for. */
export function signOut(): void {
  forgetToken();
  sessionStorage.setItem(SIGNED_OUT_KEY, 'true');
}

/** After a sign-out: takes development tokens again (the next start fetches one). */
export function allowDevelopmentToken(): void {
  sessionStorage.removeItem(SIGNED_OUT_KEY);
}

/** True when this server hands out development tokens (offered again after a sign-out). */
export async function developmentTokensOffered(): Promise<boolean> {
  return (await fetchDevToken().catch(() => undefined)) !== undefined;
}
