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

/** The operating-system user running this process, or 'unknown' (no passwd entry for the uid, in containers). */
export function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Where a recording was made; argv goes through redaction like everything else (tokens are passed as flags). */
export function hostInfo(): HostInfo {
  const user = osUserName();
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
