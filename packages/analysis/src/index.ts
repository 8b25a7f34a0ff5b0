export {
  modelCallUsage,
  SessionTotals,
  type SessionTotalsJSON,
  type TokenUsage,
} from './totals.js';
