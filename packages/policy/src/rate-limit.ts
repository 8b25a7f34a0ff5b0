/**
 * Rate limits: requests and tokens per minute and per day, counted per agent or per identity in this process, over
 * sliding windows. A request over a limit is denied with the limit's id as the rule.
 */
import type { PolicyDecision } from './evaluate.js';
import type { LoadedPolicy } from './load.js';

const MINUTE = 60_000;
const DAY = 86_400_000;

interface Event {
  at: number;
  tokens: number;
}

export class RateLimiter {
  private readonly events = new Map<string, Event[]>();

  constructor(
    private readonly policy: LoadedPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  private history(key: string): Event[] {
    const at = this.now();
    const list = (this.events.get(key) ?? []).filter((e) => at - e.at < DAY);
    this.events.set(key, list);
    return list;
  }

  /** Counts one request now, unless a limit is reached: then the denial (and nothing is counted). */
  admit(agent: string, identity: string, allowed: PolicyDecision): PolicyDecision | undefined {
    const at = this.now();
    const keys: string[] = [];
    for (const limit of this.policy.document.rate_limits) {
      const key = `${limit.id}\u0000${limit.scope === 'agent' ? agent : identity}`;
      keys.push(key);
      const list = this.history(key);
      const minute = list.filter((e) => at - e.at < MINUTE);
      const over =
        (limit.requests_per_minute !== undefined && minute.length >= limit.requests_per_minute) ||
        (limit.requests_per_day !== undefined && list.length >= limit.requests_per_day) ||
        (limit.tokens_per_minute !== undefined && sum(minute) >= limit.tokens_per_minute) ||
        (limit.tokens_per_day !== undefined && sum(list) >= limit.tokens_per_day);
      if (over) {
        const who = limit.scope === 'agent' ? `agent ${agent || '?'}` : `identity ${identity || '?'}`;
        return {
          ...allowed,
          decision: 'deny',
          rule: limit.id,
          reason: limit.reason ?? `rate limit ${limit.id} reached for ${who}`,
          rate_limit: { id: limit.id, scope: limit.scope },
        };
      }
    }
    for (const key of keys) this.history(key).push({ at, tokens: 0 });
    return undefined;
  }

  /** Adds the tokens a request used to the request just admitted. */
  spend(agent: string, identity: string, tokens: number): void {
    for (const limit of this.policy.document.rate_limits) {
      const last = this.history(`${limit.id}\u0000${limit.scope === 'agent' ? agent : identity}`).at(-1);
      if (last) last.tokens += tokens;
    }
  }
}

const sum = (events: readonly Event[]) => events.reduce((n, e) => n + e.tokens, 0);
