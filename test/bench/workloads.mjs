// Seeded, reproducible text for the benchmarks (shared so every benchmark measures the same kind of data).

export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const VOCAB = (
  'the deploy config staging production payments api service replica timeout retry error warning value key ' +
  'function return const let await async import export class extends interface type string number boolean ' +
  'user assistant tool result status ok failed denied policy rule reason identity token cache request response'
).split(' ');

export function text(random, words) {
  const out = [];
  for (let i = 0; i < words; i++) {
    const w = VOCAB[Math.floor(random() * VOCAB.length)];
    out.push(random() < 0.08 ? `${w}_${Math.floor(random() * 1e6).toString(36)}` : w);
  }
  return out.join(' ');
}

export function code(random, lines) {
  const out = [];
  for (let i = 0; i < lines; i++) {
    const name = `${VOCAB[Math.floor(random() * VOCAB.length)]}${Math.floor(random() * 1000)}`;
    out.push(
      `  const ${name} = await client.${VOCAB[Math.floor(random() * VOCAB.length)]}(${Math.floor(random() * 1e5)});`,
    );
  }
  return out.join('\n');
}

/** (a) 200 turns; each turn adds a user/tool item and an assistant item, and the model call carries all of them. */
