/** RTCP: parsing, building, NTP time and report-block math. Implementation in ./rtcp/. */
export * from "./rtcp/build.ts";
export * from "./rtcp/common.ts";
export * from "./rtcp/parse.ts";
