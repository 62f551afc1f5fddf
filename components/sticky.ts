// Sticky assignment (`sticky: { cookie: NAME }`), the same for both routers: while traffic is
// split, the weighted route sets a cookie naming the version that answered, and a rule ahead of
// it sends a request carrying that cookie back to its version. No imports: validation reads the
// name check, both routers the rest.

/** A cookie name as RFC 6265 takes it: an HTTP token (RFC 9110 `tchar`s), which also fits a header match. */
export function isCookieName(text: string): boolean {
    return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/.test(text);
}

/** RE2 text that matches `text` literally. */
export function re2Literal(text: string): string {
    return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

/**
 * An RE2 expression a `Cookie` header matches when it carries `cookie=version` among its pairs
 * (`a=1; NAME=v2; b=2`). Anchored at both ends, so it means the same to a proxy that matches the
 * whole value (Envoy, so Istio) and to one that searches in it.
 */
export function stickyCookieRegex(cookie: string, version: string): string {
    return `^(.*;\\s*)?${re2Literal(cookie)}=${re2Literal(version)}(;.*)?$`;
}

/** The `Set-Cookie` value that pins a client to `version`: for the whole site, for the browser's session. */
export function stickySetCookie(cookie: string, version: string): string {
    return `${cookie}=${version}; Path=/`;
}

/**
 * The versions sticky routing pins clients to: those the weighted route splits traffic between,
 * only while it splits it (two versions with a share each). At 0% or 100% nothing is pinned and no
 * cookie is set, so a rollback or a promotion moves everyone at once, whatever cookie they carry.
 */
export function stickyVersions(split: Record<string, number>): string[] {
    const versions = Object.entries(split).filter(([, weight]) => weight > 0).map(([version]) => version);
    return versions.length > 1 ? versions : [];
}
