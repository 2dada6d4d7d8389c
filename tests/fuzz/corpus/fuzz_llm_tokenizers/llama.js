const llama_vocab_base64 = "PHVuaz4KPHM+Cjwvcz4KPDB4MDA+";
const llama_merges_binary = "AwAAAA==";
