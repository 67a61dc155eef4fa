/**
 * The HS256 / session-id secret used when `WEIR_SECRET` is not set (development only: it is
 * public, so anyone can mint tokens for a deployment that uses it).
 */
export const DEV_SECRET = "weir-development-secret-do-not-use-in-production";
