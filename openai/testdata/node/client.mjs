// Drives minitron serve with the official OpenAI Node.js client: completions, streaming,
// logprobs with echo, the model list and an error. Run by openai's TestNodeClient with
// BASE_URL (…/v1), API_KEY, MODEL and WANT (the greedy text of PROMPT_IDS, from the server
// alone) in the environment; prints "ok" or throws.
import OpenAI from "openai";
import assert from "node:assert/strict";

const { BASE_URL, API_KEY, MODEL, WANT } = process.env;
const promptIDs = JSON.parse(process.env.PROMPT_IDS);
const client = new OpenAI({ baseURL: BASE_URL, apiKey: API_KEY, maxRetries: 0 });

// A greedy completion of token ids.
const c = await client.completions.create({ model: MODEL, prompt: promptIDs, max_tokens: 8, temperature: 0 });
assert.equal(c.object, "text_completion");
assert.equal(c.choices.length, 1);
assert.equal(c.choices[0].text, WANT);
assert.equal(c.choices[0].finish_reason, "length");
assert.equal(c.usage.prompt_tokens, promptIDs.length);
assert.equal(c.usage.completion_tokens, 8);

// The same, streamed, with the usage chunk.
const stream = await client.completions.create({
  model: MODEL, prompt: promptIDs, max_tokens: 8, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let text = "", finish = null, usage = null;
for await (const chunk of stream) {
  for (const ch of chunk.choices) {
    text += ch.text;
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(text, WANT);
assert.equal(finish, "length");
assert.equal(usage.completion_tokens, 8);

// Echo with logprobs, as lm-evaluation-harness asks: prompt tokens first, the first null.
const e = await client.completions.create({
  model: MODEL, prompt: [promptIDs], max_tokens: 1, temperature: 0, logprobs: 1, echo: true,
});
const lp = e.choices[0].logprobs;
assert.equal(lp.token_logprobs.length, promptIDs.length + 1);
assert.equal(lp.token_logprobs[0], null);
assert.equal(lp.top_logprobs[0], null);
for (let i = 1; i < lp.token_logprobs.length; i++) {
  assert.ok(lp.token_logprobs[i] <= 0);
  assert.ok(Math.max(...Object.values(lp.top_logprobs[i])) >= lp.token_logprobs[i]);
}
assert.equal(lp.text_offset.length, lp.tokens.length);

// The model list.
const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
assert.deepEqual(ids, [MODEL]);

// A bad request surfaces as the client's BadRequestError with the server's message.
await assert.rejects(
  client.completions.create({ model: MODEL, prompt: "x", max_tokens: -1 }),
  (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && /max_tokens/.test(err.message),
);
console.log("ok");
