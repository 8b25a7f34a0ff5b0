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
