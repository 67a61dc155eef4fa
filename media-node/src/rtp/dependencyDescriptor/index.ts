/** Dependency Descriptor RTP header extension (AV1 RTP spec Appendix A): reader and helpers. */
export * from "./reader.ts";
export * from "./select.ts";
export * from "./types.ts";
export * from "./writer.ts";
