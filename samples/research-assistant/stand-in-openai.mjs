// A stand-in for api.openai.com: a loopback HTTP server (@agent-replay/testkit) speaking the Responses API, whose
// "model" answers the research assistant's questions deterministically. The agent reaches it through the SDK's
// default OpenAI provider and the real `openai` client (OPENAI_BASE_URL), exactly as it would reach OpenAI.
import { startLoopbackOpenAI } from '@agent-replay/testkit';

export const QUESTIONS = {
  compare: "How many times larger is Tokyo's population than Paris's?",
  cleanup: 'notes/scratch.md is outdated, delete it.',
  survey: 'Survey the populations of Tokyo, Paris, Lagos, Lima and Oslo: one web search per city.',
};

const SURVEY_CITIES = ['Tokyo', 'Paris', 'Lagos', 'Lima', 'Oslo'];

const call = (id, name, args) => ({
  kind: 'tool_calls',
  usage: { input: 420, output: 30 },
  calls: [{ callId: id, name, arguments: JSON.stringify(args) }],
});
const text = (answer) => ({ kind: 'text', text: answer, usage: { input: 610, output: 60 } });

/** The user's question and the tool outputs the model has been sent so far (Responses API input items). */
function conversation(body) {
  const items = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : (body.input ?? []);
  const user = items.find((item) => item.role === 'user');
  const question = typeof user?.content === 'string' ? user.content : (user?.content?.[0]?.text ?? '');
  const outputs = items.filter((item) => item.type === 'function_call_output').map((item) => item.output);
  return { question, outputs, instructions: String(body.instructions ?? '') };
}

/** How the stand-in model answers one request. */
export function answer({ body }) {
  const { question, outputs, instructions } = conversation(body);
  if (question === QUESTIONS.compare) {
    if (instructions.includes('Wikipedia')) {
      // The changed prompt: one search restricted to Wikipedia, a one-sentence answer, no arithmetic tool.
      if (outputs.length === 0)
        return call('call_search_wiki', 'web_search', {
          query: 'Tokyo Paris population site:en.wikipedia.org',
        });
      return text(
        "Per Wikipedia, Tokyo (14.1 million) has roughly seven times Paris's population (2.1 million).",
      );
    }
    if (outputs.length === 0)
      return call('call_search', 'web_search', { query: 'population of Tokyo and Paris 2023' });
    if (outputs.length === 1) return call('call_calc', 'calculator', { expression: '14.09 / 2.10' });
    return text(
      `Tokyo's population (14.09 million, Tokyo Metropolis 2023) is about ${outputs[1]} times that of Paris ` +
        '(2.10 million, city proper 2023). Sources: metro.tokyo.lg.jp, insee.fr.',
    );
  }
  if (question === QUESTIONS.cleanup) {
    if (outputs.length === 0) return call('call_delete', 'file_delete', { path: 'notes/scratch.md' });
    return text(
      'I could not delete notes/scratch.md: the research governance policy does not let me delete files. ' +
        'Please remove it yourself, or archive it.',
    );
  }
  if (question === QUESTIONS.survey) {
    const city = SURVEY_CITIES[outputs.length];
    if (city)
      return call(`call_search_${city.toLowerCase()}`, 'web_search', { query: `population of ${city}` });
    return text(`Populations: ${outputs.join('; ')}`);
  }
  return text('I can answer questions about city populations.');
}

/** Starts the stand-in server; `server.baseURL` goes into OPENAI_BASE_URL. */
export function startStandInOpenAI() {
  return startLoopbackOpenAI(answer);
}
