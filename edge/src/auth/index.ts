export * from "./bearer.ts";
export * from "./devSecret.ts";
export * from "./errors.ts";
export * from "./grants.ts";
export * from "./jwt.ts";
export * from "./sessionId.ts";
