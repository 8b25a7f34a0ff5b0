export {
  type Divergence,
  type DivergencePolicy,
  ReplayDivergenceError,
  ReplayModelProvider,
  type ReplayOptions,
} from './provider.js';
export {
  type Conversation,
  conversationOf,
  fingerprintOf,
  type RecordedApi,
  type RecordedModelCall,
  type RecordedToolCall,
  Recording,
} from './recording.js';
export { serveRecordedTools } from './tools.js';
