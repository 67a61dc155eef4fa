import type { ChildProcess } from "node:child_process";

/**
 * Kills the child when this process exits, however it exits: a test file that times out is
 * ended by the runner, and a media node it spawned must not live on holding its ports (the
 * default relay port) into the next file.
 */
export function killWithParent(child: ChildProcess): void {
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.off("exit", kill));
}
