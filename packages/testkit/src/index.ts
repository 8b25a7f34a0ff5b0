export {
  type LoopbackReply,
  type LoopbackRequest,
  type LoopbackScript,
  type LoopbackServer,
  type LoopbackToolCall,
  type LoopbackUsage,
  startLoopbackOpenAI,
} from './loopback-openai.js';
export {
  fc,
  type ScriptedTokenUsage,
  type ScriptFunction,
  type ScriptStep,
  SpanEmittingScriptedModel,
  type SpanEmittingScriptedModelOptions,
  say,
  scriptedProvider,
} from './scripted-model.js';
export {
  type CaptureOptions,
  type PaneOptions,
  TmuxTerminal,
  type WaitOptions,
} from './terminal.js';
export { withTraceProcessor } from './tracing.js';
