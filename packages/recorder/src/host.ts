import { hostname, userInfo } from 'node:os';

export interface HostInfo {
  hostname: string;
  pid: number;
  user: string;
  platform: string;
  arch: string;
  node: string;
  argv: string[];
  cwd: string;
}

/** Where a recording was made; argv goes through redaction like everything else (tokens are passed as flags). */
export function hostInfo(): HostInfo {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry for the uid (containers).
  }
  return {
    hostname: hostname(),
    pid: process.pid,
    user,
    platform: process.platform,
    arch: process.arch,
    node: process.version,
    argv: process.argv.slice(),
    cwd: process.cwd(),
  };
}
